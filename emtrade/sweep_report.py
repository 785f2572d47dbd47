"""The report of a sweep: fan charts of permit prices and costs over the runs, as one offline HTML page.

A fan chart shows, for each x, the median (line) and the bands between the 25th and 75th and the
5th and 95th percentiles over the runs at that x. The x axis is the first ``--set`` key with several
numeric values (the sweep's axis); without one, the period (prices of a multi-period scenario);
otherwise the quantities are drawn as boxes from the same percentiles (a box per market, or per
value of a text key such as ``trading.scope``). Every figure is a plotly figure; the page embeds
plotly.js once and needs no network.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from emtrade.sweeps import SweepResults

COST_SERIES = {
    "total_cost": "total cost with trading",
    "cac_total_cost": "command-and-control cost",
    "savings": "savings from trading",
}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]  # fmt: skip


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _axis(res: SweepResults) -> str | None:
    """The sweep's numeric axis: the first --set key with several numeric values."""
    for k in res.keys:
        v = res.runs[k]
        if v.nunique() > 1 and pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v):
            return k
    return None


def _category(res: SweepResults) -> str | None:
    """A --set key with several values that is not the numeric axis (e.g. trading.scope)."""
    axis = _axis(res)
    for k in res.keys:
        if k != axis and res.runs[k].nunique() > 1:
            return k
    return None


def _stats(values: np.ndarray) -> dict[str, float]:
    v = values[np.isfinite(values)]
    if not len(v):
        return {}
    q = np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95])
    return dict(zip(("p05", "p25", "p50", "p75", "p95"), q.tolist(), strict=True))


def fan(fig: go.Figure, x: np.ndarray, samples: list[np.ndarray], name: str, color: str, **where: Any) -> None:
    """Add one fan (bands p05–p95 and p25–p75, median line) over numeric x to ``fig``."""
    import plotly.graph_objects as go

    stats = [_stats(s) for s in samples]
    ok = [i for i, s in enumerate(stats) if s]
    if not ok:
        return
    xs = x[ok]
    q = {k: np.array([stats[i][k] for i in ok]) for k in ("p05", "p25", "p50", "p75", "p95")}
    group = f"{name}-{color}"
    for lo, hi, alpha, label in (("p05", "p95", 0.15, "5–95 %"), ("p25", "p75", 0.3, "25–75 %")):
        if np.allclose(q[lo], q[hi]):
            continue
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([xs, xs[::-1]]),
                y=np.concatenate([q[hi], q[lo][::-1]]),
                mode="lines",
                fill="toself",
                fillcolor=_rgba(color, alpha),
                line={"width": 0},
                hoverinfo="skip",
                legendgroup=group,
                showlegend=False,
                name=f"{name} {label}",
            ),
            **where,
        )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=q["p50"],
            mode="lines+markers",
            line={"color": color},
            name=name,
            legendgroup=group,
            hovertemplate=f"{name}<br>%{{x}}: median %{{y:,.4g}}<extra></extra>",
        ),
        **where,
    )


def box(fig: go.Figure, x: list[str], samples: list[np.ndarray], name: str, color: str) -> None:
    """Add boxes drawn from the percentiles (p05, p25, median, p75, p95) at categorical x."""
    import plotly.graph_objects as go

    stats = [_stats(s) for s in samples]
    ok = [i for i, s in enumerate(stats) if s]
    if not ok:
        return
    fig.add_trace(
        go.Box(
            x=[x[i] for i in ok],
            lowerfence=[stats[i]["p05"] for i in ok],
            q1=[stats[i]["p25"] for i in ok],
            median=[stats[i]["p50"] for i in ok],
            q3=[stats[i]["p75"] for i in ok],
            upperfence=[stats[i]["p95"] for i in ok],
            name=name,
            marker_color=color,
            hoverinfo="y",
        )
    )


def _layout(fig: go.Figure, title: str, xtitle: str, ytitle: str, boxes: bool = False) -> go.Figure:
    fig.update_layout(
        title=title,
        template="plotly_white",
        xaxis_title=xtitle,
        yaxis_title=ytitle,
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 60, "l": 70, "r": 20, "b": 40},
        height=460,
    )
    if boxes:
        fig.update_layout(boxmode="group")
    return fig


def cost_figure(res: SweepResults) -> go.Figure:
    """Fan chart of total cost, command-and-control cost and savings (CNY/yr)."""
    import plotly.graph_objects as go

    runs = res.runs
    fig = go.Figure()
    axis, cat = _axis(res), _category(res)
    series = [c for c in COST_SERIES if c in runs and runs[c].notna().any()]
    if axis is not None:
        xs = np.array(sorted(runs[axis].dropna().unique()), dtype=float)
        groups = [(None, runs)] if cat is None else list(runs.groupby(cat, sort=False))
        k = 0
        for gname, g in groups:
            for c in series:
                samples = [g.loc[g[axis] == x, c].to_numpy(dtype=float) for x in xs]
                label = COST_SERIES[c] if gname is None else f"{COST_SERIES[c]} ({cat}={gname})"
                fan(fig, xs, samples, label, PALETTE[k % len(PALETTE)])
                k += 1
        return _layout(fig, "Costs over the sweep (median, 25–75 % and 5–95 % of runs)", axis, "CNY/yr")
    if cat is not None:
        values = list(dict.fromkeys(runs[cat]))
        for k, c in enumerate(series):
            box(fig, [str(v) for v in values], [runs.loc[runs[cat] == v, c].to_numpy(dtype=float) for v in values],
                COST_SERIES[c], PALETTE[k % len(PALETTE)])  # fmt: skip
        return _layout(fig, "Costs (5, 25, 50, 75, 95 % of runs)", cat, "CNY/yr", boxes=True)
    for k, c in enumerate(series):
        box(fig, [COST_SERIES[c]], [runs[c].to_numpy(dtype=float)], COST_SERIES[c], PALETTE[k % len(PALETTE)])
    return _layout(fig, "Costs (5, 25, 50, 75, 95 % of runs)", "", "CNY/yr", boxes=True)


def price_figure(res: SweepResults) -> go.Figure:
    """Fan chart of the permit price of every market (CNY/kg)."""
    import plotly.graph_objects as go

    prices = res.prices.dropna(subset=["price"])
    runs = res.runs
    fig = go.Figure()
    if prices.empty:
        return _layout(fig, "Permit prices: no market", "", "CNY/kg")
    prices = prices.assign(label=prices.market + " " + prices.pollutant)
    labels = list(dict.fromkeys(prices.label))
    axis, cat = _axis(res), _category(res)
    periods = list(dict.fromkeys(prices.period))
    if axis is not None:
        prices = prices.merge(runs[["run", axis]], on="run")
        xs = np.array(sorted(prices[axis].unique()), dtype=float)
        for k, (key, g) in enumerate(prices.groupby(["label", "period"], sort=False)):
            name = key[0] if len(periods) == 1 else f"{key[0]} {key[1]}"
            fan(fig, xs, [g.loc[g[axis] == x, "price"].to_numpy(dtype=float) for x in xs], name,
                PALETTE[k % len(PALETTE)])  # fmt: skip
        return _layout(fig, "Permit prices over the sweep (median, 25–75 % and 5–95 % of runs)", axis, "CNY/kg")
    if len(periods) > 1:
        xs = np.arange(len(periods), dtype=float)
        for k, (label, g) in enumerate(prices.groupby("label", sort=False)):
            fan(fig, xs, [g.loc[g.period == p, "price"].to_numpy(dtype=float) for p in periods], label,
                PALETTE[k % len(PALETTE)])  # fmt: skip
        fig.update_xaxes(tickmode="array", tickvals=xs, ticktext=periods)
        return _layout(fig, "Permit prices by period (median, 25–75 % and 5–95 % of runs)", "period", "CNY/kg")
    if cat is not None:
        prices = prices.merge(runs[["run", cat]], on="run")
        for k, v in enumerate(dict.fromkeys(prices[cat])):
            g = prices[prices[cat] == v]
            box(fig, labels, [g.loc[g.label == lab, "price"].to_numpy(dtype=float) for lab in labels],
                f"{cat}={v}", PALETTE[k % len(PALETTE)])  # fmt: skip
        return _layout(fig, "Permit prices (5, 25, 50, 75, 95 % of runs)", "market", "CNY/kg", boxes=True)
    box(fig, labels, [prices.loc[prices.label == lab, "price"].to_numpy(dtype=float) for lab in labels],
        "price", PALETTE[0])  # fmt: skip
    fig.update_layout(showlegend=False)
    return _layout(fig, "Permit prices (5, 25, 50, 75, 95 % of runs)", "market", "CNY/kg", boxes=True)


def savings_histogram(res: SweepResults) -> go.Figure | None:
    """The distribution of savings over the runs (Monte Carlo sweeps)."""
    import plotly.graph_objects as go

    v = res.runs.savings.to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if res.meta.get("samples", 0) < 2 or len(v) < 2:
        return None
    fig = go.Figure(go.Histogram(x=v, nbinsx=min(40, max(5, len(v) // 3)), marker_color=PALETTE[2]))
    return _layout(fig, "Savings from trading over the runs", "CNY/yr", "runs")


def figures(res: SweepResults) -> list[tuple[str, go.Figure]]:
    out = [("prices", price_figure(res)), ("costs", cost_figure(res))]
    hist = savings_histogram(res)
    if hist is not None:
        out.append(("savings", hist))
    return out


def _table(df: pd.DataFrame, max_rows: int = 50) -> str:
    shown = df.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                text = "" if not np.isfinite(v) else f"{v:,.6g}"
                cells.append(f'<td class="n">{text}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>… {len(df) - max_rows} more rows in the CSV file.</p>" if len(df) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def render(res: SweepResults) -> str:
    """The report page as one HTML string (plotly.js embedded)."""
    m = res.meta
    facts = [
        ("scenario", m.get("scenario", "")),
        ("runs", f"{m.get('runs', len(res.runs))} ({m.get('failed', len(res.failed))} failed)"),
        ("grid", "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in m.get("grid", {}).items()) or "none"),
        ("Monte Carlo", f"{m['samples']} samples, seed {m.get('seed')}" if m.get("samples") else "none"),
        ("engine", f"{m.get('engine', '')}, {m.get('workers', '')} workers, {m.get('seconds', 0):,.1f} s"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Sweep: {html.escape(str(m.get('scenario', '')))}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}td,th{border-bottom:1px solid #ddd;"
        "padding:2px 8px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}"
        "dt{font-weight:600;float:left;clear:left;width:9em}dd{margin-left:10em}</style></head><body>",
        f"<h1>Sweep: {html.escape(str(m.get('scenario', '')))}</h1><dl>",
        *(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts),
        "</dl><p>Costs in CNY/yr, prices in CNY/kg. Bands: 25–75 % and 5–95 % of the runs at each x; line: "
        "median. The data: runs.csv (one row per run) and summary.csv (the percentiles).</p>",
    ]
    first = True
    for name, fig in figures(res):
        parts.append(f"<section id='{name}'>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first, config={"displaylogo": False}))
        parts.append("</section>")
        first = False
    overall = res.summary[(res.summary.point == "all") & res.summary.quantity.isin(list(COST_SERIES))]
    parts.append("<h2>Costs over all runs (CNY/yr)</h2>")
    parts.append(_table(overall.drop(columns=["point", *res.keys])))
    failed = res.failed
    if len(failed):
        parts.append(f"<h2>Failed runs ({len(failed)})</h2>")
        parts.append(_table(failed[["run", "point", "sample", *res.keys, "status", "error"]]))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_sweep_report(res: SweepResults, path: str | Path) -> Path:
    """Write the report page to ``path``."""
    target = Path(path)
    target.write_text(render(res), encoding="utf-8")
    return target
