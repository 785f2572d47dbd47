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

from emtrade.inputs import ACTIVITY_UNITS
from emtrade.model.build import Built
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
    markets: pd.DataFrame  # with price, price_low, price_high
    caps: pd.DataFrame  # with emissions, shadow_price


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
    weights = np.array([METALS[p].weight if p in METALS else 1.0 for p in inputs.pairs.pollutant], dtype=float)
    pe = sp.diags(np.tile(weights, n_t)) @ built.K @ sp.diags(v)  # (pairT × optT) PE removed
    pe = pe.tocsc()
    share_total = np.asarray(pe.sum(axis=0)).ravel()
    cost = np.zeros(n_pairs * n_t)
    with_share = share_total > 0
    scaled = pe @ sp.diags(np.where(with_share, opt_cost / np.where(with_share, share_total, 1.0), 0.0))
    cost += np.asarray(scaled.sum(axis=1)).ravel()
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
    options = pd.DataFrame(
        {
            "enterprise": np.tile(opt.enterprise.to_numpy(dtype=object), n_t),
            "option": o_idx,
            "kind": np.tile(opt.kind.to_numpy(dtype=object), n_t),
            "name": np.tile(opt.name.to_numpy(dtype=object), n_t),
            "pollutant": np.tile(opt.pollutant.to_numpy(dtype=object), n_t),
            "period": np.repeat(periods, n_opt),
            "level": v,
            "unit": np.tile(opt.kind.map(ACTIVITY_UNITS).to_numpy(dtype=object), n_t),
            "upper": np.tile(opt.upper.to_numpy(dtype=float), n_t),
            "cost": opt_cost,
            "adopted": adopted,
        }
    )
    Kc = (built.K @ sp.diags(v)).tocoo()
    pair_of_row = Kc.row % n_pairs
    abatement_long = pd.DataFrame(
        {
            "enterprise": inputs.pairs.enterprise.to_numpy(dtype=object)[pair_of_row],
            "option": Kc.col % n_opt,
            "kind": opt.kind.to_numpy(dtype=object)[Kc.col % n_opt],
            "name": opt.name.to_numpy(dtype=object)[Kc.col % n_opt],
            "pollutant": inputs.pairs.pollutant.to_numpy(dtype=object)[pair_of_row],
            "period": periods[Kc.row // n_pairs],
            "abatement": Kc.data,
        }
    )
    abatement_long = abatement_long[abatement_long.abatement > 0].sort_values(
        ["period", "enterprise", "option", "pollutant"], kind="stable"
    )

    markets = built.markets.copy()
    if "market" in prob.rows and len(markets):
        rows = prob.rows["market"]
        shadow = np.maximum(sol.shadow[rows.slice], 0.0)
        if sol.price_low is not None:
            low = sol.price_low[rows.slice]
            high = sol.price_high[rows.slice]
            low = np.where(np.isnan(low), shadow, low)
            high = np.where(np.isnan(high), shadow, high)
        else:
            low = high = shadow
        markets["price_low"] = low
        markets["price_high"] = high
        # a deterministic point in the interval: its midpoint (the lower end if unbounded above)
        markets["price"] = np.where(np.isfinite(high), 0.5 * (low + high), low)
        # market emissions
        covered = built.market_of >= 0
        em = np.bincount(built.market_of[covered], weights=emissions[covered], minlength=len(markets))
        markets["emissions"] = em
    else:
        for c in ("price_low", "price_high", "price", "emissions"):
            markets[c] = pd.Series(dtype=float)

    caps = built.caps.copy()
    if len(caps):
        pair_code = {
            (int(e), int(p)): k for k, (e, p) in enumerate(zip(inputs.pairs.ent, inputs.pairs.pol, strict=True))
        }
        em_cap, shadow_cap = [], []
        cap_rows = prob.rows.get("cap")
        for k in caps.index:
            t = inputs.periods.index(caps.at[k, "period"])
            pts = t * n_pairs + np.array(
                [pair_code[(int(e), int(caps.at[k, "pol"]))] for e in caps.at[k, "members"]], dtype=np.int64
            )
            em_cap.append(float(emissions[pts].sum()))
            r = int(caps.at[k, "row"])
            if r >= 0 and cap_rows is not None:
                shadow_cap.append(max(float(sol.shadow[cap_rows.start + r]), 0.0))
            else:
                ms = np.unique(built.market_of[pts])
                ms = ms[ms >= 0]
                shadow_cap.append(float(markets.price.to_numpy()[ms].max()) if len(ms) else 0.0)
        caps["emissions"] = em_cap
        caps["shadow_price"] = shadow_cap
    return Outcome(abatement, emissions, cost, options, abatement_long, markets, caps)
