"""The answer does not depend on the unit of mass: scaling before the solve, checking after it.

A scenario re-expressed in a unit worth 1/f kg (tests/units.py: quantities ×f, prices ÷f, slopes
÷f²) is the same economic problem, so its optimal cost is the same, its quantities are ×f and its
prices ÷f. Before emtrade scaled its problems, the textbook ceiling and fee cases entered in grams
hung in HiGHS for over ten minutes, and in milligrams came back "optimal" with the wrong cost
(5,000 instead of 1,250; 20,000 instead of 3,800). Every check here compares against the kg run,
which the textbook tests check against the published answers.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from units import in_mass_unit

import emtrade
from emtrade import scaling as scaling_module
from emtrade.scaling import Scaling
from emtrade.verify import check_optimality

FACTORS = [1e-3, 1e3, 1e6]
TEXTBOOK = [name for name in emtrade.bundled_scenarios() if name.startswith("textbook/")]


def _raw(name: str) -> dict:
    return copy.deepcopy(emtrade.load_scenario(emtrade.bundled_scenario(name)).raw)


def _assert_same_economics(ref, res, factor: float) -> None:
    """Same costs; quantities ×factor; prices (and their intervals) ÷factor; both proven optimal."""
    assert res.summary["status"] == ref.summary["status"] == "optimal"
    for key in ("total_cost", "cac_total_cost"):
        if ref.summary[key] is None:  # command-and-control infeasible: in any unit
            assert res.summary[key] is None
        else:
            assert res.summary[key] == pytest.approx(ref.summary[key], rel=1e-6, abs=1e-6)
    for column in ("price", "price_low"):
        np.testing.assert_allclose(res.prices[column] * factor, ref.prices[column], rtol=1e-6, atol=1e-6)
    high_ref, high = ref.prices["price_high"].to_numpy(), res.prices["price_high"].to_numpy() * factor
    assert (np.isinf(high_ref) == np.isinf(high)).all()
    finite = np.isfinite(high_ref)
    np.testing.assert_allclose(high[finite], high_ref[finite], rtol=1e-6, atol=1e-6)
    ref_e = ref.enterprises.sort_values(["enterprise", "pollutant", "period"]).reset_index(drop=True)
    res_e = res.enterprises.sort_values(["enterprise", "pollutant", "period"]).reset_index(drop=True)
    scale = max(1.0, float(ref_e["baseline"].abs().max()))
    np.testing.assert_allclose(res_e["emissions"] / factor, ref_e["emissions"], rtol=1e-6, atol=1e-6 * scale)


@pytest.fixture(scope="module")
def references():
    return {name: emtrade.simulate(_raw(name)) for name in TEXTBOOK}


@pytest.mark.parametrize("factor", FACTORS)
@pytest.mark.parametrize("name", TEXTBOOK)
def test_textbook_scenarios_in_any_unit_of_mass(references, name, factor):
    res = emtrade.simulate(in_mass_unit(_raw(name), factor))
    _assert_same_economics(references[name], res, factor)


# -- random small markets ---------------------------------------------------------------------------


def _market(draw) -> dict:
    """Two to four firms with linear or step MACs, one metal, a cap, and maybe a fee or a ceiling."""
    n = draw(st.integers(2, 4))
    enterprises, abatement = [], []
    for i in range(n):
        baseline = draw(st.integers(10, 200))
        enterprises.append({"id": f"F{i}", "sector": "zinc", "baseline": {"Pb": baseline}})
        if draw(st.booleans()):
            abatement.append({"enterprise": f"F{i}", "pollutant": "Pb", "kind": "linear",
                              "slope": draw(st.sampled_from([0.5, 1, 2, 3, 5])),
                              "intercept": draw(st.sampled_from([0, 0, 4, 10]))})  # fmt: skip
        else:
            for cost in sorted(draw(st.lists(st.integers(1, 90), min_size=1, max_size=3, unique=True))):
                abatement.append({"enterprise": f"F{i}", "pollutant": "Pb", "kind": "step",
                                  "quantity": draw(st.integers(5, 60)), "cost": cost})  # fmt: skip
    total = sum(e["baseline"]["Pb"] for e in enterprises)
    trading = {"scope": "all"}
    extra = draw(st.sampled_from(["none", "fee", "ceiling"]))
    if extra == "fee":
        trading["fee"] = draw(st.sampled_from([2, 5, 20]))
    elif extra == "ceiling":
        trading["price_ceiling"] = draw(st.sampled_from([20, 50, 80]))
    return {
        "name": "random market",
        "pollutants": ["Pb"],
        "enterprises": enterprises,
        "abatement": abatement,
        # a cap every firm can meet by itself (command-and-control stays feasible): at most what
        # the firm with the least abatement capacity could reach, shared pro rata
        "caps": [{"pollutant": "Pb", "total": round(total * draw(st.sampled_from([0.6, 0.75, 0.9])), 3)}],
        "trading": trading,
        "solver": {"time_limit": 30},
    }


@st.composite
def markets(draw):
    return _market(draw)


@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(raw=markets(), exponent=st.sampled_from([-3, 3, 6]))
def test_random_markets_in_any_unit_of_mass(raw, exponent):
    try:
        ref = emtrade.simulate(copy.deepcopy(raw))
    except emtrade.errors.EmtradeError:
        # infeasible in kg (a firm cannot meet its share under command-and-control): then in any unit
        with pytest.raises(emtrade.errors.EmtradeError):
            emtrade.simulate(in_mass_unit(raw, 10.0**exponent))
        return
    _assert_same_economics(ref, emtrade.simulate(in_mass_unit(raw, 10.0**exponent)), 10.0**exponent)


# -- the check after the solve ------------------------------------------------------------------------


def _two_firm_lp():
    """min 10 a + 30 b  s.t.  a + b ≥ 50 (as −a − b ≤ −50), 0 ≤ a ≤ 30, 0 ≤ b ≤ 100.

    By hand: a = 30 (the cheap one, to its bound), b = 20; the row's dual is −30 (price 30, b's
    cost), a's reduced cost 10 − 30 = −20 < 0 at its upper bound, b's 0 between its bounds.
    """
    return {
        "A": sp.csc_matrix(np.array([[-1.0, -1.0]])),
        "row_lower": np.array([-np.inf]),
        "row_upper": np.array([-50.0]),
        "col_lower": np.zeros(2),
        "col_upper": np.array([30.0, 100.0]),
        "col_cost": np.array([10.0, 30.0]),
        "col_quad": np.zeros(2),
        "col_integer": np.zeros(2, dtype=bool),
    }


def test_the_check_accepts_the_hand_optimum_and_rejects_wrong_answers():
    a = _two_firm_lp()
    assert check_optimality(a, np.array([30.0, 20.0]), np.array([-30.0])).passed
    # feasible but not optimal (b does the work): no dual makes both reduced costs right
    assert not check_optimality(a, np.array([0.0, 50.0]), np.array([-30.0])).passed
    # a price of the wrong sign
    assert check_optimality(a, np.array([30.0, 20.0]), np.array([30.0])).row_sign > 1e-6
    # infeasible: 40 < 50 abated
    assert check_optimality(a, np.array([30.0, 10.0]), np.array([-30.0])).primal > 1e-6
    # the same in milligrams: the check means the same in any unit
    mg = {**a, "row_upper": a["row_upper"] * 1e6, "col_upper": a["col_upper"] * 1e6, "col_cost": a["col_cost"] / 1e6}
    assert check_optimality(mg, np.array([30e6, 20e6]), np.array([-30e-6])).passed
    assert not check_optimality(mg, np.array([0.0, 50e6]), np.array([-30e-6])).passed


def test_an_unscaled_solve_in_milligrams_is_never_reported_optimal(monkeypatch):
    """Without scaling, HiGHS drops the mg slopes (≈1e-12) and answers 20,000 instead of 3,800: flagged."""

    def unscaled(cls, a, rounds=6):
        return cls.identity(a["A"].shape[1], a["A"].shape[0])

    monkeypatch.setattr(scaling_module.Scaling, "of", classmethod(unscaled))
    raw = in_mass_unit(_raw("textbook/stavins_fee"), 1e6)
    raw["solver"] = {"time_limit": 20}
    res = emtrade.simulate(raw)
    assert res.summary["total_cost"] != pytest.approx(3800, rel=1e-6)  # the wrong answer...
    assert res.summary["status"] == "unverified"  # ...is never called optimal
    assert any("optimality check" in note for note in res.summary["notes"])


def test_scales_are_powers_of_two_and_round_trip_exactly():
    a = _two_firm_lp()
    a["col_quad"] = np.array([1e-12, 3e-12])
    sc = Scaling.of(a)
    for values in (sc.col, sc.row, np.array([sc.obj])):
        assert np.all(np.log2(values) == np.round(np.log2(values)))
    x = np.array([0.1, 123.456789])
    assert np.array_equal(sc.x(sc.col_bounds(slice(None), x, x)[0]), x)
    scaled = sc.apply(a)
    # the row's largest term is ~1; the costs straddle 1 (their geometric mean is ~1)
    assert 0.5 <= np.abs(scaled["A"].data).max() <= 2
    costs = np.concatenate([scaled["col_cost"], scaled["col_quad"]])
    costs = costs[costs > 0]
    assert costs.min() <= 2 and costs.max() >= 0.5


def test_xiangtan_in_milligrams():
    """The city (MILP with river receptors, banking, reserve) in mg: the same costs, prices ÷10⁶."""
    raw = _raw("xiangtan")
    ref = emtrade.simulate(copy.deepcopy(raw))
    res = emtrade.simulate(in_mass_unit(raw, 1e6))
    _assert_same_economics(ref, res, 1e6)
