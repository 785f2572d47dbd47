"""Statistics against values computed by hand.

The small scenario: three enterprises, two sectors, two zones, two periods.

    A  zinc           zhubugang  Pb 100, Cd 10   steps Pb 60 @ 10, 40 @ 50; Cd technology: removes 50 % for 1000/yr
    B  electroplating yisuhe     Pb 100          steps Pb 50 @ 30, 50 @ 80
    C  zinc           yisuhe     Pb 50           step  Pb 50 @ 20

Caps: Pb 150 (2016) and 125 (2017) city-wide, split by equal reduction (60 % and 50 % of each
baseline: A 60/50, B 60/50, C 30/25); a zinc-sector limit Pb 100; Cd 8 (A alone).
Trading, 2016: 100 kg to abate, cheapest A 60 @ 10 then C 40 @ 20: price 20. 2017: 125 kg: A 60,
C 50, B 15 @ 30: price 30. Cd: A adopts 40 % of the technology (2 kg) at 400/yr; marginal cost 200.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import emtrade
from emtrade import statistics as st
from emtrade.results import Results
from emtrade.scenario import load_scenario

SMALL = {
    "name": "two sectors, two zones",
    "pollutants": ["Pb", "Cd"],
    "periods": ["2016", "2017"],
    "enterprises": [
        {"id": "A", "sector": "zinc", "zone": "zhubugang", "baseline": {"Pb": 100, "Cd": 10}},
        {"id": "B", "sector": "electroplating", "zone": "yisuhe", "baseline": {"Pb": 100}},
        {"id": "C", "sector": "zinc", "zone": "yisuhe", "baseline": {"Pb": 50}},
    ],
    "abatement": [
        {"enterprise": "A", "kind": "step", "pollutant": "Pb", "quantity": 60, "cost": 10},
        {"enterprise": "A", "kind": "step", "pollutant": "Pb", "quantity": 40, "cost": 50},
        {"enterprise": "B", "kind": "step", "pollutant": "Pb", "quantity": 50, "cost": 30},
        {"enterprise": "B", "kind": "step", "pollutant": "Pb", "quantity": 50, "cost": 80},
        {"enterprise": "C", "kind": "step", "pollutant": "Pb", "quantity": 50, "cost": 20},
        {"enterprise": "A", "kind": "technology", "name": "Cd precipitation", "removal": {"Cd": 0.5}, "cost": 1000},
    ],
    "caps": [
        {"id": "Pb-2016", "pollutant": "Pb", "total": 150, "period": "2016"},
        {"id": "Pb-2017", "pollutant": "Pb", "total": 125, "period": "2017"},
        {"id": "zinc-Pb", "pollutant": "Pb", "sector": "zinc", "total": 100, "role": "limit"},
        {"id": "Cd", "pollutant": "Cd", "total": 8},
    ],
    "allocation": {"method": "equal_reduction"},
    "trading": {"scope": "all"},
}


def run(scenario) -> Results:
    sc = load_scenario(scenario)
    return st.annotate(emtrade.simulate(sc), sc)


@pytest.fixture(scope="module")
def small() -> Results:
    return run(SMALL)


@pytest.fixture(scope="module")
def intercept() -> Results:
    return run(emtrade.bundled_scenario("textbook/intercept"))


def row(df: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        mask &= (df[k] == v).to_numpy()
    assert mask.sum() == 1, f"{where}: {mask.sum()} rows"
    return df[mask].iloc[0]


def test_costs_by_sector(small):
    c = st.costs(small, by="sector")
    assert list(c.columns[:2]) == ["sector", "period"]
    z16 = row(c, sector="zinc", period="2016")
    # zinc 2016: A abates Pb 60 @ 10 and Cd 2 kg for 400, C abates 40 @ 20; both sell 20 kg at 20
    assert z16.abatement_cost == pytest.approx(60 * 10 + 400 + 40 * 20)
    assert z16.permit_cost == pytest.approx(-(20 + 20) * 20)
    assert z16.net_cost == pytest.approx(1800 - 800)
    # command-and-control: A abates 40 @ 10 (+ Cd 400), C keeps to 30 of its 50 kg: 20 @ 20
    assert z16.cac_cost == pytest.approx(40 * 10 + 400 + 20 * 20)
    assert z16.savings == pytest.approx(z16.cac_cost - z16.net_cost)
    e17 = row(c, sector="electroplating", period="2017")
    assert e17.abatement_cost == pytest.approx(15 * 30)
    assert e17.permit_cost == pytest.approx(35 * 30)
    assert e17.cac_cost == pytest.approx(50 * 30)
    assert e17.savings == pytest.approx(0)
    assert c.attrs["units"]["net_cost"] == "CNY/yr"


def test_costs_by_zone_and_enterprise(small):
    z = st.costs(small, by="zone")
    y16 = row(z, zone="yisuhe", period="2016")  # B and C
    assert y16.abatement_cost == pytest.approx(0 + 40 * 20)
    assert y16.permit_cost == pytest.approx(40 * 20 - 20 * 20)
    e = st.costs(small, by="enterprise")
    assert list(e.columns[:4]) == ["enterprise", "sector", "zone", "period"]
    assert row(e, enterprise="C", period="2017").permit_cost == pytest.approx(-25 * 30)


def test_savings_per_period_and_total(small):
    s = st.savings(small).set_index("period")
    assert s.loc["2016", "cost"] == pytest.approx(600 + 400 + 800)
    assert s.loc["2016", "cac_cost"] == pytest.approx((40 * 10 + 400 + 20 * 20) + 40 * 30)
    assert s.loc["2017", "cost"] == pytest.approx((600 + 400 + 50 * 20) + 15 * 30)
    assert s.loc["2017", "cac_cost"] == pytest.approx((50 * 10 + 400 + 25 * 20) + 50 * 30)
    assert s.loc["total", "savings"] == pytest.approx((2400 - 1800) + (2900 - 2450))
    assert s.loc["total", "savings_share"] == pytest.approx(1050 / 5300)
    assert s.loc["total", "cost"] == pytest.approx(small.summary["total_cost"])


def test_enterprise_costs_sum_periods(small):
    e = st.enterprise_costs(small).set_index("enterprise")
    assert list(e.index) == ["B", "A", "C"]  # electroplating before zinc; within zinc, larger savings first
    assert e.loc["A", "cac_cost"] == pytest.approx((400 + 400) + (500 + 400))
    assert e.loc["A", "net_cost"] == pytest.approx((1000 - 400) + (1000 - 300))
    assert e.loc["B", "net_purchase"] == pytest.approx(40 + 35)
    assert e.loc["B", "net_purchase_pe"] == pytest.approx((40 + 35) * 40)  # Pb: 40 PE per kg


def test_emissions_by_sector(small):
    em = st.emissions(small, by="sector")
    zp = row(em, sector="zinc", pollutant="Pb", period="2016")
    assert (zp.baseline, zp.allocation, zp.emissions, zp.abatement) == pytest.approx((150, 60 + 30, 40 + 10, 60 + 40))
    assert zp.net_purchase == pytest.approx(-40)
    assert zp.cac_emissions == pytest.approx(90)
    assert zp.emissions_pe == pytest.approx(50 * 40)
    zc = row(em, sector="zinc", pollutant="Cd", period="2017")
    assert zc.emissions == pytest.approx(8)


def test_caps_headroom(small):
    c = st.caps(small)
    lim = row(c, cap="zinc-Pb", period="2016")
    assert (lim.total, lim.emissions, lim.headroom, lim.utilisation) == pytest.approx((100, 50, 50, 0.5))
    assert not lim.binding
    cap = row(c, cap="Pb-2017", period="2017")
    assert cap.headroom == pytest.approx(0) and cap.binding and cap.shadow_price == pytest.approx(30)


def test_abatement_by_technology(small):
    a = st.abatement_by_technology(small)
    cd = row(a, technology="Cd precipitation", period="2016")
    assert (cd.kind, cd.pollutant, cd.abatement, cd.abatement_pe, cd.enterprises) == (
        "technology",
        "Cd",
        pytest.approx(2),
        pytest.approx(2 * 200),
        1,
    )
    steps = row(a, technology="MAC curve (steps)", pollutant="Pb", period="2017")
    assert steps.abatement == pytest.approx(60 + 15 + 50) and steps.enterprises == 3
    by = st.abatement_by_technology(small, by="sector")
    assert row(by, technology="MAC curve (steps)", sector="electroplating", period="2017").abatement == 15


def test_prices_and_value(small):
    p = st.prices(small)
    pb = row(p, pollutant="Pb", period="2017")
    assert (pb.price, pb.bought, pb.value) == pytest.approx((30, 35, 35 * 30))
    assert p.banked.isna().all()  # no bank in this run


def test_prices_pick_up_a_bank(small):
    res = copy(small)
    res.bank = pd.DataFrame(
        {"market": ["all", "all"], "pollutant": ["Pb", "Pb"], "period": ["2016", "2017"], "banked": [12.5, 0.0]}
    )
    p = st.prices(res)
    assert row(p, pollutant="Pb", period="2016").banked == 12.5
    assert np.isnan(row(p, pollutant="Cd", period="2016").banked)


def test_flows_by_sector_and_zone(small):
    f = st.flows(small, by="sector")
    assert len(f) == 2
    f16 = row(f, period="2016")
    # A and C (zinc) sell 20 + 20 to B (electroplating) at 20
    assert (f16.source, f16.target, f16.quantity, f16.value) == ("zinc", "electroplating", 40, 800)
    assert f16.quantity_pe == pytest.approx(40 * 40)
    z = st.flows(small, by="zone")
    assert row(z, period="2017", source="zhubugang").quantity == pytest.approx(10)  # A's sales
    assert row(z, period="2017", source="yisuhe").quantity == pytest.approx(25)  # C's sales, within yisuhe
    assert row(z, period="2017", source="zhubugang").value == pytest.approx(10 * 30)


def test_flows_pool_shares_sales_among_buyers():
    """Two sellers, two buyers: each seller's sales split in proportion to purchases."""
    e = pd.DataFrame(
        {
            "enterprise": ["S1", "S2", "B1", "B2"],
            "sector": ["zinc", "ferrous", "electroplating", "chemicals"],
            "zone": ["z", "z", "z", "z"],
            "pollutant": ["Pb"] * 4,
            "period": ["1"] * 4,
            "net_purchase": [-30.0, -10.0, 25.0, 15.0],
            "market": ["all"] * 4,
            "price": [5.0] * 4,
        }
    )
    res = _results(e)
    f = st.flows(res).set_index(["source", "target"]).quantity
    assert f[("zinc", "electroplating")] == pytest.approx(40 * 0.75 * 25 / 40)
    assert f[("ferrous", "chemicals")] == pytest.approx(40 * 0.25 * 15 / 40)
    assert f.sum() == pytest.approx(40)


def test_flows_between_zone_markets_use_the_runs_flow_table():
    """Zone markets z1 and z2; z1 sells 25 kg to z2 at a ratio of 0.8 (20 kg delivered)."""
    e = pd.DataFrame(
        {
            "enterprise": ["A", "B", "C"],
            "sector": ["zinc", "electroplating", "chemicals"],
            "zone": ["z1", "z1", "z2"],
            "pollutant": ["Pb"] * 3,
            "period": ["1"] * 3,
            "net_purchase": [-35.0, 10.0, 20.0],
            "market": ["z1", "z1", "z2"],
            "price": [8.0, 8.0, 10.0],
        }
    )
    res = _results(e)
    res.flows = pd.DataFrame({"from": ["z1"], "to": ["z2"], "pollutant": ["Pb"], "period": ["1"], "sold": [25.0]})
    res.flows["delivered"] = 20.0
    f = st.flows(res, by="zone").set_index(["source", "target"])
    assert f.loc[("z1", "z1"), "quantity"] == pytest.approx(10)  # 35 sold: 25 leave z1, 10 stay
    assert f.loc[("z1", "z2"), "quantity"] == pytest.approx(25)  # kg sold (the seller's side)
    assert f.loc[("z1", "z2"), "value"] == pytest.approx(25 * 8)
    assert st.GOVERNMENT not in f.index.get_level_values(0)
    s = st.flows(res, by="sector").set_index(["source", "target"]).quantity
    assert s[("zinc", "chemicals")] == pytest.approx(25) and s[("zinc", "electroplating")] == pytest.approx(10)


def test_auction_flows_come_from_the_government_and_are_revenue():
    sc = load_scenario(emtrade.bundled_scenario("textbook/intercept")).raw
    sc = {**sc, "allocation": {"method": "auction"}}
    sc["enterprises"] = [{k: v for k, v in e.items() if k != "allocation"} for e in sc["enterprises"]]
    res = run(sc)
    f = st.flows(res).set_index("target")
    # price 80; F1 keeps 20 kg, F2 80 kg, all bought from the government
    assert set(f.source) == {st.GOVERNMENT}
    assert f.loc["zinc", "quantity"] == pytest.approx(20) and f.loc["electroplating", "value"] == pytest.approx(6400)
    r = st.revenue(res)
    assert row(r, source="permit sales").amount == pytest.approx(100 * 80)
    h = st.headline(res).set_index("metric").value
    assert h.government_revenue == pytest.approx(8000)


def test_revenue_is_empty_when_firms_only_trade_among_themselves(small):
    assert st.revenue(small).empty


def test_receptors_from_a_hand_made_table(small):
    assert st.receptors(small).empty
    res = copy(small)
    res.receptors = pd.DataFrame(
        {
            "receptor": ["S1", "S2"],
            "pollutant": ["Cd", "Cd"],
            "period": ["2016", "2016"],
            "load": [0.004, 0.006],
            "limit": [0.005, 0.005],
            "shadow_price": [0.0, 12.0],
            "name": ["Xiang River at Zhubugang", ""],
        }
    )
    r = st.receptors(res)
    assert r.utilisation.tolist() == pytest.approx([0.8, 1.2])
    assert r.name.tolist() == ["Xiang River at Zhubugang", "S2"]
    assert "concentration" not in r.columns


#: the small scenario on a toy river: yisuhe discharges at majiahe, zhubugang 1 day downstream at xiangtan
RIVER = {
    **SMALL,
    "river": {
        "name": "Xiangjiang (toy)",
        "sections": [
            {"id": "majiahe", "name": "马家河", "flow": 0.045, "travel_time": 1, "decay": 0.1, "water_class": "III"},
            {"id": "xiangtan", "name": "湘潭", "water_class": "III"},
        ],
        "discharges": [{"zone": "yisuhe", "section": "majiahe"}, {"zone": "zhubugang", "section": "xiangtan"}],
    },
}


def test_receptors_of_a_river_give_concentrations():
    res = run(RIVER)
    r = st.receptors(res)
    assert set(r.water_class) == {"III"} and set(r.section) == {"majiahe", "xiangtan"}
    # 1 mg/L in 1 m³/s carries 31,557.6 kg/yr: the class III limit of Cd (0.005 mg/L) allows 7.10046 kg/yr
    cd = row(r, receptor="xiangtan:Cd", period="2016")
    assert cd.limit == pytest.approx(0.005 * 31_557.6 * 0.045)
    assert (cd.concentration, cd.class_limit, cd.utilisation) == pytest.approx((0.005, 0.005, 1.0))
    pb = row(r, receptor="majiahe:Pb", period="2016")
    assert pb.concentration == pytest.approx(pb.load / (31_557.6 * 0.045))
    assert res.labels["sections"] == {"majiahe": "马家河", "xiangtan": "湘潭"}


def test_zones_in_pollution_equivalents(small):
    z = st.zones(small)
    zb = row(z, zone="zhubugang", period="2016")
    assert (zb.x, zb.y) == (0.2, 0.6)  # the registry's schematic position
    assert zb.baseline == pytest.approx(100 * 40 + 10 * 200)
    assert zb.emissions == pytest.approx(40 * 40 + 8 * 200)
    assert zb.net_purchase == pytest.approx(-20 * 40)
    pb = st.zones(small, pollutant="Pb")
    assert row(pb, zone="yisuhe", period="2017").emissions == pytest.approx(85 + 0)


def test_zone_table_places_unknown_zones_on_a_ring(small):
    res = copy(small)
    res.enterprises = small.enterprises.assign(zone=small.enterprises.zone.replace({"yisuhe": "riverside"}))
    zt = st.zone_table(res).set_index("zone")
    assert zt.loc["riverside", "name_en"] == "riverside"
    assert np.hypot(zt.loc["riverside", "x"], zt.loc["riverside", "y"]) == pytest.approx(1.4)


def test_supply_segments_and_curve_of_the_small_scenario(small):
    seg = small.supply
    pb16 = seg[(seg.pollutant == "Pb") & (seg.period == "2016")]
    assert sorted(zip(pb16.mc_start, pb16.quantity, strict=True)) == [(10, 60), (20, 50), (30, 50), (50, 40), (80, 50)]
    cd = row(seg, pollutant="Cd", period="2016")
    assert (cd.mc_start, cd.quantity) == pytest.approx((1000 / 5, 5))  # 1000 CNY/yr for 50 % of 10 kg
    curve = st.supply_curve(small)
    c = curve[(curve.pollutant == "Pb") & (curve.period == "2016")]
    assert list(zip(c.quantity, c.price, strict=True)) == [
        (0, 10),
        (60, 10),
        (60, 20),
        (110, 20),
        (110, 30),
        (160, 30),
        (160, 50),
        (200, 50),
        (200, 80),
        (250, 80),
    ]
    b = row(st.market_balance(small), pollutant="Pb", period="2017")
    assert (b.required, b.abatement, b.price) == pytest.approx((125, 125, 30))


def test_supply_curve_of_linear_macs_is_exact(intercept):
    # MAC1 = q on [0, 100], MAC2 = 60 + q on [0, 100]: S(p) = p below 60, 2p − 60 up to 100, then p + 40
    c = st.supply_curve(intercept)
    assert list(zip(c.quantity, c.price, strict=True)) == [(0, 0), (60, 60), (140, 100), (200, 160)]
    b = st.market_balance(intercept).iloc[0]
    assert (b.required, b.price) == (100, 80)
    assert np.interp(b.required, c.quantity, c.price) == pytest.approx(b.price)  # the curve clears at the price


def test_mac_points_mix_ramps_and_steps():
    seg = pd.DataFrame(
        {
            "mc_start": [0.0, 50.0, 20.0],
            "mc_end": [100.0, 50.0, 20.0],
            "quantity": [100.0, 30.0, 5.0],
            "forced": [False, False, True],
        }
    )
    pts = st.mac_points(seg)
    # 5 kg forced (phase-out) first, then the ramp p, the step of 30 at 50, the ramp to 100
    assert list(zip(pts.quantity, pts.price, strict=True)) == [(0, 0), (5, 0), (55, 50), (85, 50), (135, 100)]


def test_joint_technology_cost_split_by_pollution_equivalents():
    sc = {
        "name": "joint",
        "pollutants": ["Pb", "Cd"],
        "enterprises": [{"id": "A", "sector": "zinc", "baseline": {"Pb": 100, "Cd": 10}}],
        "abatement": [
            {"enterprise": "A", "kind": "technology", "name": "T", "removal": {"Pb": 0.5, "Cd": 0.5}, "cost": 1000}
        ],
        "caps": [{"pollutant": "Pb", "total": 90}, {"pollutant": "Cd", "total": 10}],
    }
    res = run(sc)
    seg = res.supply.set_index("pollutant")
    # removes 50 kg Pb (2000 PE) and 5 kg Cd (1000 PE): Pb carries 2/3 of the cost
    assert seg.loc["Pb", "mc_start"] == pytest.approx(1000 * 2 / 3 / 50)
    assert seg.loc["Cd", "mc_start"] == pytest.approx(1000 / 3 / 5)
    assert seg.loc["Pb", "quantity"] == 50 and seg.loc["Cd", "quantity"] == 5


def test_headline(small):
    h = st.headline(small).set_index("metric")
    v = h.value
    assert v.total_cost == pytest.approx(4250) and v.cac_total_cost == pytest.approx(5300)
    assert v.savings == pytest.approx(1050) and v.savings_share == pytest.approx(100 * 1050 / 5300)
    assert v.permits_traded == pytest.approx(40 + 35) and v.trade_value == pytest.approx(800 + 1050)
    base = 2 * ((100 + 100 + 50) * 40 + 10 * 200)
    left = (150 + 125) * 40 + 2 * 8 * 200
    assert v.baseline_pe == pytest.approx(base) and v.emissions_pe == pytest.approx(left)
    assert v.reduction_share == pytest.approx(100 * (1 - left / base))
    assert (v.enterprises, v.markets, v.binding_caps) == (3, 4, 4)
    assert h.loc["savings", "unit"] == "CNY/yr"


def test_a_collection_stacks_runs_with_a_scenario_column(small, intercept):
    coll = {"small": small, "intercept": intercept}
    for func in (st.costs, st.savings, st.prices, st.flows, st.headline, st.emissions, st.caps, st.supply_curve):
        both = func(coll)
        assert both.columns[0] == "scenario", func.__name__
        assert list(dict.fromkeys(both.scenario)) == ["small", "intercept"], func.__name__
        alone = both[both.scenario == "intercept"].drop(columns="scenario").reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, func(intercept), check_dtype=False)
    assert st.receptors(coll).empty and "scenario" in st.receptors(coll).columns


def copy(res: Results) -> Results:
    """A new Results with the same tables (to attach hand-made tables to)."""
    return Results(**{f.name: getattr(res, f.name) for f in dataclasses.fields(Results)})


def _results(enterprises: pd.DataFrame) -> Results:
    """A Results holding just an enterprises table (what the flow statistics read)."""
    e = enterprises.assign(
        baseline=0.0, allocation=0.0, emissions=0.0, abatement=0.0, abatement_cost=0.0, permit_cost=0.0
    )
    empty = pd.DataFrame()
    return Results(
        summary={"scenario": "hand-made", "periods": ["1"]},
        enterprises=e,
        firms=empty,
        prices=empty,
        caps=empty,
        options=empty,
        abatement=empty,
    )


# -- the policy instruments of the bundled textbook scenarios: numbers from their descriptions ----------------------
def textbook(name: str) -> Results:
    return run(emtrade.bundled_scenario(f"textbook/{name}"))


def test_banked_permits_flow_through_the_bank():
    """Rubin: 30 kg banked in 2016 at 50, used in 2017 at 55; the government sells nothing."""
    res = textbook("rubin_banking")
    f = st.flows(res, by="enterprise")
    assert list(zip(f.period, f.source, f.target, f.quantity, f.value, strict=True)) == [
        ("2016", "A", st.BANK, 15, 15 * 50),
        ("2016", "B", st.BANK, 15, 15 * 50),
        ("2017", st.BANK, "A", 15, 15 * 55),
        ("2017", st.BANK, "B", 15, 15 * 55),
    ]
    assert st.revenue(res).empty
    assert st.prices(res).banked.tolist() == [30, 0]
    assert st.headline(res).set_index("metric").value.permits_traded == pytest.approx(30)


def test_trading_ratios_between_zone_markets():
    """Hung & Shaw: zone 1 sells 20 kg at 60, which covers 16 kg in zone 2 (price 75 = 60 / 0.8)."""
    res = textbook("hung_shaw_ratios")
    f = st.flows(res, by="zone")
    assert list(zip(f.source, f.target, f.quantity, f.value, strict=True)) == [("z1", "z2", 20, 20 * 60)]
    h = st.headline(res).set_index("metric").value
    assert h.permits_traded == pytest.approx(16) and h.trade_value == pytest.approx(16 * 75)


def test_pollution_equivalent_market():
    """One market in PE: A sells 2,000 − 20·40 = 1,200 PE to B at 2 CNY/PE (B buys 6 kg of Cd)."""
    res = textbook("pe_exchange")
    f = st.flows(res, by="enterprise")
    assert list(zip(f.pollutant, f.source, f.target, f.quantity, f.value, strict=True)) == [
        ("PE", "A", "B", 1200, 2400)
    ]
    assert f.quantity_pe.tolist() == [1200]
    assert st.headline(res).set_index("metric").value.permits_traded == pytest.approx(6)
    # the supply curve in PE: A's Pb MAC a/40 per PE over 4,000 PE, B's Cd MAC 100c/200 over 4,000 PE
    curve = st.supply_curve(res)
    b = st.market_balance(res).iloc[0]
    assert b.pollutant == "PE" and b.required == pytest.approx(4000) and b.price == pytest.approx(2)
    assert np.interp(b.required, curve.quantity, curve.price) == pytest.approx(2)
    assert curve.quantity.max() == pytest.approx(8000) and curve.price.max() == pytest.approx(10)


def test_price_ceiling_sales_are_revenue():
    """The government sells 10 kg at the ceiling of 50."""
    res = textbook("price_ceiling")
    f = st.flows(res, by="enterprise")
    assert set(f.source) == {st.GOVERNMENT} and f.quantity.sum() == pytest.approx(10)
    r = st.revenue(res)
    assert list(zip(r.source, r.amount, strict=True)) == [("permit sales", 500)]
    assert st.headline(res).set_index("metric").value.government_revenue == pytest.approx(
        res.summary["government_revenue"]
    )


def test_transaction_fees():
    """Stavins: 20 kg traded with a fee of 20 per kg paid by the buyer."""
    res = textbook("stavins_fee")
    r = st.revenue(res)
    assert list(zip(r.source, r.amount, strict=True)) == [("transaction fees", 400)]
    c = st.costs(res, by="enterprise")
    assert row(c, enterprise="B").fee_paid == pytest.approx(400)
    assert st.headline(res).set_index("metric").value.government_revenue == 0  # fees are not government revenue
