"""Invariants of a permit market, on random markets (hypothesis), each against a second method.

- Step markets against a closed-form merit order: cost, emissions and the price interval.
- Montgomery (1972): without transaction costs the allocation changes who pays, not the efficient
  outcome: emissions, price and total cost are the same for every allocation of the same cap.
- Caps hold, permits bought equal permits sold, prices are never negative, and trading never
  costs more than command-and-control.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emtrade

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def merit_order(steps: list[tuple[str, float, float]], required: float):
    """Cheapest way to abate ``required`` kg from (firm, quantity, cost) steps, by sorting.

    Returns (cost, abatement per firm, price_low, price_high): the last unit bought and the next
    unit for sale bound the clearing price; inside a step the price is that step's cost.
    """
    order = sorted(steps, key=lambda s: s[2])
    left, cost, per_firm = required, 0.0, {}
    low = high = None
    for k, (firm, qty, c) in enumerate(order):
        if left <= 1e-12:
            high = c if high is None else high
            break
        take = min(qty, left)
        cost += take * c
        per_firm[firm] = per_firm.get(firm, 0.0) + take
        left -= take
        if take < qty:  # the requirement ends inside this step: its cost is the price
            low = high = c
            break
        low = c
        if left <= 1e-12:
            high = order[k + 1][2] if k + 1 < len(order) else math.inf
            break
    return cost, per_firm, low, high


firm_steps = st.lists(st.tuples(st.integers(1, 5), st.integers(1, 60)), min_size=1, max_size=4)


@SETTINGS
@given(firms=st.lists(firm_steps, min_size=1, max_size=5), frac=st.floats(0.05, 1.0), extra=st.integers(0, 3))
def test_step_market_matches_merit_order(firms, frac, extra):
    steps, enterprises, abatement = [], [], []
    for i, fs in enumerate(firms):
        fid = f"F{i}"
        base = sum(q for q, _ in fs) + extra  # some discharge no option can remove
        enterprises.append({"id": fid, "sector": "electroplating", "baseline": {"Pb": base}})
        for q, c in fs:
            steps.append((fid, float(q), float(c)))
            abatement.append({"enterprise": fid, "pollutant": "Pb", "kind": "step", "quantity": q, "cost": c})
    capacity = sum(q for _, q, _ in steps)
    required = max(1, round(frac * capacity))  # an integer: often exactly at a step boundary
    total_base = sum(e["baseline"]["Pb"] for e in enterprises)
    sc = {
        "name": "random steps",
        "pollutants": ["Pb"],
        "enterprises": enterprises,
        "abatement": abatement,
        "caps": [{"pollutant": "Pb", "total": total_base - required}],
    }
    res = emtrade.simulate(sc)
    cost, _, low, high = merit_order(steps, required)
    assert res.summary["total_cost"] == pytest.approx(cost, rel=1e-9, abs=1e-9)
    p = res.prices.iloc[0]
    assert p.price_low == pytest.approx(low, rel=1e-7)
    if math.isinf(high):
        assert math.isinf(p.price_high)
    else:
        assert p.price_high == pytest.approx(high, rel=1e-7)
    assert p.price_low - 1e-9 <= p.price <= p.price_high + 1e-9
    # every firm abates at the price: none abates a unit dearer than price_high, none leaves one cheaper than price_low
    e = res.enterprises.set_index("enterprise")
    assert e.abatement.sum() == pytest.approx(required, rel=1e-9)
    for fid, _, c in steps:
        if c < p.price_low - 1e-9:
            assert e.at[fid, "abatement"] >= sum(q for f, q, cc in steps if f == fid and cc < p.price_low) - 1e-7


def _mixed_market(slopes, steps_cost, cap_share):
    enterprises, abatement = [], []
    for i, slope in enumerate(slopes):
        fid = f"L{i}"
        enterprises.append({"id": fid, "sector": "zinc", "baseline": {"Pb": 100.0}})
        abatement.append({"enterprise": fid, "pollutant": "Pb", "kind": "linear", "slope": slope})
    for i, c in enumerate(steps_cost):
        fid = f"S{i}"
        enterprises.append({"id": fid, "sector": "electroplating", "baseline": {"Pb": 50.0}})
        abatement.append({"enterprise": fid, "pollutant": "Pb", "kind": "step", "quantity": 30, "cost": c})
    total = sum(e["baseline"]["Pb"] for e in enterprises)
    return enterprises, abatement, cap_share * total


@SETTINGS
@given(
    slopes=st.lists(st.floats(0.5, 20), min_size=1, max_size=3),
    steps_cost=st.lists(st.floats(1, 300), min_size=0, max_size=3),
    cap_share=st.floats(0.45, 0.95),
    shares=st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6),
)
def test_allocation_does_not_change_the_efficient_outcome(slopes, steps_cost, cap_share, shares):
    """Montgomery: any split of the same cap gives the same emissions, price and total cost."""
    enterprises, abatement, cap = _mixed_market(slopes, steps_cost, cap_share)
    n = len(enterprises)
    w = np.array(shares[:n]) + 1e-3
    given_alloc = w / w.sum() * cap
    base = {
        "name": "montgomery",
        "pollutants": ["Pb"],
        "abatement": abatement,
        "caps": [{"pollutant": "Pb", "total": cap}],
    }
    ref = emtrade.simulate({**base, "enterprises": enterprises, "allocation": {"method": "grandfathering"}})
    alt_ents = [{**e, "allocation": {"Pb": float(a)}} for e, a in zip(enterprises, given_alloc, strict=True)]
    alt = emtrade.simulate({**base, "enterprises": alt_ents, "allocation": {"method": "given"}})
    auc = emtrade.simulate({**base, "enterprises": enterprises, "allocation": {"method": "auction"}})
    for other in (alt, auc):
        assert other.summary["total_cost"] == pytest.approx(ref.summary["total_cost"], rel=1e-6, abs=1e-6)
        assert other.prices.price.iloc[0] == pytest.approx(ref.prices.price.iloc[0], rel=1e-6, abs=1e-6)
        assert other.prices.price_low.iloc[0] == pytest.approx(ref.prices.price_low.iloc[0], rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(other.enterprises.emissions, ref.enterprises.emissions, rtol=1e-6, atol=1e-5)
    # trades differ with the allocation: they are emissions minus permits held
    np.testing.assert_allclose(alt.enterprises.net_purchase, alt.enterprises.emissions - given_alloc, atol=1e-6)
    # under an auction every kg discharged is bought, and the government collects price × emissions
    assert auc.summary["government_revenue"] == pytest.approx(
        auc.prices.price.iloc[0] * auc.enterprises.emissions.sum(), rel=1e-9, abs=1e-9
    )
    for res in (ref, alt, auc):
        _check_invariants(res)


def _check_invariants(res):
    e = res.enterprises
    # caps hold
    for cap in res.caps.itertuples():
        assert cap.emissions <= cap.total * (1 + 1e-9) + 1e-6
    # bought equals sold in each market (net purchases sum to at most zero: unused permits are held)
    if res.summary["allocation_method"] != "auction":
        for (_, _, _), g in e[e.market != ""].groupby(["market", "pollutant", "period"]):
            price = g.price.iloc[0]
            total = g.net_purchase.sum()
            assert total <= 1e-6
            if price > 1e-9:
                assert total == pytest.approx(0, abs=1e-6)
    assert (res.prices.price >= 0).all() and (res.prices.price_low >= 0).all()
    assert (res.prices.price_low <= res.prices.price + 1e-9).all()
    assert (res.prices.price <= res.prices.price_high + 1e-9).all()
    # trading never costs more than holding every firm to its allocation
    if res.summary["cac_total_cost"] is not None:
        assert res.summary["total_cost"] <= res.summary["cac_total_cost"] * (1 + 1e-9) + 1e-6
