"""The pipeline, and nothing else: scenario → inputs → allocation → model → solve → Results.

Every run solves the scenario twice: with its trading rules, and under command-and-control (every
enterprise held to its own allocation, no trading), so that every run reports what trading saves,
in total and per firm.
"""

from __future__ import annotations

import time
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from emtrade.allocation import allocate
from emtrade.diagnose import explain_infeasibility
from emtrade.errors import InfeasibleError
from emtrade.inputs import build_inputs
from emtrade.model.build import build_model
from emtrade.model.readout import Outcome, read_outcome
from emtrade.results import UNITS, Results
from emtrade.scenario.loader import Scenario, load_scenario
from emtrade.solve import SolveOptions, solve_problem


def simulate(scenario: Scenario | str | dict[str, Any], **solver_overrides: Any) -> Results:
    """Run a scenario: the market outcome and the command-and-control comparison.

    ``scenario`` is a :class:`Scenario`, a path to a YAML file, or a mapping. Keyword arguments
    override the scenario's ``solver`` options (``time_limit``, ``mip_gap``, ``backend``,
    ``price_intervals``).

    >>> from emtrade import simulate, bundled_scenario
    >>> res = simulate(bundled_scenario("textbook/fox_river"))
    >>> float(res.prices.price.iloc[0])
    21.0
    >>> res.summary["savings"]
    140.0
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    t0 = time.perf_counter()
    spec = sc.spec
    opts = SolveOptions(**{**spec.solver.model_dump(), **solver_overrides})
    inputs = build_inputs(sc)
    alloc = allocate(inputs, spec.allocation)
    t_inputs = time.perf_counter() - t0

    scope = spec.trading.scope
    t1 = time.perf_counter()
    built = build_model(inputs, alloc, scope)
    t_build = time.perf_counter() - t1
    interval_rows = None
    if "market" in built.problem.rows:
        interval_rows = np.arange(built.problem.rows["market"].start, built.problem.rows["market"].stop)
    try:
        sol = solve_problem(built.problem, opts, interval_rows)
    except InfeasibleError:
        raise InfeasibleError(f"{sc.display}: {explain_infeasibility(inputs, alloc, scope)}") from None
    trade = read_outcome(built, sol)

    # command-and-control: the same caps, every enterprise held to its own permits
    t2 = time.perf_counter()
    cac_built = build_model(inputs, alloc, "none")
    cac_notes: list[str] = []
    try:
        cac_sol = solve_problem(cac_built.problem, SolveOptions(**{**opts.__dict__, "price_intervals": False}))
        cac = read_outcome(cac_built, cac_sol)
        cac_status = cac_sol.status
    except InfeasibleError:
        cac, cac_status = None, "infeasible"
        cac_notes.append(
            "command-and-control is infeasible: some enterprises cannot meet their own allocation without "
            "buying permits, so trading is the only way to meet the caps"
        )
    t_cac = time.perf_counter() - t2

    timings = {
        "inputs_s": t_inputs,
        "build_s": t_build,
        "solve_s": sol.timings.get("total", 0.0),
        "cac_s": t_cac,
        "total_s": time.perf_counter() - t0,
    }
    return _assemble(sc, inputs, alloc, built, sol, trade, cac, cac_status, cac_notes, timings, opts)


def _assemble(
    sc, inputs, alloc, built, sol, trade: Outcome, cac: Outcome | None, cac_status, cac_notes, timings, opts
) -> Results:
    n_t, n_pairs = len(inputs.periods), len(inputs.pairs)
    pairs = inputs.pairs
    ent = inputs.enterprises
    periods = np.array(inputs.periods, dtype=object)
    permits = built.permits.T.reshape(-1)  # (pair, period) → t·|pairs| + pair
    covered = built.market_of >= 0
    market_price = np.zeros(n_pairs * n_t)
    market_label = np.full(n_pairs * n_t, "", dtype=object)
    prices = trade.markets
    if len(prices):
        market_price[covered] = prices.price.to_numpy()[built.market_of[covered]]
        market_label[covered] = prices.market.to_numpy(dtype=object)[built.market_of[covered]]
    net = np.where(covered, trade.emissions - np.nan_to_num(permits), 0.0)
    e_idx = np.tile(pairs.ent.to_numpy(), n_t)
    enterprises = pd.DataFrame(
        {
            "enterprise": np.tile(pairs.enterprise.to_numpy(dtype=object), n_t),
            "sector": ent.sector.to_numpy(dtype=object)[e_idx],
            "zone": ent.zone.to_numpy(dtype=object)[e_idx],
            "pollutant": np.tile(pairs.pollutant.to_numpy(dtype=object), n_t),
            "period": np.repeat(periods, n_pairs),
            "baseline": np.tile(pairs.baseline.to_numpy(dtype=float), n_t),
            "allocation": permits,
            "emissions": trade.emissions,
            "abatement": trade.abatement,
            "net_purchase": net,
            "abatement_cost": trade.cost,
            "permit_cost": market_price * net,
            "market": market_label,
            "price": np.where(covered, market_price, np.nan),
            "cac_emissions": cac.emissions if cac is not None else np.nan,
            "cac_abatement_cost": cac.cost if cac is not None else np.nan,
        }
    )
    firms = (
        enterprises.groupby(["enterprise", "period"], sort=False)
        .agg(
            sector=("sector", "first"),
            zone=("zone", "first"),
            abatement_cost=("abatement_cost", "sum"),
            permit_cost=("permit_cost", "sum"),
            cac_cost=("cac_abatement_cost", "sum"),
        )
        .reset_index()
    )
    if cac is None:
        firms["cac_cost"] = np.nan
    firms["net_cost"] = firms.abatement_cost + firms.permit_cost
    firms["savings"] = firms.cac_cost - firms.net_cost
    firms = firms[
        ["enterprise", "sector", "zone", "period", "abatement_cost", "permit_cost", "net_cost", "cac_cost", "savings"]
    ]

    bought = np.bincount(built.market_of[covered], weights=np.maximum(net[covered], 0.0), minlength=len(prices))
    prices = prices.assign(bought=bought)[
        [
            "market",
            "pollutant",
            "period",
            "price",
            "price_low",
            "price_high",
            "permits",
            "emissions",
            "baseline",
            "bought",
        ]
    ]
    caps = trade.caps
    if len(caps):
        caps = caps.assign(binding=caps.emissions >= caps.total - 1e-6 * np.maximum(1.0, caps.total))[
            [
                "cap",
                "pollutant",
                "period",
                "sector",
                "zone",
                "role",
                "total",
                "baseline",
                "emissions",
                "shadow_price",
                "binding",
                "implied_by",
            ]
        ]
    else:
        caps = pd.DataFrame(
            columns=[
                "cap",
                "pollutant",
                "period",
                "sector",
                "zone",
                "role",
                "total",
                "baseline",
                "emissions",
                "shadow_price",
                "binding",
                "implied_by",
            ]
        )

    total_cost = float(trade.cost.sum())
    per_firm = firms.groupby("enterprise", sort=False).savings.sum()
    worse_off = sorted(per_firm.index[per_firm < -1e-6 * max(1.0, abs(per_firm).max())].tolist())
    if worse_off and sol.path.startswith("mi"):
        worse_note = [
            f"{len(worse_off)} enterprises pay more with trading than under command-and-control: with lumpy "
            "decisions (fixed costs, closures) the prices of the continuous problem do not repay every "
            "fixed cost (non-convex markets have no clearing prices that do): see firms_worse_off"
        ]
    elif worse_off:
        worse_note = [f"{len(worse_off)} enterprises pay more with trading than under command-and-control"]
    else:
        worse_note = []
    cac_total = float(cac.cost.sum()) if cac is not None else None
    revenue = (
        float((market_price * np.where(covered, trade.emissions, 0.0)).sum()) if alloc.method == "auction" else 0.0
    )
    price_records = [
        {
            k: (r[k] if not isinstance(r[k], float) or np.isfinite(r[k]) else None)
            for k in ("market", "pollutant", "period", "price", "price_low", "price_high")
        }
        for r in prices.to_dict("records")
    ]
    summary = {
        "scenario": sc.name,
        "status": sol.status,
        "total_cost": total_cost,
        "cac_total_cost": cac_total,
        "savings": None if cac_total is None else cac_total - total_cost,
        # a share of a negative cost (process changes that pay) means nothing: only for positive CAC costs
        "savings_share": (cac_total - total_cost) / cac_total if cac_total and cac_total > 0 else None,
        "prices": price_records,
        "emissions": {
            p: float(trade.emissions[np.tile(pairs.pollutant.to_numpy(), n_t) == p].sum()) for p in inputs.pollutants
        },
        "baseline": {
            p: float(np.tile(pairs.baseline.to_numpy(), n_t)[np.tile(pairs.pollutant.to_numpy(), n_t) == p].sum())
            for p in inputs.pollutants
        },
        "permits_traded": float(bought.sum()),
        "government_revenue": revenue,
        "allocation_method": alloc.method,
        "trading_scope": built.scope,
        "cac_status": cac_status,
        "cac_basis": alloc.cac_basis,
        "solve_path": sol.path,
        "mip_gap": sol.mip_gap,
        "periods": list(inputs.periods),
        "pollutants": list(inputs.pollutants),
        "n_enterprises": len(ent),
        "n_options": len(inputs.options),
        "model": built.problem.summary(),
        "firms_worse_off": worse_off,
        "notes": sol.notes + cac_notes + worse_note,
        "warnings": list(sc.warnings) + _scope_warnings(inputs, built),
        "units": UNITS,
        "options": {k: v for k, v in opts.__dict__.items()},
        "versions": _versions(),
        "input_hashes": dict(sc.input_hashes),
        "timings": timings,
    }
    return Results(
        summary=summary,
        enterprises=enterprises,
        firms=firms,
        prices=prices,
        caps=caps,
        options=trade.options,
        abatement=trade.abatement_long,
    )


def _scope_warnings(inputs, built) -> list[str]:
    """Allocating caps that cut through a market hold as limits: permits cannot cross them. Say so."""
    caps = built.caps
    if caps.empty or built.scope == "none":
        return []
    cut = caps[(caps.role == "allocate") & (caps.row >= 0)]
    if cut.empty:
        return []
    names = ", ".join(sorted(set(cut.cap)))[:200]
    return [
        f"caps {names} each hold as a limit inside a wider '{built.scope}' market: permits cannot move across "
        "them (use a trading scope that matches the caps, or one cap over the market's scope)"
    ]


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("emtrade", "pyomo", "highspy", "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out
