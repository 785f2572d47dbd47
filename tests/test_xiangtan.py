"""The bundled Xiangtan scenario: runs by default, has the promised shape, and obeys the invariants."""

from __future__ import annotations

import runpy

import pytest
from conftest import SCENARIOS, RunOutput, run_cli

from emtrade.registry import SECTORS

KEY_ZONES = {"zhubugang", "manganese_mine", "yisuhe", "xianggang", "xiangxiang"}


@pytest.fixture(scope="module")
def xiangtan(tmp_path_factory):
    """``emtrade run`` with no scenario argument, in an empty folder: the bundled Xiangtan scenario."""
    cwd = tmp_path_factory.mktemp("xt")
    proc = run_cli("run", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "results: results/xiangtan" in proc.stdout
    return RunOutput(cwd / "results" / "xiangtan"), proc


def test_default_run_is_the_xiangtan_scenario(xiangtan):
    out, proc = xiangtan
    assert out.summary["scenario"].startswith("Xiangtan")
    assert out.summary["status"] == "optimal"
    assert "savings from trading" in proc.stdout


def test_shape_of_the_scenario(xiangtan):
    out, _ = xiangtan
    e = out.enterprises
    firms = e.drop_duplicates("enterprise")
    assert 150 <= len(firms) <= 400
    assert set(firms.sector) == set(SECTORS)
    assert set(firms.zone) >= KEY_ZONES
    assert {"Pb", "Cd", "Hg", "As", "Cr6+", "Cr"} <= set(e.pollutant)


def test_invariants_hold(xiangtan):
    out, _ = xiangtan
    caps = out.caps
    assert (caps.emissions <= caps.total * (1 + 1e-9) + 1e-6).all()
    assert (out.prices.price >= 0).all()
    assert (
        (out.prices.price_low <= out.prices.price + 1e-9) & (out.prices.price <= out.prices.price_high + 1e-9)
    ).all()
    e = out.enterprises[out.enterprises.market.notna()]
    for _, g in e.groupby(["market", "pollutant", "period"]):
        assert g.net_purchase.sum() <= 1e-6  # bought ≤ sold, unused permits stay unused
        if g.price.iloc[0] > 1e-9:
            assert abs(g.net_purchase.sum()) <= 1e-6 * max(1.0, g.baseline.sum())
    s = out.summary
    assert s["total_cost"] <= s["cac_total_cost"]
    assert s["savings"] == pytest.approx(s["cac_total_cost"] - s["total_cost"], rel=1e-9)
    # permit payments are transfers: the enterprises' permit costs add up to zero in every market
    assert out.enterprises.permit_cost.sum() == pytest.approx(0, abs=1e-6 * s["total_cost"])
    # total cost is the sum of the enterprises' abatement costs
    assert out.enterprises.abatement_cost.sum() == pytest.approx(s["total_cost"], rel=1e-9)


def test_generator_reproduces_the_committed_files(tmp_path):
    module = runpy.run_path(str(SCENARIOS / "xiangtan" / "generate.py"))
    module["main"](out=tmp_path)
    for name in ("enterprises.csv", "abatement.csv", "caps.csv", "zones.csv", "scenario.yaml"):
        assert (tmp_path / name).read_bytes() == (SCENARIOS / "xiangtan" / name).read_bytes(), name
