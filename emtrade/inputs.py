"""A validated scenario as aligned arrays and tidy tables: the model's sparse index sets.

Everything the model needs, and nothing it does not, with integer codes so that the model can be
built from arrays:

- ``pairs``: the emission pairs (enterprise, pollutant) with a positive baseline, kg/yr. Index
  sets are built from the rows that exist, never from the full cross product.
- ``options``: one row per abatement option with its activity bounds and costs; ``coef`` the
  abatement each unit of activity brings, as a sparse (option, pair) table in kg/yr per unit.
- ``caps``: one row per cap and period, with its members (enterprise codes), its total in kg/yr,
  and its role (``allocate``: issued as permits; ``limit``: a hard limit only).

Units of option activity: kg/yr for ``linear`` and ``step``; the adopted share (0..1) for
``technology``; t/yr of output not produced for ``output_cut``; 0/1 for ``retire``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emtrade.errors import EmtradeError
from emtrade.scenario.loader import Scenario

#: options × periods beyond which a scenario is refused (about 10 GiB of model arrays)
MAX_MODEL_SIZE = 100_000_000

ACTIVITY_UNITS = {
    "linear": "kg/yr",
    "step": "kg/yr",
    "technology": "share",
    "output_cut": "t/yr",
    "retire": "closed",
}

#: the closure of a phased-out enterprise that has no retire option of its own: forced on, and
#: costless, since the scenario gives no cost of closing it (with a retire option, that is forced)
IMPLICIT_CLOSURE = {
    "kind": "retire",
    "name": "phase-out closure",
    "pollutant": "",
    "upper": 1.0,
    "cost": 0.0,
    "quad": 0.0,
    "fixed_cost": 0.0,
    "integer": True,
    "forced": True,
    "implicit": True,
}


@dataclass
class Inputs:
    """The scenario as arrays. See the module docstring for units."""

    name: str
    enterprises: pd.DataFrame  # index enterprise: name, sector, zone, output
    pollutants: list[str]
    periods: list[str]
    pairs: pd.DataFrame  # enterprise, pollutant, ent (code), pol (code), baseline [kg/yr], history [kg/yr]
    options: pd.DataFrame  # enterprise, ent, kind, name, pollutant, upper, cost, quad, fixed_cost, integer, forced
    coef: pd.DataFrame  # option, pair, kg_per_unit
    caps: pd.DataFrame  # cap, pollutant, pol, period, sector, zone, total, role, members (object: ndarray)
    phase_out: list[str]
    given_allocation: pd.Series  # (enterprise, pollutant) -> kg/yr, from the 'allocation' column
    limits: pd.DataFrame  # enterprise, pollutant, period, pair, t, limit [kg/yr]: the tightest per pair and period
    receptors: pd.DataFrame  # receptor, pollutant, period, t, limit, name: one row per receptor and period
    transfer: pd.DataFrame  # receptor, pair, coefficient [load per kg/yr]

    @property
    def n_enterprises(self) -> int:
        return len(self.enterprises)

    def pair_codes(self) -> dict[tuple[str, str], int]:
        return {(e, p): k for k, (e, p) in enumerate(zip(self.pairs.enterprise, self.pairs.pollutant, strict=True))}


def build_inputs(sc: Scenario) -> Inputs:
    """Turn a validated scenario into :class:`Inputs`."""
    spec = sc.spec
    pollutants = list(spec.pollutants)
    periods = sc.periods
    ent = pd.DataFrame(
        {
            "enterprise": [e.id for e in spec.enterprises],
            "name": [e.name or e.id for e in spec.enterprises],
            "sector": [e.sector for e in spec.enterprises],
            "zone": [e.zone or "" for e in spec.enterprises],
            "output": [np.nan if e.output is None else e.output for e in spec.enterprises],
        }
    ).set_index("enterprise")
    ent_code = {e: i for i, e in enumerate(ent.index)}
    pol_code = {p: i for i, p in enumerate(pollutants)}

    rows = []
    given = {}
    for e in spec.enterprises:
        hist = e.history or {}
        for p, b in e.baseline.items():
            if b > 0:
                rows.append((e.id, p, ent_code[e.id], pol_code[p], float(b), float(hist.get(p, b))))
        for p, a in (e.allocation or {}).items():
            given[(e.id, p)] = float(a)
    pairs = pd.DataFrame(rows, columns=["enterprise", "pollutant", "ent", "pol", "baseline", "history"])
    # a stable order: enterprise order of the file, then pollutant order of the scenario
    pairs = pairs.sort_values(["ent", "pol"], kind="stable").reset_index(drop=True)
    pair_of = {(e, p): k for k, (e, p) in enumerate(zip(pairs.enterprise, pairs.pollutant, strict=True))}
    baseline_of = dict(zip(zip(pairs.enterprise, pairs.pollutant, strict=True), pairs.baseline, strict=True))

    opt_rows: list[dict] = []
    coef_rows: list[tuple[int, int, float]] = []
    enterprise = {e.id: e for e in spec.enterprises}

    def add(option: dict, abatement: dict[str, float]) -> None:
        k = len(opt_rows)
        opt_rows.append(option)
        for p, kg in abatement.items():
            pair = pair_of.get((option["enterprise"], p))
            if pair is not None and kg > 0:
                coef_rows.append((k, pair, float(kg)))

    for o in spec.abatement:
        e = enterprise[o.enterprise]
        base = {
            "enterprise": o.enterprise,
            "ent": ent_code[o.enterprise],
            "kind": o.kind,
            "fixed_cost": 0.0,
            "integer": False,
            "forced": False,
            "implicit": False,
        }
        if o.kind == "linear":
            b = e.baseline.get(o.pollutant, 0.0)
            upper = b if o.max is None else min(o.max, b)
            # cost(q) = intercept*q + slope*q^2/2  ->  linear cost 'intercept', quadratic coefficient 'slope'
            add(
                {
                    **base,
                    "name": f"linear MAC {o.pollutant}",
                    "pollutant": o.pollutant,
                    "upper": upper,
                    "cost": o.intercept,
                    "quad": o.slope,
                },
                {o.pollutant: 1.0},
            )
        elif o.kind == "step":
            add(
                {
                    **base,
                    "name": f"step {o.pollutant} @ {o.cost:g}",
                    "pollutant": o.pollutant,
                    "upper": o.quantity,
                    "cost": o.cost,
                    "quad": 0.0,
                },
                {o.pollutant: 1.0},
            )
        elif o.kind == "technology":
            add(
                {
                    **base,
                    "name": o.name,
                    "pollutant": "",
                    "upper": 1.0,
                    "cost": o.cost,
                    "quad": 0.0,
                    "fixed_cost": o.fixed_cost,
                    "requires_name": o.requires,
                },
                {p: r * e.baseline.get(p, 0.0) for p, r in o.removal.items()},
            )
        elif o.kind == "output_cut":
            output = o.output if o.output is not None else e.output
            upper = output if o.max is None else o.max
            add(
                {**base, "name": "output cut", "pollutant": "", "upper": upper, "cost": o.margin, "quad": 0.0},
                {p: b / output for p, b in e.baseline.items()},
            )
        elif o.kind == "retire":
            add(
                {
                    **base,
                    "name": "retirement",
                    "pollutant": "",
                    "upper": 1.0,
                    "cost": o.cost,
                    "quad": 0.0,
                    "integer": True,
                },
                dict(e.baseline),
            )
    # phase-out: the enterprise closes; its retirement option (or a costless closure) is forced on
    for eid in spec.phase_out:
        retire = [k for k, r in enumerate(opt_rows) if r["enterprise"] == eid and r["kind"] == "retire"]
        if retire:
            opt_rows[retire[0]]["forced"] = True
        else:
            add(
                {"enterprise": eid, "ent": ent_code[eid], **IMPLICIT_CLOSURE},
                dict(enterprise[eid].baseline),
            )
    options = pd.DataFrame(
        opt_rows,
        columns=[
            "enterprise",
            "ent",
            "kind",
            "name",
            "pollutant",
            "upper",
            "cost",
            "quad",
            "fixed_cost",
            "integer",
            "forced",
            "implicit",
        ],
    )
    # a technology that requires another: the option number of the prerequisite (−1 if none)
    by_name = {(r["enterprise"], r["name"]): k for k, r in enumerate(opt_rows) if r["kind"] == "technology"}
    options["requires"] = [
        by_name.get((r["enterprise"], r.get("requires_name")), -1) if r.get("requires_name") else -1 for r in opt_rows
    ]
    options = options.astype(
        {
            "ent": np.int64,
            "upper": float,
            "cost": float,
            "quad": float,
            "fixed_cost": float,
            "integer": bool,
            "forced": bool,
            "implicit": bool,
            "requires": np.int64,
        }
    )
    options.index.name = "option"
    coef = pd.DataFrame(coef_rows, columns=["option", "pair", "kg_per_unit"]).astype(
        {"option": np.int64, "pair": np.int64, "kg_per_unit": float}
    )

    size = (len(options) + len(pairs)) * len(periods)
    if size > MAX_MODEL_SIZE:
        raise EmtradeError(
            f"{sc.display}: the model would have {size:,} variables and rows per kind "
            f"({len(options):,} options and {len(pairs):,} discharges × {len(periods)} periods); "
            f"above {MAX_MODEL_SIZE:,} it is refused before memory runs out"
        )
    caps = _expand_caps(sc, ent, pairs, pol_code, periods, baseline_of)
    limits = _expand_limits(sc, pair_of, periods)
    receptors, transfer = _expand_receptors(sc, ent, pair_of, periods)
    return Inputs(
        name=spec.name,
        enterprises=ent,
        pollutants=pollutants,
        periods=periods,
        pairs=pairs,
        options=options,
        coef=coef,
        caps=caps,
        phase_out=list(spec.phase_out),
        given_allocation=pd.Series(given, dtype=float),
        limits=limits,
        receptors=receptors,
        transfer=transfer,
    )


def _expand_limits(sc: Scenario, pair_of: dict, periods: list[str]) -> pd.DataFrame:
    """Firm limits per (pair, period): the enterprise's ``limit`` column (every period) and the
    ``limits`` table (one period, or from a period on); where several apply, the tightest."""
    rows = []
    for e in sc.spec.enterprises:
        for p, value in (e.limit or {}).items():
            if (e.id, p) in pair_of:
                rows.extend((e.id, p, t, float(value)) for t in range(len(periods)))
    for lim in sc.spec.limits:
        if (lim.enterprise, lim.pollutant) not in pair_of:
            continue
        if lim.period is not None:
            ts = [periods.index(lim.period)]
        elif lim.from_ is not None:
            ts = list(range(periods.index(lim.from_), len(periods)))
        else:
            ts = list(range(len(periods)))
        rows.extend((lim.enterprise, lim.pollutant, t, float(lim.limit)) for t in ts)
    df = pd.DataFrame(rows, columns=["enterprise", "pollutant", "t", "limit"])
    if df.empty:
        return df.assign(period=pd.Series(dtype=object), pair=pd.Series(dtype=np.int64))
    df = df.groupby(["enterprise", "pollutant", "t"], sort=False, as_index=False).limit.min()
    df["pair"] = [pair_of[(e, p)] for e, p in zip(df.enterprise, df.pollutant, strict=True)]
    df["period"] = [periods[t] for t in df.t]
    return df.sort_values(["t", "pair"], kind="stable").reset_index(drop=True)


def _expand_receptors(sc: Scenario, ent: pd.DataFrame, pair_of: dict, periods: list[str]):
    """Receptors per period, and transfer coefficients per (receptor, pair); zone rows apply to every
    enterprise of the zone that discharges the receptor's metal. Coefficients for the same pair add."""
    spec = sc.spec
    rows = []
    for r in spec.receptors:
        ts = [periods.index(r.period)] if r.period is not None else range(len(periods))
        rows.extend(
            (r.id, r.pollutant, periods[t], t, float(r.limit), r.name or r.id, r.section or "", r.water_class or "",
             np.nan if r.flow is None else r.flow, np.nan if r.background is None else r.background)
            for t in ts
        )
    receptors = pd.DataFrame(rows, columns=["receptor", "pollutant", "period", "t", "limit", "name", "section",
                                            "water_class", "flow", "background"])
    metal = {r.id: r.pollutant for r in spec.receptors}
    zone_members: dict[str, list[str]] = {}
    for eid, z in zip(ent.index, ent.zone, strict=True):
        zone_members.setdefault(z, []).append(eid)
    trows = []
    for tr in spec.transfer:
        p = metal.get(tr.receptor)
        members = [tr.enterprise] if tr.enterprise is not None else zone_members.get(tr.zone, [])
        for eid in members:
            pair = pair_of.get((eid, p))
            if pair is not None:
                trows.append((tr.receptor, pair, float(tr.coefficient)))
    transfer = pd.DataFrame(trows, columns=["receptor", "pair", "coefficient"])
    if not transfer.empty:
        transfer = transfer.groupby(["receptor", "pair"], sort=False, as_index=False).coefficient.sum()
    return receptors, transfer


def _expand_caps(sc, ent, pairs, pol_code, periods, baseline_of) -> pd.DataFrame:
    """One row per cap and period, with the members it covers and the total in kg/yr.

    A cap given as ``reduction`` r has total (1 - r) · Σ baseline over its scope. Roles: an explicit
    ``role`` is kept; ``auto`` caps allocate unless they cross an allocating cap already chosen
    (larger scopes are chosen first), so that the allocating caps of each metal and period form a
    laminar family (any two are nested or disjoint).
    """
    rows = []
    sectors = ent.sector.to_numpy()
    zones = ent.zone.to_numpy()
    emits = {p: np.zeros(len(ent), dtype=bool) for p in pol_code}
    for p, group in pairs.groupby("pollutant", sort=False):
        emits[p][group.ent.to_numpy()] = True
    for i, c in enumerate(sc.spec.caps):
        mask = emits[c.pollutant].copy()
        if c.sector is not None:
            mask &= sectors == c.sector
        if c.zone is not None:
            mask &= zones == c.zone
        members = ent.index[mask]
        base = sum(baseline_of[(e, c.pollutant)] for e in members)
        total = c.total if c.total is not None else (1.0 - c.reduction) * base
        for t in [c.period] if c.period is not None else periods:
            rows.append(
                {
                    "cap": c.id or f"cap{i + 1}",
                    "pollutant": c.pollutant,
                    "pol": pol_code[c.pollutant],
                    "period": t,
                    "sector": c.sector or "",
                    "zone": c.zone or "",
                    "total": float(total),
                    "baseline": float(base),
                    "role": c.role,
                    "members": np.flatnonzero(mask),
                    "order": i,
                }
            )
    caps = pd.DataFrame(
        rows,
        columns=[
            "cap",
            "pollutant",
            "pol",
            "period",
            "sector",
            "zone",
            "total",
            "baseline",
            "role",
            "members",
            "order",
        ],
    )
    if caps.empty:
        return caps
    # resolve 'auto' roles per (pollutant, period), larger scopes first
    roles = caps.role.to_numpy(dtype=object).copy()
    for _, idx in caps.groupby(["pollutant", "period"], sort=False).groups.items():
        idx = sorted(idx, key=lambda k: (-len(caps.at[k, "members"]), caps.at[k, "order"]))
        chosen: list[set[int]] = [set(caps.at[k, "members"]) for k in idx if roles[k] == "allocate"]
        for k in idx:
            if roles[k] != "auto":
                continue
            m = set(caps.at[k, "members"])
            laminar = all(m <= o or o <= m or not (m & o) for o in chosen)
            roles[k] = "allocate" if laminar else "limit"
            if laminar:
                chosen.append(m)
    caps["role"] = roles
    return caps


# --------------------------------------------------------------------------------------------------
# big synthetic inputs, straight from DataFrames


def inputs_from_frames(
    enterprises: pd.DataFrame,
    options: pd.DataFrame,
    caps: pd.DataFrame,
    *,
    pollutants: list[str] | None = None,
    periods: list[str] | None = None,
    phase_out: tuple[str, ...] | list[str] = (),
    name: str = "frames",
) -> Inputs:
    """:class:`Inputs` built from DataFrames with numpy, for inputs too big for per-row pydantic objects.

    The tables have the columns of a scenario's CSV tables (``docs`` scenario reference), with the
    same units (kg/yr, CNY/kg, CNY/yr):

    - ``enterprises``: ``id``, ``sector``, optional ``zone``, ``name``, ``output`` (t/yr), and
      ``baseline_<metal>`` (kg/yr; missing or NaN = 0), optional ``history_<metal>`` (default the baseline);
    - ``options``: ``enterprise``, ``kind`` and, per kind, ``step``: ``pollutant``, ``quantity`` (kg/yr),
      ``cost`` (CNY/kg); ``linear``: ``pollutant``, ``slope`` (CNY/kg per kg/yr), ``intercept`` (CNY/kg,
      default 0), ``max`` (kg/yr, default the baseline); ``technology``: ``name``, ``cost`` (CNY/yr),
      ``fixed_cost`` (CNY/yr, default 0), ``removal_<metal>`` (shares), ``requires`` (optional);
      ``output_cut``: ``margin`` (CNY/t), ``output`` and ``max`` (t/yr, default the enterprise's
      output); ``retire``: ``cost`` (CNY/yr). An optional ``name`` column names any option (default
      ``step <metal>``, ``linear MAC <metal>``, ``output cut``, ``retirement``);
    - ``caps``: ``pollutant``, ``total`` (kg/yr) or ``reduction`` (share of the scope's baseline),
      optional ``id``, ``sector``, ``zone``, ``period``, ``role`` (each cap row is validated by the
      scenario schema's ``Cap``).

    ``phase_out`` lists enterprises that close (their retirement forced, or a costless closure
    added). The result is what :func:`build_inputs` gives for the same scenario (names of steps
    aside, which :func:`build_inputs` writes with their cost), without firm limits, receptors or
    given allocations. The checks are vectorised and cover what the model needs (known
    sectors, enterprises and metals; finite, non-negative quantities); the cross-table checks of
    a scenario file are not repeated. ``pollutants`` defaults to the ``baseline_`` columns in
    order, ``periods`` to ``["1"]``.
    """
    from emtrade.errors import EmtradeError
    from emtrade.registry import SECTORS
    from emtrade.scenario.schema import Cap

    def fail(what: str, mask: np.ndarray, labels) -> None:
        """Raise if any row is flagged; ``labels`` (array-like, or a function giving one) name the rows."""
        bad = np.flatnonzero(mask)
        if len(bad):
            labels = labels() if callable(labels) else labels
            first = ", ".join(str(x) for x in np.asarray(labels)[bad[:5]])
            raise EmtradeError(f"{what} ({len(bad)} rows, first: {first})")

    periods = [str(t) for t in periods] if periods else ["1"]
    base_cols = [c for c in enterprises.columns if c.startswith("baseline_")]
    pollutants = list(pollutants) if pollutants is not None else [c[len("baseline_") :] for c in base_cols]
    n_p = len(pollutants)
    pol_code = {p: i for i, p in enumerate(pollutants)}
    ids = enterprises["id"].astype(str).to_numpy(dtype=object)
    n_e = len(ids)
    if pd.Index(ids).has_duplicates:
        fail("enterprises: duplicate id", pd.Index(ids).duplicated().to_numpy(), ids)
    sector = enterprises["sector"].astype(str).to_numpy(dtype=object)
    fail("enterprises: unknown sector", ~np.isin(sector, list(SECTORS)), ids)

    def column(df: pd.DataFrame, col: str, default: float) -> np.ndarray:
        if col not in df.columns:
            return np.full(len(df), default, dtype=float)
        return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)

    zone = enterprises["zone"].fillna("").astype(str) if "zone" in enterprises else pd.Series([""] * n_e)
    ent = pd.DataFrame(
        {
            "enterprise": ids,
            "name": enterprises["name"].fillna(pd.Series(ids)).astype(str).to_numpy(dtype=object)
            if "name" in enterprises
            else ids,
            "sector": sector,
            "zone": zone.to_numpy(dtype=object),
            "output": column(enterprises, "output", np.nan),
        }
    ).set_index("enterprise")
    base = np.column_stack([np.nan_to_num(column(enterprises, f"baseline_{p}", 0.0)) for p in pollutants])
    hist = base.copy()
    for i, p in enumerate(pollutants):
        h = column(enterprises, f"history_{p}", np.nan)
        hist[:, i] = np.where(np.isnan(h), base[:, i], h)
    fail("enterprises: baseline must be finite and ≥ 0", ~np.isfinite(base).all(axis=1) | (base < 0).any(axis=1), ids)

    # pairs: (enterprise, metal) with a positive baseline, in enterprise order then metal order
    e_idx, p_idx = np.nonzero(base > 0)
    pairs = pd.DataFrame(
        {
            "enterprise": ids[e_idx],
            "pollutant": np.array(pollutants, dtype=object)[p_idx],
            "ent": e_idx.astype(np.int64),
            "pol": p_idx.astype(np.int64),
            "baseline": base[e_idx, p_idx],
            "history": hist[e_idx, p_idx],
        }
    )
    pair_key = e_idx.astype(np.int64) * max(n_p, 1) + p_idx

    def pair_of(e: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Pair number of each (enterprise code, metal code), −1 where the enterprise does not discharge it."""
        key = e * max(n_p, 1) + p
        pos = np.minimum(np.searchsorted(pair_key, key), max(len(pair_key) - 1, 0))
        return np.where((len(pair_key) > 0) & (pair_key[pos] == key) & (p >= 0), pos, -1) if len(key) else key

    # options, in the order of the table (phase-out closures appended, as build_inputs does). Big
    # tables: full-length temporaries are made only for the kinds and columns present, and dropped
    # once used, so that the peak stays near the size of the result.
    n_o = len(options)
    kind_code, kind_names = pd.factorize(options["kind"])
    kind_names = np.asarray(kind_names, dtype=object)

    def kind_labels() -> np.ndarray:
        return kind_names[kind_code] if n_o else np.zeros(0, dtype=object)

    o_ent = pd.Index(ids).get_indexer(options["enterprise"].astype(str))
    fail("options: unknown enterprise", o_ent < 0, lambda: options["enterprise"].to_numpy())
    fail("options: unknown kind", ~np.isin(kind_names, list(ACTIVITY_UNITS))[kind_code], kind_labels)

    def of_kind(k: str) -> np.ndarray:
        return kind_code == (list(kind_names).index(k) if k in kind_names else -2)

    is_step, is_lin, is_tech, is_cut, is_ret = (
        of_kind(k) for k in ("step", "linear", "technology", "output_cut", "retire")
    )

    def codes_of(col: str):
        """A text column as (codes, distinct values as str); code −1 where missing or absent."""
        if col not in options:
            return np.broadcast_to(np.int64(-1), (n_o,)), np.zeros(0, dtype=object)
        codes, uniques = pd.factorize(options[col])
        return codes, np.asarray(uniques.astype(str), dtype=object)

    def text(col: str) -> np.ndarray:
        """A text column as an object array ('' where missing), through its distinct values."""
        codes, uniques = codes_of(col)
        values = np.append(uniques, "")
        return values[np.where(codes < 0, len(values) - 1, codes)]

    def numbers(col: str, default: float) -> np.ndarray:
        """A numeric column (NaN where missing, then ``default``); a zero-stride view if absent."""
        if col not in options:
            return np.broadcast_to(np.float64(default), (n_o,))
        x = pd.to_numeric(options[col], errors="coerce").to_numpy(dtype=float)
        return x if np.isnan(default) else np.where(np.isnan(x), default, x)

    p_codes, p_names = codes_of("pollutant")
    o_pol = np.append(pd.Index(pollutants).get_indexer(p_names), -1)[p_codes]
    del p_codes
    fail("options: unknown pollutant", (is_step | is_lin) & (o_pol < 0), lambda: text("pollutant"))
    any_lin, any_cut = bool(is_lin.any()), bool(is_cut.any())
    quantity, cost = numbers("quantity", np.nan), numbers("cost", np.nan)
    fail("options: step quantity must be > 0 and cost finite", is_step & ~((quantity > 0) & np.isfinite(cost)),
         kind_labels)  # fmt: skip
    fail("options: cost must be finite", (is_tech | is_ret) & ~np.isfinite(cost), kind_labels)
    upper = np.where(is_step, quantity, 1.0)
    del quantity
    quad = np.zeros(n_o)
    if any_lin:
        slope, o_max = numbers("slope", np.nan), numbers("max", np.nan)
        fail("options: linear slope must be finite and ≥ 0", is_lin & ~(np.isfinite(slope) & (slope >= 0)), kind_labels)
        b_of = np.where(is_lin & (o_pol >= 0), base[o_ent, np.maximum(o_pol, 0)], 0.0)
        upper = np.where(is_lin, np.where(np.isnan(o_max), b_of, np.minimum(o_max, b_of)), upper)
        cost = np.where(is_lin, numbers("intercept", 0.0), cost)
        quad = np.where(is_lin, slope, 0.0)
        del slope, o_max, b_of
    output = np.broadcast_to(np.float64(np.nan), (n_o,))
    if any_cut:
        o_out = numbers("output", np.nan)
        output = np.where(np.isnan(o_out), ent.output.to_numpy()[o_ent], o_out)
        margin, o_max = numbers("margin", np.nan), numbers("max", np.nan)
        fail("options: output cut needs a margin and an output > 0", is_cut & ~(np.isfinite(margin) & (output > 0)),
             kind_labels)  # fmt: skip
        upper = np.where(is_cut, np.where(np.isnan(o_max), output, o_max), upper)
        cost = np.where(is_cut, margin, cost)
        del margin, o_max, o_out
    fixed = np.where(is_tech, numbers("fixed_cost", 0.0), 0.0) if is_tech.any() else np.zeros(n_o)
    # default names, from the few (kind, metal) combinations rather than per row
    pol_names = np.array([*pollutants, ""], dtype=object)
    defaults = np.array(
        [["linear MAC " + p for p in pol_names], ["step " + p for p in pol_names], ["output cut"] * len(pol_names),
         ["retirement"] * len(pol_names), [""] * len(pol_names)],
        dtype=object,
    )  # fmt: skip
    pol_col = np.where(o_pol >= 0, o_pol, len(pollutants))
    names = defaults[np.select([is_lin, is_step, is_cut, is_ret], [0, 1, 2, 3], 4), pol_col]
    if "name" in options:
        given = text("name")
        names = np.where(given == "", names, given)
        del given
    fail("options: a technology needs a name", is_tech & (names == ""), kind_labels)
    opt = pd.DataFrame(
        {
            "enterprise": ids[o_ent],
            "ent": o_ent.astype(np.int64),
            "kind": kind_labels(),
            "name": names,
            "pollutant": pol_names[np.where(is_step | is_lin, pol_col, len(pollutants))],
            "upper": upper,
            "cost": np.asarray(cost, dtype=float),
            "quad": quad,
            "fixed_cost": fixed,
            "integer": is_ret,
            "forced": np.zeros(n_o, dtype=bool),
            "implicit": np.zeros(n_o, dtype=bool),
        }
    )
    del upper, cost, quad, fixed, pol_col
    closures = []
    for eid in phase_out:
        e = ent.index.get_loc(eid)
        mine = np.flatnonzero(is_ret & (o_ent == e))
        if len(mine):
            opt.loc[mine[0], "forced"] = True
        else:
            closures.append(e)
    if closures:
        extra = pd.DataFrame(
            {"enterprise": ids[closures], "ent": np.asarray(closures, dtype=np.int64), **IMPLICIT_CLOSURE}
        )
        opt = pd.concat([opt, extra], ignore_index=True)
    # a technology that requires another: the option number of the prerequisite (−1 if none)
    requires = np.full(len(opt), -1, dtype=np.int64)
    if "requires" in options and options["requires"].notna().any():
        req = text("requires")
        tech_k = pd.Series(np.flatnonzero(is_tech), index=pd.MultiIndex.from_arrays([o_ent[is_tech], names[is_tech]]))
        tech_k = tech_k[~tech_k.index.duplicated(keep="last")]
        ask = np.flatnonzero(is_tech & (req != ""))
        found = tech_k.reindex(pd.MultiIndex.from_arrays([o_ent[ask], req[ask]])).to_numpy()
        requires[ask] = np.where(np.isnan(found), -1, found).astype(np.int64)
    opt["requires"] = requires
    opt.index.name = "option"
    del names, requires

    # abatement per unit of activity (kg/yr): 1 for steps and linear MACs; removal × baseline for a
    # technology; baseline / output per tonne of output cut; the whole baseline for a closure
    single_mask = is_step | is_lin
    if single_mask.all():
        pr = pair_of(o_ent, o_pol)
        single = np.arange(n_o)
    else:
        single = np.flatnonzero(single_mask)
        pr = pair_of(o_ent[single], o_pol[single])
    found = pr >= 0
    parts_o = [single if found.all() else single[found]]
    parts_p = [pr if found.all() else pr[found]]
    parts_k = [np.ones(len(parts_o[0]))]
    del pr, single, found, single_mask
    multi = np.concatenate([np.flatnonzero(~(is_step | is_lin)), np.arange(n_o, len(opt))])  # closures last
    if len(multi):
        e = opt.ent.to_numpy()[multi]
        inside = multi < n_o
        at = np.minimum(multi, n_o - 1)
        k = np.where(inside, kind_names[kind_code[at]] if n_o else "retire", "retire")
        out = np.where(inside, output[at], np.nan)
        for i, p in enumerate(pollutants):
            b = base[e, i]
            removal = numbers(f"removal_{p}", 0.0)
            fail(f"options: removal_{p} must be a share in [0, 1]", (removal < 0) | (removal > 1), kind_labels)
            rem = np.where(inside, removal[at], 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                kg = np.select([k == "technology", k == "output_cut"], [rem * b, b / out], b)
            pr = pair_of(e, np.full(len(multi), i))
            keep = (pr >= 0) & (kg > 0)
            parts_o.append(multi[keep])
            parts_p.append(pr[keep])
            parts_k.append(kg[keep])
    o_all, p_all, k_all = (np.concatenate(x) if len(x) > 1 else x[0] for x in (parts_o, parts_p, parts_k))
    del parts_o, parts_p, parts_k
    if len(o_all) > 1 and not (np.diff(o_all) >= 0).all():
        order = np.argsort(o_all, kind="stable")
        o_all, p_all, k_all = o_all[order], p_all[order], k_all[order]
    coef = pd.DataFrame(
        {"option": o_all.astype(np.int64, copy=False), "pair": p_all.astype(np.int64, copy=False),
         "kg_per_unit": k_all.astype(float, copy=False)}
    )  # fmt: skip
    del o_all, p_all, k_all

    # caps: members and totals with numpy, one row per cap and period
    emits = base > 0
    rows = []
    for i, rec in enumerate(caps.to_dict("records")):
        spec = {k: v for k, v in rec.items() if v is not None and not (isinstance(v, float) and np.isnan(v))}
        c = Cap(**spec)
        if c.pollutant not in pol_code:
            raise EmtradeError(f"caps row {i + 1}: pollutant {c.pollutant!r} is not one of {', '.join(pollutants)}")
        p = pol_code[c.pollutant]
        mask = emits[:, p].copy()
        if c.sector is not None:
            mask &= sector == c.sector
        if c.zone is not None:
            mask &= ent.zone.to_numpy(dtype=object) == c.zone
        members = np.flatnonzero(mask)
        b = base[members, p]
        scope_base = float(np.cumsum(b)[-1]) if len(b) else 0.0  # summed in order, as build_inputs does
        total = c.total if c.total is not None else (1.0 - c.reduction) * scope_base
        for t in [c.period] if c.period is not None else periods:
            rows.append(
                {
                    "cap": c.id or f"cap{i + 1}",
                    "pollutant": c.pollutant,
                    "pol": p,
                    "period": t,
                    "sector": c.sector or "",
                    "zone": c.zone or "",
                    "total": float(total),
                    "baseline": scope_base,
                    "role": c.role,
                    "members": members,
                    "order": i,
                }
            )
    cap_cols = ["cap", "pollutant", "pol", "period", "sector", "zone", "total", "baseline", "role", "members", "order"]
    cap_df = pd.DataFrame(rows, columns=cap_cols)
    if not cap_df.empty:
        cap_df["role"] = _resolve_roles(cap_df)

    # no firm limits or receptors on this route: the same empty tables as build_inputs
    from types import SimpleNamespace

    none = SimpleNamespace(spec=SimpleNamespace(enterprises=[], limits=[], receptors=[], transfer=[]))
    limits = _expand_limits(none, {}, periods)
    receptors, transfer = _expand_receptors(none, ent.iloc[:0], {}, periods)
    return Inputs(
        name=name,
        enterprises=ent,
        pollutants=pollutants,
        periods=periods,
        pairs=pairs,
        options=opt,
        coef=coef,
        caps=cap_df,
        phase_out=list(phase_out),
        given_allocation=pd.Series({}, dtype=float),
        limits=limits,
        receptors=receptors,
        transfer=transfer,
    )


def _resolve_roles(caps: pd.DataFrame) -> np.ndarray:
    """'auto' roles as in :func:`_expand_caps`: per (pollutant, period), larger scopes first, allocate
    unless the cap crosses an allocating cap already chosen. Member sets compared as sorted arrays."""
    roles = caps.role.to_numpy(dtype=object).copy()
    for _, idx in caps.groupby(["pollutant", "period"], sort=False).groups.items():
        idx = sorted(idx, key=lambda k: (-len(caps.at[k, "members"]), caps.at[k, "order"]))
        chosen = [caps.at[k, "members"] for k in idx if roles[k] == "allocate"]
        for k in idx:
            if roles[k] != "auto":
                continue
            m = caps.at[k, "members"]
            laminar = True
            for o in chosen:
                common = len(np.intersect1d(m, o, assume_unique=True))
                if not (common == len(m) or common == len(o) or common == 0):
                    laminar = False
                    break
            roles[k] = "allocate" if laminar else "limit"
            if laminar:
                chosen.append(m)
    return roles
