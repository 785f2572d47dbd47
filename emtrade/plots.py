"""Plots: functions that take one run or a collection of runs and return a plotly ``go.Figure``.

Each function draws a statistic of :mod:`emtrade.statistics` and nothing else; for a collection (a
mapping of scenario name to results) the same chart shows the scenarios side by side or overlaid.
Every figure has a title, axis titles with units and a legend; where a chart has one view per
market, metal or river section, a drop-down menu picks the view. Labels are English or Chinese
(``lang="en"`` or ``"zh"``), with sector and zone names from the registry (or the scenario's zones).

plotly is imported inside the functions, so that importing this module costs nothing.
:func:`save_figure` writes HTML always and PNG/SVG/PDF where kaleido and a Chromium are installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from emtrade import statistics as st
from emtrade.errors import EmtradeError
from emtrade.registry import GB3838_CLASSES, METALS, SECTORS, ZONES, metal_label, sector_label

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

LANGS = ("en", "zh")
FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", Arial, sans-serif'
SECTOR_COLORS = {
    "ferrous": "#4e79a7",
    "chemicals": "#f28e2b",
    "manganese": "#e15759",
    "zinc": "#76b7b2",
    "electroplating": "#59a14f",
}
SCENARIO_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
OTHER_COLOR = "#9c9c9c"

TEXT = {
    "en": {
        "supply_title": "Permit market: supply of abatement and the cap",
        "abatement_kg": "abatement, kg/yr",
        "abatement_unit": "abatement, {unit}",
        "mac": "marginal abatement cost, CNY/{per}",
        "mac_curve": "aggregate MAC curve",
        "required": "cap: abatement required",
        "price": "clearing price",
        "interval": "interval of clearing prices",
        "outcome": "market outcome",
        "flows_title": "Permit flows from sellers to buyers ({by})",
        "by_sector": "by sector",
        "by_zone": "by zone",
        "by_enterprise": "by enterprise",
        "all_value": "all metals: value, CNY/yr",
        "sellers": "sells",
        "buyers": "buys",
        "government": "Government (sales)",
        "bank_node": "Bank (saved permits)",
        "link_unit": "link width: {unit}",
        "sectors_title": "Discharge and abatement by sector against the sector caps",
        "kg": "kg/yr",
        "emissions": "discharge with trading",
        "abatement": "abatement",
        "cap": "sector cap",
        "allocation": "permits allocated",
        "cac_emissions": "discharge under command-and-control",
        "sector": "sector",
        "sector_axis": "discharge and abatement, kg/yr",
        "firm_title": "Cost per enterprise with and without trading",
        "cac_cost": "cost under command-and-control, CNY/yr",
        "net_cost": "cost with trading (abatement + permits), CNY/yr",
        "no_change": "same cost (above: pays more, below: gains)",
        "group_title": "Costs by {by}: command-and-control against trading",
        "cny": "CNY/yr",
        "cac": "command-and-control",
        "cac_short": "without<br>trading",
        "trade_short": "with<br>trading",
        "trading": "trading",
        "abatement_cost": "abatement cost",
        "permit_cost": "permit payments (negative: sales)",
        "penalty": "penalties",
        "fee_paid": "transaction fees",
        "allocation_fee": "allocation fees",
        "cac_abatement": "abatement cost (command-and-control)",
        "prices_title": "Permit prices by market and period",
        "price_axis": "permit price, CNY/kg",
        "price_axis_pe": "permit price, CNY/kg (CNY/PE in PE markets)",
        "period": "period",
        "market_axis": "market",
        "bank": "bank, kg",
        "banked": "permits banked",
        "receptor_title": "River sections: concentration against the GB 3838 class limits",
        "concentration": "concentration, mg/L",
        "load": "load (receptor units)",
        "receptor_limit": "limit of the receptor (100 %)",
        "class_limit": "limit of the section's class",
        "receptor_share": "load as a share of the limit, %",
        "receptor_title_load": "Receptors: load against the limit",
        "section": "river section",
        "class": "GB 3838 class {c} ({v:g} mg/L)",
        "zones_title": "Zones: discharge and net permit purchases (schematic positions)",
        "west_east": "west → east (schematic, no unit)",
        "south_north": "south → north (schematic, no unit)",
        "zone_marker": "zone (size: discharge, {unit})",
        "net_purchase": "net purchases, {unit}",
        "zone_flows": "permit flows between zones (width: value)",
        "all_pe": "all metals, PE/yr",
        "tech_title": "Abatement by technology",
        "technology": "technology",
        "city": "city-wide",
        "no_data": "No data for this chart.",
        "scenario": "scenario",
    },
    "zh": {
        "supply_title": "排污权市场：减排供给与总量控制",
        "abatement_kg": "削减量，千克/年",
        "abatement_unit": "削减量，{unit}",
        "mac": "边际削减成本，元/{per}",
        "mac_curve": "总边际削减成本曲线",
        "required": "总量要求的削减量",
        "price": "出清价格",
        "interval": "出清价格区间",
        "outcome": "市场结果",
        "flows_title": "排污权流向：卖方到买方（{by}）",
        "by_sector": "按行业",
        "by_zone": "按区域",
        "by_enterprise": "按企业",
        "all_value": "全部重金属：交易额，元/年",
        "sellers": "卖出",
        "buyers": "买入",
        "government": "政府（出让）",
        "bank_node": "储存（结转的排污权）",
        "link_unit": "流量宽度：{unit}",
        "sectors_title": "各行业排放与削减对照行业总量",
        "kg": "千克/年",
        "emissions": "交易下排放量",
        "abatement": "削减量",
        "cap": "行业总量",
        "allocation": "初始分配",
        "cac_emissions": "命令控制下排放量",
        "sector": "行业",
        "sector_axis": "排放量与削减量，千克/年",
        "firm_title": "各企业有无交易的成本对比",
        "cac_cost": "命令控制下成本，元/年",
        "net_cost": "交易下成本（削减+购买排污权），元/年",
        "no_change": "成本不变（上方多付，下方受益）",
        "group_title": "各{by}成本：命令控制与排污权交易",
        "cny": "元/年",
        "cac": "命令控制",
        "cac_short": "无交易",
        "trade_short": "交易",
        "trading": "排污权交易",
        "abatement_cost": "削减成本",
        "permit_cost": "排污权支出（负值为出售收入）",
        "penalty": "罚款",
        "fee_paid": "交易手续费",
        "allocation_fee": "有偿使用费",
        "cac_abatement": "削减成本（命令控制）",
        "prices_title": "各市场各时期排污权价格",
        "price_axis": "排污权价格，元/千克",
        "price_axis_pe": "排污权价格，元/千克（当量市场为元/当量）",
        "period": "时期",
        "market_axis": "市场",
        "bank": "储存量，千克",
        "banked": "储存的排污权",
        "receptor_title": "河流断面：浓度与GB 3838水质类别限值",
        "concentration": "浓度，毫克/升",
        "load": "负荷（受体单位）",
        "receptor_limit": "受体限值（100%）",
        "class_limit": "断面水质类别限值",
        "receptor_share": "负荷占限值的比例，%",
        "receptor_title_load": "受体：负荷与限值",
        "section": "河流断面",
        "class": "GB 3838 {c}类（{v:g} 毫克/升）",
        "zones_title": "各区域排放与净购买量（示意位置）",
        "west_east": "西 → 东（示意，无单位）",
        "south_north": "南 → 北（示意，无单位）",
        "zone_marker": "区域（大小：排放量，{unit}）",
        "net_purchase": "净购买量，{unit}",
        "zone_flows": "区域间排污权流向（宽度：交易额）",
        "all_pe": "全部重金属，污染当量/年",
        "tech_title": "各技术的削减量",
        "technology": "技术",
        "city": "全市",
        "no_data": "本图无数据。",
        "scenario": "情景",
    },
}
UNIT_ZH = {"kg/yr": "千克/年", "PE/yr": "污染当量/年", "CNY/yr": "元/年", "kg": "千克", "PE": "当量"}
GROUP_WORD = {
    "en": {"sector": "sector", "zone": "zone", "enterprise": "enterprise"},
    "zh": {"sector": "行业", "zone": "区域", "enterprise": "企业"},
}


def text(lang: str, key: str, **kw: Any) -> str:
    """A label in ``lang`` ('en' or 'zh')."""
    if lang not in LANGS:
        raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
    return TEXT[lang][key].format(**kw) if kw else TEXT[lang][key]


def unit(lang: str, u: str) -> str:
    return UNIT_ZH.get(u, u) if lang == "zh" else u


# -- labels --------------------------------------------------------------------------------------------------
class Labels:
    """Display names of sectors, zones, metals, markets and enterprises for one language."""

    def __init__(self, res, lang: str = "en"):
        self.lang = lang
        runs = list(res.values()) if st.is_collection(res) else [res]
        self.zones: dict[str, str] = {}
        self.enterprises: dict[str, str] = {}
        self.sections: dict[str, str] = {}
        for run in runs:
            zt = st.zone_table(run)
            col = "name_zh" if lang == "zh" else "name_en"
            self.zones.update(dict(zip(zt.zone, zt[col], strict=True)))
            labels = getattr(run, "labels", None) or {}
            self.enterprises.update(labels.get("enterprises", {}))
            self.sections.update(labels.get("sections", {}))

    def sector(self, s: str) -> str:
        return sector_label(s, self.lang)

    def zone(self, z: str) -> str:
        return self.zones.get(z, z)

    def group(self, by: str, g: str) -> str:
        if g == st.GOVERNMENT:
            return text(self.lang, "government")
        if g == st.BANK:
            return text(self.lang, "bank_node")
        if by == "sector":
            return self.sector(g)
        if by == "zone":
            return self.zone(g)
        return g

    def receptor(self, row: dict, full: bool = False) -> str:
        """A receptor's short label (its river section's name, or its id without the metal) or, with
        ``full``, its own name where it has one."""
        section = str(row.get("section") or "")
        name = str(row.get("name") or "")
        if full and name and name != row["receptor"]:
            return name
        if section:
            return self.sections.get(section, section)
        rid = str(row["receptor"])
        suffix = f":{row.get('pollutant', '')}"
        return rid[: -len(suffix)] if rid.endswith(suffix) and len(rid) > len(suffix) else rid

    def metal(self, p: str) -> str:
        if p == "PE":
            return "污染当量" if self.lang == "zh" else "pollution equivalents"
        name = metal_label(p, self.lang)
        return p if name == p else f"{name} ({p})"

    def market(self, market: str, pollutant: str, period: str | None = None) -> str:
        if market == "all":
            where = text(self.lang, "city")
        elif market in SECTORS:
            where = self.sector(market)
        elif market in self.zones:
            where = self.zone(market)
        else:
            where = market
        out = f"{where} · {pollutant}"
        return f"{out} · {period}" if period is not None else out


# -- helpers -------------------------------------------------------------------------------------------------
def _runs(res) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in res.items()] if st.is_collection(res) else [("", res)]


def _go():
    import plotly.graph_objects as go

    return go


def _style(fig: go.Figure, title: str, xtitle: str | None, ytitle: str | None, height: int = 480) -> go.Figure:
    """The common look: title at the left, white template, CJK-capable fonts, axis titles, legend."""
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        template="plotly_white",
        font={"family": FONT, "size": 13},
        height=height,
        showlegend=True,
        legend={"orientation": "v"},
        margin={"t": 90, "l": 70, "r": 30, "b": 60},
        hoverlabel={"namelength": -1},
    )
    if xtitle is not None:
        fig.update_xaxes(title_text=xtitle)
    if ytitle is not None:
        fig.update_yaxes(title_text=ytitle)
    return fig


def _figure(title: str, xtitle: str | None, ytitle: str | None, height: int = 480) -> go.Figure:
    return _style(_go().Figure(), title, xtitle, ytitle, height)


def empty_figure(title: str, note: str, lang: str = "en") -> go.Figure:
    """A figure with no traces and a note saying why (the report shows the note instead)."""
    fig = _figure(title, None, None, height=200)
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(meta={"empty": True, "note": note})
    return fig


def is_empty(fig: go.Figure) -> bool:
    """True for a figure drawn without data (see :func:`empty_figure`)."""
    meta = fig.layout.meta
    return len(fig.data) == 0 or (isinstance(meta, dict) and bool(meta.get("empty")))


def add_selector(
    fig: go.Figure,
    groups: Sequence[tuple[str, Sequence[int]]],
    always: Sequence[int] = (),
    layouts: Sequence[dict] | None = None,
) -> None:
    """Show one group of traces at a time, chosen in a drop-down menu (the first group at start).

    ``layouts`` gives, per group, layout changes that come with it (axis ranges, for example).
    """
    n = len(fig.data)
    if layouts and layouts[0]:
        fig.update_layout(_nested(layouts[0]))
    if len(groups) <= 1:
        return
    buttons = []
    for k, (label, idx) in enumerate(groups):
        vis = [False] * n
        for i in (*idx, *always):
            vis[i] = True
        args: list[dict] = [{"visible": vis}]
        if layouts:
            args.append(layouts[k])
        buttons.append({"label": label, "method": "update", "args": args})
    first = buttons[0]["args"][0]["visible"]
    for i, trace in enumerate(fig.data):
        trace.visible = first[i]
    fig.update_layout(
        updatemenus=[
            {
                "buttons": buttons,
                "direction": "down",
                "showactive": True,
                "x": 1.0,
                "xanchor": "right",
                "y": 1.01,
                "yanchor": "bottom",
                "bgcolor": "#ffffff",
            }
        ]
    )


def _net_pairs(flows: pd.Series) -> dict[tuple[str, str], float]:
    """Flows between pairs (source, target) → net flows, one direction per pair, largest first."""
    net: dict[tuple[str, str], float] = {}
    for (a, b), v in flows.items():
        if (b, a) in net:
            net[(b, a)] -= float(v)
        else:
            net[(a, b)] = net.get((a, b), 0.0) + float(v)
    out = {(a, b) if v >= 0 else (b, a): abs(v) for (a, b), v in net.items()}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _nested(dotted: dict) -> dict:
    """{"xaxis.range": r} → {"xaxis": {"range": r}} (plotly.js takes the first, plotly.py the second)."""
    out: dict = {}
    for key, value in dotted.items():
        node = out
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _scenario_color(k: int) -> str:
    return SCENARIO_COLORS[k % len(SCENARIO_COLORS)]


def _period_order(res) -> list[str]:
    out: list[str] = []
    for _, run in _runs(res):
        out += [p for p in st.periods_of(run) if p not in out]
    return out


def _metal_order(res, values: pd.Series) -> list[str]:
    """The metals among ``values`` in the order of the scenarios' pollutants (then as they come)."""
    order: list[str] = []
    for _, run in _runs(res):
        order += [p for p in run.summary.get("pollutants") or [] if p not in order]
    present = list(dict.fromkeys(values))
    return [p for p in order if p in present] + [p for p in present if p not in order]


def _wrap(label: str, width: int = 16) -> str:
    """A long category label broken into lines (at spaces) of about ``width`` characters."""
    words, lines = str(label).split(" "), [""]
    for w in words:
        if lines[-1] and len(lines[-1]) + 1 + len(w) > width:
            lines.append(w)
        else:
            lines[-1] = f"{lines[-1]} {w}".strip()
    return "<br>".join(lines)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}"


class _Traces:
    """Traces collected and added to a figure at once (much faster than one by one for hundreds)."""

    def __init__(self, fig: go.Figure):
        self.fig, self.traces, self.rows, self.cols = fig, [], [], []

    def add(self, into: list[int], trace, row: int | None = None, col: int | None = None) -> None:
        """Queue ``trace``; append its future index in the figure to ``into``."""
        into.append(len(self.fig.data) + len(self.traces))
        self.traces.append(trace)
        self.rows.append(row)
        self.cols.append(col)

    def flush(self) -> None:
        if not self.traces:
            return
        if any(r is not None for r in self.rows):
            self.fig.add_traces(self.traces, rows=self.rows, cols=self.cols)
        else:
            self.fig.add_traces(self.traces)
        self.traces, self.rows, self.cols = [], [], []


# -- 1. supply and demand ------------------------------------------------------------------------------------
def supply_demand(res, lang: str = "en") -> go.Figure:
    """Each market's aggregate marginal-abatement-cost curve, with the cap and the clearing price.

    x: abatement (kg/yr, PE/yr in a PE market); y: marginal cost (CNY/kg). The curve is the
    supply of abatement (:func:`emtrade.statistics.supply_curve`); the vertical line is the
    abatement the cap demands (baseline − permits); the horizontal line the clearing price (and
    its interval where steps leave it open); the marker the market's outcome. One view per market
    (drop-down); a collection overlays its scenarios in each view.
    """
    lab = Labels(res, lang)
    title = text(lang, "supply_title")
    curves = st.supply_curve(res)
    balance = st.market_balance(res)
    if balance.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    multi = st.is_collection(res)
    if not multi:
        curves = curves.assign(scenario="")
        balance = balance.assign(scenario="")
    fig = _figure(title, text(lang, "abatement_kg"), text(lang, "mac", per=unit(lang, "kg")), height=520)
    go = _go()
    keys = list(dict.fromkeys(zip(balance.market, balance.pollutant, balance.period, strict=True)))
    n_periods = len(_period_order(res))
    scenarios = list(dict.fromkeys(balance.scenario))
    b_by = {k: g for k, g in balance.groupby(["market", "pollutant", "period"], sort=False)}
    c_by = {k: g for k, g in curves.groupby(["market", "pollutant", "period"], sort=False)} if len(curves) else {}
    empty_b, empty_c = balance.iloc[0:0], curves.iloc[0:0]
    buf = _Traces(fig)
    groups, layouts = [], []
    for market, pol, period in keys:
        idx = []
        b_all = b_by.get((market, pol, period), empty_b)
        c_all = c_by.get((market, pol, period), empty_c)
        layouts.append(_supply_view(b_all, c_all))
        top = max(
            [float(c_all.price.max()) if len(c_all) else 0.0, float(b_all.price_high.replace(np.inf, np.nan).max())]
        )
        top = top * 1.1 if top > 0 else 1.0
        for k, scen in enumerate(scenarios):
            b = b_all[b_all.scenario == scen]
            if b.empty:
                continue
            r = b.iloc[0]
            c = c_all[c_all.scenario == scen]
            color = _scenario_color(k) if multi else "#1f77b4"
            prefix = f"{scen}: " if multi else ""
            xmax = max(float(c.quantity.max()) if len(c) else 0.0, float(r.required), float(r.abatement)) * 1.05
            if len(c):
                buf.add(
                    idx,
                    go.Scatter(
                        x=c.quantity,
                        y=c.price,
                        mode="lines",
                        name=prefix + text(lang, "mac_curve"),
                        line={"color": color, "width": 2.5},
                        hovertemplate="%{x:,.4g} kg/yr at %{y:,.4g} CNY/kg<extra></extra>",
                    ),
                )
            buf.add(
                idx,
                go.Scatter(
                    x=[r.required, r.required],
                    y=[min(0.0, float(c.price.min()) if len(c) else 0.0), top],
                    mode="lines",
                    name=prefix + text(lang, "required") + f" ({_fmt(r.required)})",
                    line={"color": color, "dash": "dash", "width": 1.5},
                ),
            )
            buf.add(
                idx,
                go.Scatter(
                    x=[0.0, xmax],
                    y=[r.price, r.price],
                    mode="lines",
                    name=prefix + text(lang, "price") + f" ({_fmt(r.price)})",
                    line={"color": color, "dash": "dot", "width": 1.5},
                ),
            )
            if np.isfinite(r.price_high) and r.price_high - r.price_low > 1e-9 * max(1.0, abs(r.price_high)):
                buf.add(
                    idx,
                    go.Scatter(
                        x=[0.0, xmax, xmax, 0.0],
                        y=[r.price_low, r.price_low, r.price_high, r.price_high],
                        fill="toself",
                        mode="lines",
                        line={"width": 0},
                        fillcolor="rgba(120,120,120,0.18)",
                        name=prefix + text(lang, "interval") + f" [{_fmt(r.price_low)}, {_fmt(r.price_high)}]",
                    ),
                )
            buf.add(
                idx,
                go.Scatter(
                    x=[r.abatement],
                    y=[r.price],
                    mode="markers",
                    marker={"color": color, "size": 11, "symbol": "circle", "line": {"color": "#000", "width": 1}},
                    name=prefix + text(lang, "outcome"),
                ),
            )
        groups.append((lab.market(market, pol, period if n_periods > 1 else None), idx))
    buf.flush()
    add_selector(fig, groups, layouts=layouts)
    if any(p == "PE" for _, p, _ in keys):
        fig.update_xaxes(title_text=text(lang, "abatement_kg") + " (PE/yr)")
    return fig


def _supply_view(balance: pd.DataFrame, curve: pd.DataFrame) -> dict:
    """Axis ranges that frame a market's clearing: up to twice the abatement needed, and the prices there.

    The whole curve stays one double-click (autoscale) away.
    """
    need = float(np.nanmax([balance.required.max(), balance.abatement.max(), 0.0]))
    if curve.empty or need <= 0:
        return {}
    q_max = float(curve.quantity.max())
    x_hi = min(2.0 * need, q_max) if q_max > 0 else 2.0 * need
    x_hi = max(x_hi, need * 1.1)
    seen = curve[curve.quantity <= x_hi * (1 + 1e-12)]
    at_end = float(np.interp(x_hi, curve.quantity, curve.price)) if len(curve) > 1 else float(curve.price.iloc[0])
    prices = [*seen.price.tolist(), at_end, *balance.price.tolist()]
    prices += [p for p in balance.price_high.tolist() if np.isfinite(p)]
    y_hi, y_lo = max(prices), min([0.0, *prices])
    pad = 0.08 * (y_hi - y_lo or 1.0)
    return {"xaxis.range": [0.0, x_hi * 1.04], "yaxis.range": [y_lo - (pad if y_lo < 0 else 0.0), y_hi + pad]}


# -- 2. permit flows -----------------------------------------------------------------------------------------
def flows_sankey(res, by: str = "sector", lang: str = "en") -> go.Figure:
    """Permit flows as a Sankey diagram: sellers' sectors (or zones) on the left, buyers' on the right.

    One view per traded metal (link width kg/yr, PE/yr in a PE market) and one for all metals by
    value (CNY/yr), chosen in a drop-down; periods are summed. A collection draws one diagram per
    scenario side by side. Flows between firms are read as a pool (see
    :func:`emtrade.statistics.flows`).
    """
    lab = Labels(res, lang)
    title = text(lang, "flows_title", by=text(lang, f"by_{by}"))
    fl = st.flows(res, by=by)
    if fl.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    if "scenario" not in fl.columns:
        fl = fl.assign(scenario="")
    go = _go()
    fig = _figure(title, None, None, height=520)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    scenarios = list(dict.fromkeys(s for s, _ in _runs(res)))
    metals = _metal_order(res, fl.pollutant)
    views = [("value", text(lang, "all_value"), None)] + [
        ("quantity", f"{lab.metal(p)}, {unit(lang, 'PE/yr' if p == 'PE' else 'kg/yr')}", p) for p in metals
    ]
    groups = []
    n = len(scenarios)
    for col, label, metal in views:
        idx = []
        for k, scen in enumerate(scenarios):
            f = fl[fl.scenario == scen]
            if metal is not None:
                f = f[f.pollutant == metal]
            g = f.groupby(["source", "target"], sort=False)[col].sum().reset_index()
            g = g[g[col] > 0]
            sources = list(dict.fromkeys(g.source))
            targets = list(dict.fromkeys(g.target))
            outside = (st.GOVERNMENT, st.BANK)
            labels = [
                lab.group(by, s) if s in outside else f"{lab.group(by, s)} ({text(lang, 'sellers')})" for s in sources
            ] + [lab.group(by, t) if t in outside else f"{lab.group(by, t)} ({text(lang, 'buyers')})" for t in targets]
            colors = [_group_color(by, x) for x in [*sources, *targets]]
            link_colors = [_rgba(_group_color(by, x), 0.45) for x in g.source]
            domain = {"x": [k / n + (0.02 if k else 0), (k + 1) / n - (0.02 if k < n - 1 else 0)], "y": [0, 1]}
            fig.add_trace(
                go.Sankey(
                    name=(f"{scen}: " if scen else "") + label,
                    domain=domain,
                    arrangement="snap",
                    valueformat=",.4~g",
                    valuesuffix=" " + (unit(lang, "CNY/yr") if col == "value" else ""),
                    node={"label": labels, "color": colors, "pad": 14, "thickness": 16},
                    link={
                        "source": [sources.index(s) for s in g.source],
                        "target": [len(sources) + targets.index(t) for t in g.target],
                        "value": g[col].tolist(),
                        "color": link_colors,
                    },
                )
            )
            idx.append(len(fig.data) - 1)
        groups.append((label, idx))
    add_selector(fig, groups)
    if n > 1:
        for k, scen in enumerate(scenarios):
            fig.add_annotation(
                text=f"<b>{scen}</b>", x=(k + 0.5) / n, y=1.0, xref="paper", yref="paper", showarrow=False, yshift=10
            )
    fig.add_annotation(
        text=text(lang, "link_unit", unit=unit(lang, "CNY/yr") + " / " + unit(lang, "kg/yr")),
        x=0,
        y=-0.08,
        xref="paper",
        yref="paper",
        showarrow=False,
        xanchor="left",
        font={"size": 11, "color": "#555"},
    )
    return fig


GROUP_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


def _group_color(by: str, group: str) -> str:
    """A fixed colour per sector (registry order) or zone (registry order, then by name)."""
    if group in (st.GOVERNMENT, st.BANK):
        return "#555555"
    if by == "sector":
        return SECTOR_COLORS.get(group, OTHER_COLOR)
    if by == "zone":
        known = list(ZONES)
        k = known.index(group) if group in known else len(known) + sum(map(ord, group))
        return GROUP_PALETTE[k % len(GROUP_PALETTE)]
    return OTHER_COLOR


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# -- 3. sectors against their caps ---------------------------------------------------------------------------
def _second_level(scen: str, period: str, multi: bool, n_periods: int) -> str:
    parts = [scen] if multi else []
    if n_periods > 1:
        parts.append(period)
    return " · ".join(parts)


def sector_emissions(res, lang: str = "en") -> go.Figure:
    """Discharge and abatement by sector against each sector's cap, one view per metal (kg/yr).

    Stacked bars: discharge with trading and abatement (together the baseline); markers: the
    sector cap (caps scoped to exactly that sector), the permits allocated and the discharge under
    command-and-control. Several periods or scenarios sit side by side within each sector.
    """
    lab = Labels(res, lang)
    title = text(lang, "sectors_title")
    em = st.emissions(res, by="sector")
    if em.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    multi = "scenario" in em.columns
    if not multi:
        em = em.assign(scenario="")
    caps = st.caps(res)
    if "scenario" not in caps.columns:
        caps = caps.assign(scenario="")
    sector_caps = caps[(caps.sector.astype(str) != "") & (caps.zone.astype(str) == "")] if len(caps) else caps
    n_periods = len(_period_order(res))
    split = multi or n_periods > 1
    go = _go()
    fig = _figure(title, text(lang, "sector"), text(lang, "sector_axis"), height=500)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickangle=0)
    order = {s: i for i, s in enumerate(SECTORS)}
    groups = []
    for pol in _metal_order(res, em.pollutant):
        d = em[em.pollutant == pol].copy()
        d["_o"] = d.sector.map(order).fillna(99)
        d = d.sort_values(["_o"], kind="stable")
        names = [_wrap(lab.sector(s)) for s in d.sector]
        if split:
            second = [_second_level(s, p, multi, n_periods) for s, p in zip(d.scenario, d.period, strict=True)]
            x: Any = [names, second]
        else:
            x = names
        idx = []
        hover = "%{y:,.4g} kg/yr<extra>%{fullData.name}</extra>"
        for col, key, color in (("emissions", "emissions", "#4e79a7"), ("abatement", "abatement", "#a0cbe8")):
            fig.add_trace(go.Bar(x=x, y=d[col].tolist(), name=text(lang, key), marker_color=color, hovertemplate=hover))
            idx.append(len(fig.data) - 1)
        alloc = d.allocation
        if alloc.notna().any():
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=alloc.tolist(),
                    mode="markers",
                    name=text(lang, "allocation"),
                    marker={"symbol": "diamond", "size": 10, "color": "#f28e2b", "line": {"color": "#000", "width": 1}},
                    hovertemplate=hover,
                )
            )
            idx.append(len(fig.data) - 1)
        if d.cac_emissions.notna().any():
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=d.cac_emissions.tolist(),
                    mode="markers",
                    name=text(lang, "cac_emissions"),
                    marker={"symbol": "circle-open", "size": 10, "color": "#555"},
                    hovertemplate=hover,
                )
            )
            idx.append(len(fig.data) - 1)
        sc = sector_caps[sector_caps.pollutant == pol] if len(sector_caps) else sector_caps
        if len(sc):
            cap_of = sc.groupby(["scenario", "sector", "period"]).total.min()
            cap_y = [cap_of.get((s, sec, p), np.nan) for s, sec, p in zip(d.scenario, d.sector, d.period, strict=True)]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=cap_y,
                    mode="markers",
                    name=text(lang, "cap"),
                    marker={"symbol": "line-ew", "size": 34, "line": {"color": "#d62728", "width": 3}},
                    hovertemplate=hover,
                )
            )
            idx.append(len(fig.data) - 1)
        groups.append((lab.metal(pol), idx))
    add_selector(fig, groups)
    return fig


# -- 4. enterprises: who gains, who pays ---------------------------------------------------------------------
def enterprise_costs(res, lang: str = "en") -> go.Figure:
    """Cost per enterprise with trading (y) against command-and-control (x), CNY/yr, periods summed.

    One marker per enterprise, coloured by sector; enterprises below the diagonal gain from
    trading, those above pay more. A collection draws one panel per scenario.
    """
    lab = Labels(res, lang)
    title = text(lang, "firm_title")
    data = st.enterprise_costs(res)
    if data.empty or data.cac_cost.isna().all():
        return empty_figure(title, text(lang, "no_data"), lang)
    if "scenario" not in data.columns:
        data = data.assign(scenario="")
    go = _go()
    from plotly.subplots import make_subplots

    scenarios = list(dict.fromkeys(data.scenario))
    n = len(scenarios)
    fig = make_subplots(rows=1, cols=n, subplot_titles=scenarios if n > 1 else None, shared_yaxes=True)
    _style(fig, title, None, None, height=520)
    lo = float(np.nanmin([data.cac_cost.min(), data.net_cost.min(), 0.0]))
    hi = float(np.nanmax([data.cac_cost.max(), data.net_cost.max()]))
    shown = set()
    for k, scen in enumerate(scenarios, start=1):
        d = data[data.scenario == scen]
        for sector in [s for s in SECTORS if s in set(d.sector)] + sorted(set(d.sector) - set(SECTORS)):
            g = d[d.sector == sector]
            names = [lab.enterprises.get(e, e) for e in g.enterprise]
            fig.add_trace(
                go.Scatter(
                    x=g.cac_cost.tolist(),
                    y=g.net_cost.tolist(),
                    mode="markers",
                    name=lab.sector(sector),
                    legendgroup=sector,
                    showlegend=sector not in shown,
                    marker={"color": SECTOR_COLORS.get(sector, OTHER_COLOR), "size": 8, "opacity": 0.8},
                    customdata=np.column_stack([g.enterprise, names, g.savings, [lab.zone(z) for z in g.zone]]),
                    hovertemplate="<b>%{customdata[0]}</b> %{customdata[1]}<br>%{customdata[3]}<br>"
                    "CAC %{x:,.0f} → %{y:,.0f} CNY/yr<br>savings %{customdata[2]:,.0f} CNY/yr<extra></extra>",
                ),
                row=1,
                col=k,
            )
            shown.add(sector)
        fig.add_trace(
            go.Scatter(
                x=[lo, hi],
                y=[lo, hi],
                mode="lines",
                name=text(lang, "no_change"),
                legendgroup="diag",
                showlegend=k == 1,
                line={"color": "#777", "dash": "dash", "width": 1},
                hoverinfo="skip",
            ),
            row=1,
            col=k,
        )
        fig.update_xaxes(title_text=text(lang, "cac_cost"), row=1, col=k)
    fig.update_yaxes(title_text=text(lang, "net_cost"), row=1, col=1)
    return fig


def costs_by_group(res, by: str = "sector", lang: str = "en") -> go.Figure:
    """Costs per sector or zone under command-and-control and with trading (CNY/yr, periods summed).

    For each group two bars: the abatement cost under command-and-control, and with trading the
    abatement cost plus permit payments (negative for net sellers) plus any penalties and fees.
    """
    lab = Labels(res, lang)
    title = text(lang, "group_title", by=GROUP_WORD[lang][by])
    c = st.costs(res, by=by)
    if c.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    multi = "scenario" in c.columns
    if not multi:
        c = c.assign(scenario="")
    parts = [p for p in ("abatement_cost", "permit_cost", *st.OPTIONAL_COSTS) if p in c.columns]
    g = c.groupby(["scenario", by], sort=False)[[*parts, "cac_cost"]].sum(min_count=1).reset_index()
    if by == "sector":
        order = {s: i for i, s in enumerate(SECTORS)}
        g = g.sort_values(by, key=lambda s: s.map(order).fillna(99), kind="stable")
    names = [_wrap(lab.group(by, x)) for x in g[by]]
    cac_label = [f"{s}<br>{text(lang, 'cac_short')}" if multi else text(lang, "cac_short") for s in g.scenario]
    trade_label = [f"{s}<br>{text(lang, 'trade_short')}" if multi else text(lang, "trade_short") for s in g.scenario]
    go = _go()
    fig = _figure(title, GROUP_WORD[lang][by], unit(lang, "CNY/yr"), height=500)
    fig.update_layout(barmode="relative")
    fig.update_xaxes(tickangle=0)
    hover = "%{y:,.0f} CNY/yr<extra>%{fullData.name}</extra>"
    fig.add_trace(
        go.Bar(
            x=[names, cac_label],
            y=g.cac_cost.tolist(),
            name=text(lang, "cac_abatement"),
            marker_color="#bab0ac",
            hovertemplate=hover,
        )
    )
    colors = {"abatement_cost": "#4e79a7", "permit_cost": "#f28e2b", "penalty": "#e15759"}
    scale = float(np.nanmax([g.cac_cost.abs().max(), g.abatement_cost.abs().max(), 1.0]))
    for p in parts:
        if p != "abatement_cost" and not (g[p].abs() > 1e-9 * scale).any():  # zero but for rounding
            continue
        fig.add_trace(
            go.Bar(
                x=[names, trade_label],
                y=g[p].tolist(),
                name=text(lang, p),
                marker_color=colors.get(p, "#76b7b2"),
                hovertemplate=hover,
            )
        )
    return fig


# -- 5. prices and the bank ----------------------------------------------------------------------------------
def prices_chart(res, lang: str = "en") -> go.Figure:
    """Permit prices per market (CNY/kg) over the periods, with the interval of clearing prices.

    Several periods: one view per metal (drop-down), one line per market (a collection: one dash
    style per scenario), the bank (kg) as bars on a second axis where the run banks. One period:
    one bar per market with the price interval as error bars (a collection: scenarios side by side).

    >>> from emtrade import bundled_scenario, plots, simulate
    >>> fig = plots.prices_chart(simulate(bundled_scenario("textbook/rubin_banking")))
    >>> [(trace.type, list(trace.y)) for trace in fig.data]
    [('scatter', [50.0, 55.0]), ('bar', [30.0, 0.0])]
    """
    lab = Labels(res, lang)
    title = text(lang, "prices_title")
    p = st.prices(res)
    if p.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    multi = "scenario" in p.columns
    if not multi:
        p = p.assign(scenario="")
    go = _go()
    periods = _period_order(res)
    axis = text(lang, "price_axis_pe" if (p.pollutant == "PE").any() else "price_axis")
    hi = (p.price_high - p.price).where(np.isfinite(p.price_high), 0.0).clip(lower=0)
    lo = (p.price - p.price_low).clip(lower=0)
    p = p.assign(err_hi=hi, err_lo=lo)
    if len(periods) == 1:
        fig = _figure(title, axis, text(lang, "market_axis"), height=max(380, 26 * len(p) + 160))
        fig.update_layout(barmode="group")
        for k, scen in enumerate(dict.fromkeys(p.scenario)):
            d = p[p.scenario == scen]
            y = [lab.market(m, q) for m, q in zip(d.market, d.pollutant, strict=True)]
            fig.add_trace(
                go.Bar(
                    x=d.price.tolist(),
                    y=y,
                    orientation="h",
                    name=scen or text(lang, "price"),
                    marker_color=_scenario_color(k),
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": d.err_hi.tolist(),
                        "arrayminus": d.err_lo.tolist(),
                    },
                    hovertemplate="%{y}: %{x:,.4g} CNY/kg<extra>%{fullData.name}</extra>",
                )
            )
        fig.update_yaxes(autorange="reversed")
        return fig
    from plotly.subplots import make_subplots

    has_bank = p.banked.notna().any()
    fig = make_subplots(specs=[[{"secondary_y": True}]]) if has_bank else _go().Figure()
    _style(fig, title, text(lang, "period"), axis, height=520)
    dashes = ("solid", "dash", "dot", "dashdot")
    palette = (*SCENARIO_COLORS, "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5")
    groups = []
    for q in _metal_order(res, p.pollutant):
        idx: list[int] = []
        markets = list(dict.fromkeys(p.market[p.pollutant == q]))
        for k, scen in enumerate(dict.fromkeys(p.scenario)):
            for j, m in enumerate(markets):
                d = p[(p.scenario == scen) & (p.market == m) & (p.pollutant == q)]
                if d.empty:
                    continue
                d = d.set_index("period").reindex([t for t in periods if t in set(d.period)]).reset_index()
                name = (f"{scen}: " if multi else "") + lab.market(m, q)
                kw = {"secondary_y": False} if has_bank else {}
                fig.add_trace(
                    go.Scatter(
                        x=d.period.tolist(),
                        y=d.price.tolist(),
                        mode="lines+markers",
                        name=name,
                        line={"color": palette[j % len(palette)], "dash": dashes[k % len(dashes)]},
                        error_y={
                            "type": "data",
                            "symmetric": False,
                            "array": d.err_hi.tolist(),
                            "arrayminus": d.err_lo.tolist(),
                        },
                        hovertemplate="%{x}: %{y:,.4g} CNY/kg<extra>%{fullData.name}</extra>",
                    ),
                    **kw,
                )
                idx.append(len(fig.data) - 1)
                if has_bank and d.banked.notna().any():
                    fig.add_trace(
                        go.Bar(
                            x=d.period.tolist(),
                            y=d.banked.tolist(),
                            name=f"{name}: {text(lang, 'banked')}",
                            marker_color=_rgba(palette[j % len(palette)], 0.35),
                            hovertemplate="%{x}: %{y:,.4g} kg<extra>%{fullData.name}</extra>",
                        ),
                        secondary_y=True,
                    )
                    idx.append(len(fig.data) - 1)
        groups.append((lab.metal(q), idx))
    add_selector(fig, groups)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=periods, title_text=text(lang, "period"))
    if has_bank:
        fig.update_yaxes(title_text=axis, secondary_y=False)
        fig.update_yaxes(title_text=text(lang, "bank"), secondary_y=True, showgrid=False)
    return fig


# -- 6. receptors --------------------------------------------------------------------------------------------
def receptors_chart(res, lang: str = "en") -> go.Figure:
    """River sections (receptors): concentration against the GB 3838 class limits, one view per metal.

    Where the run gives concentrations (receptors derived from a river description: the columns
    ``concentration_mg_l`` and ``class_limit_mg_l``), bars show the concentration at each section
    (mg/L), markers the limit of the section's class, dashed lines the GB 3838-2002 limits of classes
    II to IV for the metal. Otherwise the receptors' loads are in the transfer coefficients' unit and
    the bars show each load as a share of its limit (%), with the limit at 100 %. A bar beyond its
    limit is red (or outlined in red). Several periods or scenarios: one bar each per section, named
    in the legend. Sections are labelled by their river section (or id); hovering shows the full name.
    """
    title = text(lang, "receptor_title")
    r = st.receptors(res)
    if r.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    multi = "scenario" in r.columns
    if not multi:
        r = r.assign(scenario="")
    lab = Labels(res, lang)
    go = _go()
    has_conc = "concentration" in r.columns and r.concentration.notna().any()
    if has_conc:
        limit = r.class_limit if "class_limit" in r.columns else pd.Series(np.nan, index=r.index)
        r = r.assign(value=r.concentration, mark=limit)
        y_title, unit_ = text(lang, "concentration"), "mg/L"
    else:
        r = r.assign(value=100 * r.utilisation, mark=100.0)
        y_title, unit_ = text(lang, "receptor_share"), "%"
        title = text(lang, "receptor_title_load")
    records = r.to_dict("records")
    r = r.assign(
        label=[lab.receptor(row) for row in records],
        full=[lab.receptor(row, full=True) for row in records],
        series=[_second_level(s, p, multi, 2) for s, p in zip(r.scenario, r.period, strict=True)],
    )
    if r.duplicated(["pollutant", "series", "label"]).any():  # short labels that clash: the ids instead
        r = r.assign(label=r.receptor)
    series = list(dict.fromkeys(r.series))
    one_series = len(series) == 1
    fig = _figure(title, text(lang, "section"), y_title, height=480)
    fig.update_layout(barmode="group")
    groups = []
    for pol in _metal_order(res, r.pollutant):
        d = r[r.pollutant == pol]
        names = list(dict.fromkeys(d.label))
        idx = []
        for k, ser in enumerate(series):
            g = d[d.series == ser].set_index("label").reindex(names)
            over = (g["load"] > g["limit"] * (1 + 1e-9) + 1e-12).to_numpy()
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=g.value.tolist(),
                    name=y_title if one_series else ser,
                    marker={
                        "color": ["#d62728" if o else "#4e79a7" for o in over] if one_series else _scenario_color(k),
                        "line": {"color": ["#d62728" if o else "rgba(0,0,0,0)" for o in over], "width": 2},
                    },
                    customdata=g.full.tolist(),
                    hovertemplate=f"%{{customdata}}: %{{y:.4g}} {unit_}<extra>%{{fullData.name}}</extra>",
                )
            )
            idx.append(len(fig.data) - 1)
        marks = d.groupby("label", sort=False)["mark"].max().reindex(names)
        if marks.notna().any():
            fig.add_trace(
                go.Scatter(
                    x=names,
                    y=marks.tolist(),
                    mode="markers",
                    name=text(lang, "class_limit" if has_conc else "receptor_limit"),
                    marker={"symbol": "line-ew", "size": 30, "line": {"color": "#000", "width": 3}},
                    hovertemplate=f"%{{x}}: %{{y:.4g}} {unit_}<extra>%{{fullData.name}}</extra>",
                )
            )
            idx.append(len(fig.data) - 1)
        for classes, v in gb3838_lines(pol) if has_conc else []:
            fig.add_trace(
                go.Scatter(
                    x=names,
                    y=[v] * len(names),
                    mode="lines",
                    name=text(lang, "class", c=classes, v=v),
                    line={"dash": "dash", "width": 1.5, "color": CLASS_COLORS[classes.split("–")[0]]},
                    hoverinfo="name",
                )
            )
            idx.append(len(fig.data) - 1)
        groups.append((lab.metal(pol), idx))
    add_selector(fig, groups)
    return fig


CLASS_COLORS = {"II": "#59a14f", "III": "#f28e2b", "IV": "#e15759"}


def gb3838_lines(pollutant: str, classes: Sequence[str] = ("II", "III", "IV")) -> list[tuple[str, float]]:
    """The GB 3838-2002 limits (mg/L) of ``pollutant`` for ``classes``, classes with equal limits joined.

    >>> gb3838_lines("Pb")
    [('II', 0.01), ('III–IV', 0.05)]
    """
    metal = METALS.get(pollutant)
    if metal is None:
        return []
    runs: list[tuple[list[str], float]] = []
    for c in classes:
        v = metal.gb3838_mg_per_l[GB3838_CLASSES.index(c)]
        if v is None:
            continue
        if runs and runs[-1][1] == v:
            runs[-1][0].append(c)
        else:
            runs.append(([c], v))
    return [(cs[0] if len(cs) == 1 else f"{cs[0]}–{cs[-1]}", v) for cs, v in runs]


# -- 7. zones ------------------------------------------------------------------------------------------------
def zone_map(res, lang: str = "en") -> go.Figure:
    """A schematic map of the zones: marker size = discharge, colour = net permit purchases.

    Positions are schematic (the registry's or the scenario's zone x, y). Lines join zones that
    trade permits, their width proportional to the value traded (CNY/yr). One view for all metals in
    pollution equivalents (PE/yr) and one per metal (kg/yr); periods summed; a collection draws one
    panel per scenario.
    """
    title = text(lang, "zones_title")
    lab = Labels(res, lang)
    runs = _runs(res)
    z_all = st.zones(res)
    if z_all.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    go = _go()
    from plotly.subplots import make_subplots

    n = len(runs)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[s for s, _ in runs] if n > 1 else None)
    _style(fig, title, None, None, height=560)
    metals = list(dict.fromkeys(pd.concat([run.enterprises.pollutant for _, run in runs])))
    views = [(text(lang, "all_pe"), None)] + [(f"{lab.metal(p)}, {unit(lang, 'kg/yr')}", p) for p in metals]
    fl = st.flows(res, by="zone")
    if "scenario" not in fl.columns:
        fl = fl.assign(scenario="")
    groups = []
    buf = _Traces(fig)
    for label, pol in views:
        idx = []
        u = "kg/yr" if pol else "PE/yr"
        for k, (scen, run) in enumerate(runs, start=1):
            z = st.zones(run, pollutant=pol)
            if z.empty:
                continue
            z = (
                z.groupby(["zone", "name_en", "name_zh", "x", "y"], sort=False)[
                    ["baseline", "emissions", "net_purchase"]
                ]
                .sum()
                .reset_index()
            )
            outside = (st.GOVERNMENT, st.BANK)
            f = fl[
                (fl.scenario == scen) & (fl.source != fl.target) & ~fl.source.isin(outside) & ~fl.target.isin(outside)
            ]
            if pol:
                f = f[f.pollutant == pol]
            net_flows = _net_pairs(f.groupby(["source", "target"], sort=False).value.sum())
            pos = z.set_index("zone")[["x", "y"]]
            vmax = max(net_flows.values(), default=0.0)
            first_line = True
            for (src, dst), value in net_flows.items():
                if src not in pos.index or dst not in pos.index or value <= 1e-9 * vmax:
                    continue
                (x0, y0), (x1, y1) = pos.loc[src].tolist(), pos.loc[dst].tolist()
                buf.add(
                    idx,
                    go.Scatter(
                        x=[x0, 0.5 * (x0 + x1), x1],
                        y=[y0, 0.5 * (y0 + y1), y1],
                        mode="lines+markers",
                        name=text(lang, "zone_flows"),
                        legendgroup="flows",
                        showlegend=first_line and k == 1,
                        line={"width": 1 + 9 * value / vmax, "color": "rgba(242,142,43,0.6)"},
                        marker={"symbol": "arrow", "angleref": "previous", "size": [0, 14, 0], "color": "#c8651b"},
                        hovertemplate=f"{lab.zone(src)} → {lab.zone(dst)}: {value:,.0f} CNY/yr (net)<extra></extra>",
                    ),
                    row=1,
                    col=k,
                )
                first_line = False
            em = z.emissions.to_numpy(dtype=float)
            size = 12 + 48 * np.sqrt(em / em.max()) if em.max() > 0 else np.full(len(z), 12.0)
            net = z.net_purchase.to_numpy(dtype=float)
            lim = float(np.abs(net).max()) or 1.0
            buf.add(
                idx,
                go.Scatter(
                    x=z.x.tolist(),
                    y=z.y.tolist(),
                    mode="markers+text",
                    text=[lab.zone(x) for x in z.zone],
                    textposition="top center",
                    name=text(lang, "zone_marker", unit=unit(lang, u)),
                    showlegend=k == 1,
                    marker={
                        "size": size.tolist(),
                        "color": net.tolist(),
                        "colorscale": "RdBu_r",
                        "cmin": -lim,
                        "cmax": lim,
                        "showscale": k == n,
                        "colorbar": {"title": {"text": text(lang, "net_purchase", unit=unit(lang, u))}},
                        "line": {"color": "#333", "width": 1},
                    },
                    customdata=np.column_stack([z.emissions, z.net_purchase, z.baseline]),
                    hovertemplate="<b>%{text}</b><br>discharge %{customdata[0]:,.4g}<br>net purchase "
                    f"%{{customdata[1]:,.4g}}<br>baseline %{{customdata[2]:,.4g}} {u}<extra></extra>",
                ),
                row=1,
                col=k,
            )
        groups.append((label, idx))
    buf.flush()
    add_selector(fig, groups)
    fig.update_layout(legend={"orientation": "h", "x": 0.0, "y": -0.12, "yanchor": "top"})
    for k in range(1, n + 1):
        fig.update_xaxes(title_text=text(lang, "west_east"), zeroline=False, showticklabels=False, row=1, col=k)
        fig.update_yaxes(title_text=text(lang, "south_north"), zeroline=False, showticklabels=False, row=1, col=k)
    return fig


# -- 8. technologies -----------------------------------------------------------------------------------------
def technology_chart(res, lang: str = "en", top: int = 12) -> go.Figure:
    """Abatement by technology (kg/yr, periods summed), one view per metal, stacked by sector.

    The ``top`` technologies of each metal are shown; the rest are summed as "other". A collection
    puts its scenarios side by side instead of stacking sectors.
    """
    title = text(lang, "tech_title")
    a = st.abatement_by_technology(res, by="sector")
    if a.empty:
        return empty_figure(title, text(lang, "no_data"), lang)
    multi = "scenario" in a.columns
    if not multi:
        a = a.assign(scenario="")
    lab = Labels(res, lang)
    go = _go()
    fig = _figure(title, f"{text(lang, 'abatement')}, {unit(lang, 'kg/yr')}", text(lang, "technology"), height=520)
    fig.update_layout(barmode="group" if multi else "stack")
    groups = []
    other = "other" if lang == "en" else "其他"
    for pol in _metal_order(res, a.pollutant):
        d = a[a.pollutant == pol]
        rank = d.groupby("technology").abatement.sum().sort_values(ascending=False)
        keep = set(rank.index[:top])
        d = d.assign(technology=d.technology.where(d.technology.isin(keep), other))
        order = [t for t in rank.index if t in keep] + ([other] if other in set(d.technology) else [])
        idx = []
        series = (
            [(s, d[d.scenario == s], _scenario_color(k)) for k, s in enumerate(dict.fromkeys(d.scenario))]
            if multi
            else [(lab.sector(s), d[d.sector == s], SECTOR_COLORS.get(s, OTHER_COLOR)) for s in dict.fromkeys(d.sector)]
        )
        for name, g, color in series:
            v = g.groupby("technology").abatement.sum().reindex(order)
            fig.add_trace(
                go.Bar(
                    y=order,
                    x=v.fillna(0).tolist(),
                    orientation="h",
                    name=name,
                    marker_color=color,
                    hovertemplate="%{y}: %{x:,.4g} kg/yr<extra>%{fullData.name}</extra>",
                )
            )
            idx.append(len(fig.data) - 1)
        groups.append((lab.metal(pol), idx))
    add_selector(fig, groups)
    fig.update_yaxes(autorange="reversed")
    return fig


# -- all figures, and static export --------------------------------------------------------------------------
#: the charts of a report, in order: (key, function, keyword arguments)
CHARTS = (
    ("supply_demand", supply_demand, {}),
    ("costs_by_sector", costs_by_group, {"by": "sector"}),
    ("enterprise_costs", enterprise_costs, {}),
    ("sector_emissions", sector_emissions, {}),
    ("technologies", technology_chart, {}),
    ("flows_by_sector", flows_sankey, {"by": "sector"}),
    ("flows_by_zone", flows_sankey, {"by": "zone"}),
    ("costs_by_zone", costs_by_group, {"by": "zone"}),
    ("prices", prices_chart, {}),
    ("receptors", receptors_chart, {}),
    ("zones", zone_map, {}),
)


def figures(res, lang: str = "en") -> dict[str, go.Figure]:
    """Every chart of the report for one run or a collection, by key (see :data:`CHARTS`)."""
    return {key: func(res, lang=lang, **kw) for key, func, kw in CHARTS}


class StaticExportUnavailable(EmtradeError):
    """PNG/SVG/PDF export needs kaleido (and a Chrome or Chromium it can drive)."""


STATIC_FORMATS = ("png", "svg", "pdf", "jpeg", "webp")


def save_figure(fig: go.Figure, path: str | Path, width: int | None = None, height: int | None = None) -> Path:
    """Write ``fig`` to ``path``: ``.html`` always (plotly.js inline, works offline), ``.png``/``.svg``/``.pdf``
    through kaleido.

    Raises :class:`StaticExportUnavailable` with what to install when static export cannot run here
    (kaleido missing, or no Chrome/Chromium for it to drive); never leaves a half-written file.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt in ("html", "htm"):
        fig.write_html(path, include_plotlyjs=True, full_html=True)
        return path
    if fmt not in STATIC_FORMATS:
        raise ValueError(f"{path}: unknown figure format '{fmt}'; use html, {', '.join(STATIC_FORMATS)}")
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise StaticExportUnavailable(
            f"{path}: static export ({fmt}) needs kaleido, which is not installed: pip install 'emtrade[images]' "
            "(or pip install kaleido) and a Chrome or Chromium (Debian: apt-get install chromium); the HTML "
            "report has every chart"
        ) from None
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        data = fig.to_image(format=fmt, width=width, height=height)
        tmp.write_bytes(data)
        tmp.replace(path)
    except Exception as exc:  # kaleido could not start a browser, or timed out
        tmp.unlink(missing_ok=True)
        raise StaticExportUnavailable(
            f"{path}: static export ({fmt}) failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}. "
            "kaleido needs a Chrome or Chromium (Debian: apt-get install chromium); the HTML report has every chart"
        ) from None
    return path
