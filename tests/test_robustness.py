"""Reliability: encodings and workbooks, bad values, infeasible policies, units, solver limits, interrupted runs."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import SCENARIOS, emtrade_cmd, run_cli, write_scenario

import emtrade
from emtrade.cli import main
from emtrade.errors import InfeasibleError, ScenarioError

TWO_FIRMS = {
    "name": "two firms",
    "pollutants": ["Pb"],
    "enterprises": "enterprises.csv",
    "abatement": [
        {"enterprise": "湘潭锌业-01", "pollutant": "Pb", "kind": "linear", "slope": 1},
        {"enterprise": "电镀-02", "pollutant": "Pb", "kind": "linear", "slope": 3},
    ],
    "caps": [{"pollutant": "Pb", "total": 100}],
}
ROWS = (
    "id,name,sector,zone,baseline_Pb\n"
    "湘潭锌业-01,湘潭锌业一厂,zinc,易俗河,100\n"
    "电镀-02,某电镀厂,electroplating,九华,100\n"
)


def assert_two_firms(res):
    """MAC a and 3b, cap 100 of 200: a = 75, b = 25, price 75."""
    e = res.enterprises.set_index("enterprise")
    assert e.at["湘潭锌业-01", "abatement"] == pytest.approx(75, rel=1e-6)
    assert e.at["电镀-02", "abatement"] == pytest.approx(25, rel=1e-6)
    assert res.prices.price.iloc[0] == pytest.approx(75, rel=1e-6)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_encodings_and_chinese_ids_end_to_end(tmp_path, encoding):
    folder = tmp_path / encoding
    folder.mkdir()
    (folder / "enterprises.csv").write_bytes(ROWS.encode(encoding))
    path = write_scenario(folder, TWO_FIRMS)
    assert_two_firms(emtrade.simulate(path))
    proc = run_cli("run", path, "-o", folder / "out", "--no-report")
    assert proc.returncode == 0, proc.stderr
    back = pd.read_csv(folder / "out" / "enterprises.csv", encoding="utf-8")
    assert set(back.enterprise) == {"湘潭锌业-01", "电镀-02"} and set(back.zone) == {"易俗河", "九华"}


def test_xlsx_table(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for line in ROWS.strip().splitlines():
        cells = line.split(",")
        sheet.append([float(c) if c.replace(".", "").isdigit() else c for c in cells])
    book.save(tmp_path / "enterprises.xlsx")
    path = write_scenario(tmp_path, {**TWO_FIRMS, "enterprises": "enterprises.xlsx"})
    assert_two_firms(emtrade.simulate(path))


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("nan", "must be a finite number"),
        ("inf", "must be a finite number"),
        ("-3", "must be ≥ 0"),
        ("1e13", "must be ≤ 1e+12"),
        ("lots", "is not a number"),
    ],
)
def test_bad_numbers_are_named(tmp_path, cell, message):
    (tmp_path / "enterprises.csv").write_text(ROWS.replace("zinc,易俗河,100", f"zinc,易俗河,{cell}"), encoding="utf-8")
    path = write_scenario(tmp_path, TWO_FIRMS)
    with pytest.raises(ScenarioError) as info:
        emtrade.load_scenario(path)
    assert "enterprises.csv line 2 (id 湘潭锌业-01): baseline_Pb" in str(info.value)
    assert message in str(info.value)


def test_empty_table_removal_above_one_and_unsafe_yaml(tmp_path):
    (tmp_path / "enterprises.csv").write_text("id,sector,baseline_Pb\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="the enterprises table is empty"):
        emtrade.load_scenario(write_scenario(tmp_path, TWO_FIRMS))
    sc = {
        "name": "x",
        "pollutants": ["Pb"],
        "enterprises": [{"id": "A", "sector": "zinc", "baseline": {"Pb": 1}}],
        "abatement": [{"enterprise": "A", "kind": "technology", "name": "t", "removal": {"Pb": 1.2}, "cost": 1}],
    }
    with pytest.raises(ScenarioError, match=r"removal.Pb must be ≤ 1, got 1.2"):
        emtrade.load_scenario(sc)
    (tmp_path / "evil.yaml").write_text('name: !!python/object/apply:os.system ["touch pwned"]\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="invalid YAML"):
        emtrade.load_scenario(tmp_path / "evil.yaml")
    assert not (tmp_path / "pwned").exists()


def test_conflicting_caps_report_the_least_shortfall():
    """A (zone z1) can abate at most 30 of 100, B (zone z2) at most 50 of 100. City cap 150, fine alone;
    zone z2 limited to 40, so B would have to abate 60: 10 kg/yr short, and only that cap conflicts."""
    sc = {
        "name": "conflict",
        "pollutants": ["Pb"],
        "enterprises": [
            {"id": "A", "sector": "zinc", "zone": "z1", "baseline": {"Pb": 100}},
            {"id": "B", "sector": "zinc", "zone": "z2", "baseline": {"Pb": 100}},
        ],
        "abatement": [
            {"enterprise": "A", "pollutant": "Pb", "kind": "linear", "slope": 1, "max": 30},
            {"enterprise": "B", "pollutant": "Pb", "kind": "linear", "slope": 1, "max": 50},
        ],
        "caps": [
            {"id": "city", "pollutant": "Pb", "total": 150},
            {"id": "z2", "pollutant": "Pb", "zone": "z2", "total": 40, "role": "limit"},
        ],
    }
    with pytest.raises(InfeasibleError) as info:
        emtrade.simulate(sc)
    text = str(info.value)
    assert "Least total shortfall 10 kg/yr" in text and "cap z2 (Pb, period 1) short by 10 kg/yr" in text
    assert "city" not in text.split("Least total shortfall")[1]


# -- units -------------------------------------------------------------------------------------------

MONEY_KEYS = ("slope", "intercept", "cost", "fixed_cost", "margin")


def _xiangtan_raw():
    return copy.deepcopy(emtrade.load_scenario(emtrade.bundled_scenario("xiangtan")).raw)


def _scale_money(raw, factor):
    """Every amount of money in the scenario ×factor: option costs, reserve prices, fees, fines."""
    for row in raw["abatement"]:
        for key in MONEY_KEYS:
            if row.get(key) not in (None, ""):
                row[key] = float(row[key]) * factor

    def scale(value):
        return {k: float(v) * factor for k, v in value.items()} if isinstance(value, dict) else float(value) * factor

    trading = raw.get("trading") or {}
    for key in ("price_ceiling", "price_floor", "fee"):
        if trading.get(key) is not None:
            trading[key] = scale(trading[key])
    if trading.get("reserve"):
        trading["reserve"]["price"] = scale(trading["reserve"]["price"])
    if (raw.get("allocation") or {}).get("fee") is not None:
        raw["allocation"]["fee"] = scale(raw["allocation"]["fee"])
    enforcement = raw.get("enforcement") or {}
    for key in ("penalty", "daily_fine"):
        if enforcement.get(key) is not None:
            enforcement[key] = scale(enforcement[key])
    return raw


def _metal_in_grams(raw, metal):
    """The same scenario with ``metal`` measured in grams: quantities ×1000, costs per unit ÷1000."""
    for e in raw["enterprises"]:
        for key in ("baseline", "history", "allocation"):
            if metal in (e.get(key) or {}):
                e[key][metal] = float(e[key][metal]) * 1000
    for row in raw["abatement"]:
        if row.get("pollutant") == metal:
            if row["kind"] == "step":
                row["quantity"] = float(row["quantity"]) * 1000
                row["cost"] = float(row["cost"]) / 1000
            elif row["kind"] == "linear":
                row["slope"] = float(row["slope"]) / 1e6
                if row.get("max") not in (None, ""):
                    row["max"] = float(row["max"]) * 1000
    for cap in raw["caps"]:
        if cap["pollutant"] == metal and cap.get("total") not in (None, ""):
            cap["total"] = float(cap["total"]) * 1000
    for row in raw.get("limits") or []:
        if row["pollutant"] == metal:
            row["limit"] = float(row["limit"]) * 1000
    # receptor loads are kg/yr of the metal arriving: in grams ×1000 too (coefficients are shares)
    for row in raw.get("receptors") or []:
        if row["pollutant"] == metal:
            row["limit"] = float(row["limit"]) * 1000
    reserve = (raw.get("trading") or {}).get("reserve")
    if reserve and isinstance(reserve.get("quantity"), dict) and metal in reserve["quantity"]:
        reserve["quantity"][metal] = float(reserve["quantity"][metal]) * 1000
        reserve["price"][metal] = float(reserve["price"][metal]) / 1000
    enforcement = raw.get("enforcement") or {}
    if isinstance(enforcement.get("kg_per_day"), dict) and metal in enforcement["kg_per_day"]:
        enforcement["kg_per_day"][metal] = float(enforcement["kg_per_day"][metal]) * 1000
    if isinstance(enforcement.get("penalty"), dict) and metal in enforcement["penalty"]:
        enforcement["penalty"][metal] = float(enforcement["penalty"][metal]) / 1000
    fee = (raw.get("allocation") or {}).get("fee")
    if isinstance(fee, dict) and metal in fee:
        fee[metal] = float(fee[metal]) / 1000
    return raw


@pytest.fixture(scope="module")
def xiangtan_reference():
    return emtrade.simulate(emtrade.bundled_scenario("xiangtan"))


def test_money_units_scale_prices_and_costs_only(xiangtan_reference):
    ref = xiangtan_reference
    res = emtrade.simulate(_scale_money(_xiangtan_raw(), 1000))
    assert res.summary["total_cost"] == pytest.approx(1000 * ref.summary["total_cost"], rel=1e-6)
    assert res.summary["cac_total_cost"] == pytest.approx(1000 * ref.summary["cac_total_cost"], rel=1e-6)
    np.testing.assert_allclose(res.prices.price, 1000 * ref.prices.price, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.enterprises.emissions, ref.enterprises.emissions, rtol=1e-6, atol=1e-9)


def test_a_metal_in_grams_changes_only_its_units(xiangtan_reference):
    ref = xiangtan_reference
    res = emtrade.simulate(_metal_in_grams(_xiangtan_raw(), "Hg"))
    assert res.summary["total_cost"] == pytest.approx(ref.summary["total_cost"], rel=1e-6)
    hg = ref.enterprises.pollutant == "Hg"
    np.testing.assert_allclose(
        res.enterprises.emissions[hg], 1000 * ref.enterprises.emissions[hg], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(res.enterprises.emissions[~hg], ref.enterprises.emissions[~hg], rtol=1e-6, atol=1e-9)
    p_hg = ref.prices.pollutant == "Hg"
    np.testing.assert_allclose(res.prices.price[p_hg], ref.prices.price[p_hg] / 1000, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.prices.price[~p_hg], ref.prices.price[~p_hg], rtol=1e-6, atol=1e-9)


# -- solver limits -------------------------------------------------------------------------------------


def test_a_time_limit_is_never_reported_as_optimal(tmp_path):
    res = CliRunner().invoke(main, ["run", "xiangtan", "-o", str(tmp_path / "out"), "--time-limit", "1e-6",
                                    "--no-report"])  # fmt: skip
    assert res.exit_code in (0, 2), res.output
    if res.exit_code == 0:
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["status"] != "optimal"
        assert "not proven optimal" in res.output
    else:
        assert "time limit" in res.output


def test_a_mip_gap_is_reported(tmp_path):
    res = emtrade.simulate(emtrade.bundled_scenario("xiangtan"), mip_gap=0.5)
    assert res.summary["mip_gap"] is not None
    if res.summary["mip_gap"] > 1e-6:
        assert res.summary["status"] == "gap_limit"
    else:
        assert res.summary["status"] == "optimal"


# -- whole or nothing -----------------------------------------------------------------------------------


def _old_results(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", SCENARIOS / "textbook" / "fox_river.yaml", "-o", out)
    assert proc.returncode == 0
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


def test_sigkill_while_writing_leaves_old_results(tmp_path):
    out, before = _old_results(tmp_path)
    for _ in range(5):
        proc = subprocess.Popen(
            [*emtrade_cmd(), "run", "xiangtan", "-o", str(out)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if list(tmp_path.glob(".out.tmp-*")):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            break
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed while writing"
    # the old results are whole; the killed run's temporary folder is hidden and cleaned by the next run
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert run_cli("run", SCENARIOS / "textbook" / "fox_river.yaml", "-o", out, "--no-report").returncode == 0
    assert not list(tmp_path.glob(".out.*"))


def test_sigterm_exits_cleanly(tmp_path):
    out, before = _old_results(tmp_path)
    proc = subprocess.Popen(
        [*emtrade_cmd(), "run", "xiangtan", "-o", str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".out.*"))


def test_full_disk_leaves_old_results(tmp_path, monkeypatch):
    from emtrade.results import Results

    out, before = _old_results(tmp_path)

    def full(self, folder):
        raise OSError(28, "No space left on device", str(folder / "enterprises.csv"))

    monkeypatch.setattr(Results, "write_files", full)
    res = CliRunner().invoke(main, ["run", str(SCENARIOS / "textbook" / "fox_river.yaml"), "-o", str(out)])
    assert res.exit_code == 2
    assert "No space left on device" in res.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_reproducibility_record(tmp_path):
    out, _ = _old_results(tmp_path)
    summary = json.loads((out / "summary.json").read_text())
    assert {"emtrade", "pyomo", "highspy"} <= set(summary["versions"])
    assert (
        summary["input_hashes"]["fox_river.yaml"]
        == __import__("hashlib").sha256((SCENARIOS / "textbook" / "fox_river.yaml").read_bytes()).hexdigest()
    )
    assert "options" in summary and "timings" in summary
    assert os.stat(out).st_mode & 0o055  # readable by others as the umask allows


def test_absurd_sizes_are_refused(tmp_path, monkeypatch):
    import emtrade.scenario.tables as tables

    monkeypatch.setattr(tables, "MAX_TABLE_ROWS", 1)
    (tmp_path / "enterprises.csv").write_text(ROWS, encoding="utf-8")
    with pytest.raises(ScenarioError, match="rows; refused"):
        emtrade.load_scenario(write_scenario(tmp_path, TWO_FIRMS))
    sc = yaml.safe_load(yaml.safe_dump(TWO_FIRMS))
    sc["enterprises"] = [{"id": "A", "sector": "zinc", "baseline": {"Pb": 1}}]
    sc["abatement"] = []
    sc["periods"] = [str(y) for y in range(100_000)]
    with pytest.raises(ScenarioError, match="periods"):
        emtrade.load_scenario(sc)
