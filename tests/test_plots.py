"""Figures: their traces (names, counts, values), not their pixels; static export and import hygiene."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from browser import ensure_chromium
from conftest import ROOT, SCENARIOS
from test_statistics import RIVER, SMALL, copy, run

import emtrade
from emtrade import plots as pl


@pytest.fixture(scope="module")
def small():
    return run(SMALL)


@pytest.fixture(scope="module")
def intercept():
    return run(emtrade.bundled_scenario("textbook/intercept"))


def visible(fig):
    return [t for t in fig.data if t.visible is not False]


def by_name(traces, name):
    found = [t for t in traces if t.name == name]
    assert len(found) == 1, f"{name!r} in {[t.name for t in traces]}"
    return found[0]


def buttons(fig):
    return [b.label for b in fig.layout.updatemenus[0].buttons] if fig.layout.updatemenus else []


def shown_after(fig, label):
    """The traces a drop-down choice shows."""
    b = next(b for b in fig.layout.updatemenus[0].buttons if b.label == label)
    return [t for t, v in zip(fig.data, b.args[0]["visible"], strict=True) if v]


def test_supply_demand_of_the_intercept_example(intercept):
    fig = pl.supply_demand(intercept)
    assert fig.layout.title.text == "Permit market: supply of abatement and the cap"
    assert fig.layout.xaxis.title.text == "abatement, kg/yr"
    assert fig.layout.yaxis.title.text == "marginal abatement cost, CNY/kg"
    assert [t.name for t in fig.data] == [
        "aggregate MAC curve",
        "cap: abatement required (100)",
        "clearing price (80)",
        "market outcome",
    ]
    curve = by_name(fig.data, "aggregate MAC curve")
    assert list(zip(curve.x, curve.y, strict=True)) == [(0, 0), (60, 60), (140, 100), (200, 160)]
    assert list(by_name(fig.data, "cap: abatement required (100)").x) == [100, 100]
    assert list(by_name(fig.data, "clearing price (80)").y) == [80, 80]
    outcome = by_name(fig.data, "market outcome")
    assert (outcome.x[0], outcome.y[0]) == (100, 80)
    assert buttons(fig) == []  # one market: no menu
    # the view frames the clearing: up to twice the abatement needed
    assert fig.layout.xaxis.range[1] == pytest.approx(200 * 1.04)


def test_supply_demand_one_view_per_market(small):
    fig = pl.supply_demand(small)
    assert buttons(fig) == [
        "city-wide · Pb · 2016",
        "city-wide · Cd · 2016",
        "city-wide · Pb · 2017",
        "city-wide · Cd · 2017",
    ]
    assert len(fig.data) == 4 * 4
    assert len(visible(fig)) == 4  # the first market
    pb17 = shown_after(fig, "city-wide · Pb · 2017")
    assert by_name(pb17, "market outcome").x[0] == 125 and by_name(pb17, "market outcome").y[0] == 30
    curve = by_name(pb17, "aggregate MAC curve")
    assert list(curve.x) == [0, 60, 60, 110, 110, 160, 160, 200, 200, 250]
    b = fig.layout.updatemenus[0].buttons[2]
    assert b.args[1]["xaxis.range"][1] == pytest.approx(2 * 125 * 1.04)


def test_supply_demand_marks_the_interval_of_prices():
    res = run(emtrade.bundled_scenario("textbook/field_field"))
    fig = pl.supply_demand(res)
    band = [t for t in fig.data if t.name.startswith("interval of clearing prices")]
    assert len(band) == 1 and band[0].name.endswith("[18, 23]")
    assert sorted(set(band[0].y)) == [18, 23]


def test_supply_demand_overlays_a_collection(small, intercept):
    fig = pl.supply_demand({"small": small, "intercept": intercept})
    # the markets of both runs; in the intercept's view only its own traces
    assert "city-wide · Pb · 1" in buttons(fig)
    names = [t.name for t in shown_after(fig, "city-wide · Pb · 1")]
    assert names == [
        "intercept: aggregate MAC curve",
        "intercept: cap: abatement required (100)",
        "intercept: clearing price (80)",
        "intercept: market outcome",
    ]


def test_flows_sankey(small):
    fig = pl.flows_sankey(small, by="sector")
    assert buttons(fig) == ["all metals: value, CNY/yr", "Lead (Pb), kg/yr"]
    value, kg = fig.data
    assert value.type == "sankey" and value.visible and not kg.visible
    assert list(value.node.label) == ["Zinc products (sells)", "Electroplating (buys)"]
    assert list(value.link.value) == [pytest.approx(800 + 1050)]
    assert list(kg.link.value) == [pytest.approx(40 + 35)]
    z = pl.flows_sankey(small, by="zone")
    labels = list(z.data[1].node.label)
    assert labels == [
        "Zhubugang industrial zone (sells)",
        "Yisuhe industrial zone (sells)",
        "Yisuhe industrial zone (buys)",
    ]
    assert list(z.data[1].link.value) == pytest.approx([20 + 10, 20 + 25])


def test_flows_sankey_side_by_side_for_a_collection(small, intercept):
    fig = pl.flows_sankey({"small": small, "intercept": intercept})
    first = visible(fig)
    assert [t.name for t in first] == ["small: all metals: value, CNY/yr", "intercept: all metals: value, CNY/yr"]
    assert first[0].domain.x[1] <= first[1].domain.x[0]
    assert list(first[1].link.value) == [pytest.approx(30 * 80)]


def test_sector_emissions_against_caps(small):
    fig = pl.sector_emissions(small)
    assert buttons(fig) == ["Lead (Pb)", "Cadmium (Cd)"]
    pb = visible(fig)
    assert [t.name for t in pb] == [
        "discharge with trading",
        "abatement",
        "permits allocated",
        "discharge under command-and-control",
        "sector cap",
    ]
    x = by_name(pb, "discharge with trading").x
    assert [list(level) for level in x] == [
        ["Zinc products", "Zinc products", "Electroplating", "Electroplating"],
        ["2016", "2017", "2016", "2017"],
    ]
    assert list(by_name(pb, "discharge with trading").y) == [50, 40, 100, 85]
    assert list(by_name(pb, "abatement").y) == [100, 110, 0, 15]
    assert list(by_name(pb, "permits allocated").y) == [90, 75, 60, 50]
    cap = list(by_name(pb, "sector cap").y)
    assert cap[:2] == [100, 100] and np.isnan(cap[2:]).all()  # only zinc has a sector cap
    assert fig.layout.barmode == "stack"


def test_enterprise_costs_scatter(small):
    fig = pl.enterprise_costs(small)
    assert fig.layout.xaxis.title.text == "cost under command-and-control, CNY/yr"
    assert fig.layout.yaxis.title.text == "cost with trading (abatement + permits), CNY/yr"
    zinc = by_name(fig.data, "Zinc products")
    assert list(zinc.customdata[:, 0]) == ["A", "C"]
    assert list(zinc.x) == pytest.approx([800 + 900, 400 + 500])
    assert list(zinc.y) == pytest.approx([600 + 700, 400 + 250])
    diag = by_name(fig.data, "same cost (above: pays more, below: gains)")
    assert list(diag.x) == list(diag.y)


def test_enterprise_costs_panels_per_scenario(small, intercept):
    fig = pl.enterprise_costs({"small": small, "intercept": intercept})
    assert [a.text for a in fig.layout.annotations] == ["small", "intercept"]
    assert {t.xaxis for t in fig.data} == {"x", "x2"}


def test_costs_by_group(small):
    fig = pl.costs_by_group(small, by="sector")
    assert [t.name for t in fig.data] == [
        "abatement cost (command-and-control)",
        "abatement cost",
        "permit payments (negative: sales)",
    ]
    cac, abate, permits = fig.data
    assert list(cac.x[0]) == ["Zinc products", "Electroplating"]
    assert list(cac.y) == pytest.approx([1200 + 1400, 1200 + 1500])
    assert list(abate.y) == pytest.approx([1800 + 2000, 0 + 450])
    assert list(permits.y) == pytest.approx([-800 - 1050, 800 + 1050])
    assert fig.layout.barmode == "relative"


def test_prices_over_periods(small, intercept):
    fig = pl.prices_chart(small)
    assert fig.layout.xaxis.title.text == "period" and fig.layout.yaxis.title.text == "permit price, CNY/kg"
    pb = by_name(fig.data, "city-wide · Pb")
    assert list(pb.x) == ["2016", "2017"] and list(pb.y) == [20, 30]
    one = pl.prices_chart(run(emtrade.bundled_scenario("textbook/field_field")))
    (bar,) = one.data
    assert bar.type == "bar" and list(bar.x) == [20.5]
    assert list(bar.error_x.array) == [2.5] and list(bar.error_x.arrayminus) == [2.5]  # the interval [18, 23]


def test_prices_show_the_bank_on_a_second_axis(small):
    res = copy(small)
    res.bank = pd.DataFrame(
        {"market": ["all"] * 2, "pollutant": ["Pb"] * 2, "period": ["2016", "2017"], "banked": [10.0, 0.0]}
    )
    fig = pl.prices_chart(res)
    bank = by_name(fig.data, "city-wide · Pb: permits banked")
    assert list(bank.y) == [10, 0] and bank.yaxis == "y2"
    assert fig.layout.yaxis2.title.text == "bank, kg"


def receptor_run(small):
    res = copy(small)
    res.receptors = pd.DataFrame(
        {
            "receptor": ["S1", "S2", "S1"],
            "pollutant": ["Cd", "Cd", "Pb"],
            "period": ["2016"] * 3,
            "load": [0.004, 0.006, 0.03],
            "limit": [0.005, 0.005, 0.05],
            "shadow_price": [0.0, 3.0, 0.0],
            "name": ["Xiang River, Zhubugang", "Xiang River, Yisuhe", "Xiang River, Zhubugang"],
        }
    )
    return res


def test_receptors_as_shares_of_their_limits(small):
    assert pl.is_empty(pl.receptors_chart(small))
    fig = pl.receptors_chart(receptor_run(small))
    assert fig.layout.title.text == "Receptors: load against the limit"
    assert buttons(fig) == ["Lead (Pb)", "Cadmium (Cd)"]  # the scenario's order of metals
    assert fig.layout.yaxis.title.text == "load as a share of the limit, %"
    cd = shown_after(fig, "Cadmium (Cd)")
    assert [t.name for t in cd] == ["load as a share of the limit, %", "limit of the receptor (100 %)"]
    bars = cd[0]
    assert list(bars.x) == ["S1", "S2"] and list(bars.customdata) == ["Xiang River, Zhubugang", "Xiang River, Yisuhe"]
    assert list(bars.y) == pytest.approx([80, 120])
    assert list(bars.marker.color) == ["#4e79a7", "#d62728"]  # the second exceeds its limit
    assert list(cd[1].y) == [100, 100]


def test_river_sections_against_gb3838():
    fig = pl.receptors_chart(run(RIVER))
    assert fig.layout.title.text == "River sections: concentration against the GB 3838 class limits"
    assert fig.layout.yaxis.title.text == "concentration, mg/L"
    cd = shown_after(fig, "Cadmium (Cd)")
    assert [t.name for t in cd] == ["2016", "2017", "limit of the section's class", "GB 3838 class II–IV (0.005 mg/L)"]
    for bars in cd[:2]:  # one bar per period and section
        assert list(bars.x) == ["马家河", "湘潭"]
        assert list(bars.y) == pytest.approx([0, 0.005])  # zhubugang's Cd reaches only xiangtan
    assert list(cd[2].y) == [0.005] * 2
    pb = shown_after(fig, "Lead (Pb)")
    assert [t.name for t in pb][3:] == ["GB 3838 class II (0.01 mg/L)", "GB 3838 class III–IV (0.05 mg/L)"]


def test_zone_map(small):
    fig = pl.zone_map(small)
    assert buttons(fig) == ["all metals, PE/yr", "Lead (Pb), kg/yr", "Cadmium (Cd), kg/yr"]
    flows, zones = visible(fig)
    assert zones.name == "zone (size: discharge, PE/yr)"
    assert list(zones.text) == ["Zhubugang industrial zone", "Yisuhe industrial zone"]
    assert (list(zones.x), list(zones.y)) == ([0.2, 0.5], [0.6, -0.5])
    # net purchases over both periods in PE: A sold 20 + 10 kg of Pb (40 PE/kg)
    assert list(zones.marker.color) == pytest.approx([-(20 + 10) * 40, (20 + 10) * 40])
    assert (flows.x[0], flows.x[-1]) == (0.2, 0.5)  # zhubugang → yisuhe
    assert "400" in flows.hovertemplate or "700" in flows.hovertemplate
    assert fig.layout.xaxis.title.text == "west → east (schematic, no unit)"


def test_zone_map_needs_zones(intercept):
    fig = pl.zone_map(intercept)
    assert pl.is_empty(fig) and fig.layout.meta["note"] == "No data for this chart."


def test_technology_chart(small):
    fig = pl.technology_chart(small)
    assert buttons(fig) == ["Lead (Pb)", "Cadmium (Cd)"]
    pb = visible(fig)
    assert [t.name for t in pb] == ["Zinc products", "Electroplating"]
    assert list(pb[0].y) == ["MAC curve (steps)"] and list(pb[0].x) == [100 + 110]
    assert list(pb[1].x) == [15]


def test_chinese_labels(small):
    fig = pl.sector_emissions(small, lang="zh")
    assert fig.layout.title.text == "各行业排放与削减对照行业总量"
    assert list(visible(fig)[0].x[0])[:1] == ["锌制品"]
    assert buttons(fig)[0] == "铅 (Pb)"
    z = pl.zone_map(small, lang="zh")
    assert list(visible(z)[1].text) == ["竹埠港工业区", "易俗河工业区"]
    with pytest.raises(ValueError, match="lang"):
        pl.supply_demand(small, lang="fr")


def test_every_figure_has_title_axis_titles_and_legend(small):
    for key, fig in pl.figures(receptor_run(small)).items():
        assert fig.layout.title.text, key
        assert fig.layout.showlegend is True, key
        if key.startswith("flows"):
            continue  # a Sankey has no axes: its node labels name the groups and the note gives the unit
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text, key
        units = ("kg/yr", "CNY", "mg/L", "PE/yr", "%", "schematic")
        axes = f"{fig.layout.xaxis.title.text} {fig.layout.yaxis.title.text}"
        assert any(u in axes for u in units), (key, axes)


def test_save_figure_html_and_the_message_without_kaleido(small, tmp_path, monkeypatch):
    fig = pl.prices_chart(small)
    html = pl.save_figure(fig, tmp_path / "prices.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and "Plotly.newPlot" in html
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if kaleido were not installed
    with pytest.raises(pl.StaticExportUnavailable, match="needs kaleido"):
        pl.save_figure(fig, tmp_path / "prices.png")
    assert not (tmp_path / "prices.png").exists()
    with pytest.raises(ValueError, match="unknown figure format"):
        pl.save_figure(fig, tmp_path / "prices.bmp")


def test_save_figure_png_with_kaleido(small, tmp_path, monkeypatch):
    """Static export for real where kaleido is installed (it drives the same Chromium as the page tests)."""
    pytest.importorskip("kaleido")
    monkeypatch.setenv("BROWSER_PATH", str(ensure_chromium()))
    path = pl.save_figure(pl.prices_chart(small), tmp_path / "prices.png", width=800, height=500)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_and_validate_do_not_import_plotly():
    code = (
        "import sys\n"
        "from emtrade.cli import main\n"
        "for args in (['--help'], ['validate', sys.argv[1]]):\n"
        "    try:\n"
        "        main(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "import emtrade.statistics, emtrade.plots, emtrade.report, emtrade.comparison\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', 'kaleido'))\n"
        "print('PLOTLY:', bad)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(SCENARIOS / "textbook" / "intercept.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PLOTLY: []" in proc.stdout


def test_flows_through_the_bank_and_from_the_government():
    bank = pl.flows_sankey(run(emtrade.bundled_scenario("textbook/rubin_banking")), by="enterprise")
    assert list(bank.data[0].node.label) == [
        "A (sells)",
        "B (sells)",
        "Bank (saved permits)",
        "Bank (saved permits)",
        "A (buys)",
        "B (buys)",
    ]
    assert sum(bank.data[0].link.value) == pytest.approx(2 * 15 * 50 + 2 * 15 * 55)
    ceiling = pl.flows_sankey(run(emtrade.bundled_scenario("textbook/price_ceiling")))
    assert list(ceiling.data[0].node.label) == ["Government (sales)", "Zinc products (buys)"]
    assert list(ceiling.data[0].link.value) == [pytest.approx(500)]
