"""Policy instruments of real permit markets, each against an analytic result (tolerance 1e-6 relative).

Each case goes through a scenario file and ``emtrade run``; variants are written beside it.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from conftest import SCENARIOS, write_scenario

REL = 1e-6
TEXTBOOK = SCENARIOS / "textbook"


def variant(tmp_path, name: str, **changes) -> object:
    """A bundled textbook scenario with top-level keys replaced (nested mappings merged one level)."""
    sc = yaml.safe_load((TEXTBOOK / f"{name}.yaml").read_text(encoding="utf-8"))
    sc = copy.deepcopy(sc)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(sc.get(key), dict):
            sc[key] = {**sc[key], **value}
        else:
            sc[key] = value
    return write_scenario(tmp_path / f"{name}-{abs(hash(repr(changes)))}", sc)


def prices(out) -> dict:
    return out.prices.set_index("period").price.to_dict()


# -- periods and banking (Rubin 1996) ------------------------------------------------------------


def test_banking_equalises_discounted_prices(run_scenario):
    out = run_scenario(TEXTBOOK / "rubin_banking.yaml")
    assert prices(out) == pytest.approx({"2016": 50, "2017": 55}, rel=REL)
    bank = pd.read_csv(out.folder / "bank.csv", dtype={"period": str})
    assert list(bank.columns[:4]) == ["market", "pollutant", "period", "banked"]
    assert bank.set_index("period").banked["2016"] == pytest.approx(30, rel=REL)


def test_without_banking_each_period_clears_alone(tmp_path, run_scenario):
    out = run_scenario(variant(tmp_path, "rubin_banking", trading={"banking": False}))
    assert prices(out) == pytest.approx({"2016": 20, "2017": 85}, rel=REL)


def test_reversed_caps_banking_alone_and_with_borrowing(tmp_path, run_scenario):
    """Caps 15 then 80: banking cannot move permits back in time (prices 85 and 20); borrowing 35
    from 2017 gives A1 = 85 − 35 = 50 and A2 = 20 + 35 = 55 = 1.1 × 50."""
    caps = [{"pollutant": "Pb", "total": 15, "period": 2016}, {"pollutant": "Pb", "total": 80, "period": 2017}]
    out = run_scenario(variant(tmp_path, "rubin_banking", caps=caps))
    assert prices(out) == pytest.approx({"2016": 85, "2017": 20}, rel=REL)
    out = run_scenario(variant(tmp_path, "rubin_banking", caps=caps, trading={"borrowing": True}))
    assert prices(out) == pytest.approx({"2016": 50, "2017": 55}, rel=REL)
    bank = pd.read_csv(out.folder / "bank.csv", dtype={"period": str}).set_index("period")
    assert bank.banked["2016"] == pytest.approx(-35, rel=REL)
    # a borrowing limit of 10 kg: A1 = 75, A2 = 30; prices 75 and 30
    out = run_scenario(variant(tmp_path, "rubin_banking", caps=caps, trading={"borrowing": 10}))
    assert prices(out) == pytest.approx({"2016": 75, "2017": 30}, rel=REL)


def test_present_value_cost(run_scenario):
    """Abatement 50 then 55 (MAC = A, cost A²/2 in all): 1250 + 1512.5 undiscounted; PV 1250 + 1512.5/1.1."""
    out = run_scenario(TEXTBOOK / "rubin_banking.yaml")
    assert out.summary["total_cost"] == pytest.approx(1250 + 1512.5, rel=REL)
    assert out.summary["total_cost_pv"] == pytest.approx(1250 + 1512.5 / 1.1, rel=REL)


def test_firm_limit_with_a_deadline(tmp_path, run_scenario):
    """A may discharge at most 5 from 2017 on (一厂一策), whatever permits it holds. Without banking,
    2017 needs 85 abated (42.5 each, price 85). The limit makes A abate 45, so B abates 40: the price
    is B's MAC 2·40 = 80, and A's limit is worth A's MAC minus the price, 2·45 − 80 = 10 CNY/kg."""
    limits = [{"enterprise": "A", "pollutant": "Pb", "limit": 5, "from": 2017}]
    out = run_scenario(variant(tmp_path, "rubin_banking", trading={"banking": False}, limits=limits))
    assert prices(out) == pytest.approx({"2016": 20, "2017": 80}, rel=REL)
    e = out.enterprises.set_index(["enterprise", "period"])
    assert e.at[("A", "2017"), "emissions"] == pytest.approx(5, rel=REL)
    lim = pd.read_csv(out.folder / "limits.csv", dtype={"period": str}).set_index("period")
    assert lim.shadow_price["2017"] == pytest.approx(10, rel=REL)


# -- price controls and a reserve ------------------------------------------------------------------


def test_price_ceiling(run_scenario):
    out = run_scenario(TEXTBOOK / "price_ceiling.yaml")
    p = out.prices.iloc[0]
    assert p.price == pytest.approx(50, rel=REL)
    assert p.emissions == pytest.approx(50, rel=REL)
    assert p.ceiling_sold == pytest.approx(10, rel=REL)
    assert out.summary["ceiling_revenue"] == pytest.approx(500, rel=REL)
    assert out.summary["total_cost"] == pytest.approx(2 * 25**2, rel=REL)


@pytest.mark.parametrize(("quantity", "price", "sold"), [(4, 56, 4), (20, 50, 10)])
def test_reserve(tmp_path, run_scenario, quantity, price, sold):
    """Aggregate MAC = A, 60 to abate. A reserve of 4 at 50 is exhausted: A = 56, price 56. A reserve
    of 20 is not: the price stays at 50 and 10 are released."""
    trading = {"price_ceiling": None, "reserve": {"price": 50, "quantity": quantity}}
    out = run_scenario(variant(tmp_path, "price_ceiling", trading=trading))
    p = out.prices.iloc[0]
    assert p.price == pytest.approx(price, rel=REL)
    assert p.reserve_sold == pytest.approx(sold, rel=REL)
    assert out.summary["reserve_sold"] == pytest.approx(sold, rel=REL)


def test_price_floor(tmp_path, run_scenario):
    """Cap 90: 10 to abate, price 10. A floor of 30 keeps 20 permits unsold: A = 30, price 30."""
    caps = [{"pollutant": "Pb", "total": 90}]
    out = run_scenario(
        variant(tmp_path, "price_ceiling", caps=caps, trading={"price_ceiling": None, "price_floor": 30})
    )
    p = out.prices.iloc[0]
    assert p.price == pytest.approx(30, rel=REL)
    assert p.withheld == pytest.approx(20, rel=REL)
    assert out.summary["unsold"] == pytest.approx(20, rel=REL)


def test_paid_initial_allocation(tmp_path, run_scenario):
    """Each firm holds 20 permits at Zhuzhou's Pb fee of 10 CNY/kg·yr: 200 each, 400 to the government."""
    out = run_scenario(
        variant(tmp_path, "price_ceiling", allocation={"fee": {"Pb": 10}}, trading={"price_ceiling": None})
    )
    f = out.firms.set_index("enterprise")
    assert f.allocation_fee.tolist() == pytest.approx([200, 200], rel=REL)
    assert out.summary["allocation_fees"] == pytest.approx(400, rel=REL)


# -- enforcement ------------------------------------------------------------------------------------


def test_penalty_instead_of_a_ceiling(tmp_path, run_scenario):
    """Cap 40, penalty 50 per kg: like a ceiling of 50: price 50, excess 10 kg, penalties 500."""
    out = run_scenario(variant(tmp_path, "price_ceiling", trading={"price_ceiling": None}, enforcement={"penalty": 50}))
    p = out.prices.iloc[0]
    assert p.price == pytest.approx(50, rel=REL)
    assert out.summary["excess"] == pytest.approx(10, rel=REL)
    assert out.summary["penalties"] == pytest.approx(500, rel=REL)
    assert out.enterprises.penalty.sum() == pytest.approx(500, rel=REL)


def test_daily_fine_expressed_per_kg(tmp_path, run_scenario):
    """A fine of 10,000 CNY per day of violation, one day per 200 kg of excess: 50 CNY/kg."""
    out = run_scenario(
        variant(
            tmp_path,
            "price_ceiling",
            trading={"price_ceiling": None},
            enforcement={"daily_fine": 10000, "kg_per_day": 200},
        )
    )
    assert out.prices.iloc[0].price == pytest.approx(50, rel=REL)
    assert out.summary["penalties"] == pytest.approx(500, rel=REL)


# -- transaction costs (Stavins 1995) ---------------------------------------------------------------


def test_transaction_cost(run_scenario):
    out = run_scenario(TEXTBOOK / "stavins_fee.yaml")
    e = out.enterprises.set_index("enterprise")
    assert e.at["A", "abatement"] == pytest.approx(70, rel=REL)
    assert e.at["B", "abatement"] == pytest.approx(30, rel=REL)
    assert out.prices.iloc[0].price == pytest.approx(70, rel=REL)
    assert out.summary["fees_paid"] == pytest.approx(20 * 20, rel=REL)
    assert e.at["B", "fee_paid"] == pytest.approx(400, rel=REL)


def test_with_transaction_costs_the_allocation_matters(tmp_path, run_scenario):
    """All 100 permits to B: A buys, a = p + 20 and 3b = p: b = 20, a = 80, sellers' price 60."""
    ents = [
        {"id": "A", "sector": "zinc", "baseline": {"Pb": 100}, "allocation": {"Pb": 0}},
        {"id": "B", "sector": "zinc", "baseline": {"Pb": 100}, "allocation": {"Pb": 100}},
    ]
    out = run_scenario(variant(tmp_path, "stavins_fee", enterprises=ents))
    e = out.enterprises.set_index("enterprise")
    assert e.at["A", "abatement"] == pytest.approx(80, rel=REL)
    assert e.at["B", "abatement"] == pytest.approx(20, rel=REL)
    assert out.prices.iloc[0].price == pytest.approx(60, rel=REL)


# -- zones, trading ratios and hot spots --------------------------------------------------------------


def test_trading_ratios(run_scenario):
    out = run_scenario(TEXTBOOK / "hung_shaw_ratios.yaml")
    e = out.enterprises.set_index("zone")
    assert [e.at[z, "emissions"] for z in ("z1", "z2", "z3")] == pytest.approx([40, 25, 50], rel=REL)
    p = out.prices.set_index("market").price
    assert [p["z1"], p["z2"], p["z3"]] == pytest.approx([60, 75, 50], rel=REL)
    flows = pd.read_csv(out.folder / "flows.csv").set_index(["from", "to"])
    assert flows.at[("z1", "z2"), "sold"] == pytest.approx(20, rel=REL)
    assert flows.at[("z1", "z2"), "delivered"] == pytest.approx(16, rel=REL)


def test_no_net_inflow_into_a_key_zone(tmp_path, run_scenario):
    """Forbid net purchases into z2: no flows into it, every zone trades alone: emissions (60, 9, 50),
    prices (40, 91, 50)."""
    out = run_scenario(variant(tmp_path, "hung_shaw_ratios", trading={"no_net_inflow": ["z2"]}))
    e = out.enterprises.set_index("zone")
    assert [e.at[z, "emissions"] for z in ("z1", "z2", "z3")] == pytest.approx([60, 9, 50], rel=REL)
    p = out.prices.set_index("market").price
    assert [p["z1"], p["z2"], p["z3"]] == pytest.approx([40, 91, 50], rel=REL)


def test_no_net_inflow_in_a_city_market(tmp_path, run_scenario):
    """City market, MAC a for A (zone y) and 3b for B (zone x), baselines 100, cap 100 (50 each).
    Freely: a = 75, b = 25, B buys 25 into zone x. With no net inflow into x: each keeps 50,
    B's zone limit binds: the city price is A's 50 and B's zone costs 3·50 − 50 = 100 more."""
    sc = {
        "name": "no net inflow",
        "pollutants": ["Pb"],
        "enterprises": [
            {"id": "A", "sector": "zinc", "zone": "y", "baseline": {"Pb": 100}},
            {"id": "B", "sector": "zinc", "zone": "x", "baseline": {"Pb": 100}},
        ],
        "abatement": [
            {"enterprise": "A", "pollutant": "Pb", "kind": "linear", "slope": 1},
            {"enterprise": "B", "pollutant": "Pb", "kind": "linear", "slope": 3},
        ],
        "caps": [{"pollutant": "Pb", "total": 100}],
        "trading": {"scope": "all", "no_net_inflow": ["x"]},
    }
    out = run_scenario(write_scenario(tmp_path / "nni", sc))
    e = out.enterprises.set_index("enterprise")
    assert e.at["B", "emissions"] == pytest.approx(50, rel=REL)
    assert out.prices.iloc[0].price == pytest.approx(50, rel=REL)


def test_ambient_receptor(run_scenario):
    out = run_scenario(TEXTBOOK / "kolstad_ambient.yaml")
    rec = pd.read_csv(out.folder / "receptors.csv", dtype={"period": str})
    assert list(rec.columns[:6]) == ["receptor", "pollutant", "period", "load", "limit", "shadow_price"]
    assert rec.shadow_price.iloc[0] == pytest.approx(5.6, rel=REL)
    assert rec.load.iloc[0] == pytest.approx(4, rel=REL)
    e = out.enterprises.set_index("enterprise")
    assert [e.at["F1", "emissions"], e.at["F2", "emissions"]] == pytest.approx([3.6, 2.2], rel=REL)


# -- exchange between metals ---------------------------------------------------------------------------


def test_pollution_equivalent_exchange(tmp_path, run_scenario):
    out = run_scenario(TEXTBOOK / "pe_exchange.yaml")
    p = out.prices.iloc[0]
    assert p.pollutant == "PE"
    assert p.price == pytest.approx(2, rel=REL)
    e = out.enterprises.set_index("enterprise")
    assert e.at["A", "abatement"] == pytest.approx(80, rel=REL)
    assert e.at["B", "abatement"] == pytest.approx(4, rel=REL)
    # the per-kg price of each metal is its PE weight times the PE price
    assert e.at["A", "price"] == pytest.approx(80, rel=REL)
    assert e.at["B", "price"] == pytest.approx(400, rel=REL)
    assert out.summary["total_cost"] == pytest.approx(4000, rel=REL)
    by_metal = run_scenario(variant(tmp_path, "pe_exchange", trading={"exchange": "by_metal"}))
    assert by_metal.summary["total_cost"] == pytest.approx(6250, rel=REL)


def test_river_key_derives_receptors_with_gb3838_limits(tmp_path, run_scenario):
    """A two-section river (Q = 1 m³/s, class III Cd 0.005 mg/L: 157.788 kg/yr may arrive; half of what F1
    discharges upstream decays before 'down'). Costs a² each, baselines 200: a2 = 2 a1 and
    0.5 (200 − a1) + 200 − 2 a1 = 157.788 give e = (143.1152, 86.2304); 'down' sits at 0.005 mg/L."""
    import math

    sc = {
        "name": "river key",
        "pollutants": ["Cd"],
        "enterprises": [
            {"id": "F1", "sector": "zinc", "baseline": {"Cd": 200}},
            {"id": "F2", "sector": "zinc", "baseline": {"Cd": 200}},
        ],
        "abatement": [
            {"enterprise": "F1", "pollutant": "Cd", "kind": "linear", "slope": 2},
            {"enterprise": "F2", "pollutant": "Cd", "kind": "linear", "slope": 2},
        ],
        "river": {
            "sections": [
                {"id": "up", "flow": 1, "travel_time": 1, "decay": math.log(2), "water_class": "III"},
                {"id": "down", "water_class": "III"},
            ],
            "discharges": [{"enterprise": "F1", "section": "up"}, {"enterprise": "F2", "section": "down"}],
        },
        "trading": {"scope": "none"},
    }
    out = run_scenario(write_scenario(tmp_path / "river", sc))
    e = out.enterprises.set_index("enterprise")
    assert [e.at["F1", "emissions"], e.at["F2", "emissions"]] == pytest.approx([143.1152, 86.2304], rel=1e-6)
    rec = pd.read_csv(out.folder / "receptors.csv").set_index("section")
    assert rec.at["down", "concentration_mg_l"] == pytest.approx(0.005, rel=1e-6)
    assert rec.at["down", "class_limit_mg_l"] == pytest.approx(0.005)
    assert rec.at["up", "concentration_mg_l"] == pytest.approx(143.1152 / 31_557.6, rel=1e-6)
    assert rec.at["down", "shadow_price"] > 0 and rec.at["up", "shadow_price"] == pytest.approx(0, abs=1e-9)


def test_with_a_fee_no_trade_leaves_a_band_of_prices(tmp_path, run_scenario):
    """A holds 25 and B 75: without trading a = 75 and b = 25, both MACs 75. A sells only above 75,
    B buys only below 75 − 20 = 55: no trade, and every sellers' price in [55, 75] clears. (HiGHS's
    QP solver cycled on this degenerate re-solve once; the interval must still come out.)"""
    ents = [
        {"id": "A", "sector": "zinc", "baseline": {"Pb": 100}, "allocation": {"Pb": 25}},
        {"id": "B", "sector": "zinc", "baseline": {"Pb": 100}, "allocation": {"Pb": 75}},
    ]
    out = run_scenario(variant(tmp_path, "stavins_fee", enterprises=ents), "--no-report")
    p = out.prices.iloc[0]
    assert (p.price_low, p.price_high) == pytest.approx((55, 75), rel=1e-6)
    assert out.summary["permits_traded"] == pytest.approx(0, abs=1e-9)


def test_auction_and_reserve_revenue_add_up(tmp_path, run_scenario):
    """Auction of 40 with a reserve of 4 at 50: the price is 56 (aggregate MAC = A, A = 56). The
    government sells 40 at auction and 4 from the reserve, all at 56: revenue 44 × 56 = 2,464, which
    is what the firms pay for their 44 kg of discharge."""
    out = run_scenario(variant(tmp_path, "price_ceiling", allocation={"method": "auction"},
                               trading={"price_ceiling": None, "reserve": {"price": 50, "quantity": 4}}))
    s = out.summary
    assert out.prices.price.iloc[0] == pytest.approx(56, rel=REL)
    assert s["auction_revenue"] == pytest.approx(40 * 56, rel=REL)
    assert s["reserve_revenue"] == pytest.approx(4 * 56, rel=REL)
    assert s["government_revenue"] == pytest.approx(44 * 56, rel=REL)
    assert out.enterprises.permit_cost.sum() == pytest.approx(44 * 56, rel=REL)
