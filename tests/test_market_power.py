"""Market power (Hahn 1984): the dominant firm's price, against the closed form and a brute-force search."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from conftest import SCENARIOS, write_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emtrade
from emtrade.errors import EmtradeError

HAHN = SCENARIOS / "textbook" / "hahn_market_power.yaml"


def hahn(q0: float) -> dict:
    sc = yaml.safe_load(HAHN.read_text(encoding="utf-8"))
    sc["enterprises"][0]["allocation"] = {"Pb": q0}
    sc["enterprises"][1]["allocation"] = {"Pb": 100 - q0}
    return sc


@pytest.mark.parametrize("q0", [0, 25, 50, 100])
def test_hahn_price(tmp_path, run_scenario, q0):
    """P = (100 + q0)/3; the dominant abates 100 − P, the fringe P; the loss against the competitive
    cost 2500 is (100 − P)²/2 + P²/2 − 2500."""
    out = run_scenario(write_scenario(tmp_path / f"q{q0}", hahn(q0)))
    price = (100 + q0) / 3
    assert out.prices.price.iloc[0] == pytest.approx(price, rel=1e-6)
    e = out.enterprises.set_index("enterprise")
    assert e.at["D", "abatement"] == pytest.approx(100 - price, rel=1e-6)
    assert e.at["F", "abatement"] == pytest.approx(price, rel=1e-6)
    mp = out.summary["market_power"]
    loss = (100 - price) ** 2 / 2 + price**2 / 2 - 2500
    assert mp["efficiency_loss"] == pytest.approx(loss, rel=1e-6, abs=1e-6)
    assert mp["markets"][0]["competitive_price"] == pytest.approx(50, rel=1e-6)


def brute_force(d_slope, fringe_steps, b_d, a_d, required):
    """Search the dominant's abatement on a fine grid; the fringe's price by its own merit order."""
    steps = sorted(fringe_steps)
    cap_f = sum(q for _, q in steps)
    best = (np.inf, None, None)
    for A in np.linspace(max(0.0, required - cap_f), min(b_d, required), 20001):
        need = required - A  # fringe abatement
        left, low, high = need, 0.0, None
        for c, q in steps:
            if left <= 1e-12:
                high = c
                break
            take = min(q, left)
            left -= take
            low = c
            if take < q:
                high = c
                break
        if high is None:
            high = low  # capacity reached: the dearest step's cost (as the exact method caps it)
        position = b_d - A - a_d
        price = low if position > 0 else high
        value = d_slope * A * A / 2 + price * position
        if value < best[0]:
            best = (value, A, price)
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    d_slope=st.floats(0.5, 5),
    fringe=st.lists(st.tuples(st.integers(1, 80), st.integers(5, 40)), min_size=1, max_size=4),
    a_share=st.floats(0, 1),
)
def test_exact_search_matches_brute_force(d_slope, fringe, a_share):
    b_d = 100.0
    b_f = float(sum(q for _, q in fringe))
    cap = 0.5 * (b_d + b_f)
    a_d = a_share * cap
    sc = {
        "name": "random market power",
        "pollutants": ["Pb"],
        "enterprises": [
            {"id": "D", "sector": "zinc", "baseline": {"Pb": b_d}, "allocation": {"Pb": a_d}},
            {"id": "F", "sector": "zinc", "baseline": {"Pb": b_f}, "allocation": {"Pb": cap - a_d}},
        ],
        "abatement": [{"enterprise": "D", "pollutant": "Pb", "kind": "linear", "slope": d_slope}]
        + [{"enterprise": "F", "pollutant": "Pb", "kind": "step", "quantity": q, "cost": c} for c, q in fringe],
        "caps": [{"pollutant": "Pb", "total": cap}],
        "allocation": {"method": "given"},
        "market": {"dominant": ["D"]},
    }
    res = emtrade.simulate(copy.deepcopy(sc))
    mp = res.summary["market_power"]["markets"][0]
    value, _, _ = brute_force(d_slope, [(float(c), float(q)) for c, q in fringe], b_d, a_d, b_d + b_f - cap)
    exact_value = d_slope * mp["dominant_abatement"] ** 2 / 2 + mp["price"] * (b_d - mp["dominant_abatement"] - a_d)
    # the exact optimum is at least as good as every grid point, and the grid comes within its spacing
    assert exact_value <= value + 1e-6 * max(1.0, abs(value))
    spacing = (b_d + b_f) / 20000
    assert exact_value >= value - (d_slope * b_d + 100) * spacing


def test_market_power_refuses_what_it_cannot_solve_exactly(tmp_path):
    sc = hahn(0)
    sc["trading"] = {"scope": "all", "banking": True}
    sc["periods"] = ["2016", "2017"]
    with pytest.raises(EmtradeError, match="market power is solved exactly only without banking"):
        emtrade.simulate(sc)
