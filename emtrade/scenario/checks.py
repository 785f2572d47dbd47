"""Checks across tables: every reference resolves, every id is unique, every cap has someone to cap.

Returns problems (errors) and warnings (suspicious but legal input) as lists, never raising, so
that the loader can report everything it found at once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from emtrade.errors import Problem
from emtrade.registry import METALS, metal_id

if TYPE_CHECKING:
    from emtrade.scenario.loader import Scenario


def check_references(sc: Scenario, known_enterprises: set[str] | None = None) -> tuple[list[Problem], list[str]]:
    """Problems and warnings across tables. ``known_enterprises``: ids of rows that failed the schema
    (when checking a partly valid scenario), which are not reported again as unknown references."""
    spec, display = sc.spec, sc.display
    known_enterprises = known_enterprises or set()
    problems: list[Problem] = []
    warnings: list[str] = []

    def where(key: str, i: int) -> str:
        src = sc.sources.get(key)
        rows = sc.raw.get(key) or []
        index = sc.row_index.get(key)
        if index is not None and i < len(index):
            i = index[i]
        row = rows[i] if i < len(rows) else None
        if src is None:
            from emtrade.scenario.loader import TableSource

            src = TableSource(key)
        return src.where(i, row)

    def err(w: str, msg: str) -> None:
        problems.append(Problem(display, w, msg))

    pollutants = list(spec.pollutants)
    pset = set(pollutants)
    for p, n in Counter(pollutants).items():
        if n > 1:
            err("pollutants", f"'{p}' is listed {n} times")
    for p in pollutants:
        if p not in METALS:
            guess = metal_id(p)
            if guess and guess != p:
                err("pollutants", f"'{p}' is not a metal id; write '{guess}'")
            else:
                warnings.append(
                    f"pollutant '{p}' is not a metal of the registry: it has no pollution-equivalent weight"
                )
    periods = sc.periods
    for t, n in Counter(periods).items():
        if n > 1:
            err("periods", f"period '{t}' is listed {n} times")

    # enterprises
    first_row: dict[str, int] = {}
    for i, e in enumerate(spec.enterprises):
        if e.id in first_row:
            err(where("enterprises", i), f"duplicate id '{e.id}' (first at {where('enterprises', first_row[e.id])})")
        else:
            first_row[e.id] = i
        for key in ("baseline", "allocation", "history"):
            values = getattr(e, key) or {}
            for p in values:
                if p not in pset:
                    err(
                        where("enterprises", i),
                        f"{key} names '{p}', which is not in pollutants ({', '.join(pollutants)})",
                    )
        if not any(v > 0 for v in e.baseline.values()):
            warnings.append(f"{where('enterprises', i)}: enterprise '{e.id}' discharges nothing (all baselines zero)")
    ents = {e.id: e for e in spec.enterprises}
    zones_known = {e.zone for e in spec.enterprises if e.zone} | {z.id for z in spec.zones}
    for z, n in Counter(z.id for z in spec.zones).items():
        if n > 1:
            err("zones", f"zone '{z}' is defined {n} times")

    # abatement options
    retire_rows: dict[str, list[int]] = defaultdict(list)
    tech_names: dict[str, Counter] = defaultdict(Counter)
    for o in spec.abatement:
        if o.kind == "technology":
            tech_names[o.enterprise][o.name] += 1
    for i, o in enumerate(spec.abatement):
        w = where("abatement", i)
        e = ents.get(o.enterprise)
        if e is None:
            if o.enterprise not in known_enterprises:
                err(w, f"enterprise '{o.enterprise}' is not in the enterprises table")
            continue
        if o.kind in ("linear", "step"):
            if o.pollutant not in pset:
                err(w, f"pollutant '{o.pollutant}' is not in pollutants ({', '.join(pollutants)})")
            elif e.baseline.get(o.pollutant, 0.0) <= 0:
                err(w, f"abates {o.pollutant}, but enterprise '{e.id}' has no {o.pollutant} baseline")
        elif o.kind == "technology":
            for p in o.removal:
                if p not in pset:
                    err(w, f"removal names '{p}', which is not in pollutants ({', '.join(pollutants)})")
            if o.requires is not None:
                n = tech_names[o.enterprise][o.requires]
                if o.requires == o.name:
                    err(w, f"technology '{o.name}' cannot require itself")
                elif n == 0:
                    err(w, f"requires '{o.requires}', which is not a technology of enterprise '{e.id}'")
                elif n > 1:
                    err(w, f"requires '{o.requires}', but enterprise '{e.id}' has {n} technologies of that name")
            if not any(o.removal.get(p, 0) > 0 and e.baseline.get(p, 0) > 0 for p in o.removal):
                warnings.append(f"{w}: technology '{o.name}' removes nothing that enterprise '{e.id}' discharges")
        elif o.kind == "output_cut":
            output = o.output if o.output is not None else e.output
            if output is None:
                err(w, f"output_cut needs 'output' (t/yr) here or in enterprise '{e.id}'")
            elif o.max is not None and o.max > output:
                err(w, f"max {o.max:g} t/yr exceeds the output {output:g} t/yr")
        elif o.kind == "retire":
            retire_rows[o.enterprise].append(i)
    for ent, rows in retire_rows.items():
        if len(rows) > 1:
            err(where("abatement", rows[1]), f"enterprise '{ent}' has more than one retire option")

    # caps
    cap_ids: dict[str, int] = {}
    scopes: dict[tuple, int] = {}
    for i, c in enumerate(spec.caps):
        w = where("caps", i)
        cid = c.id or f"cap{i + 1}"
        if cid in cap_ids:
            err(w, f"duplicate cap id '{cid}'")
        cap_ids[cid] = i
        if c.pollutant not in pset:
            err(w, f"pollutant '{c.pollutant}' is not in pollutants ({', '.join(pollutants)})")
            continue
        if c.zone is not None and c.zone not in zones_known:
            err(w, f"zone '{c.zone}' has no enterprises")
            continue
        if c.period is not None and c.period not in periods:
            err(w, f"period '{c.period}' is not one of the periods ({', '.join(periods)})")
            continue
        emitters = [
            e
            for e in spec.enterprises
            if (c.sector is None or e.sector == c.sector)
            and (c.zone is None or e.zone == c.zone)
            and e.baseline.get(c.pollutant, 0) > 0
        ]
        if not emitters:
            scope = " ".join(x for x in (c.sector, c.zone) if x) or "all enterprises"
            err(w, f"cap on {c.pollutant} over {scope}, but no enterprise there discharges {c.pollutant}")
        key = (c.pollutant, c.sector, c.zone, c.period)
        if key in scopes:
            err(w, f"a second cap on the same metal, scope and period as {where('caps', scopes[key])}")
        scopes[key] = i
        if c.total is not None and emitters:
            base = sum(e.baseline[c.pollutant] for e in emitters)
            if c.total >= base:
                warnings.append(
                    f"{w}: cap {cid} ({c.total:g} kg/yr) is not below the scope's baseline ({base:g} kg/yr): "
                    "it does not bind"
                )

    # phase-out
    for t, n in Counter(spec.phase_out).items():
        if t not in ents and t not in known_enterprises:
            err("phase_out", f"enterprise '{t}' is not in the enterprises table")
        elif t in ents and n > 1:
            err("phase_out", f"enterprise '{t}' is listed {n} times")

    # allocation
    alloc = spec.allocation
    capped = {c.pollutant for c in spec.caps}
    if alloc.method == "benchmark":
        missing = [e.id for e in spec.enterprises if e.output is None and any(e.baseline.get(p, 0) > 0 for p in capped)]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            err(
                "allocation.method", f"'benchmark' needs the output (t/yr) of every capped enterprise; missing: {shown}"
            )
        for sector, table in (alloc.benchmarks or {}).items():
            for p in table:
                if p not in pset:
                    err(f"allocation.benchmarks.{sector}", f"'{p}' is not in pollutants ({', '.join(pollutants)})")
    if alloc.method == "given":
        lacking = [
            e.id
            for e in spec.enterprises
            if any(e.baseline.get(p, 0) > 0 and (e.allocation or {}).get(p) is None for p in capped)
        ]
        if lacking:
            shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
            warnings.append(f"allocation 'given': no allocation for some capped metals of {shown}; they get none")
    if spec.trading.scope == "zone":
        nozone = [e.id for e in spec.enterprises if not e.zone]
        if nozone:
            err(
                "trading.scope",
                f"'zone' trading needs a zone for every enterprise; missing for {', '.join(nozone[:5])}",
            )
    _check_policy(sc, where, err, warnings, ents, zones_known, known_enterprises)
    return problems, warnings


def _check_policy(sc, where, err, warnings, ents, zones_known, known_enterprises) -> None:
    """References of issue-3 instruments: limits, receptors, transfer, ratios, zones, dominant firms."""
    spec = sc.spec
    pollutants = list(spec.pollutants)
    pset = set(pollutants)
    periods = sc.periods
    tr = spec.trading

    for i, lim in enumerate(spec.limits):
        w = where("limits", i)
        e = ents.get(lim.enterprise)
        if e is None:
            if lim.enterprise not in known_enterprises:
                err(w, f"enterprise '{lim.enterprise}' is not in the enterprises table")
        elif lim.pollutant not in pset:
            err(w, f"pollutant '{lim.pollutant}' is not in pollutants ({', '.join(pollutants)})")
        elif e.baseline.get(lim.pollutant, 0) <= 0:
            warnings.append(f"{w}: enterprise '{e.id}' does not discharge {lim.pollutant}: the limit does nothing")
        for key, value in (("period", lim.period), ("from", lim.from_)):
            if value is not None and value not in periods:
                err(w, f"{key} '{value}' is not one of the periods ({', '.join(periods)})")
    for e in spec.enterprises:
        for p in e.limit or {}:
            if p not in pset:
                err("enterprises", f"enterprise '{e.id}': limit names '{p}', which is not in pollutants")

    receptor_ids: dict[str, int] = {}
    for i, r in enumerate(spec.receptors):
        w = where("receptors", i)
        if r.pollutant not in pset:
            err(w, f"pollutant '{r.pollutant}' is not in pollutants ({', '.join(pollutants)})")
        if r.period is not None and r.period not in periods:
            err(w, f"period '{r.period}' is not one of the periods ({', '.join(periods)})")
        if (r.id, r.period) in receptor_ids:
            err(w, f"receptor '{r.id}' is defined twice for the same period")
        receptor_ids[(r.id, r.period)] = i
    rec_ids = {r.id for r in spec.receptors}
    for i, t in enumerate(spec.transfer):
        w = where("transfer", i)
        if t.receptor not in rec_ids:
            err(w, f"receptor '{t.receptor}' is not in the receptors table")
        if t.enterprise is not None and t.enterprise not in ents and t.enterprise not in known_enterprises:
            err(w, f"enterprise '{t.enterprise}' is not in the enterprises table")
        if t.zone is not None and t.zone not in zones_known:
            err(w, f"zone '{t.zone}' has no enterprises")
    if spec.receptors and not spec.transfer:
        warnings.append("receptors are given but no transfer coefficients: no discharge reaches them")

    if tr.ratios and tr.scope != "zone":
        err("trading.ratios", "trading ratios need trading.scope: zone")
    for k, r in enumerate(tr.ratios):
        for z in (r.from_, r.to):
            if z not in zones_known:
                err(f"trading.ratios[{k}]", f"zone '{z}' has no enterprises")
        if r.from_ == r.to:
            err(f"trading.ratios[{k}]", "a zone cannot trade with itself at a ratio")
    for z in tr.no_net_inflow:
        if z not in zones_known:
            err("trading.no_net_inflow", f"zone '{z}' has no enterprises")
    if tr.no_net_inflow and tr.scope == "none":
        warnings.append("trading.no_net_inflow does nothing without trading")
    for d in spec.market.dominant:
        if d not in ents and d not in known_enterprises:
            err("market.dominant", f"enterprise '{d}' is not in the enterprises table")
    if (tr.banking or tr.borrowing) and len(periods) < 2:
        warnings.append("banking and borrowing need at least two periods: with one they do nothing")

    weighted = tr.exchange == "pollution_equivalent"
    if weighted:
        from emtrade.registry import METALS

        unknown = [p for p in pollutants if p not in METALS]
        if unknown:
            err("trading.exchange", f"pollution-equivalent exchange needs registry metals; no weight for {unknown}")
    settings = {
        "trading.price_ceiling": tr.price_ceiling,
        "trading.price_floor": tr.price_floor,
        "trading.fee": tr.fee,
        "trading.reserve.price": tr.reserve.price if tr.reserve else None,
        "trading.reserve.quantity": tr.reserve.quantity if tr.reserve else None,
        "allocation.fee": spec.allocation.fee,
        "enforcement.penalty": spec.enforcement.penalty if spec.enforcement else None,
        "enforcement.daily_fine": spec.enforcement.daily_fine if spec.enforcement else None,
        "enforcement.kg_per_day": spec.enforcement.kg_per_day if spec.enforcement else None,
    }
    for key, value in settings.items():
        if isinstance(value, dict):
            if weighted and key != "allocation.fee":
                err(key, "with pollution-equivalent exchange, give one number (CNY per PE), not one per metal")
            for p in value:
                if p not in pset:
                    err(key, f"'{p}' is not in pollutants ({', '.join(pollutants)})")
    if tr.price_ceiling is not None and tr.price_floor is not None:
        for p in pollutants:
            c = tr.price_ceiling.get(p) if isinstance(tr.price_ceiling, dict) else tr.price_ceiling
            f = tr.price_floor.get(p) if isinstance(tr.price_floor, dict) else tr.price_floor
            if c is not None and f is not None and f > c:
                err("trading.price_floor", f"the floor ({f:g}) is above the ceiling ({c:g}) for {p}")
