"""Published worked examples, reproduced through ``emtrade run`` and the bundled scenario files.

Every expected number is derived by hand in the docstring of its test (tolerance 1e-6 relative).
"""

from __future__ import annotations

import pytest
from conftest import SCENARIOS

REL = 1e-6


def by(df, key, value):
    return df[df[key] == value].iloc[0]


def test_fox_river(run_scenario):
    """Callan & Thomas, Fox River phosphorus: MAC1 = 0.7 A1, MAC2 = 2.1 A2, A1 + A2 = 40.

    Equal marginal costs: 0.7 A1 = 2.1 A2 → A1 = 3 A2 → A = (30, 10), price 0.7·30 = 21.
    Cost 0.35·30² + 1.05·10² = 315 + 105 = 420; command-and-control (20 each) 0.35·400 + 1.05·400 = 560.
    """
    out = run_scenario(SCENARIOS / "textbook" / "fox_river.yaml")
    e = out.enterprises.set_index("enterprise")
    assert e.at["Source1", "abatement"] == pytest.approx(30, rel=REL)
    assert e.at["Source2", "abatement"] == pytest.approx(10, rel=REL)
    p = out.prices.iloc[0]
    assert p.price == pytest.approx(21, rel=REL)
    assert p.price_low == pytest.approx(21, rel=REL) and p.price_high == pytest.approx(21, rel=REL)
    assert out.summary["total_cost"] == pytest.approx(420, rel=REL)
    assert out.summary["cac_total_cost"] == pytest.approx(560, rel=REL)
    assert out.summary["savings"] == pytest.approx(140, rel=REL)
    # with the textbook's fixed costs of 1,250 the totals are 1,670 and 1,810
    assert out.summary["total_cost"] + 1250 == pytest.approx(1670, rel=REL)
    assert out.summary["cac_total_cost"] + 1250 == pytest.approx(1810, rel=REL)
    # each was allocated 80 (equal reduction of 100 → 160): source 1 sells 10, source 2 buys 10
    assert e.at["Source1", "net_purchase"] == pytest.approx(-10, rel=REL)
    assert e.at["Source2", "net_purchase"] == pytest.approx(10, rel=REL)
    assert e.at["Source2", "permit_cost"] == pytest.approx(210, rel=REL)


def test_mac_with_intercept(run_scenario):
    """MAC1 = A1, MAC2 = 60 + A2, baselines 100, 50 permits each, cap 100 → A1 + A2 = 100.

    A1 = 60 + A2 → A2 = 20, A1 = 80, price 80; firm 1 sells 80 − 50 = 30.
    Cost 80²/2 + 60·20 + 20²/2 = 3200 + 1200 + 200 = 4600; under 50/50: 1250 + 3000 + 1250 = 5500.
    """
    out = run_scenario(SCENARIOS / "textbook" / "intercept.yaml")
    e = out.enterprises.set_index("enterprise")
    assert e.at["F1", "abatement"] == pytest.approx(80, rel=REL)
    assert e.at["F2", "abatement"] == pytest.approx(20, rel=REL)
    assert out.prices.iloc[0].price == pytest.approx(80, rel=REL)
    assert e.at["F1", "net_purchase"] == pytest.approx(-30, rel=REL)
    assert e.at["F2", "net_purchase"] == pytest.approx(30, rel=REL)
    assert out.summary["total_cost"] == pytest.approx(4600, rel=REL)
    assert out.summary["cac_total_cost"] == pytest.approx(5500, rel=REL)
    # per firm: firm 1 abates 80 at 3200 and earns 30·80 = 2400: net 800 against 1250 under CAC
    f = out.firms.set_index("enterprise")
    assert f.at["F1", "net_cost"] == pytest.approx(800, rel=REL)
    assert f.at["F1", "savings"] == pytest.approx(450, rel=REL)
    assert f.at["F2", "net_cost"] == pytest.approx(1400 + 2400, rel=REL)
    assert f.at["F2", "savings"] == pytest.approx(4250 - 3800, rel=REL)


def test_field_and_field_steps(run_scenario):
    """Field & Field: three firms of 10 units, target 15, MAC tables by unit.

    The 15 cheapest units: A 1,2,3,6,10,14,18 (7 units, 54); B 2,3,7,12,18 (5 units, 42);
    C 6,12,18 (3 units, 36): total 132. Five each: A 22 + B 42 + C 90 = 154. The last units
    abated cost 18; the next cheapest (A's 8th) costs 23, so any price in [18, 23] clears.
    """
    out = run_scenario(SCENARIOS / "textbook" / "field_field.yaml")
    e = out.enterprises.set_index("enterprise")
    assert [e.at[f, "abatement"] for f in "ABC"] == pytest.approx([7, 5, 3], rel=REL)
    assert out.summary["total_cost"] == pytest.approx(132, rel=REL)
    assert out.summary["cac_total_cost"] == pytest.approx(154, rel=REL)
    p = out.prices.iloc[0]
    assert p.price_low == pytest.approx(18, rel=REL)
    assert p.price_high == pytest.approx(23, rel=REL)
    assert p.price_low <= p.price <= p.price_high
    price = out.summary["prices"][0]
    assert (price["price_low"], price["price_high"]) == pytest.approx((18, 23), rel=REL)
