"""The registry's figures against the Environmental Protection Tax Law, and the scenario file format."""

from __future__ import annotations

import pytest
from conftest import write_scenario

import emtrade
from emtrade.registry import METALS, SECTORS, pe_weight


def test_five_sectors_with_english_and_chinese_names():
    assert list(SECTORS) == ["ferrous", "chemicals", "manganese", "zinc", "electroplating"]
    assert SECTORS["ferrous"].name_zh == "黑色金属冶炼"
    assert SECTORS["chemicals"].name_zh == "化工颜料皮革"
    assert SECTORS["manganese"].name_zh == "锰制品"
    assert SECTORS["zinc"].name_zh == "锌制品"
    assert SECTORS["electroplating"].name_zh == "电镀"


@pytest.mark.parametrize(
    ("metal", "pe_value_kg"),
    # Environmental Protection Tax Law (2016), Annex 2, water pollutants (domain-facts §7)
    [
        ("Hg", 0.0005),
        ("Cd", 0.005),
        ("Cr6+", 0.02),
        ("As", 0.02),
        ("Pb", 0.025),
        ("Ni", 0.025),
        ("Cr", 0.04),
        ("Cu", 0.1),
        ("Zn", 0.2),
        ("Mn", 0.2),
    ],
)
def test_pollution_equivalent_values(metal, pe_value_kg):
    assert METALS[metal].pe_value_kg == pe_value_kg
    assert pe_weight(metal) == pytest.approx(1 / pe_value_kg)


def test_inline_and_csv_tables_are_equivalent(tmp_path):
    """The same scenario with inline tables and with CSV tables (nested keys flattened) gives the same run."""
    inline = {
        "name": "two metals",
        "pollutants": ["Pb", "Cd"],
        "enterprises": [
            {
                "id": "A",
                "sector": "zinc",
                "zone": "yisuhe",
                "baseline": {"Pb": 10, "Cd": 2},
                "allocation": {"Pb": 7, "Cd": 2},
            },
            {
                "id": "B",
                "sector": "electroplating",
                "baseline": {"Pb": 10, "Cd": 2},
                "allocation": {"Pb": 5, "Cd": 1.5},
            },
        ],
        "abatement": [
            {
                "enterprise": "A",
                "kind": "technology",
                "name": "sulfide",
                "removal": {"Pb": 0.8, "Cd": 0.5},
                "cost": 600,
            },
            {"enterprise": "B", "kind": "step", "pollutant": "Pb", "quantity": 10, "cost": 50},
            {"enterprise": "B", "kind": "step", "pollutant": "Cd", "quantity": 2, "cost": 300},
        ],
        "caps": [{"pollutant": "Pb", "total": 12}, {"pollutant": "Cd", "total": 3.5}],
        "allocation": {"method": "given"},
    }
    tables = {
        "enterprises.csv": "id,sector,zone,baseline_Pb,baseline_Cd,allocation_Pb,allocation_Cd\n"
        "A,zinc,yisuhe,10,2,7,2\nB,electroplating,,10,2,5,1.5\n",
        "abatement.csv": "enterprise,kind,name,removal_Pb,removal_Cd,cost,pollutant,quantity\n"
        "A,technology,sulfide,0.8,0.5,600,,\nB,step,,,,50,Pb,10\nB,step,,,,300,Cd,2\n",
    }
    csv_form = {**inline, "enterprises": "enterprises.csv", "abatement": "abatement.csv"}
    a = emtrade.simulate(inline)
    b = emtrade.simulate(write_scenario(tmp_path, csv_form, tables))
    assert a.enterprises.equals(b.enterprises)
    assert a.prices.equals(b.prices)
    assert a.summary["total_cost"] == b.summary["total_cost"]


def test_period_labels_default_to_one():
    sc = emtrade.load_scenario(
        {"name": "x", "pollutants": ["Pb"], "enterprises": [{"id": 7, "sector": "zinc", "baseline": {"Pb": 1}}]}
    )
    assert sc.periods == ["1"]
    assert sc.spec.enterprises[0].id == "7"
