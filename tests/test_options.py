"""Abatement options beyond MAC curves: joint technologies, output cuts, retirement, phase-out.

Each expected answer is derived by hand in the test's docstring; scenarios go through files and
``emtrade run`` where the test says so, through :func:`emtrade.simulate` otherwise.
"""

from __future__ import annotations

import pytest
from conftest import write_scenario

import emtrade

REL = 1e-6


def ent(i, sector="zinc", **baseline):
    return {"id": i, "sector": sector, "baseline": baseline}


def test_joint_technology_couples_two_markets(tmp_path, run_scenario):
    """D has a sulfide technology removing 80 % of Pb and 50 % of Cd (Pb 10, Cd 2 kg/yr) for 600 CNY/yr;
    E abates Pb at 50 and Cd at 300 CNY/kg. Caps require 4 kg of Pb and 0.5 kg of Cd abated.

    Share x of the technology abates 8x Pb and x Cd. For x ≤ 0.5 the cost is
    600x + 50(4 − 8x) + 300(0.5 − x) = 350 − 100x, falling; beyond 0.5 only 600x rises: x* = 0.5, cost 300.
    Both caps bind with E idle, so the prices are any duals with 8 π_Pb + π_Cd = 600 (x interior),
    π_Pb ≤ 50, π_Cd ≤ 300: π_Pb ∈ [37.5, 50] and π_Cd ∈ [200, 300].
    Command-and-control (equal reduction: each abates 2 Pb and 0.25 Cd): D needs x = 0.25 (150),
    E pays 2·50 + 0.25·300 = 175: 325 in all.
    """
    sc = {
        "name": "joint technology",
        "pollutants": ["Pb", "Cd"],
        "enterprises": [ent("D", Pb=10, Cd=2), ent("E", Pb=10, Cd=2)],
        "abatement": [
            {
                "enterprise": "D",
                "kind": "technology",
                "name": "sulfide precipitation",
                "removal": {"Pb": 0.8, "Cd": 0.5},
                "cost": 600,
            },
            {"enterprise": "E", "kind": "step", "pollutant": "Pb", "quantity": 10, "cost": 50},
            {"enterprise": "E", "kind": "step", "pollutant": "Cd", "quantity": 2, "cost": 300},
        ],
        "caps": [{"pollutant": "Pb", "total": 16}, {"pollutant": "Cd", "total": 3.5}],
        "allocation": {"method": "equal_reduction"},
    }
    out = run_scenario(write_scenario(tmp_path / "joint", sc))
    p = out.prices.set_index("pollutant")
    assert (p.at["Pb", "price_low"], p.at["Pb", "price_high"]) == pytest.approx((37.5, 50), rel=REL)
    assert (p.at["Cd", "price_low"], p.at["Cd", "price_high"]) == pytest.approx((200, 300), rel=REL)
    assert out.summary["total_cost"] == pytest.approx(300, rel=REL)
    assert out.summary["cac_total_cost"] == pytest.approx(325, rel=REL)
    e = out.enterprises.set_index(["enterprise", "pollutant"])
    assert e.at[("D", "Pb"), "abatement"] == pytest.approx(4, rel=REL)
    assert e.at[("D", "Cd"), "abatement"] == pytest.approx(0.5, rel=REL)
    assert e.at[("E", "Pb"), "abatement"] == pytest.approx(0, abs=1e-9)


def test_output_cut_prices_the_margin():
    """F produces 1000 t with Pb 10 kg/yr and loses 20 CNY per tonne cut: 0.01 kg per tonne, so 2000 CNY/kg.
    G abates up to 5 kg at 1000 CNY/kg. The cap asks for 8 kg: G's 5 kg (5000) and 3 kg of output
    cut (300 t, 6000): cost 11000, and the price is F's 2000 (F is the marginal, interior supplier).
    """
    sc = {
        "name": "output cut",
        "pollutants": ["Pb"],
        "enterprises": [{**ent("F", Pb=10), "output": 1000}, ent("G", Pb=10)],
        "abatement": [
            {"enterprise": "F", "kind": "output_cut", "margin": 20},
            {"enterprise": "G", "kind": "step", "pollutant": "Pb", "quantity": 5, "cost": 1000},
        ],
        "caps": [{"pollutant": "Pb", "total": 12}],
    }
    res = emtrade.simulate(sc)
    assert res.summary["total_cost"] == pytest.approx(11000, rel=REL)
    assert res.prices.price.iloc[0] == pytest.approx(2000, rel=REL)
    opt = res.options.set_index("enterprise")
    assert opt.at["F", "level"] == pytest.approx(300, rel=REL)  # tonnes of output cut
    assert res.enterprises.set_index("enterprise").at["F", "emissions"] == pytest.approx(7, rel=REL)


@pytest.mark.parametrize(
    ("cap", "cost", "price", "retired"),
    [
        # abate 8: S alone costs 8·500 = 4000; closing R (all 10 kg) costs 3000 → close R; the cap is
        # then slack (emissions 10 < 12) and the price, with the closure fixed, is 0
        (12, 3000, 0, True),
        # abate 12: S can do at most 10, so R must close (3000) and S abates 2 (1000): price 500
        (8, 4000, 500, True),
        # abate 5: S at 2500 beats closing R at 3000
        (15, 2500, 500, False),
    ],
)
def test_retirement_is_a_binary_decision(cap, cost, price, retired):
    sc = {
        "name": "retirement",
        "pollutants": ["Pb"],
        "enterprises": [ent("R", Pb=10), ent("S", Pb=10)],
        "abatement": [
            {"enterprise": "R", "kind": "retire", "cost": 3000},
            {"enterprise": "S", "kind": "step", "pollutant": "Pb", "quantity": 10, "cost": 500},
        ],
        "caps": [{"pollutant": "Pb", "total": cap}],
    }
    res = emtrade.simulate(sc)
    assert res.summary["solve_path"] == "milp+fixed-lp"
    assert res.summary["total_cost"] == pytest.approx(cost, rel=REL)
    assert res.prices.price.iloc[0] == pytest.approx(price, rel=REL, abs=1e-9)
    r = res.options.set_index("enterprise").loc["R"]
    assert bool(r.adopted) is retired
    assert res.enterprises.set_index("enterprise").at["R", "emissions"] == pytest.approx(0 if retired else 10, abs=1e-9)


def test_fixed_cost_with_linear_macs_is_solved_exactly():
    """A (MAC 2a) may also adopt a technology removing 50 of its 100 kg for a fixed 1500 CNY/yr;
    B has MAC 4b. The cap asks for 80 kg.

    Without the technology: 2a = 4b, a + b = 80 → a = 160/3, price 320/3, cost a² + 2b² = 12800/3 ≈ 4266.7.
    With it: 30 kg left, 2a = 4b → a = 20, b = 10, price 40, cost 400 + 200 + 1500 = 2100: adopted.
    Command-and-control (40 kg each): A adopts (1500 < 40² = 1600), B pays 2·40² = 3200: 4700.
    A mixed-integer QP, which HiGHS does not solve directly: outer approximation, then the QP.
    """
    sc = {
        "name": "lumpy technology",
        "pollutants": ["Pb"],
        "enterprises": [ent("A", Pb=100), ent("B", Pb=100)],
        "abatement": [
            {"enterprise": "A", "kind": "linear", "pollutant": "Pb", "slope": 2},
            {
                "enterprise": "A",
                "kind": "technology",
                "name": "T",
                "removal": {"Pb": 0.5},
                "cost": 0,
                "fixed_cost": 1500,
            },
            {"enterprise": "B", "kind": "linear", "pollutant": "Pb", "slope": 4},
        ],
        "caps": [{"pollutant": "Pb", "total": 120}],
        "allocation": {"method": "equal_reduction"},
    }
    res = emtrade.simulate(sc)
    assert res.summary["solve_path"] == "miqp-oa+fixed-qp"
    assert res.summary["total_cost"] == pytest.approx(2100, rel=REL)
    assert res.summary["cac_total_cost"] == pytest.approx(4700, rel=REL)
    assert res.prices.price.iloc[0] == pytest.approx(40, rel=REL)
    lin = res.options[res.options.kind == "linear"].set_index("enterprise").level
    assert lin["A"] == pytest.approx(20, rel=REL) and lin["B"] == pytest.approx(10, rel=REL)


@pytest.mark.parametrize(("cap", "cost", "price"), [(12, 0, 0), (5, 12.5, 5)])
def test_phase_out_closes_the_plant_and_frees_the_cap(cap, cost, price):
    """P is on the phase-out list (no retire option: a closure at no modelled cost); Q has MAC q.
    P gets no permits and discharges nothing. Cap 12: Q's 10 kg fit, no abatement, price 0.
    Cap 5: Q abates 5 at cost 5²/2 = 12.5, price 5.
    """
    sc = {
        "name": "phase-out",
        "pollutants": ["Pb"],
        "enterprises": [ent("P", Pb=10), ent("Q", Pb=10)],
        "abatement": [{"enterprise": "Q", "kind": "linear", "pollutant": "Pb", "slope": 1}],
        "caps": [{"pollutant": "Pb", "total": cap}],
        "phase_out": ["P"],
    }
    res = emtrade.simulate(sc)
    e = res.enterprises.set_index("enterprise")
    assert e.at["P", "emissions"] == pytest.approx(0, abs=1e-9)
    assert e.at["P", "allocation"] == pytest.approx(0, abs=1e-9)
    assert e.at["Q", "allocation"] == pytest.approx(cap, rel=REL)
    assert res.summary["total_cost"] == pytest.approx(cost, rel=REL, abs=1e-9)
    assert res.prices.price.iloc[0] == pytest.approx(price, rel=REL, abs=1e-9)


def test_phase_out_pays_the_closure_cost():
    """With a retire option of 1000 CNY/yr, the phase-out closure costs 1000 in both runs."""
    sc = {
        "name": "phase-out with cost",
        "pollutants": ["Pb"],
        "enterprises": [ent("P", Pb=10), ent("Q", Pb=10)],
        "abatement": [
            {"enterprise": "P", "kind": "retire", "cost": 1000},
            {"enterprise": "Q", "kind": "linear", "pollutant": "Pb", "slope": 1},
        ],
        "caps": [{"pollutant": "Pb", "total": 5}],
        "phase_out": ["P"],
    }
    res = emtrade.simulate(sc)
    assert res.summary["total_cost"] == pytest.approx(1012.5, rel=REL)
    assert res.summary["cac_total_cost"] == pytest.approx(1012.5, rel=REL)


@pytest.mark.parametrize(
    ("requires", "cost", "low", "high"), [(None, 200, 50, 200), ("basic", 4800 / 9, 1200 / 9, 1200 / 9)]
)
def test_polishing_requires_the_stage_beneath_it(requires, cost, low, high):
    """A (Pb 10) has basic treatment (50 % for 1000 CNY/yr) and polishing (40 % for 200 CNY/yr); 4 kg must go.
    Alone, polishing does it exactly at full share: cost 200; one kg less saves polishing's 50 CNY/kg,
    one kg more needs basic treatment at 200 CNY/kg: prices [50, 200]. If polishing requires the
    basic stage (x_polish ≤ x_basic), the cheapest way is both at the same share x: 9x = 4 kg, cost
    1200·4/9 = 533.3, and every marginal kg costs 1200/9 = 133.3 CNY/kg.
    """
    sc = {
        "name": "precedence",
        "pollutants": ["Pb"],
        "enterprises": [{"id": "A", "sector": "zinc", "baseline": {"Pb": 10}}],
        "abatement": [
            {"enterprise": "A", "kind": "technology", "name": "basic", "removal": {"Pb": 0.5}, "cost": 1000},
            {
                "enterprise": "A",
                "kind": "technology",
                "name": "polish",
                "removal": {"Pb": 0.4},
                "cost": 200,
                **({"requires": requires} if requires else {}),
            },
        ],
        "caps": [{"pollutant": "Pb", "total": 6}],
    }
    res = emtrade.simulate(sc)
    assert res.summary["total_cost"] == pytest.approx(cost, rel=REL)
    assert res.prices.price_low.iloc[0] == pytest.approx(low, rel=REL)
    assert res.prices.price_high.iloc[0] == pytest.approx(high, rel=REL)


def test_requires_must_name_a_technology_of_the_same_enterprise():
    from emtrade.errors import ScenarioError

    sc = {
        "name": "bad precedence",
        "pollutants": ["Pb"],
        "enterprises": [{"id": "A", "sector": "zinc", "baseline": {"Pb": 10}}],
        "abatement": [
            {
                "enterprise": "A",
                "kind": "technology",
                "name": "polish",
                "removal": {"Pb": 0.4},
                "cost": 200,
                "requires": "basic",
            }
        ],
    }
    with pytest.raises(ScenarioError, match="requires 'basic', which is not a technology of enterprise 'A'"):
        emtrade.load_scenario(sc)


def test_info_columns_are_kept_but_not_modelled(tmp_path):
    tables = {"enterprises.csv": "id,sector,baseline_Pb,info_wastewater_m3\nA,zinc,10,70000\n"}
    sc = {"name": "notes", "pollutants": ["Pb"], "enterprises": "enterprises.csv"}
    loaded = emtrade.load_scenario(write_scenario(tmp_path, sc, tables))
    assert loaded.raw["enterprises"][0]["info_wastewater_m3"] == "70000"
