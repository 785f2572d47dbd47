"""Results: save and load round-trip exactly; runs are reproducible byte for byte; writes are atomic."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SCENARIOS, run_cli

import emtrade
from emtrade.results import TABLES, Results, atomic_directory


def test_save_load_round_trip(tmp_path):
    res = emtrade.simulate(SCENARIOS / "textbook" / "field_field.yaml")
    res.save(tmp_path / "r")
    back = Results.load(tmp_path / "r")
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(res, name), getattr(back, name), check_dtype=False)
    assert back.summary == res.summary


def test_two_runs_write_identical_csv_bytes(tmp_path):
    for k in (1, 2):
        proc = run_cli("run", SCENARIOS / "textbook" / "field_field.yaml", "-o", tmp_path / f"run{k}")
        assert proc.returncode == 0, proc.stderr
    for name in TABLES:
        assert (tmp_path / "run1" / f"{name}.csv").read_bytes() == (tmp_path / "run2" / f"{name}.csv").read_bytes()


def test_atomic_directory_leaves_old_results_on_error(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("previous")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "half.csv").write_text("partial")
        raise RuntimeError("disk full")
    assert (target / "old.txt").read_text() == "previous"
    assert not (target / "half.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_summary_contract_keys(tmp_path):
    proc = run_cli("run", SCENARIOS / "textbook" / "intercept.yaml", "-o", tmp_path / "r")
    assert proc.returncode == 0
    import json

    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    for key in ("scenario", "status", "total_cost", "cac_total_cost", "savings", "prices"):
        assert key in summary
    assert set(summary["prices"][0]) >= {"market", "pollutant", "period", "price", "price_low", "price_high"}
    ent = pd.read_csv(tmp_path / "r" / "enterprises.csv")
    for col in (
        "enterprise",
        "sector",
        "zone",
        "pollutant",
        "period",
        "baseline",
        "allocation",
        "emissions",
        "abatement",
        "net_purchase",
        "abatement_cost",
        "permit_cost",
    ):
        assert col in ent.columns
    prices = pd.read_csv(tmp_path / "r" / "prices.csv")
    assert list(prices.columns[:6]) == ["market", "pollutant", "period", "price", "price_low", "price_high"]
    # the terminal shows a terse headline table
    assert "savings from trading" in proc.stdout and "900" in proc.stdout
