"""Reading a solution back into named quantities: activity per option, discharge per enterprise, prices.

Cost attribution: an option that abates one metal (linear, step) charges its cost to that metal;
an option that abates several (technology, output cut, retirement) splits its cost among them in
proportion to the pollution equivalents it removes (kg × PE weight; weight 1 for pollutants
outside the registry), so that the per-metal costs of an enterprise add up to its total.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from emtrade.allocation import pair_lookup
from emtrade.inputs import ACTIVITY_UNITS
from emtrade.model.build import Built, by_pollutant
from emtrade.registry import METALS
from emtrade.solve import Solution


@dataclass
class Outcome:
    """One solved model in arrays over (pair, period) = row t·|pairs| + pair, plus tables."""

    abatement: np.ndarray  # kg/yr per (pair, period)
    emissions: np.ndarray  # kg/yr per (pair, period)
    cost: np.ndarray  # CNY/yr per (pair, period), attributed as in the module docstring
    options: pd.DataFrame  # option × period
    abatement_long: pd.DataFrame  # option × pollutant × period
    markets: pd.DataFrame  # with price, price_low, price_high (current CNY), instruments
    caps: pd.DataFrame  # with emissions, shadow_price
    bank: pd.DataFrame
    receptors: pd.DataFrame
    flows: pd.DataFrame
    limits: pd.DataFrame
    excess: np.ndarray  # kg/yr per (pair, period) beyond the permits held (penalised)
    bought: np.ndarray  # kg/yr per (pair, period) bought, where a fee makes it firm-level (NaN elsewhere)
    sold: np.ndarray
    fee_paid: np.ndarray  # CNY/yr per (pair, period), present value (δ_t · fee · bought)


def read_outcome(built: Built, sol: Solution) -> Outcome:
    inputs, prob = built.inputs, built.problem
    n_opt, n_t, n_pairs = len(inputs.options), len(inputs.periods), len(inputs.pairs)
    act = prob.columns["activity"]
    v = sol.x[act.slice]
    abatement = built.K @ v
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), n_t)
    emissions = np.maximum(base - abatement, 0.0)
    # option costs per period
    opt = inputs.options
    cost_lin = np.tile(opt.cost.to_numpy(dtype=float), n_t)
    quad = np.tile(opt.quad.to_numpy(dtype=float), n_t)
    opt_cost = cost_lin * v + 0.5 * quad * v * v
    adopted = np.zeros(n_opt * n_t, dtype=bool)
    if "adopt" in prob.columns:
        blk = prob.columns["adopt"]
        y = np.round(sol.x[blk.slice])
        cols = blk.index.option.to_numpy() + n_opt * np.array([inputs.periods.index(t) for t in blk.index.period])
        fixed = np.zeros(n_opt * n_t)
        np.add.at(fixed, cols, y * opt.fixed_cost.to_numpy(dtype=float)[blk.index.option.to_numpy()])
        opt_cost = opt_cost + fixed
        adopted[cols] = y > 0.5
    integer = np.tile(opt.integer.to_numpy(dtype=bool), n_t)
    adopted |= np.where(integer, v > 0.5, v > 1e-9)
    # attribute each option's cost to the pairs it abates, by pollution equivalents removed
    K = built.K.tocsc()
    if K.nnz == K.shape[1] and np.array_equal(K.indptr, np.arange(K.shape[1] + 1)):
        # every option abates one pair (steps, linear MACs): its whole cost is that pair's; no
        # weighted copies of K (a million-firm market would hold several of 5 million entries)
        with_share = (K.data * v) > 0
        cost = np.bincount(K.indices[with_share], weights=opt_cost[with_share], minlength=n_pairs * n_t)
    else:
        weights = by_pollutant(inputs, lambda p: METALS[p].weight if p in METALS else 1.0, float)
        pe = (sp.diags(np.tile(weights, n_t)) @ K @ sp.diags(v)).tocsc()  # (pairT × optT) PE removed
        share_total = np.asarray(pe.sum(axis=0)).ravel()
        with_share = share_total > 0
        scaled = pe @ sp.diags(np.where(with_share, opt_cost / np.where(with_share, share_total, 1.0), 0.0))
        cost = np.asarray(scaled.sum(axis=1)).ravel()
    # costs with nothing abated (a fixed cost of an unused share, a closure of a firm with no
    # remaining discharge): spread over the enterprise's pairs equally
    orphan = np.flatnonzero(~with_share & (np.abs(opt_cost) > 0))
    if len(orphan):
        pair_ent = inputs.pairs.ent.to_numpy()
        for col in orphan:
            o, t = col % n_opt, col // n_opt
            mine = np.flatnonzero(pair_ent == opt.ent.iat[o])
            if len(mine):
                cost[t * n_pairs + mine] += opt_cost[col] / len(mine)

    periods = np.array(inputs.periods, dtype=object)
    o_idx = np.tile(np.arange(n_opt), n_t)
    # the few-valued columns are categorical: a million-firm market has five million rows per period
    kind = pd.Categorical(opt.kind.to_numpy(dtype=object))
    options = pd.DataFrame(
        {
            "enterprise": np.tile(opt.enterprise.to_numpy(dtype=object), n_t),
            "option": o_idx,
            "kind": _repeat_categorical(kind, n_t),
            "name": np.tile(opt.name.to_numpy(dtype=object), n_t),
            "pollutant": _repeat_categorical(pd.Categorical(opt.pollutant.to_numpy(dtype=object)), n_t),
            "period": pd.Categorical.from_codes(np.repeat(np.arange(n_t, dtype=np.int16), n_opt), periods),
            "level": v,
            "unit": _repeat_categorical(_mapped(kind, ACTIVITY_UNITS), n_t),
            "upper": np.tile(opt.upper.to_numpy(dtype=float), n_t),
            "cost": opt_cost,
            "adopted": adopted,
        }
    )
    abatement_long = _abatement_long(inputs, K, v, periods)

    markets, pt = _read_markets(built, sol, emissions)
    caps = _read_caps(built, sol, emissions, markets)
    return Outcome(
        abatement,
        emissions,
        cost,
        options,
        abatement_long,
        markets,
        caps,
        bank=_read_bank(built, sol),
        receptors=_read_receptors(built, sol, emissions),
        flows=_read_flows(built, sol),
        limits=_read_limits(built, sol, emissions),
        **pt,
    )


def _repeat_categorical(values: pd.Categorical, n_t: int) -> pd.Categorical:
    """``values`` once per period (period-major), as a categorical of the same categories."""
    return pd.Categorical.from_codes(np.tile(values.codes, n_t), values.categories)


def _mapped(values: pd.Categorical, mapping: dict) -> pd.Categorical:
    """``mapping`` applied to a categorical's values (several may map to one), still categorical."""
    image = pd.Categorical([mapping[c] for c in values.categories])
    return pd.Categorical.from_codes(image.codes[values.codes], image.categories)


def _abatement_long(inputs, K: sp.csc_matrix, v: np.ndarray, periods: np.ndarray) -> pd.DataFrame:
    """Abatement (kg/yr) by option, pollutant and period where positive, sorted by period, enterprise,
    option and pollutant.

    The order is found on integer ranks and the text columns are gathered once, in that order: a
    million-firm market has five million rows, and a frame filtered and then sorted would be held
    three times over.
    """
    n_pairs, n_opt = len(inputs.pairs), len(inputs.options)
    Kc = (K @ sp.diags(v)).tocoo()
    keep = np.flatnonzero(Kc.data > 0)
    row, col = Kc.row[keep], Kc.col[keep]
    pair, t, option = row % n_pairs, row // n_pairs, col % n_opt
    pairs, opt = inputs.pairs, inputs.options
    _, ent_rank = np.unique(pairs.enterprise.to_numpy(dtype=object), return_inverse=True)
    _, pol_rank = np.unique(pairs.pollutant.to_numpy(dtype=object), return_inverse=True)
    period_rank = pd.Series(periods).rank(method="dense").to_numpy(dtype=np.int64)
    order = np.lexsort((pol_rank[pair], option, ent_rank[pair], period_rank[t]))
    pair, t, option, keep = pair[order], t[order], option[order], keep[order]
    return pd.DataFrame(
        {
            "enterprise": pairs.enterprise.to_numpy(dtype=object)[pair],
            "option": option,
            "kind": opt.kind.to_numpy(dtype=object)[option],
            "name": opt.name.to_numpy(dtype=object)[option],
            "pollutant": pairs.pollutant.to_numpy(dtype=object)[pair],
            "period": periods[t],
            "abatement": Kc.data[keep],
        }
    )


def _current(built: Built, t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Present-value duals → current CNY: divide by the period's discount factor δ_t."""
    return values / built.discount[np.asarray(t, dtype=np.int64)]


def _column_values(built: Built, sol: Solution, name: str, n: int) -> np.ndarray:
    """Values of an instrument block per market (zeros where the block is absent)."""
    out = np.zeros(n)
    if name in built.extras:
        blk, sel = built.extras[name]
        np.add.at(out, sel, sol.x[blk.slice])
    return out


def _read_markets(built: Built, sol: Solution, emissions: np.ndarray):
    """Prices (current CNY per kg or per PE), instruments per market, and per-pair trades."""
    prob, markets = built.problem, built.markets.copy()
    n_pt = len(built.market_of)
    pt = {
        "excess": np.zeros(n_pt),
        "bought": np.full(n_pt, np.nan),
        "sold": np.full(n_pt, np.nan),
        "fee_paid": np.zeros(n_pt),
    }
    cols = [
        "price_low",
        "price_high",
        "price",
        "emissions",
        "ceiling_sold",
        "reserve_sold",
        "withheld",
        "excess",
        "fees",
    ]
    if "market" not in prob.rows or markets.empty:
        for c in cols:
            markets[c] = pd.Series(dtype=float)
        return markets, pt
    rows = prob.rows["market"]
    t = markets.t.to_numpy()
    shadow = _current(built, t, np.maximum(sol.shadow[rows.slice], 0.0))
    if sol.price_low is not None:
        low = _current(built, t, sol.price_low[rows.slice])
        high = _current(built, t, sol.price_high[rows.slice])
        low = np.where(np.isnan(low), shadow, low)
        high = np.where(np.isnan(high), shadow, high)
    else:
        low = high = shadow
    markets["price_low"] = low
    markets["price_high"] = high
    # a deterministic point in the interval: its midpoint (the lower end if unbounded above)
    markets["price"] = np.where(np.isfinite(high), 0.5 * (low + high), low)
    covered = built.market_of >= 0
    markets["emissions"] = np.bincount(
        built.market_of[covered], weights=(built.weight * emissions)[covered], minlength=len(markets)
    )
    n_m = len(markets)
    markets["ceiling_sold"] = _column_values(built, sol, "ceiling_sales", n_m)
    markets["reserve_sold"] = _column_values(built, sol, "reserve_sales", n_m)
    markets["withheld"] = _column_values(built, sol, "withheld", n_m)
    excess_m = _column_values(built, sol, "excess", n_m)
    fees = np.zeros(n_m)
    pol = built.policy
    if "buy" in built.extras:
        (buy, pts), (sell, _) = built.extras["buy"], built.extras["sell"]
        w = built.weight[pts]
        pt["bought"][pts] = sol.x[buy.slice] / w
        pt["sold"][pts] = sol.x[sell.slice] / w
        fee = np.array([pol.fee.get(c, 0.0) for c in markets.pollutant.to_numpy(dtype=object)[built.market_of[pts]]])
        pt["fee_paid"][pts] = fee * sol.x[buy.slice]
        np.add.at(fees, built.market_of[pts], pt["fee_paid"][pts])
    if "excess_firm" in built.extras:
        blk, pts = built.extras["excess_firm"]
        pt["excess"][pts] = sol.x[blk.slice] / built.weight[pts]
        np.add.at(excess_m, built.market_of[pts], sol.x[blk.slice])
    elif excess_m.any():
        # the market's excess falls on those short of permits, in proportion to their shortfall
        supply = np.nan_to_num(built.supply.T.reshape(-1), nan=0.0)
        short = np.where(covered, np.maximum(emissions - supply, 0.0) * built.weight, 0.0)
        total_short = np.bincount(built.market_of[covered], weights=short[covered], minlength=n_m)
        share = np.zeros(n_pt)
        idx = np.flatnonzero(covered)
        denom = total_short[built.market_of[idx]]
        share[idx] = np.where(denom > 0, short[idx] / np.where(denom > 0, denom, 1.0), 0.0)
        pt["excess"][idx] = share[idx] * excess_m[built.market_of[idx]] / built.weight[idx]
    markets["excess"] = excess_m
    markets["fees"] = fees
    return markets, pt


def _read_caps(built: Built, sol: Solution, emissions: np.ndarray, markets: pd.DataFrame) -> pd.DataFrame:
    inputs, prob = built.inputs, built.problem
    caps = built.caps.copy()
    if caps.empty:
        return caps.assign(emissions=pd.Series(dtype=float), shadow_price=pd.Series(dtype=float))
    n_pairs = len(inputs.pairs)
    pair_of = pair_lookup(inputs)
    em_cap, shadow_cap = [], []
    cap_rows = prob.rows.get("cap")
    for k in caps.index:
        t = inputs.periods.index(caps.at[k, "period"])
        pts = t * n_pairs + pair_of(caps.at[k, "members"], int(caps.at[k, "pol"]))
        em_cap.append(float(emissions[pts].sum()))
        r = int(caps.at[k, "row"])
        if r >= 0 and cap_rows is not None:
            shadow_cap.append(max(float(sol.shadow[cap_rows.start + r]), 0.0) / built.discount[t])
        else:
            ms = np.unique(built.market_of[pts])
            ms = ms[ms >= 0]
            w = float(built.weight[pts[0]]) if len(pts) else 1.0
            shadow_cap.append(float(markets.price.to_numpy()[ms].max()) * w if len(ms) else 0.0)
    caps["emissions"] = em_cap
    caps["shadow_price"] = shadow_cap
    return caps


def _read_bank(built: Built, sol: Solution) -> pd.DataFrame:
    """market, pollutant, period, banked (kg carried into the next period; negative: borrowed)."""
    cols = ["market", "pollutant", "period", "banked"]
    markets = built.markets
    if markets.empty or not (built.policy.banking or built.policy.borrowing > 0):
        return pd.DataFrame(columns=cols)
    banked = _column_values(built, sol, "bank", len(markets))
    return markets[["market", "pollutant", "period"]].assign(banked=banked)


def _read_flows(built: Built, sol: Solution) -> pd.DataFrame:
    """Permits sold between zone markets: from, to, pollutant, period, sold (kg), delivered (kg = ratio × sold)."""
    if "flow" not in built.extras:
        return pd.DataFrame(columns=["from", "to", "pollutant", "period", "sold", "delivered"])
    blk, _ = built.extras["flow"]
    sold = sol.x[blk.slice]
    return blk.index.assign(sold=sold, delivered=sold * built.extras["flow_ratio"])


def _read_receptors(built: Built, sol: Solution, emissions: np.ndarray) -> pd.DataFrame:
    """receptor, pollutant, period, load, limit, shadow_price (current CNY per unit of load)."""
    rec = built.inputs.receptors
    cols = ["receptor", "pollutant", "period", "load", "limit", "shadow_price", "name"]
    if rec.empty or "receptor" not in built.problem.rows:
        return pd.DataFrame(columns=cols)
    rows = built.problem.rows["receptor"]
    load = built.extras["receptor_T"] @ emissions
    shadow = _current(built, rec.t.to_numpy(), np.maximum(sol.shadow[rows.slice], 0.0))
    return pd.DataFrame(
        {
            "receptor": rec.receptor.to_numpy(),
            "pollutant": rec.pollutant.to_numpy(),
            "period": rec.period.to_numpy(),
            "load": load,
            "limit": rec.limit.to_numpy(dtype=float),
            "shadow_price": shadow,
            "name": rec.name.to_numpy(),
            "section": rec.section.to_numpy(),
            "water_class": rec.water_class.to_numpy(),
            "flow_m3_s": rec.flow.to_numpy(dtype=float),
            "background_mg_l": rec.background.to_numpy(dtype=float),
        }
    )


def _read_limits(built: Built, sol: Solution, emissions: np.ndarray) -> pd.DataFrame:
    """Firm limits that bind or could: enterprise, pollutant, period, limit, emissions, shadow_price."""
    cols = ["enterprise", "pollutant", "period", "limit", "emissions", "shadow_price"]
    lim = built.inputs.limits
    if lim.empty:
        return pd.DataFrame(columns=cols)
    n_pairs = len(built.inputs.pairs)
    pts = lim.t.to_numpy() * n_pairs + lim.pair.to_numpy()
    shadow = np.zeros(len(lim))
    if "firm_limit" in built.problem.rows:
        blk = built.problem.rows["firm_limit"]
        key = {(e, p, t): k for k, (e, p, t) in enumerate(zip(lim.enterprise, lim.pollutant, lim.period, strict=True))}
        for j, (e, p, t) in enumerate(zip(blk.index.enterprise, blk.index.pollutant, blk.index.period, strict=True)):
            k = key[(e, p, t)]
            shadow[k] = max(sol.shadow[blk.start + j], 0.0) / built.discount[lim.t.iat[k]]
    return pd.DataFrame(
        {
            "enterprise": lim.enterprise.to_numpy(),
            "pollutant": lim.pollutant.to_numpy(),
            "period": lim.period.to_numpy(),
            "limit": lim.limit.to_numpy(dtype=float),
            "emissions": emissions[pts],
            "shadow_price": shadow,
        }
    )
