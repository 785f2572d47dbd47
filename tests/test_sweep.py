"""Sweeps: grid and Monte Carlo runs equal emtrade.simulate, bit for bit the same on every engine."""

from __future__ import annotations

import importlib
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, write_scenario

import emtrade
from emtrade.errors import EmtradeError, ScenarioError
from emtrade.scenario.uncertainty import check_uncertainty, draw_sample
from emtrade.sweeps import parse_set, sweep

GRID = {"caps.0.total": [130, 150, 160], "trading.scope": ["all", "none"]}
MC = {"caps.0.total": [150, 130]}
FILES = ("runs.csv", "summary.csv", "draws.csv")


def small() -> dict:
    """Two metals, three firms, linear and step MACs; a cap of 130 kg of Pb cannot be met (88 kg abatable)."""
    return {
        "name": "small sweep",
        "pollutants": ["Pb", "Cd"],
        "enterprises": [
            {"id": "A", "sector": "zinc", "baseline": {"Pb": 100, "Cd": 10}},
            {"id": "B", "sector": "zinc", "baseline": {"Pb": 100, "Cd": 8}},
            {"id": "C", "sector": "electroplating", "baseline": {"Pb": 20}},
        ],
        "abatement": [
            {"enterprise": "A", "kind": "linear", "pollutant": "Pb", "slope": 0.7, "max": 40},
            {"enterprise": "B", "kind": "linear", "pollutant": "Pb", "slope": 2.1, "max": 40},
            {"enterprise": "C", "kind": "step", "pollutant": "Pb", "quantity": 8, "cost": 15},
            {"enterprise": "A", "kind": "step", "pollutant": "Cd", "quantity": 4, "cost": 300},
            {"enterprise": "B", "kind": "step", "pollutant": "Cd", "quantity": 4, "cost": 500},
        ],
        "caps": [{"pollutant": "Pb", "total": 160}, {"pollutant": "Cd", "total": 14}],
        "allocation": {"method": "equal_reduction"},
        "uncertainty": [
            {"name": "mac", "target": "slope", "distribution": "lognormal", "sigma": 0.3},
            {"target": "step_cost", "sector": "zinc", "distribution": "triangular", "low": 0.5, "mode": 1, "high": 2},
            {
                "target": "baseline",
                "pollutant": "Pb",
                "distribution": "uniform",
                "low": 0.95,
                "high": 1.05,
                "per": "enterprise",
            },
        ],
    }


@pytest.fixture(scope="module")
def scenario():
    return emtrade.load_scenario(small())


@pytest.fixture(scope="module")
def cluster():
    """A dask LocalCluster of two worker processes, started by the test (a few seconds)."""
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as c:
        yield c


def files(folder) -> dict[str, bytes]:
    return {f: (folder / f).read_bytes() for f in FILES}


def test_grid_and_monte_carlo_identical_on_every_engine(scenario, cluster, tmp_path):
    for name, kwargs in (("grid", {"set": GRID}), ("mc", {"set": MC, "samples": 5, "seed": 7})):
        serial = sweep(scenario, **kwargs, workers=1, out=tmp_path / f"{name}-1", progress=False)
        pool = sweep(scenario, **kwargs, workers=2, out=tmp_path / f"{name}-2", progress=False)
        dask = sweep(
            scenario, **kwargs, scheduler=cluster.scheduler_address, out=tmp_path / f"{name}-d", progress=False
        )
        assert serial.meta["engine"] == "serial"
        assert pool.meta["engine"] == "process-pool" and pool.meta["workers"] == 2
        assert dask.meta["engine"] == "dask" and dask.meta["workers"] == 2
        reference = files(tmp_path / f"{name}-1")
        assert files(tmp_path / f"{name}-2") == reference
        assert files(tmp_path / f"{name}-d") == reference
        for res in (serial, pool, dask):
            assert (tmp_path / f"{name}-1" / "report.html").exists()
            assert len(res.runs) == (6 if name == "grid" else 10)


def test_monte_carlo_runs_equal_simulate(scenario):
    res = sweep(scenario, set=MC, samples=4, seed=3, workers=1, progress=False)
    runs = res.runs
    assert list(runs.run) == list(range(8))
    assert list(runs.point) == [0] * 4 + [1] * 4 and list(runs["sample"]) == [0, 1, 2, 3] * 2
    # common random numbers: every grid point sees the same draws
    assert list(runs["u:mac"][:4]) == list(runs["u:mac"][4:])
    assert runs["u:mac"].nunique() == 4
    for i in range(4):  # cap 150: solved
        row = runs.iloc[i]
        ref = emtrade.simulate(res.scenario(i))
        assert row.status == ref.summary["status"] == "optimal" and row.error == ""
        assert row.total_cost == ref.summary["total_cost"]
        assert row.cac_total_cost == ref.summary["cac_total_cost"]
        assert row.savings == ref.summary["savings"]
        for p in ref.prices.itertuples():
            assert row[f"price:{p.market}:{p.pollutant}:{p.period}"] == p.price
        assert math.isnan(row.worst_receptor_margin)
    # the sample's multipliers were applied: slopes scaled by u:mac
    sc = res.scenario(2)
    assert sc.spec.abatement[0].slope == pytest.approx(0.7 * runs["u:mac"][2], rel=1e-15)
    # per-enterprise baseline draws, one per firm and sample
    assert set(res.draws.enterprise) == {"A", "B", "C"} and len(res.draws) == 3 * 8


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(scenario):
    res = sweep(scenario, set=GRID, workers=1, progress=False)
    runs = res.runs.set_index(["caps.0.total", "trading.scope"])
    bad = runs.loc[(130, "all")]
    assert bad.status == "infeasible" and "Pb" in bad.error and math.isnan(bad.total_cost)
    assert (runs.loc[[150, 160]].status == "optimal").all()
    assert res.meta["failed"] == 2 and len(res.failed) == 2
    # trading saves money where the market has room; with scope none there is nothing to save
    assert runs.loc[(150, "all")].savings > 0 and runs.loc[(150, "none")].savings == 0
    s = res.summary[(res.summary.point == "all") & (res.summary.quantity == "total_cost")].iloc[0]
    assert s.runs == 4 and s["min"] <= s.p50 <= s["max"]


def test_report_is_offline(scenario, tmp_path):
    sweep(scenario, set={"caps.0.total": [150, 155, 160]}, samples=3, workers=1, out=tmp_path / "r", progress=False)
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", page)  # plotly.js is embedded, nothing is fetched
    assert page.count("plotly.js v") >= 1
    assert page.count("Plotly.newPlot") >= 2 and "fill" in page  # fan bands
    meta = json.loads((tmp_path / "r" / "sweep.json").read_text(encoding="utf-8"))
    assert meta["runs"] == 9 and meta["samples"] == 3 and meta["grid"] == {"caps.0.total": [150, 155, 160]}


def test_public_api_and_results_round_trip(scenario, tmp_path):
    res = emtrade.sweep(scenario, set={"caps.0.total": 150}, workers=1, progress=False)
    assert len(res.runs) == 1
    sweeps = importlib.import_module("emtrade.sweeps")  # importing it does not shadow the function
    assert emtrade.sweep is sweeps.sweep
    res.save(tmp_path / "s", report=False)
    back = sweeps.SweepResults.load(tmp_path / "s")
    pd.testing.assert_frame_equal(back.runs, res.runs, check_dtype=False)
    back.save(tmp_path / "again", report=False)
    assert files(tmp_path / "again") == files(tmp_path / "s")


def test_parse_set():
    assert parse_set(["a.b=1,2.5,true,none,x y", "c=0.1,1e5"]) == {
        "a.b": [1, 2.5, True, "none", "x y"],
        "c": [0.1, 100000.0],
    }
    for bad in ("a", "=1", "a=1,,2", "a=[1]", "a=null"):
        with pytest.raises(EmtradeError, match="--set"):
            parse_set([bad])
    with pytest.raises(EmtradeError, match="twice"):
        parse_set(["a=1", "a=2"])


def test_bad_keys_and_values_are_named_before_anything_runs(scenario):
    with pytest.raises(EmtradeError, match=r"--set caps\.0\.totl=1: .*unknown key"):
        sweep(scenario, set={"caps.0.totl": [1]}, workers=1, progress=False)
    with pytest.raises(EmtradeError, match=r"--set trading\.scope=everywhere: .*not one of"):
        sweep(scenario, set={"trading.scope": ["all", "everywhere"]}, workers=1, progress=False)
    with pytest.raises(EmtradeError, match=r"--set caps\.7\.total=1: .*row number"):
        sweep(scenario, set={"caps.7.total": [1]}, workers=1, progress=False)
    plain = emtrade.load_scenario({k: v for k, v in small().items() if k != "uncertainty"})
    with pytest.raises(EmtradeError, match="uncertainty"):
        sweep(plain, samples=3, workers=1, progress=False)


def test_uncertainty_schema_and_draws(scenario):
    def load(entry):
        return emtrade.load_scenario({**small(), "uncertainty": [entry]})

    for entry, message in (
        ({"target": "slope", "distribution": "lognormal"}, "needs sigma"),
        ({"target": "slope", "distribution": "uniform", "low": 2, "high": 1}, "must not exceed"),
        ({"target": "slope", "distribution": "uniform", "low": 1, "high": 2, "sigma": 1}, "do not apply"),
        ({"target": "slope", "distribution": "triangular", "low": 1, "mode": 3, "high": 2}, "between"),
        ({"target": "slope", "distribution": "lognormal", "sigma": 0.1, "sector": "zink"}, "not one of"),
        ({"target": "slop", "distribution": "lognormal", "sigma": 0.1}, "not one of"),
        ({"target": "slope", "distribution": "uniform", "low": -1, "high": 2}, "≥ 0"),
    ):
        with pytest.raises(ScenarioError, match=message):
            load(entry)
    assert check_uncertainty(load({"target": "slope", "enterprise": "Z", "distribution": "uniform", "low": 1,
                                   "high": 2}))[0].endswith("not in the enterprises table")  # fmt: skip
    assert "matches" in check_uncertainty(load({"target": "technology_cost", "distribution": "uniform", "low": 1,
                                                "high": 2}))[0]  # fmt: skip
    # reproducible, and one entry's draws do not depend on the others
    a, b = draw_sample(scenario, 1, 4), draw_sample(scenario, 1, 4)
    assert a.overrides == b.overrides and a.multipliers == b.multipliers
    assert draw_sample(scenario, 1, 5).multipliers != a.multipliers
    alone = emtrade.load_scenario({**small(), "uncertainty": small()["uncertainty"][:1]})
    assert draw_sample(alone, 1, 4).multipliers["mac"] == a.multipliers["mac"]
    # bounds of the distributions
    ms = np.array([draw_sample(scenario, 9, s).multipliers["step_cost-1"] for s in range(200)])
    assert ms.min() >= 0.5 and ms.max() <= 2 and 0.9 < np.median(ms) < 1.4
    point = load({"target": "slope", "distribution": "uniform", "low": 1.5, "high": 1.5})
    assert draw_sample(point, 0, 0).overrides == {"abatement.0.slope": 0.7 * 1.5, "abatement.1.slope": 2.1 * 1.5}


def test_cli(tmp_path):
    path = write_scenario(tmp_path / "sc", small())
    out = tmp_path / "out"
    proc = run_cli("sweep", path, "--set", "caps.0.total=150,160", "--samples", "2", "--workers", "1", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "4 runs, 0 failed" in proc.stdout and f"results: {out}" in proc.stdout
    for f in (*FILES, "timings.csv", "sweep.json", "report.html"):
        assert (out / f).exists(), f
    proc = run_cli("sweep", path, "--set", "caps.0.totl=150", "-o", tmp_path / "x")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("error: --set caps.0.totl=150:") and not (tmp_path / "x").exists()
    proc = run_cli("sweep", path, "--set", "caps.0.total", "-o", tmp_path / "x")
    assert proc.returncode == 2 and "KEY=V1,V2" in proc.stderr
