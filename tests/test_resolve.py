"""Re-solving on cached HiGHS instances gives exactly what emtrade.simulate gives, whatever ran before."""

from __future__ import annotations

import random

import pandas as pd
import pytest

import emtrade
from emtrade.resolve import Resolver
from emtrade.results import TABLES
from emtrade.scenario.uncertainty import draw_sample


def assert_same(a, b) -> None:
    """Every table equal to the bit, the summary equal except the timings."""
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
    sa = {k: v for k, v in a.summary.items() if k != "timings"}
    sb = {k: v for k, v in b.summary.items() if k != "timings"}
    assert sa == sb


def milp() -> dict:
    """Three firms, two metals: steps, a joint technology with a fixed cost, a closure; sector markets."""
    return {
        "name": "small MILP",
        "pollutants": ["Pb", "Cd"],
        "enterprises": [
            {"id": "A", "sector": "zinc", "baseline": {"Pb": 100, "Cd": 10}},
            {"id": "B", "sector": "zinc", "baseline": {"Pb": 80, "Cd": 12}},
            {"id": "C", "sector": "electroplating", "baseline": {"Pb": 40, "Cd": 5}},
        ],
        "abatement": [
            {"enterprise": "A", "kind": "step", "pollutant": "Pb", "quantity": 30, "cost": 50},
            {"enterprise": "A", "kind": "step", "pollutant": "Pb", "quantity": 30, "cost": 120},
            {
                "enterprise": "A",
                "kind": "technology",
                "name": "sulfide",
                "removal": {"Pb": 0.5, "Cd": 0.6},
                "cost": 4000,
                "fixed_cost": 1500,
            },
            {"enterprise": "B", "kind": "step", "pollutant": "Pb", "quantity": 40, "cost": 80},
            {"enterprise": "B", "kind": "step", "pollutant": "Cd", "quantity": 6, "cost": 300},
            {
                "enterprise": "B",
                "kind": "technology",
                "name": "membrane",
                "removal": {"Pb": 0.7, "Cd": 0.7},
                "cost": 9000,
                "fixed_cost": 2500,
            },
            {"enterprise": "C", "kind": "step", "pollutant": "Pb", "quantity": 20, "cost": 60},
            {"enterprise": "C", "kind": "retire", "cost": 20000},
        ],
        "caps": [
            {"id": "zinc-Pb", "pollutant": "Pb", "sector": "zinc", "reduction": 0.3},
            {"id": "zinc-Cd", "pollutant": "Cd", "sector": "zinc", "reduction": 0.4},
            {"id": "ep-Pb", "pollutant": "Pb", "sector": "electroplating", "reduction": 0.2},
        ],
        "trading": {"scope": "sector"},
        "uncertainty": [
            {"target": "step_cost", "distribution": "lognormal", "sigma": 0.3, "per": "enterprise"},
            {"target": "technology_cost", "distribution": "uniform", "low": 0.6, "high": 1.4},
            {"target": "baseline", "distribution": "lognormal", "sigma": 0.1, "per": "enterprise"},
        ],
    }


def variants(sc, n: int, seed: int = 11) -> list:
    return [sc.with_overrides(draw_sample(sc, seed, s).overrides) for s in range(n)]


def test_milp_lp_qp_runs_equal_simulate_in_any_order():
    base = emtrade.load_scenario(milp())
    runs = variants(base, 6)
    # other structures in between: no trading, one market, a QP (fox river), an LP (field & field)
    runs += [base.with_overrides({"trading.scope": "none"}), base.with_overrides({"trading.scope": "all"})]
    fox = emtrade.load_scenario(emtrade.bundled_scenario("textbook/fox_river"))
    slopes = [{"target": "slope", "distribution": "triangular", "low": 0.5, "mode": 1, "high": 2, "per": "enterprise"}]
    runs += variants(fox.with_overrides({"uncertainty": slopes, "solver.fast_path": "off"}), 3)
    field = emtrade.load_scenario(emtrade.bundled_scenario("textbook/field_field"))
    total = field.spec.caps[0].total
    runs += [field.with_overrides({"caps.0.total": t, "solver.fast_path": "off"}) for t in (0.9 * total, total)]
    expected = [emtrade.simulate(sc) for sc in runs]
    paths = {r.summary["solve_path"] for r in expected}
    assert {"milp+fixed-lp", "qp", "lp"} <= paths
    for order in (list(range(len(runs))), random.Random(5).sample(range(len(runs)), len(runs))):
        resolver = Resolver()
        for i in order:
            assert_same(resolver.simulate(runs[i]), expected[i])
        assert resolver.stats.pushed > 0  # the instances were reused, not rebuilt
        assert resolver.stats.built < 2 * len(runs)


def test_changed_numbers_reach_the_instance():
    """Costs, bounds, row bounds and matrix values all change between runs (the Hessian: the test above)."""
    base = emtrade.load_scenario(milp())
    resolver = Resolver()
    first = resolver.simulate(base)
    changed = base.with_overrides({
        "enterprises.0.baseline.Pb": 105,  # matrix values (technology abatement) and row bounds
        "abatement.0.cost": 70,  # costs
        "abatement.1.quantity": 25,  # column bounds
        "caps.0.reduction": 0.35,  # row bounds
    })  # fmt: skip
    got = resolver.simulate(changed)
    assert_same(got, emtrade.simulate(changed))
    assert got.summary["total_cost"] != first.summary["total_cost"]
    assert resolver.stats.pushed >= 3 and resolver.stats.reloaded == 0


def test_market_rules_grid_solves_command_and_control_once():
    """Command-and-control does not depend on the trading scope: its solves are answered from memory."""
    base = emtrade.load_scenario(milp())
    runs = [
        base.with_overrides({"trading.scope": s, "caps.0.reduction": r}) for r in (0.3, 0.35) for s in ("sector", "all")
    ]
    resolver = Resolver()
    for sc in runs:
        assert_same(resolver.simulate(sc), emtrade.simulate(sc))
    # per caps value: the second scope reuses command-and-control's MIP and LP
    assert resolver.stats.remembered == 4


def test_an_infeasible_run_does_not_spoil_the_next():
    base = emtrade.load_scenario(milp())
    resolver = Resolver()
    resolver.simulate(base)
    # zinc Cd to zero: A's technology removes 60 % at most, B's at most 70 % plus a 6 kg step
    impossible = base.with_overrides({"caps.1.reduction": 1.0})
    with pytest.raises(emtrade.errors.InfeasibleError):
        resolver.simulate(impossible)
    after = base.with_overrides({"caps.0.reduction": 0.25})
    assert_same(resolver.simulate(after), emtrade.simulate(after))


def test_without_an_active_resolver_solves_are_untouched():
    import emtrade.solve as solve
    from emtrade.allocation import allocate
    from emtrade.inputs import build_inputs
    from emtrade.model.build import build_model
    from emtrade.policy import policy_of

    Resolver()  # installs the dispatcher
    sc = emtrade.load_scenario(emtrade.bundled_scenario("textbook/fox_river"))
    inputs = build_inputs(sc)
    arrays = build_model(inputs, allocate(inputs, sc.spec.allocation), policy_of(sc)).problem.arrays()
    assert type(solve._backend(arrays, solve.SolveOptions())) is solve.HighsBackend
