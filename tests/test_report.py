"""The report of a run, the comparison page, the commands that write them, and both pages in a real browser."""

from __future__ import annotations

import importlib
import json

import pandas as pd
import pytest
import yaml
from browser import GRAPHS_JS
from browser import artifacts as artifacts  # the fixtures
from browser import browser as browser
from browser import chromium as chromium
from conftest import SCENARIOS, run_cli, write_scenario
from test_statistics import RIVER, SMALL, run

import emtrade
from emtrade import report as rp
from emtrade.comparison import Comparison, load_run, unique_names
from emtrade.errors import EmtradeError
from emtrade.results import Results

UNITS = ("kg/yr", "CNY", "mg/L", "PE/yr", "%", "schematic", "千克/年", "元/", "毫克/升", "污染当量/年", "示意")


@pytest.fixture(scope="module")
def xiangtan_run(tmp_path_factory):
    """``emtrade run`` of the bundled Xiangtan scenario: the results folder with report.html."""
    out = tmp_path_factory.mktemp("xt") / "xiangtan"
    proc = run_cli("run", "xiangtan", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert f"report: {out / 'report.html'}" in proc.stdout
    return out


@pytest.fixture(scope="module")
def compare_page(tmp_path_factory, xiangtan_run):
    """``emtrade compare`` of the Xiangtan results folder and a variant scenario run on the spot."""
    folder = tmp_path_factory.mktemp("cmp")
    source = SCENARIOS / "xiangtan" / "scenario.yaml"
    variant = yaml.safe_load(source.read_text(encoding="utf-8"))
    variant["name"] = "Xiangtan, equal-reduction allocation"
    variant["allocation"] = {**variant.get("allocation", {}), "method": "equal_reduction"}
    for key, value in variant.items():  # the tables stay where they are
        if isinstance(value, str) and value.endswith((".csv", ".xlsx")):
            variant[key] = str(source.parent / value)
    path = folder / "variant.yaml"
    path.write_text(yaml.safe_dump(variant, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = folder / "compare.html"
    proc = run_cli("compare", xiangtan_run, path, "--allow-outside", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert f"page: {out}" in proc.stdout
    return out


# -- the report's content ------------------------------------------------------------------------------------------
def test_report_is_self_contained_and_complete(xiangtan_run):
    html = (xiangtan_run / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # offline: plotly.js inline (once), and outside it no address of anything to fetch
    js = rp.plotly_js()
    assert html.count(js) == 1
    rest = html.replace(js, "")
    assert "<script src=" not in rest and "http://" not in rest and "https://" not in rest
    assert "Plotly.newPlot" in rest
    res = load_run(xiangtan_run)
    s = res.summary
    assert f"{s['savings']:,.0f}" in html and f"{s['total_cost']:,.0f}" in html
    assert html.count('class="plotly-graph-div"') >= 9
    # a chart for every part the run has, a one-line note for what it lacks (here: receptors or not)
    if res.receptors.empty:
        assert "no river sections (receptors) in this scenario" in html
    else:
        assert 'id="fig-receptors"' in html
    # the enterprise table: one body per sector, every enterprise once
    table = html[html.index('id="enterprises"') :]
    assert table.count("<tbody>") == 5
    ids = set(res.enterprises.enterprise)
    assert all(f'data-v="{e}"' in table for e in ids)
    assert "Synthetic integrated steel mill XG-FERR-001" in table  # names from the scenario


def test_run_writes_what_the_charts_need(xiangtan_run):
    assert {"report.html", "supply.csv", "labels.json"} <= {p.name for p in xiangtan_run.iterdir()}
    res = load_run(xiangtan_run)
    assert len(res.supply) > 100 and set(res.supply.market) <= set(res.prices.market)
    assert res.labels["zones"]["zhubugang"]["name_zh"] == "竹埠港工业区"


def test_report_in_chinese_and_without(tmp_path):
    proc = run_cli("run", SCENARIOS / "textbook" / "intercept.yaml", "-o", tmp_path / "zh", "--lang", "zh")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "排污权交易市场报告" in html and "交易节约的成本" in html
    assert "锌制品" in html  # sector names from the registry
    proc = run_cli("run", SCENARIOS / "textbook" / "intercept.yaml", "-o", tmp_path / "plain", "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "plain" / "report.html").exists() and "report:" not in proc.stdout
    assert not (tmp_path / "plain" / "supply.csv").exists()


def test_report_bytes_are_reproducible(tmp_path):
    res = run(SMALL)
    a = rp.report_html(res)
    b = rp.report_html(run(SMALL))
    assert a == b
    assert "two sectors, two zones" in a


def test_headline_numbers_of_the_intercept_example():
    res = run(emtrade.bundled_scenario("textbook/intercept"))
    html = rp.headline_cards(res, "en")
    # savings 5,500 − 4,600 = 900 (16.4 % of CAC); 30 kg traded at 80 = 2,400
    assert ">900<" in html and "16.4% of the command-and-control cost" in html
    assert ">4,600<" in html and ">5,500<" in html
    assert 'class="value">30<' in html and "2,400 CNY/yr" in html


def test_report_lands_with_the_results_or_not_at_all(tmp_path, monkeypatch):
    res = run(SMALL)
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("previous")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rp, "write_report", broken)
    with pytest.raises(RuntimeError):
        res.save(target, report=True)
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    monkeypatch.undo()
    res.save(target, report=True, lang="zh")
    assert (target / "report.html").exists() and not (target / "old.txt").exists()
    back = load_run(target)
    pd.testing.assert_frame_equal(back.supply, res.supply, check_dtype=False)
    assert back.labels == res.labels


# -- comparison ----------------------------------------------------------------------------------------------------
def test_compare_in_python(tmp_path):
    res = run(SMALL)
    res.save(tmp_path / "small", report=True)
    cmp = emtrade.compare(tmp_path / "small", "textbook/intercept", SCENARIOS / "textbook" / "fox_river.yaml")
    assert isinstance(cmp, Comparison)
    assert list(cmp) == [
        "two sectors, two zones",
        "Two firms, MAC with an intercept",
        "Fox River phosphorus (Callan & Thomas)",
    ]
    assert isinstance(cmp["two sectors, two zones"], Results)
    h = cmp.headline()
    assert h.loc["savings", "Two firms, MAC with an intercept"] == pytest.approx(900)
    assert h.loc["savings", "Fox River phosphorus (Callan & Thomas)"] == pytest.approx(140)
    assert h.loc["savings", "Δ Fox River phosphorus (Callan & Thomas)"] == pytest.approx(140 - 1050)
    assert h.loc["savings", "unit"] == "CNY/yr"
    figs = cmp.figures()
    assert "supply_demand" in figs and len(figs["supply_demand"].data) == (4 + 1 + 1) * 4
    page = cmp.to_html(tmp_path / "cmp.html").read_text(encoding="utf-8")
    assert 'id="differences"' in page and "difference from two sectors, two zones: Two firms" in page
    # importing the module does not shadow the function on the package
    module = importlib.import_module("emtrade.comparison")
    assert emtrade.compare is module.compare
    assert list(emtrade.compare("textbook/intercept")) == ["Two firms, MAC with an intercept"]


def test_compare_names():
    assert unique_names(["a", "a", "b"], ["x", "y", "z"]) == ["a (x)", "a (y)", "b"]
    assert unique_names(["a", "a"], ["x", "x"]) == ["a (x)", "a (x) (2)"]
    with pytest.raises(EmtradeError, match="names"):
        emtrade.compare("textbook/intercept", names=["a", "b"])


def test_compare_command_errors_and_images(tmp_path):
    proc = run_cli("compare", tmp_path / "nowhere", "-o", tmp_path / "c.html")
    assert proc.returncode == 2
    assert "not a results folder" in proc.stderr and "Traceback" not in proc.stderr
    # without kaleido: the page is written and a clear message says why there are no images
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "kaleido.py").write_text("raise ImportError('kaleido is not installed here')\n")
    import os
    import subprocess

    from conftest import emtrade_cmd

    env = {**os.environ, "PYTHONPATH": str(shim)}
    proc = subprocess.run(
        [*emtrade_cmd(), "compare", "textbook/intercept", "-o", tmp_path / "c.html", "--images", "png"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning: no images written" in proc.stderr and "needs kaleido" in proc.stderr
    assert (tmp_path / "c.html").exists()


def test_compare_a_scenario_with_relative_tables(tmp_path):
    folder = write_scenario(
        tmp_path / "sc",
        {**SMALL, "enterprises": "enterprises.csv"},
        {
            "enterprises.csv": "id,sector,zone,baseline_Pb,baseline_Cd\n"
            "A,zinc,zhubugang,100,10\nB,electroplating,yisuhe,100,\nC,zinc,yisuhe,50,\n"
        },
    )
    proc = run_cli("compare", folder, "-o", tmp_path / "c.html", "--names", "small")
    assert proc.returncode == 0, proc.stderr
    assert "compared: small" in proc.stdout


# -- in a real browser -----------------------------------------------------------------------------------------------
def check_page(browser, path, shot):
    """Open ``path`` offline; every chart rendered with data, titles, units and legends; no console errors."""
    page, visit = browser.open(path)
    try:
        graphs = page.evaluate(GRAPHS_JS)
        sections = page.evaluate("() => document.querySelectorAll('section.chart').length")
        assert len(graphs) == sections >= 8
        for g in graphs:
            assert g["rendered"] and g["traces"] > 0 and g["points"] > 0, g
            assert g["title"] and g["legend"], g
            if not g["sankey"]:
                assert g["xtitle"] and g["ytitle"], g
                assert any(u in g["xtitle"] + g["ytitle"] for u in UNITS), g
        assert visit.console_errors == [] and visit.page_errors == []
        assert visit.blocked == []  # nothing asked for outside the file
        page.screenshot(path=str(shot), full_page=False)
        return page, graphs
    except BaseException:
        page.close()
        raise


def test_report_renders_in_chromium(browser, artifacts, xiangtan_run):
    page, graphs = check_page(browser, xiangtan_run / "report.html", artifacts / "report-xiangtan.png")
    try:
        # the headline numbers fit on the first screen
        bottom = page.evaluate("() => document.getElementById('headline').getBoundingClientRect().bottom")
        assert bottom <= page.viewport_size["height"]
        cards = page.evaluate("() => document.querySelectorAll('#headline .card').length")
        assert cards >= 6
        # a drop-down choice works in plotly.js: show the second market of the supply chart
        shown = page.evaluate(
            """() => {
                const el = document.getElementById('fig-supply_demand');
                const b = el.layout.updatemenus[0].buttons[1];
                return Plotly.update(el, b.args[0], b.args[1]).then(
                    () => el.data.filter(t => t.visible !== false).map(t => t.name));
            }"""
        )
        assert "aggregate MAC curve" in shown and len(shown) >= 3
        # sorting the enterprise table: by savings, within the sectors
        page.click("#enterprises th:nth-child(6)")
        first = page.evaluate(
            "() => Array.from(document.querySelectorAll('#enterprises tbody')[0].querySelectorAll('tr:not(.group)'))"
            ".map(r => parseFloat(r.children[5].dataset.v))"
        )
        assert first == sorted(first)
        page.screenshot(path=str(artifacts / "report-xiangtan-full.png"), full_page=True)
    finally:
        page.close()
    assert {g["id"] for g in graphs} >= {"fig-supply_demand", "fig-flows_by_sector", "fig-zones", "fig-prices"}


def test_chinese_report_with_a_river_renders_in_chromium(browser, artifacts, tmp_path):
    res = run(RIVER)
    res.save(tmp_path / "zh", report=True, lang="zh")
    page, graphs = check_page(browser, tmp_path / "zh" / "report.html", artifacts / "report-river-zh.png")
    page.close()
    receptors = next(g for g in graphs if g["id"] == "fig-receptors")
    assert receptors["ytitle"] == "浓度，毫克/升" and receptors["traces"] >= 3


def test_compare_page_renders_in_chromium(browser, artifacts, compare_page):
    page, graphs = check_page(browser, compare_page, artifacts / "compare-xiangtan.png")
    try:
        heads = page.evaluate("() => Array.from(document.querySelectorAll('#differences th')).map(t => t.textContent)")
        assert "Xiangtan, equal-reduction allocation" in heads
        assert any(h.startswith("difference from") for h in heads)
    finally:
        page.close()
    sankey = next(g for g in graphs if g["id"] == "cmp-flows_by_sector")
    assert sankey["traces"] >= 2  # one diagram per scenario


def test_labels_json_is_utf8(xiangtan_run):
    data = json.loads((xiangtan_run / "labels.json").read_text(encoding="utf-8"))
    assert data["enterprises"]["XG-FERR-001"].startswith("Synthetic")
