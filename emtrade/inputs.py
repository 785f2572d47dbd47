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
                {
                    "enterprise": eid,
                    "ent": ent_code[eid],
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
                },
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
