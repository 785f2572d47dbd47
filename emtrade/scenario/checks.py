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
    return problems, warnings
