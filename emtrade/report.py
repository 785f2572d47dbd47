"""HTML pages: the report of one run (``report.html``) and the comparison of several (``compare.html``).

Each page is one self-contained file: plotly.js is embedded once in the page (no CDN, no request
leaves the machine), every chart is a plotly figure of :mod:`emtrade.plots`, and the tables are
plain HTML with a few lines of inline JavaScript to sort them. Pages are deterministic: the same
results give the same bytes (no timestamps, fixed element ids).

Page layout: the headline numbers first (they fit on the first screen), then notes, the charts in
the order of :data:`emtrade.plots.CHARTS` with a caption each (a chart without data in this run is
replaced by a one-line note), then the tables (prices, caps, revenue, enterprises).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emtrade import statistics as st
from emtrade.plots import LANGS, Labels, text
from emtrade.registry import SECTORS

REPORT_FILE = "report.html"
SUPPLY_FILE = "supply.csv"
LABELS_FILE = "labels.json"

PAGE_TEXT = {
    "en": {
        "report": "Permit-market report",
        "comparison": "Scenario comparison",
        "status": "status",
        "solve_path": "solved by",
        "periods": "periods",
        "allocation": "allocation",
        "scope": "trading scope",
        "total_cost": "Abatement cost with trading",
        "cac_total_cost": "Cost under command-and-control",
        "savings": "Savings from trading",
        "permits_traded": "Permits traded",
        "trade_value": "Value of permits traded",
        "emissions_pe": "Discharge after abatement",
        "reduction_share": "Cut from baseline",
        "government_revenue": "Government revenue",
        "enterprises": "Enterprises",
        "firms_worse_off": "Enterprises paying more with trading",
        "markets": "Markets",
        "binding_caps": "Binding caps",
        "baseline_pe": "Baseline discharge",
        "savings_share": "Savings share",
        "of_cac": "of the command-and-control cost",
        "pe_note": "pollution equivalents: kg × PE weight (Environmental Protection Tax Law, Annex 2)",
        "notes": "Notes",
        "warnings": "Warnings",
        "charts": "Charts",
        "tables": "Tables",
        "prices_table": "Permit prices",
        "caps_table": "Caps",
        "revenue_table": "Government revenue",
        "enterprise_table": "Enterprises",
        "enterprise_hint": "Grouped by sector; click a column heading to sort within the sectors. Costs in CNY/yr, "
        "summed over periods.",
        "market": "market",
        "metal": "metal",
        "period": "period",
        "price": "price, CNY/kg",
        "interval": "interval, CNY/kg",
        "permits": "permits, kg/yr",
        "emissions": "discharge, kg/yr",
        "traded": "traded, kg/yr",
        "banked": "banked, kg",
        "cap": "cap",
        "scope_col": "scope",
        "total": "cap, kg/yr",
        "utilisation": "used",
        "shadow_price": "shadow price, CNY/kg",
        "binding": "binding",
        "yes": "yes",
        "no": "no",
        "source": "source",
        "amount": "amount, CNY/yr",
        "enterprise": "enterprise",
        "name": "name",
        "sector": "sector",
        "zone": "zone",
        "cac_cost": "cost without trading",
        "net_cost": "cost with trading",
        "savings_col": "savings",
        "abatement_cost": "abatement cost",
        "permit_cost": "permit payments",
        "net_purchase_pe": "net purchases, PE/yr",
        "not_in_run": "Not in this run",
        "headline_diff": "Headline numbers",
        "prices_diff": "Permit prices, CNY/kg",
        "difference": "difference from {first}",
        "metric": "",
        "footer": "Made by emtrade {version}. Units: discharges kg/yr, money CNY/yr, prices CNY/kg. "
        "The enterprises of the bundled scenarios are synthetic.",
        "city": "all",
        "nav": "Contents",
        "na": "n/a",
    },
    "zh": {
        "report": "排污权交易市场报告",
        "comparison": "情景比较",
        "status": "求解状态",
        "solve_path": "求解方法",
        "periods": "时期",
        "allocation": "初始分配",
        "scope": "交易范围",
        "total_cost": "交易下削减成本",
        "cac_total_cost": "命令控制下成本",
        "savings": "交易节约的成本",
        "permits_traded": "排污权交易量",
        "trade_value": "排污权交易额",
        "emissions_pe": "削减后排放量",
        "reduction_share": "较基准削减",
        "government_revenue": "政府收入",
        "enterprises": "企业数",
        "firms_worse_off": "交易下多付成本的企业",
        "markets": "市场数",
        "binding_caps": "紧约束的总量",
        "baseline_pe": "基准排放量",
        "savings_share": "节约比例",
        "of_cac": "占命令控制成本",
        "pe_note": "污染当量：千克 × 污染当量系数（《环境保护税法》附表二）",
        "notes": "说明",
        "warnings": "警告",
        "charts": "图表",
        "tables": "表格",
        "prices_table": "排污权价格",
        "caps_table": "总量控制",
        "revenue_table": "政府收入",
        "enterprise_table": "企业",
        "enterprise_hint": "按行业分组；点击列标题可在行业内排序。成本单位为元/年，各时期合计。",
        "market": "市场",
        "metal": "重金属",
        "period": "时期",
        "price": "价格，元/千克",
        "interval": "区间，元/千克",
        "permits": "排污权，千克/年",
        "emissions": "排放量，千克/年",
        "traded": "交易量，千克/年",
        "banked": "储存，千克",
        "cap": "总量",
        "scope_col": "范围",
        "total": "总量，千克/年",
        "utilisation": "使用率",
        "shadow_price": "影子价格，元/千克",
        "binding": "紧约束",
        "yes": "是",
        "no": "否",
        "source": "来源",
        "amount": "金额，元/年",
        "enterprise": "企业编号",
        "name": "名称",
        "sector": "行业",
        "zone": "区域",
        "cac_cost": "无交易成本",
        "net_cost": "交易下成本",
        "savings_col": "节约",
        "abatement_cost": "削减成本",
        "permit_cost": "排污权支出",
        "net_purchase_pe": "净购买量，污染当量/年",
        "not_in_run": "本次运行无此项",
        "headline_diff": "主要指标",
        "prices_diff": "排污权价格，元/千克",
        "difference": "与 {first} 之差",
        "metric": "",
        "footer": "由 emtrade {version} 生成。单位：排放量千克/年，金额元/年，价格元/千克。内置情景中的企业均为虚构。",
        "city": "全市",
        "nav": "目录",
        "na": "无",
    },
}

UNIT_TEXT = {
    "en": {"CNY/yr": "CNY/yr", "kg/yr": "kg/yr", "PE/yr": "PE/yr", "%": "%", "": ""},
    "zh": {"CNY/yr": "元/年", "kg/yr": "千克/年", "PE/yr": "污染当量/年", "%": "%", "": ""},
}

#: captions under the charts: how to read each
CAPTIONS = {
    "en": {
        "supply_demand": "The curve is the cheapest abatement on offer at each marginal cost (the market's "
        "supply); the dashed line is the abatement the cap demands; they meet at the clearing price. Pick a market "
        "in the menu.",
        "costs_by_sector": "Grey: what each sector would spend if every enterprise met its own allocation. Coloured: "
        "what it spends with trading (abatement plus permits bought, less permits sold).",
        "enterprise_costs": "Each dot is an enterprise. Below the diagonal it gains from trading; above, it pays more.",
        "sector_emissions": "Discharge and abatement of each sector against its cap (red bar) and its free permits "
        "(diamond). Pick a metal in the menu.",
        "technologies": "Which abatement options carry the cut, by sector. Pick a metal in the menu.",
        "flows_by_sector": "Who sells permits to whom, by sector. Link widths in CNY/yr (all metals) or kg/yr (one "
        "metal); pick in the menu.",
        "flows_by_zone": "The same flows by zone.",
        "costs_by_zone": "Costs by zone, without and with trading.",
        "prices": "The clearing price of each market; whiskers show the interval of prices that clear it.",
        "receptors": "Concentration at each river section against its limit and the GB 3838 class limits.",
        "zones": "Schematic map: circle size is discharge, colour is net permit purchases (red buys, blue sells).",
    },
    "zh": {
        "supply_demand": "曲线为各边际成本下可提供的最低成本削减量（市场供给）；"
        "虚线为总量要求的削减量；两者相交处即出清价格。可在菜单中选择市场。",
        "costs_by_sector": "灰色：各企业各自完成分配指标时行业的成本；"
        "彩色：交易下的成本（削减成本加购买排污权，减去出售收入）。",
        "enterprise_costs": "每个点是一家企业：对角线下方因交易受益，上方多付。",
        "sector_emissions": "各行业排放与削减，对照行业总量（红线）和免费分配（菱形）。可在菜单中选择重金属。",
        "technologies": "各削减技术的贡献，按行业。可在菜单中选择重金属。",
        "flows_by_sector": "按行业的排污权流向。宽度为交易额（全部重金属）或交易量（单一重金属），可在菜单中选择。",
        "flows_by_zone": "按区域的排污权流向。",
        "costs_by_zone": "各区域有无交易的成本。",
        "prices": "各市场的出清价格；误差线为可出清的价格区间。",
        "receptors": "各河流断面的浓度，对照断面限值与GB 3838水质类别限值。",
        "zones": "示意图：圆圈大小为排放量，颜色为净购买量（红色买入，蓝色卖出）。",
    },
}

#: what a chart without data says, by chart key
MISSING = {
    "en": {
        "supply_demand": "no market in this run (no allocating cap), or no abatement options to draw the curve from",
        "receptors": "no river sections (receptors) in this scenario",
        "zones": "the enterprises have no zones",
        "flows_by_sector": "no permits change hands",
        "flows_by_zone": "no permits change hands",
        "prices": "no market in this run",
        "technologies": "nothing is abated",
    },
    "zh": {
        "supply_demand": "本次运行没有市场（无分配总量），或没有可绘制曲线的削减措施",
        "receptors": "本情景未设河流断面（受体）",
        "zones": "企业未标注区域",
        "flows_by_sector": "没有排污权交易",
        "flows_by_zone": "没有排污权交易",
        "prices": "本次运行没有市场",
        "technologies": "没有削减",
    },
}

CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --accent: #1f77b4; --good: #2b7a3d; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
       -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: var(--ink); background: #f6f7f9; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 12px 24px 8px; }
header h1 { font-size: 20px; margin: 0 0 2px; }
header .meta { color: var(--muted); font-size: 13px; }
main { max-width: 1320px; margin: 0 auto; padding: 12px 24px 40px; }
#headline { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px;
            margin: 4px 0 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card .label { font-size: 12.5px; color: var(--muted); }
.card .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
.card .unit { font-size: 13px; font-weight: 400; color: var(--muted); margin-left: 4px; display: inline-block; }
.card .sub { font-size: 12px; color: var(--muted); }
.card.key .value { color: var(--good); }
.notes { background: #fffbe6; border: 1px solid #f0e2a0; border-radius: 6px; padding: 8px 14px; font-size: 13px; }
.notes ul { margin: 4px 0; padding-left: 18px; }
nav { font-size: 13px; margin: 8px 0 4px; color: var(--muted); }
nav a { color: var(--accent); margin-right: 12px; text-decoration: none; }
section.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 14px 0; padding: 8px; }
section.chart p.caption { font-size: 13px; color: var(--muted); margin: 2px 8px 6px; }
section.missing { background: #fff; border: 1px dashed var(--line); border-radius: 6px; margin: 10px 0;
                  padding: 8px 14px; font-size: 13px; color: var(--muted); }
h2 { font-size: 17px; margin: 22px 0 8px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; }
th { background: #eef1f5; position: sticky; top: 0; cursor: default; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th:after { content: " \\2195"; color: #9aa5b1; font-size: 11px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
#enterprises td:first-child { white-space: nowrap; }
td.neg { color: var(--bad); }
tr.group td { background: #f3f5f8; font-weight: 600; }
.tablewrap { max-height: 640px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
footer { color: var(--muted); font-size: 12px; margin-top: 30px; }
"""

SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.dataset.order !== "asc";
      table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = asc ? "asc" : "desc";
      table.querySelectorAll("tbody").forEach(function (body) {
        var rows = Array.prototype.slice.call(body.querySelectorAll("tr:not(.group)"));
        rows.sort(function (a, b) {
          var x = a.children[col].dataset.v, y = b.children[col].dataset.v;
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
});
"""


def ptext(lang: str, key: str, **kw: Any) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
    s = PAGE_TEXT[lang][key]
    return s.format(**kw) if kw else s


VALUE_ZH = {
    "optimal": "最优",
    "time_limit": "达到时间限制",
    "grandfathering": "按历史排放（祖父法）",
    "equal_reduction": "等比例削减",
    "benchmark": "基准法",
    "auction": "拍卖",
    "given": "指定分配",
    "all": "全市统一市场",
    "sector": "分行业市场",
    "zone": "分区域市场",
    "none": "不交易（命令控制）",
}


def value_text(lang: str, value: Any) -> str:
    """A setting's value (status, allocation method, trading scope) in ``lang``."""
    return VALUE_ZH.get(str(value), str(value)) if lang == "zh" else str(value)


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt_number(v: Any, digits: int = 0) -> str:
    """Thousands separators; small numbers keep significant digits; n/a for None and NaN."""
    if v is None:
        return "n/a"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    if x == 0:
        return "0"
    if abs(x) >= 1000 or (digits == 0 and abs(x) >= 10):
        return f"{x:,.{digits}f}"
    return f"{x:,.4g}"


def _version() -> str:
    try:
        return metadata.version("emtrade")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def plotly_js() -> str:
    """plotly.js, minified, from the installed plotly package (embedded in every page: no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def figure_div(fig, div_id: str) -> str:
    """A figure as a ``<div>`` with its script, relying on plotly.js already in the page."""
    import plotly.io as pio

    config = {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {"format": "png", "filename": div_id, "scale": 2},
    }
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=config)


def page(title: str, body: str, lang: str) -> str:
    """A whole HTML page with plotly.js and the sort script inline."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f'<script type="text/javascript">{plotly_js()}</script>\n'
        f"</head>\n<body>\n{body}\n<script>{SORT_JS}</script>\n</body>\n</html>\n"
    )


# -- pieces ---------------------------------------------------------------------------------------------------
def _card(label: str, value: str, unit_: str = "", sub: str = "", key: bool = False) -> str:
    u = f'<span class="unit">{esc(unit_)}</span>' if unit_ else ""
    s = f'<div class="sub">{esc(sub)}</div>' if sub else ""
    cls = "card key" if key else "card"
    return f'<div class="{cls}"><div class="label">{esc(label)}</div><div class="value">{esc(value)}{u}</div>{s}</div>'


def total_units(lang: str, periods: list[str]) -> dict[str, str]:
    """Unit labels of the headline numbers: per year for one period, totals over several."""
    u = dict(UNIT_TEXT[lang])
    if len(periods) > 1:  # totals over the periods: not per year
        span = f"{periods[0]}–{periods[-1]}"
        u.update(
            {"CNY/yr": f"元（{span}合计）", "kg/yr": f"千克（{span}合计）", "PE/yr": f"当量（{span}合计）"}
            if lang == "zh"
            else {"CNY/yr": f"CNY, {span} total", "kg/yr": f"kg, {span} total", "PE/yr": f"PE, {span} total"}
        )
    return u


def headline_cards(res, lang: str) -> str:
    """The headline numbers of one run as cards."""
    h = st.headline(res).set_index("metric")
    v = h.value
    u = total_units(lang, st.periods_of(res))
    share = v.savings_share
    cards = [
        _card(
            ptext(lang, "savings"),
            fmt_number(v.savings),
            u["CNY/yr"],
            f"{share:.1f}% {ptext(lang, 'of_cac')}" if math.isfinite(share) else "",
            key=True,
        ),
        _card(ptext(lang, "total_cost"), fmt_number(v.total_cost), u["CNY/yr"]),
        _card(ptext(lang, "cac_total_cost"), fmt_number(v.cac_total_cost), u["CNY/yr"]),
        _card(
            ptext(lang, "permits_traded"),
            fmt_number(v.permits_traded, 1),
            u["kg/yr"],
            f"{ptext(lang, 'trade_value')}: {fmt_number(v.trade_value)} {u['CNY/yr']}",
        ),
        _card(
            ptext(lang, "reduction_share"),
            f"{v.reduction_share:.1f}" if math.isfinite(v.reduction_share) else "n/a",
            "%",
            f"{ptext(lang, 'emissions_pe')}: {fmt_number(v.emissions_pe)} {u['PE/yr']}",
        ),
        _card(
            ptext(lang, "markets"),
            fmt_number(v.markets),
            "",
            f"{ptext(lang, 'binding_caps')}: {fmt_number(v.binding_caps)}",
        ),
        _card(
            ptext(lang, "enterprises"),
            fmt_number(v.enterprises),
            "",
            f"{ptext(lang, 'firms_worse_off')}: {fmt_number(v.firms_worse_off)}",
        ),
    ]
    if v.government_revenue:
        cards.append(_card(ptext(lang, "government_revenue"), fmt_number(v.government_revenue), u["CNY/yr"]))
    return f'<div id="headline">{"".join(cards)}</div>'


def notes_block(res, lang: str) -> str:
    s = res.summary
    items = [(ptext(lang, "warnings"), s.get("warnings") or []), (ptext(lang, "notes"), s.get("notes") or [])]
    parts = []
    for title, lines in items:
        if lines:
            lis = "".join(f"<li>{esc(x)}</li>" for x in lines)
            parts.append(f"<b>{esc(title)}</b><ul>{lis}</ul>")
    return f'<div class="notes">{"".join(parts)}</div>' if parts else ""


def _table(headers: list[tuple[str, bool]], rows: list[list[tuple[str, Any, bool]]], cls: str = "") -> str:
    """headers: (label, numeric); rows: cells (shown text, sort value, numeric)."""
    th = "".join(f'<th class="{"num" if num else ""}">{esc(h)}</th>' for h, num in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if num else ""}{" neg" if num and _neg(v) else ""}" data-v="{esc(v)}">{esc(t)}</td>'
            for t, v, num in r
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="tablewrap"><table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _neg(v: Any) -> bool:
    try:
        return float(v) < 0
    except (TypeError, ValueError):
        return False


def prices_table(res, lang: str) -> str:
    lab = Labels(res, lang)
    p = st.prices(res)
    if p.empty:
        return ""
    rows = []
    banked = p.banked.notna().any()
    for r in p.itertuples(index=False):
        interval = "" if math.isclose(r.price_low, r.price_high, rel_tol=1e-9, abs_tol=1e-9) else (
            f"[{fmt_number(r.price_low, 2)}, {fmt_number(r.price_high, 2)}]"
        )  # fmt: skip
        row = [
            (lab.market(r.market, r.pollutant).rsplit(" · ", 1)[0], r.market, False),
            (lab.metal(r.pollutant), r.pollutant, False),
            (r.period, r.period, False),
            (fmt_number(r.price, 2), r.price, True),
            (interval, r.price_low, True),
            (fmt_number(r.permits, 1), r.permits, True),
            (fmt_number(r.emissions, 1), r.emissions, True),
            (fmt_number(r.bought, 1), r.bought, True),
        ]
        if banked:
            row.append((fmt_number(r.banked, 1), r.banked, True))
        rows.append(row)
    keys = ["market", "metal", "period", "price", "interval", "permits", "emissions", "traded"]
    heads = [(ptext(lang, k), k not in ("market", "metal", "period")) for k in keys]
    if banked:
        heads.append((ptext(lang, "banked"), True))
    return _table(heads, rows, "sortable")


def caps_table(res, lang: str) -> str:
    lab = Labels(res, lang)
    c = st.caps(res)
    if c.empty:
        return ""
    rows = []
    for r in c.itertuples(index=False):
        scope = " · ".join(
            x for x in (lab.sector(r.sector) if r.sector else "", lab.zone(r.zone) if r.zone else "") if x
        ) or ptext(lang, "city")
        rows.append(
            [
                (r.cap, r.cap, False),
                (lab.metal(r.pollutant), r.pollutant, False),
                (r.period, r.period, False),
                (scope, scope, False),
                (fmt_number(r.total, 1), r.total, True),
                (fmt_number(r.emissions, 1), r.emissions, True),
                (f"{100 * r.utilisation:.0f}%" if np.isfinite(r.utilisation) else "", r.utilisation, True),
                (fmt_number(r.shadow_price, 2), r.shadow_price, True),
                (ptext(lang, "yes" if r.binding else "no"), int(bool(r.binding)), False),
            ]
        )
    keys = ["cap", "metal", "period", "scope_col", "total", "emissions", "utilisation", "shadow_price", "binding"]
    heads = [(ptext(lang, k), k in ("total", "emissions", "utilisation", "shadow_price")) for k in keys]
    return _table(heads, rows, "sortable")


def revenue_table(res, lang: str) -> str:
    r = st.revenue(res)
    if r.empty:
        return ""
    rows = [
        [(x.period, x.period, False), (x.source, x.source, False), (fmt_number(x.amount), x.amount, True)]
        for x in r.itertuples()
    ]
    heads = [(ptext(lang, "period"), False), (ptext(lang, "source"), False), (ptext(lang, "amount"), True)]
    return _table(heads, rows)


def enterprise_table(res, lang: str) -> str:
    """Every enterprise's costs with and without trading, grouped by sector, sortable within sectors."""
    lab = Labels(res, lang)
    e = st.enterprise_costs(res)
    if e.empty:
        return ""
    keys = [
        ("enterprise", False),
        ("name", False),
        ("zone", False),
        ("cac_cost", True),
        ("net_cost", True),
        ("savings_col", True),
        ("abatement_cost", True),
        ("permit_cost", True),
        ("net_purchase_pe", True),
    ]
    th = "".join(f'<th class="{"num" if num else ""}">{esc(ptext(lang, k))}</th>' for k, num in keys)
    order = {s: i for i, s in enumerate(SECTORS)}
    bodies = []
    for sector in sorted(dict.fromkeys(e.sector), key=lambda s: (order.get(s, 99), s)):
        g = e[e.sector == sector]
        total = g[["cac_cost", "net_cost", "savings"]].sum()
        head = (
            f'<tr class="group"><td colspan="3">{esc(lab.sector(sector))} ({len(g)})</td>'
            f'<td class="num">{fmt_number(total.cac_cost)}</td><td class="num">{fmt_number(total.net_cost)}</td>'
            f'<td class="num">{fmt_number(total.savings)}</td><td colspan="3"></td></tr>'
        )
        rows = []
        for r in g.itertuples(index=False):
            name = lab.enterprises.get(r.enterprise, "")
            cells = [
                (r.enterprise, r.enterprise, False),
                (name, name, False),
                (lab.zone(r.zone), r.zone, False),
                (fmt_number(r.cac_cost), r.cac_cost, True),
                (fmt_number(r.net_cost), r.net_cost, True),
                (fmt_number(r.savings), r.savings, True),
                (fmt_number(r.abatement_cost), r.abatement_cost, True),
                (fmt_number(r.permit_cost), r.permit_cost, True),
                (fmt_number(r.net_purchase_pe), r.net_purchase_pe, True),
            ]
            rows.append(
                "<tr>"
                + "".join(
                    f'<td class="{"num" if num else ""}{" neg" if num and _neg(v) else ""}" data-v="{esc(v)}">'
                    f"{esc(t)}</td>"
                    for t, v, num in cells
                )
                + "</tr>"
            )
        bodies.append(f"<tbody>{head}{''.join(rows)}</tbody>")
    return (
        f'<p class="caption">{esc(ptext(lang, "enterprise_hint"))}</p>'
        f'<div class="tablewrap"><table class="sortable" id="enterprises"><thead><tr>{th}</tr></thead>'
        f"{''.join(bodies)}</table></div>"
    )


def charts_html(res, lang: str, prefix: str = "fig") -> tuple[str, list[tuple[str, str]]]:
    """Every chart of :data:`emtrade.plots.CHARTS` as HTML sections; a missing one as a one-line note."""
    from emtrade import plots

    parts, nav = [], []
    for key, func, kw in plots.CHARTS:
        fig = func(res, lang=lang, **kw)
        title = fig.layout.title.text or key
        if plots.is_empty(fig):
            why = MISSING[lang].get(key, text(lang, "no_data"))
            parts.append(
                f'<section class="missing" id="{prefix}-{key}">{esc(title)}: {esc(ptext(lang, "not_in_run"))} '
                f"({esc(why)}).</section>"
            )
            continue
        nav.append((f"{prefix}-{key}", title))
        caption = CAPTIONS[lang].get(key, "")
        parts.append(
            f'<section class="chart" id="sec-{prefix}-{key}">{figure_div(fig, f"{prefix}-{key}")}'
            f'<p class="caption">{esc(caption)}</p></section>'
        )
    return "\n".join(parts), nav


def _nav(items: list[tuple[str, str]], lang: str) -> str:
    links = "".join(f'<a href="#sec-{esc(i)}">{esc(t)}</a>' for i, t in items)
    return f"<nav><b>{esc(ptext(lang, 'nav'))}:</b> {links}</nav>"


# -- the report of one run --------------------------------------------------------------------------------------
def report_html(res, lang: str = "en") -> str:
    """The report of one run as a self-contained HTML page (headline, notes, charts, tables)."""
    ptext(lang, "report")  # checks lang
    s = res.summary
    meta = [
        f"{ptext(lang, 'status')}: {value_text(lang, s.get('status', ''))}",
        f"{ptext(lang, 'solve_path')}: {s.get('solve_path', '')}",
        f"{ptext(lang, 'periods')}: {', '.join(map(str, s.get('periods') or st.periods_of(res)))}",
        f"{ptext(lang, 'allocation')}: {value_text(lang, s.get('allocation_method', ''))}",
        f"{ptext(lang, 'scope')}: {value_text(lang, s.get('trading_scope', ''))}",
    ]
    title = f"{ptext(lang, 'report')}: {res.name}"
    charts, nav = charts_html(res, lang)
    tables = [
        ("prices_table", prices_table(res, lang)),
        ("caps_table", caps_table(res, lang)),
        ("revenue_table", revenue_table(res, lang)),
        ("enterprise_table", enterprise_table(res, lang)),
    ]
    tables_html = "".join(f'<h2 id="{k}">{esc(ptext(lang, k))}</h2>{t}' for k, t in tables if t)
    body = (
        f'<header><h1>{esc(title)}</h1><div class="meta">{esc(" · ".join(meta))}</div></header>\n<main>\n'
        f"{headline_cards(res, lang)}\n{notes_block(res, lang)}\n{_nav(nav, lang)}\n"
        f"{charts}\n<h2>{esc(ptext(lang, 'tables'))}</h2>{tables_html}\n"
        f"<footer>{esc(ptext(lang, 'pe_note'))}. {esc(ptext(lang, 'footer', version=_version()))}</footer>\n</main>"
    )
    return page(title, body, lang)


def write_report(res, path: str | Path, lang: str = "en") -> Path:
    """Write the report of ``res`` to ``path`` (an HTML file), in ``lang`` ('en' or 'zh')."""
    path = Path(path)
    path.write_text(report_html(res, lang), encoding="utf-8")
    return path


def write_run_report(res, folder: str | Path, lang: str = "en") -> None:
    """Write ``report.html`` into a results folder, with ``supply.csv`` and ``labels.json`` where the run has them.

    Called by :meth:`emtrade.results.Results.save` inside its atomic folder, so that the report
    lands with the tables or not at all.
    """
    folder = Path(folder)
    supply = getattr(res, "supply", None)
    if isinstance(supply, pd.DataFrame):
        supply.to_csv(folder / SUPPLY_FILE, index=False, float_format="%.12g", lineterminator="\n")
    labels = getattr(res, "labels", None)
    if isinstance(labels, Mapping):
        (folder / LABELS_FILE).write_text(json.dumps(labels, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_report(res, folder / REPORT_FILE, lang=lang)


def load_extras(res, folder: str | Path):
    """Attach ``supply`` and ``labels`` saved by :func:`write_run_report` to results loaded from ``folder``."""
    folder = Path(folder)
    if (folder / SUPPLY_FILE).exists():
        seg = pd.read_csv(folder / SUPPLY_FILE, dtype={"period": str, "market": str, "pollutant": str})
        seg["forced"] = seg.forced.astype(str).str.lower().eq("true")
        res.supply = seg
    if (folder / LABELS_FILE).exists():
        res.labels = json.loads((folder / LABELS_FILE).read_text(encoding="utf-8"))
    return res


# -- the comparison page ------------------------------------------------------------------------------------------
def headline_differences(coll, lang: str = "en") -> pd.DataFrame:
    """Headline numbers of a collection: one row per metric, one column per scenario, and the
    difference of each later scenario from the first (same units as the metric)."""
    h = st.headline(coll)
    wide = h.pivot(index="metric", columns="scenario", values="value")
    names = list(dict.fromkeys(h.scenario))
    wide = wide.reindex(index=list(dict.fromkeys(h.metric)), columns=names)
    first = wide[names[0]]
    for name in names[1:]:
        delta = wide[name] - first
        # differences within the rounding of the results (12 significant digits) are none
        scale = np.maximum(np.maximum(first.abs(), wide[name].abs()), 1.0)
        wide[f"Δ {name}"] = delta.where(delta.abs() > 1e-9 * scale, 0.0)
    wide.insert(0, "unit", h.drop_duplicates("metric").set_index("metric").unit.reindex(wide.index))
    return wide


def comparison_html(coll, lang: str = "en") -> str:
    """The comparison page of a collection: headline differences, price table, the charts side by side."""
    ptext(lang, "comparison")
    names = [str(k) for k in coll]
    title = f"{ptext(lang, 'comparison')}: {' / '.join(names)}"
    diff = headline_differences(coll, lang)
    spans = {tuple(st.periods_of(run)) for run in coll.values()}
    u = total_units(lang, list(next(iter(spans)))) if len(spans) == 1 else dict(UNIT_TEXT[lang])
    if len(spans) > 1 and any(len(p) > 1 for p in spans):  # runs over different periods: totals of each
        total = "合计" if lang == "zh" else "total over the run's periods"
        u.update({k: f"{v} ({total})" if lang == "en" else f"{v}（{total}）" for k, v in u.items() if "/yr" in k})
    heads = [(ptext(lang, "metric"), False), ("", False)] + [(n, True) for n in names]
    heads += [(ptext(lang, "difference", first=names[0]) + f": {n}", True) for n in names[1:]]
    rows = []
    for metric, r in diff.iterrows():
        label = ptext(lang, metric) if metric in PAGE_TEXT[lang] else metric
        digits = 1 if r.unit in ("%", "kg/yr") else 0
        cells = [(label, metric, False), (u.get(r.unit, r.unit), r.unit, False)]
        cells += [(fmt_number(r[n], digits), r[n], True) for n in names]
        cells += [(fmt_number(r[f"Δ {n}"], digits), r[f"Δ {n}"], True) for n in names[1:]]
        rows.append(cells)
    head_table = _table(heads, rows, "sortable")
    lab = Labels(coll, lang)
    p = st.prices(coll)
    price_table = ""
    if not p.empty:
        wide = p.pivot_table(index=["market", "pollutant", "period"], columns="scenario", values="price", sort=False)
        wide = wide.reindex(columns=names)
        prow = []
        for (m, q, t), r in wide.iterrows():
            cells = [(lab.market(m, q).rsplit(" · ", 1)[0], m, False), (lab.metal(q), q, False), (t, t, False)]
            cells += [(fmt_number(r[n], 2), r[n], True) for n in names]
            prow.append(cells)
        pheads = [(ptext(lang, "market"), False), (ptext(lang, "metal"), False), (ptext(lang, "period"), False)]
        price_table = _table(pheads + [(n, True) for n in names], prow, "sortable")
    charts, nav = charts_html(coll, lang, prefix="cmp")
    notes = ""
    for name, run in coll.items():
        block = notes_block(run, lang)
        if block:
            notes += f"<p><b>{esc(name)}</b></p>{block}"
    body = (
        f"<header><h1>{esc(title)}</h1></header>\n<main>\n<h2>{esc(ptext(lang, 'headline_diff'))}</h2>\n"
        f'<div id="differences">{head_table}</div>\n'
        + (f"<h2>{esc(ptext(lang, 'prices_diff'))}</h2>{price_table}\n" if price_table else "")
        + f"{notes}\n{_nav(nav, lang)}\n{charts}\n"
        f"<footer>{esc(ptext(lang, 'pe_note'))}. {esc(ptext(lang, 'footer', version=_version()))}</footer>\n</main>"
    )
    return page(title, body, lang)
