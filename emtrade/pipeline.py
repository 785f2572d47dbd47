"""The pipeline, and nothing else: scenario → inputs → allocation → model → solve → Results.

Every run solves the scenario twice: with its market rules, and under command-and-control (every
enterprise held to its own allocation, no trading, no banking, no government sales: see
:mod:`emtrade.policy`), so that every run reports what trading saves, in total and per firm.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from emtrade.allocation import allocate
from emtrade.diagnose import explain_infeasibility
from emtrade.errors import InfeasibleError
from emtrade.inputs import build_inputs
from emtrade.model.build import build_model
from emtrade.model.readout import read_outcome
from emtrade.outcome import assemble
from emtrade.policy import policy_of
from emtrade.results import Results
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
    policy = policy_of(sc)
    t_inputs = time.perf_counter() - t0

    t1 = time.perf_counter()
    built = build_model(inputs, alloc, policy)
    t_build = time.perf_counter() - t1
    interval_rows = None
    if "market" in built.problem.rows:
        interval_rows = np.arange(built.problem.rows["market"].start, built.problem.rows["market"].stop)
    try:
        sol = solve_problem(built.problem, opts, interval_rows)
    except InfeasibleError:
        raise InfeasibleError(f"{sc.display}: {explain_infeasibility(inputs, alloc, policy)}") from None
    trade = read_outcome(built, sol)
    market_power = None
    if policy.dominant:
        from emtrade.market_power import apply_market_power

        built, sol, trade, market_power = apply_market_power(built, sol, trade, opts)

    # command-and-control: the same physical policy, every enterprise held to its own permits
    t2 = time.perf_counter()
    cac_built = build_model(inputs, alloc, policy.command_and_control())
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
    return assemble(sc, inputs, alloc, built, sol, trade, cac, cac_status, cac_notes, timings, opts, market_power)
