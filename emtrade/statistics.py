"""Statistics: tidy DataFrames derived from :class:`~emtrade.results.Results`, the input of every plot.

Every function takes one run (a ``Results``) or a collection of runs (a mapping of scenario name to
``Results``, such as :class:`emtrade.comparison.Comparison`) and returns a tidy DataFrame. For a
collection the frames of the runs are stacked with a leading ``scenario`` column, in the order of
the collection: a comparison is the same statistic with a ``scenario`` level.

Units: quantities in kg/yr, pollution equivalents in PE/yr, money in CNY/yr, prices in CNY/kg.
Each frame lists its units in ``frame.attrs["units"]``.

Tables that only some runs carry (``bank``, ``receptors``, penalty and fee columns, the MAC segments
``supply``) are picked up when present and give empty frames when absent.

The MAC segments come from the scenario, not from the solution: :func:`annotate` computes them (and
the zone labels and positions) from a loaded scenario and attaches them to the results as
``results.supply`` and ``results.labels``; the report writer saves them beside the tables as
``supply.csv`` and ``labels.json``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emtrade.registry import METALS, ZONES

#: the source named in permit flows for permits the government sells (auction, reserve sales)
GOVERNMENT = "government"
#: the source (withdrawals) or target (deposits) named in permit flows for the bank
BANK = "bank"
#: optional money columns of the firms (or enterprises) table picked up by the cost statistics
OPTIONAL_COSTS = ("penalty", "fee_paid", "allocation_fee")
#: grouping names accepted by ``by``
GROUPS = ("sector", "zone", "enterprise")


# -- collections --------------------------------------------------------------------------------
def is_collection(obj: Any) -> bool:
    """True for a mapping of scenario names to results (a collection of runs)."""
    return isinstance(obj, Mapping)


def collective(func: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """Make a statistic of one run accept a collection: stack the runs with a ``scenario`` column."""

    @functools.wraps(func)
    def wrapper(res, *args, **kwargs) -> pd.DataFrame:
        if not is_collection(res):
            return func(res, *args, **kwargs)
        frames = []
        units: dict[str, str] = {}
        for name, run in res.items():
            df = func(run, *args, **kwargs)
            units.update(df.attrs.get("units", {}))
            frames.append(df.assign(scenario=str(name)))
        if not frames:
            return pd.DataFrame(columns=["scenario"])
        out = pd.concat(frames, ignore_index=True) if any(len(f) for f in frames) else frames[0].iloc[0:0]
        out = out[["scenario", *[c for c in out.columns if c != "scenario"]]]
        out.attrs["units"] = units
        return out

    return wrapper


def _units(df: pd.DataFrame, **units: str) -> pd.DataFrame:
    df.attrs["units"] = {k: v for k, v in units.items() if k in df.columns}
    return df


def _check_by(by: str) -> None:
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}, not {by!r}")


def pe_weight(pollutant: str) -> float:
    """Pollution equivalents per kg of ``pollutant`` (1 for pollutants outside the registry)."""
    m = METALS.get(pollutant)
    return m.weight if m else 1.0


def periods_of(res) -> list[str]:
    """The periods of a run in their order."""
    periods = res.summary.get("periods")
    if periods:
        return [str(p) for p in periods]
    return list(dict.fromkeys(res.enterprises.period.astype(str)))


# -- costs -----------------------------------------------------------------------------------------
@collective
def costs(res, by: str = "sector") -> pd.DataFrame:
    """Costs per sector, zone or enterprise and period, with and without trading.

    Columns: ``by``, period, abatement_cost, permit_cost (negative: net sales), net_cost
    (= abatement + permit cost), cac_cost (abatement cost under command-and-control), savings
    (= cac_cost − net_cost), all CNY/yr; plus penalty, fee (CNY/yr) where the run has them.

    The intercept example: firm 1 abates 80 (cost 3,200) and sells 30 permits at 80; firm 2 abates 20
    (cost 60·20 + 20²/2 = 1,400) and buys them.

    >>> from emtrade import bundled_scenario, simulate, statistics
    >>> res = simulate(bundled_scenario("textbook/intercept"))
    >>> statistics.costs(res, by="enterprise")[["enterprise", "abatement_cost", "permit_cost", "net_cost"]]
      enterprise  abatement_cost  permit_cost  net_cost
    0         F1          3200.0      -2400.0     800.0
    1         F2          1400.0       2400.0    3800.0
    """
    _check_by(by)
    firms = res.firms
    extra = [c for c in OPTIONAL_COSTS if c in firms.columns]
    cols = ["abatement_cost", "permit_cost", "net_cost", "cac_cost", "savings", *extra]
    out = firms.groupby([by, "period"], sort=False)[cols].sum(min_count=1).reset_index()
    if by == "enterprise":
        info = firms.drop_duplicates("enterprise").set_index("enterprise")[["sector", "zone"]]
        out = out.join(info, on="enterprise")
        out = out[["enterprise", "sector", "zone", "period", *cols]]
    return _units(out, **dict.fromkeys(cols, "CNY/yr"))


@collective
def savings(res) -> pd.DataFrame:
    """What trading saves against command-and-control, per period and in total.

    Columns: period (``"total"`` for the sum), cost (abatement cost with trading), cac_cost
    (abatement cost under command-and-control), savings (CNY/yr) and savings_share (savings / cac_cost,
    NaN where the CAC cost is not positive). Permit payments are transfers and are not costs here.

    >>> from emtrade import bundled_scenario, simulate, statistics
    >>> res = simulate(bundled_scenario("textbook/fox_river"))
    >>> statistics.savings(res).set_index("period").loc["total"].to_dict()
    {'cost': 420.0, 'cac_cost': 560.0, 'savings': 140.0, 'savings_share': 0.25}
    """
    e = res.enterprises
    g = e.groupby("period", sort=False).agg(
        cost=("abatement_cost", "sum"), cac_cost=("cac_abatement_cost", lambda s: s.sum(min_count=1))
    )
    g.loc["total"] = [g.cost.sum(), g.cac_cost.sum(min_count=1)]
    g["savings"] = g.cac_cost - g.cost
    g["savings_share"] = np.where(g.cac_cost > 0, g.savings / g.cac_cost.where(g.cac_cost > 0), np.nan)
    out = g.reset_index().rename(columns={"index": "period"})
    return _units(out, cost="CNY/yr", cac_cost="CNY/yr", savings="CNY/yr", savings_share="1")


@collective
def enterprise_costs(res) -> pd.DataFrame:
    """Each enterprise's cost with and without trading, summed over periods (who gains, who pays).

    Columns: enterprise, sector, zone, cac_cost, net_cost, abatement_cost, permit_cost, savings
    (CNY/yr), net_purchase (kg/yr over all metals) and net_purchase_pe (PE/yr). Sorted by sector, then
    by savings (largest first).
    """
    f = res.firms
    cols = ["cac_cost", "net_cost", "abatement_cost", "permit_cost", "savings"]
    out = f.groupby("enterprise", sort=False).agg(
        sector=("sector", "first"), zone=("zone", "first"), **{c: (c, lambda s: s.sum(min_count=1)) for c in cols}
    )
    e = res.enterprises.assign(pe=lambda d: d.net_purchase * d.pollutant.map(pe_weight))
    net = e.groupby("enterprise", sort=False).agg(net_purchase=("net_purchase", "sum"), net_purchase_pe=("pe", "sum"))
    out = out.join(net).reset_index()
    out = out.sort_values(["sector", "savings"], ascending=[True, False], kind="stable").reset_index(drop=True)
    return _units(out, **dict.fromkeys(cols, "CNY/yr"), net_purchase="kg/yr", net_purchase_pe="PE/yr")


# -- emissions, abatement, caps ----------------------------------------------------------------------
@collective
def emissions(res, by: str = "sector") -> pd.DataFrame:
    """Discharge per sector, zone or enterprise, metal and period.

    Columns: ``by``, pollutant, period, baseline, allocation (free permits), emissions, abatement,
    net_purchase (> 0 bought), cac_emissions (under command-and-control), all kg/yr; emissions_pe
    (PE/yr). Allocation is NaN where no allocating cap covers the group.
    """
    _check_by(by)
    e = res.enterprises
    cols = ["baseline", "allocation", "emissions", "abatement", "net_purchase", "cac_emissions"]
    out = e.groupby([by, "pollutant", "period"], sort=False)[cols].sum(min_count=1).reset_index()
    out["emissions_pe"] = out.emissions * out.pollutant.map(pe_weight)
    return _units(out, **dict.fromkeys(cols, "kg/yr"), emissions_pe="PE/yr")


@collective
def caps(res) -> pd.DataFrame:
    """Emissions against caps: every cap and period.

    Columns: cap, pollutant, period, sector, zone (empty: all), role, total (the cap), baseline,
    emissions, headroom (= total − emissions), all kg/yr; utilisation (emissions / total);
    shadow_price (CNY/kg); binding.
    """
    c = res.caps.copy()
    if c.empty:
        cols = ["cap", "pollutant", "period", "sector", "zone", "role", "total", "baseline", "emissions"]
        c = pd.DataFrame(columns=[*cols, "headroom", "utilisation", "shadow_price", "binding"])
        return _units(c)
    c["headroom"] = c.total - c.emissions
    c["utilisation"] = np.where(c.total > 0, c.emissions / c.total.where(c.total > 0), np.nan)
    keep = [
        "cap",
        "pollutant",
        "period",
        "sector",
        "zone",
        "role",
        "total",
        "baseline",
        "emissions",
        "headroom",
        "utilisation",
        "shadow_price",
        "binding",
    ]
    out = c[[k for k in keep if k in c.columns]].reset_index(drop=True)
    kg = dict.fromkeys(["total", "baseline", "emissions", "headroom"], "kg/yr")
    return _units(out, **kg, utilisation="1", shadow_price="CNY/kg")


def technology_of(kind: pd.Series, name: pd.Series) -> pd.Series:
    """The group an abatement option belongs to: a technology's own name, else its kind."""
    labels = {
        "linear": "MAC curve (linear)",
        "step": "MAC curve (steps)",
        "output_cut": "output cuts",
        "retire": "closures",
    }
    out = kind.map(labels).fillna(kind).astype(object)
    tech = kind.eq("technology")
    out[tech] = name[tech]
    out[kind.eq("retire") & name.eq("phase-out closure")] = "phase-out closures"
    return out


@collective
def abatement_by_technology(res, by: str | None = None) -> pd.DataFrame:
    """Abatement per technology (a technology's name; other options grouped by kind), metal and period.

    Columns: technology, kind, [``by``,] pollutant, period, abatement (kg/yr), abatement_pe (PE/yr),
    enterprises (how many use it). Sorted by period, pollutant, then abatement (largest first).
    """
    a = res.abatement
    cols = ["technology", "kind", *([by] if by else []), "pollutant", "period"]
    if a.empty:
        return _units(pd.DataFrame(columns=[*cols, "abatement", "abatement_pe", "enterprises"]))
    a = a.assign(technology=technology_of(a.kind, a.name))
    if by:
        _check_by(by)
        if by != "enterprise":
            info = res.enterprises.drop_duplicates("enterprise").set_index("enterprise")[by]
            a = a.assign(**{by: a.enterprise.map(info)})
    out = (
        a.groupby(cols, sort=False)
        .agg(abatement=("abatement", "sum"), enterprises=("enterprise", "nunique"))
        .reset_index()
    )
    out.insert(len(cols) + 1, "abatement_pe", out.abatement * out.pollutant.map(pe_weight))
    order = {p: i for i, p in enumerate(periods_of(res))}
    out = out.sort_values(
        ["period", "pollutant", "abatement"],
        ascending=[True, True, False],
        key=lambda s: s.map(order) if s.name == "period" else s,
        kind="stable",
    ).reset_index(drop=True)
    return _units(out, abatement="kg/yr", abatement_pe="PE/yr")


# -- markets -----------------------------------------------------------------------------------------
@collective
def prices(res) -> pd.DataFrame:
    """Permit prices per market, metal and period, with the bank where the run has one.

    Columns: market, pollutant, period, price, price_low, price_high (CNY/kg), permits, emissions,
    bought (kg/yr), value (= bought × price, CNY/yr), banked (kg/yr, NaN without a bank).
    """
    p = res.prices.copy()
    cols = ["market", "pollutant", "period", "price", "price_low", "price_high", "permits", "emissions", "bought"]
    p = p[[c for c in cols if c in p.columns]]
    p["value"] = p.bought * p.price if "bought" in p.columns else np.nan
    bank = getattr(res, "bank", None)
    if isinstance(bank, pd.DataFrame) and not bank.empty:
        col = next((c for c in ("banked", "bank", "balance") if c in bank.columns), None)
        if col is not None:
            keys = [k for k in ("market", "pollutant", "period") if k in bank.columns]
            b = bank.assign(period=bank.period.astype(str))[[*keys, col]].rename(columns={col: "banked"})
            p = p.merge(b.groupby(keys, sort=False).banked.sum().reset_index(), on=keys, how="left")
    if "banked" not in p.columns:
        p["banked"] = np.nan
    return _units(
        p.reset_index(drop=True),
        price="CNY/kg",
        price_low="CNY/kg",
        price_high="CNY/kg",
        permits="kg/yr",
        emissions="kg/yr",
        bought="kg/yr",
        value="CNY/yr",
        banked="kg",
    )


def commodity_frame(res) -> pd.DataFrame:
    """The enterprises' rows that trade, with the market's commodity and units.

    A market trades one metal (quantities in kg) or, when metals are exchanged by pollution
    equivalent, the ``PE`` (the prices table names the commodity ``PE``). Adds ``commodity`` and
    ``w`` (commodity units per kg: 1, or PE per kg) and ``net`` (= net_purchase · w).
    """
    e = res.enterprises
    e = e[e.market.astype(str).ne("") & e.net_purchase.notna()]
    pollutants = set(res.enterprises.pollutant)
    p = res.prices
    pe_markets = set()
    if not p.empty:
        foreign = p[~p.pollutant.isin(pollutants)]
        pe_markets = set(zip(foreign.market.astype(str), foreign.period.astype(str), strict=True))
    key = list(zip(e.market.astype(str), e.period.astype(str), strict=True))
    is_pe = np.array([k in pe_markets for k in key], dtype=bool)
    w = np.where(is_pe, e.pollutant.map(pe_weight).to_numpy(dtype=float), 1.0)
    return e.assign(commodity=np.where(is_pe, "PE", e.pollutant.to_numpy(dtype=object)), w=w, net=e.net_purchase * w)


def bank_changes(res) -> dict[tuple[str, str, str], float]:
    """Permits put into the bank (> 0) or taken out (< 0, borrowing included) per market and period, kg.

    The change of the balance ``banked`` (carried into the next period) from the period before.
    """
    bank = getattr(res, "bank", None)
    if not isinstance(bank, pd.DataFrame) or bank.empty or "banked" not in bank.columns:
        return {}
    order = {p: i for i, p in enumerate(periods_of(res))}
    out = {}
    b = bank.assign(period=bank.period.astype(str), _o=bank.period.astype(str).map(order))
    for (market, pol), g in b.sort_values("_o", kind="stable").groupby(["market", "pollutant"], sort=False):
        before = 0.0
        for period, banked in zip(g.period, g.banked.astype(float), strict=True):
            out[(str(market), str(pol), period)] = banked - before
            before = banked
    return out


@dataclass
class Pool:
    """One market in one period: who sells and buys (by group), and the other sources and uses.

    Quantities in the market's commodity (kg, or PE in a PE market) per year: ``sells`` and ``buys``
    per group; ``exports`` and ``imports`` to and from other (zone) markets; ``withdrawn`` from and
    ``deposited`` into the bank; ``government`` the permits the government sold (auction, reserve,
    ceiling), by balance: purchases + deposits + exports = sales + withdrawals + imports + government.
    """

    key: tuple[str, str, str]
    sells: pd.Series
    buys: pd.Series
    price: float  # CNY per commodity unit
    pe: float  # PE per commodity unit
    exports: float = 0.0
    imports: float = 0.0
    withdrawn: float = 0.0
    deposited: float = 0.0

    @property
    def local_sales(self) -> float:
        return max(0.0, float(self.sells.sum()) - self.exports)

    @property
    def local_purchases(self) -> float:
        return max(0.0, float(self.buys.sum()) - self.imports)

    @property
    def government(self) -> float:
        g = self.local_purchases + self.deposited - self.local_sales - self.withdrawn
        scale = float(self.sells.sum() + self.buys.sum()) + self.withdrawn + self.deposited
        return g if g > 1e-7 * max(1.0, scale) else 0.0  # beyond the rounding of the results


def market_pools(res, by: str = "sector") -> dict[tuple[str, str, str], Pool]:
    """Every market and period of a run as a :class:`Pool`, with the groups ``by`` sector, zone or enterprise."""
    e = commodity_frame(res)
    pools = {}
    for (market, com, period), g in e.groupby(["market", "commodity", "period"], sort=False):
        grp = g[by].astype(str)
        sells = (-g.net).clip(lower=0).groupby(grp, sort=False).sum()
        buys = g.net.clip(lower=0).groupby(grp, sort=False).sum()
        # price per commodity unit; a PE row's price is per kg of its metal, so divide by its weight
        priced = g[g.price.notna()]
        price = float((priced.price / priced.w).iloc[0]) if len(priced) else 0.0
        pe = 1.0 if com == "PE" else pe_weight(com)
        key = (str(market), str(com), str(period))
        pools[key] = Pool(key, sells[sells > 0], buys[buys > 0], price, pe)
    for key, delta in bank_changes(res).items():
        if key in pools:
            pools[key].deposited, pools[key].withdrawn = max(delta, 0.0), max(-delta, 0.0)
    for src, dst, sold, got in _moves(res):
        if src in pools:
            pools[src].exports += sold
        if dst in pools:
            pools[dst].imports += got
    return pools


def _moves(res) -> list[tuple[tuple[str, str, str], tuple[str, str, str], float, float]]:
    """Permits sold between zone markets (the run's ``flows`` table): (from, to, kg sold, kg delivered)."""
    between = getattr(res, "flows", None)
    if not isinstance(between, pd.DataFrame) or between.empty or not {"from", "to", "sold"} <= set(between.columns):
        return []
    got_col = between["delivered"] if "delivered" in between.columns else between["sold"]
    cols = (between["from"], between["to"], between["pollutant"], between["period"], between["sold"], got_col)
    out = []
    for a, b, pol, period, sold, got in zip(*cols, strict=True):
        if float(sold) > 0:
            out.append(((str(a), str(pol), str(period)), (str(b), str(pol), str(period)), float(sold), float(got)))
    return out


@collective
def flows(res, by: str = "sector") -> pd.DataFrame:
    """Permit flows from sellers' groups to buyers' groups, per market and period.

    The model fixes each enterprise's net position, not who trades with whom; flows are read as a
    pool: in each market the permits on offer (the enterprises' sales, withdrawals from the bank,
    the government's sales) go to the uses (purchases, deposits into the bank) in proportion,

        flow(i → j) = V · s_i / S · b_j / B,     V = min(S, B),

    with s_i each source and b_j each use, S and B their totals. Purchases beyond the enterprises'
    sales and the bank come from ``"government"`` (an auction, reserve or ceiling sales); the bank
    is the source or target ``"bank"``. Where permits move between zone markets (the run's own
    ``flows`` table: from, to, sold, delivered), those sales are spread over the selling market's
    sellers and the buying market's buyers the same way, and only the rest is traded locally.
    Columns: market, pollutant (the commodity: a metal, or ``PE``), period, source, target (group
    ids), quantity (kg/yr, or PE/yr in a PE market; the seller's side), value (= quantity × the
    seller's price, CNY/yr), quantity_pe (PE/yr).
    """
    _check_by(by)
    pools = market_pools(res, by)
    cols = ["market", "pollutant", "period", "source", "target", "quantity", "value", "quantity_pe"]
    rows = []
    for key, p in pools.items():
        S, B = float(p.sells.sum()), float(p.buys.sum())
        sources = (p.sells * (p.local_sales / S) if S > 0 else p.sells).to_dict()
        uses = (p.buys * (p.local_purchases / B) if B > 0 else p.buys).to_dict()
        for name, amount in ((BANK, p.withdrawn), (GOVERNMENT, p.government)):
            if amount > 0:
                sources[name] = sources.get(name, 0.0) + amount
        if p.deposited > 0:
            uses[BANK] = uses.get(BANK, 0.0) + p.deposited
        s_tot, u_tot = sum(sources.values()), sum(uses.values())
        volume = min(s_tot, u_tot)
        if volume <= 0:
            continue
        for g, s in sources.items():
            for h, u in uses.items():
                rows.append((*key, g, h, volume * s / s_tot * u / u_tot, p.price, p.pe))
    for src, dst, sold, _got in _moves(res):
        a, b = pools.get(src), pools.get(dst)
        if a is None:
            continue
        sellers = a.sells / a.sells.sum() if a.sells.sum() > 0 else pd.Series({src[0]: 1.0})
        buyers = b.buys / b.buys.sum() if b is not None and b.buys.sum() > 0 else pd.Series({dst[0]: 1.0})
        for g, x in sellers.items():
            for h, y in buyers.items():
                rows.append((*src, g, h, sold * x * y, a.price, a.pe))
    out = pd.DataFrame(rows, columns=["market", "pollutant", "period", "source", "target", "quantity", "price", "pe"])
    out = out[out.quantity > 0]
    out["value"] = out.quantity * out.price
    out["quantity_pe"] = out.quantity * out.pe
    return _units(out[cols].reset_index(drop=True), quantity="kg/yr", value="CNY/yr", quantity_pe="PE/yr")


#: revenue sources: the column of the enterprises table summed, and its label
REVENUE_SOURCES = {
    "penalty": "penalties",
    "allocation_fee": "allocation fees",
    "fee_paid": "transaction fees",
}


@collective
def revenue(res) -> pd.DataFrame:
    """Money the government receives, per period and source (CNY/yr).

    ``permit sales``: the permits the government sells in each market (an auction, reserve or
    ceiling sales: purchases and bank deposits the enterprises' sales and bank withdrawals do not
    cover, see :class:`Pool`) at the market price. ``penalties``, ``allocation fees`` (paid use of
    free permits) and ``transaction fees``: the enterprises' columns of those names, where the run
    has them. Columns: period, source, amount. Sources that are zero in every period are left out.
    """
    e = res.enterprises
    rows = []
    sales: dict[str, float] = {}
    for (_, _, period), p in market_pools(res).items():
        sales[period] = sales.get(period, 0.0) + p.government * p.price
    if any(v != 0 for v in sales.values()):
        rows += [(period, "permit sales", v) for period, v in sales.items()]
    for col, label in REVENUE_SOURCES.items():
        if col not in e.columns:
            continue
        total = e.groupby("period", sort=False)[col].sum()
        if (total.abs() > 1e-9).any():
            rows += [(period, label, float(v)) for period, v in total.items()]
    return _units(pd.DataFrame(rows, columns=["period", "source", "amount"]), amount="CNY/yr")


# -- receptors -----------------------------------------------------------------------------------------
RECEPTOR_COLUMNS = ["receptor", "pollutant", "period", "load", "limit", "utilisation", "shadow_price"]
CONCENTRATION_NAMES = ("concentration", "concentration_mg_l", "concentration_mg_per_l")
CLASS_LIMIT_NAMES = ("class_limit", "class_limit_mg_l", "limit_mg_l", "limit_concentration")
WATER_CLASS_NAMES = ("water_class", "class", "target_class")


def _first(df: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in df.columns), None)


@collective
def receptors(res) -> pd.DataFrame:
    """Loads on the receptors (river sections) against their limits, where the run has receptors.

    Columns: receptor, pollutant, period, load, limit (in the transfer coefficients' unit: kg/yr
    arriving on the default load basis), utilisation (load / limit), shadow_price (CNY per unit of
    load), and where the run gives them name, section, concentration and class_limit (mg/L, from a
    river description) and water_class (the GB 3838 class the section must meet). Empty without a
    ``receptors`` table.
    """
    r = getattr(res, "receptors", None)
    if not isinstance(r, pd.DataFrame) or r.empty:
        return _units(pd.DataFrame(columns=RECEPTOR_COLUMNS))
    out = pd.DataFrame(
        {
            "receptor": r.receptor.astype(str),
            "pollutant": r.pollutant.astype(str),
            "period": r.period.astype(str),
            "load": r["load"].astype(float) if "load" in r.columns else np.nan,
            "limit": r["limit"].astype(float) if "limit" in r.columns else np.nan,
        }
    )
    out["utilisation"] = np.where(out["limit"] > 0, out["load"] / out["limit"].where(out["limit"] > 0), np.nan)
    out["shadow_price"] = r["shadow_price"].astype(float) if "shadow_price" in r.columns else np.nan
    for names, col in ((CONCENTRATION_NAMES, "concentration"), (CLASS_LIMIT_NAMES, "class_limit")):
        src = _first(r, names)
        if src is not None:
            out[col] = r[src].astype(float).to_numpy()
    src = _first(r, WATER_CLASS_NAMES)
    if src is not None:
        out["water_class"] = r[src].astype(str).to_numpy()
    if "name" in r.columns:
        out["name"] = r["name"].astype(object).where(r["name"].notna() & r["name"].astype(str).ne(""), out.receptor)
    if "section" in r.columns:
        out["section"] = r["section"].astype(str).to_numpy()
    return _units(
        out.reset_index(drop=True),
        load="transfer-coefficient unit (kg/yr on the load basis)",
        limit="transfer-coefficient unit (kg/yr on the load basis)",
        utilisation="1",
        shadow_price="CNY per unit of load",
        concentration="mg/L",
        class_limit="mg/L",
    )


# -- zones ---------------------------------------------------------------------------------------------
def zone_table(res) -> pd.DataFrame:
    """Labels and schematic positions of the zones of a run.

    From the run's ``labels`` (the scenario's zones table) where given, else the registry; zones
    known to neither are placed on a ring around the others. Columns: zone, name_en, name_zh, x, y.
    """
    labels = (getattr(res, "labels", None) or {}).get("zones", {})
    zones = [z for z in dict.fromkeys(res.enterprises.zone.astype(str)) if z != ""]
    rows, unplaced = [], []
    for z in zones:
        info, reg = labels.get(z, {}), ZONES.get(z)
        x = info.get("x") if info.get("x") is not None else (reg.x if reg else None)
        y = info.get("y") if info.get("y") is not None else (reg.y if reg else None)
        en = info.get("name") or (reg.name_en if reg else z)
        zh = info.get("name_zh") or (reg.name_zh if reg else en)
        rows.append({"zone": z, "name_en": en, "name_zh": zh, "x": x, "y": y})
        if x is None or y is None:
            unplaced.append(len(rows) - 1)
    for k, i in enumerate(unplaced):
        angle = 2 * math.pi * k / max(1, len(unplaced))
        rows[i]["x"], rows[i]["y"] = 1.4 * math.cos(angle), 1.4 * math.sin(angle)
    return pd.DataFrame(rows, columns=["zone", "name_en", "name_zh", "x", "y"]).astype({"x": float, "y": float})


@collective
def zones(res, pollutant: str | None = None) -> pd.DataFrame:
    """Emissions and net permit flows per zone, with the zones' schematic positions.

    ``pollutant`` None sums all metals in pollution equivalents. Columns: zone, name_en, name_zh, x, y,
    period, baseline, emissions, net_purchase (> 0: the zone's enterprises bought on balance),
    in kg/yr for one metal or PE/yr for all; enterprises (how many). Enterprises without a zone
    are left out.
    """
    e = res.enterprises
    e = e[e.zone.astype(str).ne("")]
    e = e[e.pollutant == pollutant].assign(w=1.0) if pollutant else e.assign(w=e.pollutant.map(pe_weight))
    cols = ["baseline", "emissions", "net_purchase"]
    w = e[cols].mul(e.w, axis=0).assign(zone=e.zone, period=e.period, enterprise=e.enterprise)
    g = (
        w.groupby(["zone", "period"], sort=False)
        .agg(**{c: (c, "sum") for c in cols}, enterprises=("enterprise", "nunique"))
        .reset_index()
    )
    out = zone_table(res).merge(g, on="zone", how="inner")
    unit = "kg/yr" if pollutant else "PE/yr"
    return _units(out, **dict.fromkeys(cols, unit))


# -- the market's supply: aggregate MAC curves -----------------------------------------------------------
SUPPLY_COLUMNS = [
    "market",
    "pollutant",
    "period",
    "enterprise",
    "option",
    "kind",
    "name",
    "mc_start",
    "mc_end",
    "quantity",
    "forced",
]


def supply_segments(scenario, results) -> pd.DataFrame:
    """The abatement options of a scenario as MAC segments per market (the supply of abatement).

    One row per option, metal and period whose enterprise trades that metal in a market of
    ``results``: the marginal cost at the segment's start and end (``mc_start``, ``mc_end``, CNY/kg)
    and its capacity (``quantity``, kg/yr). Linear options run from intercept to intercept +
    slope·max; a step costs its cost. An option that abates several metals (technology, output
    cut, closure) costs, per kg of metal p, its full cost (running + fixed, CNY/yr) times p's share
    of the pollution equivalents it removes, divided by the kg of p it removes: the same attribution
    the results use for per-metal costs. Such joint options make any one metal's curve an
    approximation; the market's outcome is marked separately on the chart. ``forced`` marks phase-out
    closures, which abate whatever the price.
    """
    from emtrade.inputs import build_inputs

    inputs = build_inputs(scenario)
    opt, coef, pairs = inputs.options, inputs.coef, inputs.pairs
    if opt.empty or coef.empty:
        return pd.DataFrame(columns=SUPPLY_COLUMNS)
    c = coef.assign(
        enterprise=pairs.enterprise.to_numpy(dtype=object)[coef.pair.to_numpy()],
        pollutant=pairs.pollutant.to_numpy(dtype=object)[coef.pair.to_numpy()],
    )
    c["w"] = c.pollutant.map(pe_weight)
    c["pe"] = c.w * c.kg_per_unit
    pe_total = c.groupby("option").pe.sum()
    o = opt.loc[c.option.to_numpy()]
    upper = o.upper.to_numpy(dtype=float)
    lin = o.cost.to_numpy(dtype=float)
    quad = o.quad.to_numpy(dtype=float)
    fixed = o.fixed_cost.to_numpy(dtype=float)
    kind = o.kind.to_numpy(dtype=object)
    k = c.kg_per_unit.to_numpy(dtype=float)
    single = np.isin(kind, ["linear", "step"])
    # single-metal options: k = 1 kg per unit, MAC = lin + quad·v
    start = np.where(single, lin / np.where(single, k, 1.0), np.nan)
    end = np.where(single, (lin + quad * upper) / np.where(single, k, 1.0), np.nan)
    # joint options: full cost × PE share / kg of this metal
    full = lin * upper + fixed
    share = c.pe.to_numpy() / pe_total.reindex(c.option).to_numpy()
    per_kg = np.divide(full * share, k * upper, out=np.zeros_like(full), where=(k * upper) > 0)
    start = np.where(single, start, per_kg)
    end = np.where(single, end, per_kg)
    seg = pd.DataFrame(
        {
            "enterprise": c.enterprise.to_numpy(),
            "option": c.option.to_numpy(),
            "kind": kind,
            "name": o.name.astype(str).to_numpy(),
            "pollutant": c.pollutant.to_numpy(),
            "mc_start": start,
            "mc_end": end,
            "quantity": k * upper,
            "forced": o.forced.to_numpy(dtype=bool),
        }
    )
    seg = seg[seg.quantity > 0]
    e = commodity_frame(results)[["enterprise", "pollutant", "period", "market", "commodity", "w"]]
    out = seg.merge(e, on=["enterprise", "pollutant"], how="inner")
    # a PE market: quantities in PE, marginal costs per PE
    out["quantity"] = out.quantity * out.w
    out["mc_start"] = out.mc_start / out.w
    out["mc_end"] = out.mc_end / out.w
    out["pollutant"] = out.commodity
    order = {p: i for i, p in enumerate(periods_of(results))}
    out = out.sort_values(
        ["period", "market", "pollutant", "option"], key=lambda s: s.map(order) if s.name == "period" else s
    )
    return out[SUPPLY_COLUMNS].reset_index(drop=True)


def mac_points(segments: pd.DataFrame) -> pd.DataFrame:
    """The aggregate MAC curve of a set of segments, exactly, as the corners of a piecewise-linear line.

    Supply S(p) = Σ_steps q·[c < p] + Σ_linear clip((p − a)/h, 0, u): the abatement (kg/yr) the
    options give at price p. At each breakpoint (a step's cost, a linear segment's start or end)
    the curve has the points (S(p⁻), p) and (S(p⁺), p); between breakpoints it is linear, so joining
    the points draws it exactly. Forced segments (phase-out) count at every price and start the
    curve. Columns: quantity (kg/yr), price (CNY/kg).
    """
    if segments.empty:
        return pd.DataFrame(columns=["quantity", "price"])
    forced = segments[segments.forced.astype(bool)]
    s = segments[~segments.forced.astype(bool)]
    q0 = float(forced.quantity.sum())
    steps = s[(s.mc_end - s.mc_start).abs() <= 1e-12 * np.maximum(1.0, s.mc_start.abs())]
    ramps = s.drop(steps.index)
    a, b, u = ramps.mc_start.to_numpy(), ramps.mc_end.to_numpy(), ramps.quantity.to_numpy()
    breaks = np.unique(np.concatenate([steps.mc_start.to_numpy(), a, b]))
    if len(breaks) == 0:
        return pd.DataFrame({"quantity": [0.0, q0], "price": [0.0, 0.0]})
    # steps: quantity strictly below p and at p
    sc, sq = steps.mc_start.to_numpy(), steps.quantity.to_numpy()
    order = np.argsort(sc, kind="stable")
    sc, cum = sc[order], np.concatenate([[0.0], np.cumsum(sq[order])])
    below = cum[np.searchsorted(sc, breaks, side="left")]
    upto = cum[np.searchsorted(sc, breaks, side="right")]
    # ramps: piecewise linear in p; slope changes by u/(b−a) at a and by −u/(b−a) at b
    ramp_at = np.zeros(len(breaks))
    if len(a):
        rate = u / (b - a)
        d_rate = np.zeros(len(breaks))
        np.add.at(d_rate, np.searchsorted(breaks, a), rate)
        np.add.at(d_rate, np.searchsorted(breaks, b), -rate)
        slope = np.cumsum(d_rate)  # slope on [breaks[k], breaks[k+1])
        ramp_at[1:] = np.cumsum(slope[:-1] * np.diff(breaks))
    lo = q0 + below + ramp_at
    hi = q0 + upto + ramp_at
    qs = np.empty(2 * len(breaks))
    qs[0::2], qs[1::2] = lo, hi
    ps = np.repeat(breaks, 2)
    pts = pd.DataFrame({"quantity": qs, "price": ps})
    if q0 > 0:
        pts = pd.concat([pd.DataFrame({"quantity": [0.0], "price": [min(0.0, breaks[0])]}), pts], ignore_index=True)
    # drop repeated corners
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = (np.diff(pts.quantity.to_numpy()) != 0) | (np.diff(pts.price.to_numpy()) != 0)
    return pts[keep].reset_index(drop=True)


@collective
def supply_curve(res) -> pd.DataFrame:
    """Aggregate MAC curves of every market of a run with its clearing point.

    Columns: market, pollutant, period, quantity (abatement, kg/yr), price (marginal cost, CNY/kg).
    Needs ``res.supply`` (see :func:`annotate`); empty without it.
    """
    seg = getattr(res, "supply", None)
    cols = ["market", "pollutant", "period", "quantity", "price"]
    if not isinstance(seg, pd.DataFrame) or seg.empty:
        return _units(pd.DataFrame(columns=cols))
    frames = []
    for (m, p, t), g in seg.groupby(["market", "pollutant", "period"], sort=False):
        pts = mac_points(g)
        frames.append(pts.assign(market=m, pollutant=p, period=t))
    out = pd.concat(frames, ignore_index=True)[cols]
    return _units(out, quantity="kg/yr", price="CNY/kg")


@collective
def market_balance(res) -> pd.DataFrame:
    """Each market's requirement and outcome, for the supply-and-demand chart.

    Columns: market, pollutant, period, baseline, permits (the cap issued), required (= baseline −
    permits, the abatement the cap demands), abatement (achieved), all kg/yr; price, price_low,
    price_high (CNY/kg).
    """
    p = res.prices
    cols = ["market", "pollutant", "period", "baseline", "permits", "required", "abatement"]
    if p.empty:
        return _units(pd.DataFrame(columns=[*cols, "price", "price_low", "price_high"]))
    out = p[["market", "pollutant", "period", "baseline", "permits", "emissions", "price", "price_low", "price_high"]]
    out = out.assign(required=(out.baseline - out.permits).clip(lower=0), abatement=out.baseline - out.emissions)
    out = out[[*cols, "price", "price_low", "price_high"]].reset_index(drop=True)
    return _units(out, **dict.fromkeys(cols[3:], "kg/yr"), price="CNY/kg", price_low="CNY/kg", price_high="CNY/kg")


# -- headline ----------------------------------------------------------------------------------------------
HEADLINE_UNITS = {
    "total_cost": "CNY/yr",
    "cac_total_cost": "CNY/yr",
    "savings": "CNY/yr",
    "savings_share": "%",
    "permits_traded": "kg/yr",
    "trade_value": "CNY/yr",
    "baseline_pe": "PE/yr",
    "emissions_pe": "PE/yr",
    "reduction_share": "%",
    "government_revenue": "CNY/yr",
    "enterprises": "",
    "firms_worse_off": "",
    "markets": "",
    "binding_caps": "",
}


@collective
def headline(res) -> pd.DataFrame:
    """The headline numbers of a run (summed over periods).

    Rows (metric, value, unit): total_cost (abatement cost with trading), cac_total_cost
    (command-and-control), savings (CNY/yr) and savings_share (%); permits_traded (kg/yr of metal
    bought) and trade_value (CNY/yr: purchases at the market prices); baseline_pe, emissions_pe
    (PE/yr) and reduction_share (%); government_revenue (CNY/yr); enterprises, firms_worse_off,
    markets and binding_caps (counts).
    """
    e, s = res.enterprises, res.summary
    sav = savings(res).set_index("period").loc["total"]
    w = e.pollutant.map(pe_weight)
    base_pe = float((e.baseline * w).sum())
    em_pe = float((e.emissions * w).sum())
    pr = prices(res)
    rev = revenue(res)
    c = res.caps
    values = {
        "total_cost": float(sav.cost),
        "cac_total_cost": float(sav.cac_cost),
        "savings": float(sav.savings),
        "savings_share": 100 * float(sav.savings_share),
        # kg of metal bought by enterprises (from one another, the bank or the government)
        "permits_traded": float(e.net_purchase.where(e.market.astype(str).ne(""), 0.0).clip(lower=0).sum()),
        "trade_value": float(pr.value.sum()),
        "baseline_pe": base_pe,
        "emissions_pe": em_pe,
        "reduction_share": 100 * (1 - em_pe / base_pe) if base_pe > 0 else np.nan,
        "government_revenue": float(rev[rev.source != "transaction fees"].amount.sum()) if len(rev) else 0.0,
        "enterprises": float(e.enterprise.nunique()),
        "firms_worse_off": float(len(s.get("firms_worse_off") or [])),
        "markets": float(len(res.prices)),
        "binding_caps": float(c.binding.sum()) if "binding" in c.columns else np.nan,
    }
    out = pd.DataFrame({"metric": list(values), "value": list(values.values())})
    out["unit"] = out.metric.map(HEADLINE_UNITS)
    return out


# -- scenario extras -----------------------------------------------------------------------------------------
def scenario_labels(scenario) -> dict[str, Any]:
    """Zone labels and positions and enterprise names of a scenario, for the report (JSON-ready)."""
    spec = scenario.spec
    zones_ = {z.id: {"name": z.name, "name_zh": z.name_zh, "key": z.key, "x": z.x, "y": z.y} for z in spec.zones}
    names = {e.id: e.name for e in spec.enterprises if e.name}
    river = getattr(scenario, "river", None)
    sections = {s.id: s.name for s in getattr(getattr(river, "spec", None), "sections", []) if s.name}
    return {
        "scenario": spec.name,
        "description": spec.description or "",
        "zones": zones_,
        "enterprises": names,
        "sections": sections,
    }


def annotate(results, scenario) -> Any:
    """Attach what the charts need from the scenario to ``results``: ``supply`` and ``labels``.

    ``supply`` (:func:`supply_segments`) draws the markets' MAC curves; ``labels`` gives zone names,
    schematic positions and enterprise names. Returns ``results``.
    """
    results.supply = supply_segments(scenario, results)
    results.labels = scenario_labels(scenario)
    return results
