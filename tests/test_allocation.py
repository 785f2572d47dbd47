"""Allocation rules and cap scopes, each against numbers worked out by hand."""

from __future__ import annotations

import pytest

import emtrade
from emtrade.errors import EmtradeError

REL = 1e-9


def firm(i, sector, pb, **extra):
    return {"id": i, "sector": sector, "baseline": {"Pb": pb}, **extra}


def run(enterprises, caps, method="grandfathering", scope="all", abatement=None, **extra):
    sc = {
        "name": "allocation",
        "pollutants": ["Pb"],
        "enterprises": enterprises,
        "abatement": abatement
        or [{"enterprise": e["id"], "pollutant": "Pb", "kind": "linear", "slope": 1} for e in enterprises],
        "caps": caps,
        "allocation": {"method": method, **extra.pop("allocation", {})},
        "trading": {"scope": scope},
        **extra,
    }
    return emtrade.simulate(sc)


def alloc(res):
    return res.enterprises.set_index("enterprise").allocation.to_dict()


def test_grandfathering_follows_history_and_equal_reduction_the_baseline():
    """History 200/200, baselines 100/300, cap 200: grandfathering 100/100; equal reduction cuts
    both baselines by 1 − 200/400 = 50 %: 50/150."""
    ents = [firm("A", "zinc", 100, history={"Pb": 200}), firm("B", "zinc", 300, history={"Pb": 200})]
    caps = [{"pollutant": "Pb", "total": 200}]
    assert alloc(run(ents, caps, "grandfathering")) == pytest.approx({"A": 100, "B": 100}, rel=REL)
    assert alloc(run(ents, caps, "equal_reduction")) == pytest.approx({"A": 50, "B": 150}, rel=REL)


def test_nested_caps_are_filled_top_down():
    """City cap 200 over A, B (zinc, 100 each) and C (electroplating, 200); zinc sector cap 60.
    Equal reduction: λ·200 (C) + min(λ·200, 60) (zinc) = 200 with zinc full → λ = 0.7: C gets 140,
    zinc 60, split 30/30 inside the sector."""
    ents = [firm("A", "zinc", 100), firm("B", "zinc", 100), firm("C", "electroplating", 200)]
    caps = [
        {"id": "city", "pollutant": "Pb", "total": 200},
        {"id": "zinc", "pollutant": "Pb", "sector": "zinc", "total": 60},
    ]
    res = run(ents, caps, "equal_reduction", scope="sector")
    assert alloc(res) == pytest.approx({"A": 30, "B": 30, "C": 140}, rel=REL)
    # both caps hold
    caps_out = res.caps.set_index("cap")
    assert caps_out.at["zinc", "emissions"] <= 60 + 1e-6
    assert caps_out.at["city", "emissions"] <= 200 + 1e-6


def test_benchmark_allocates_by_output_times_intensity():
    """Benchmark 0.005 kg/t: A (1000 t) 5, B (3000 t) 15, scaled to the cap of 12: 3 and 9."""
    ents = [firm("A", "zinc", 10, output=1000), firm("B", "zinc", 10, output=3000)]
    res = run(ents, [{"pollutant": "Pb", "total": 12}], "benchmark", allocation={"benchmarks": {"zinc": {"Pb": 0.005}}})
    assert alloc(res) == pytest.approx({"A": 3, "B": 9}, rel=REL)


def test_auction_sells_the_whole_cap():
    """MAC a for both, baselines 100, cap 100: each abates 50 at price 50; under an auction each buys
    its 50 kg: permit cost 2500 each, revenue 5000; the outcome equals grandfathering's."""
    ents = [firm("A", "zinc", 100), firm("B", "zinc", 100)]
    caps = [{"pollutant": "Pb", "total": 100}]
    auc = run(ents, caps, "auction")
    e = auc.enterprises.set_index("enterprise")
    assert e.allocation.tolist() == [0, 0]
    assert e.net_purchase.tolist() == pytest.approx([50, 50], rel=REL)
    assert e.permit_cost.tolist() == pytest.approx([2500, 2500], rel=REL)
    assert auc.summary["government_revenue"] == pytest.approx(5000, rel=REL)
    assert auc.prices.price.iloc[0] == pytest.approx(50, rel=1e-6)
    # command-and-control under an auction holds each firm to the equal-reduction share
    assert auc.summary["cac_basis"] == "equal_reduction"
    assert auc.summary["cac_total_cost"] == pytest.approx(2500, rel=1e-6)


def test_given_allocations_may_not_exceed_the_cap():
    ents = [firm("A", "zinc", 100, allocation={"Pb": 80}), firm("B", "zinc", 100, allocation={"Pb": 80})]
    with pytest.raises(EmtradeError, match="add up to 160 kg/yr, more than its total 100"):
        run(ents, [{"pollutant": "Pb", "total": 100}], "given")


def test_zone_limit_inside_a_sector_market_has_its_own_shadow_price():
    """Zinc firms A (zone z1) and B (zone z2), MAC a, baselines 100, sector cap 100; zone z1 may discharge
    at most 30. A abates 70 and B 30: the zinc price is B's MAC, 30, and the zone limit's shadow price
    is A's MAC minus the permit price, 70 − 30 = 40."""
    ents = [firm("A", "zinc", 100, zone="z1"), firm("B", "zinc", 100, zone="z2")]
    caps = [
        {"id": "zinc", "pollutant": "Pb", "sector": "zinc", "total": 100},
        {"id": "z1", "pollutant": "Pb", "zone": "z1", "total": 30, "role": "limit"},
    ]
    res = run(ents, caps, "equal_reduction", scope="sector")
    e = res.enterprises.set_index("enterprise")
    assert e.at["A", "emissions"] == pytest.approx(30, rel=1e-6)
    assert e.at["B", "emissions"] == pytest.approx(70, rel=1e-6)
    assert res.prices.price.iloc[0] == pytest.approx(30, rel=1e-6)
    caps_out = res.caps.set_index("cap")
    assert caps_out.at["z1", "shadow_price"] == pytest.approx(40, rel=1e-6)
    assert caps_out.at["z1", "role"] == "limit" and bool(caps_out.at["z1", "binding"])


def test_caps_per_period():
    """Two periods with caps 150 and 100 on two firms of MAC a and 100 kg each: prices 25 and 50."""
    ents = [firm("A", "zinc", 100), firm("B", "zinc", 100)]
    caps = [{"pollutant": "Pb", "total": 150, "period": "2016"}, {"pollutant": "Pb", "total": 100, "period": "2017"}]
    res = run(ents, caps, periods=["2016", "2017"])
    p = res.prices.set_index("period").price
    assert p["2016"] == pytest.approx(25, rel=1e-6)
    assert p["2017"] == pytest.approx(50, rel=1e-6)
    assert res.summary["total_cost"] == pytest.approx(2 * 25**2 / 2 + 2 * 50**2 / 2, rel=1e-6)


def test_sector_scope_with_a_city_cap_gives_one_market_per_sector():
    """City cap 100 over zinc A (MAC a) and electroplating B (MAC 3b), baselines 100, equal reduction
    (50 each). Sector scope: two markets, each firm abates its own 50: prices 50 and 150. All scope:
    a = 3b, a + b = 100 → a = 75, b = 25, one price 75."""
    ents = [firm("A", "zinc", 100), firm("B", "electroplating", 100)]
    abatement = [
        {"enterprise": "A", "pollutant": "Pb", "kind": "linear", "slope": 1},
        {"enterprise": "B", "pollutant": "Pb", "kind": "linear", "slope": 3},
    ]
    caps = [{"pollutant": "Pb", "total": 100}]
    sector = run(ents, caps, "equal_reduction", scope="sector", abatement=abatement)
    assert sector.prices.set_index("market").price.to_dict() == pytest.approx(
        {"zinc": 50, "electroplating": 150}, rel=1e-6
    )
    city = run(ents, caps, "equal_reduction", scope="all", abatement=abatement)
    assert city.prices.price.iloc[0] == pytest.approx(75, rel=1e-6)
    assert city.summary["total_cost"] == pytest.approx(75**2 / 2 + 3 * 25**2 / 2, rel=1e-6)
