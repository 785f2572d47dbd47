"""The permit-market model, one function per constraint family.

Symbols (all per period t ∈ T, with discount factor δ_t):

    v_ot   activity of abatement option o (kg/yr, share, t/yr or 0/1: see emtrade.inputs)
    k_op   kg/yr of metal p abated per unit of activity of option o
    b_ip   baseline discharge of enterprise i, metal p (kg/yr)
    e_ipt  = b_ip − Σ_{o∈O(i)} k_op v_ot, the discharge (kg/yr); an expression, not a variable
    a_ipt  permits issued in the name of (i, p) (kg/yr), from emtrade.allocation
    w_p    units of the market's commodity per kg of p: 1, or the pollution equivalents per kg
           when metals are exchanged (trading.exchange: pollution_equivalent)
    c_o, h_o, F_o  linear cost (CNY per unit), quadratic coefficient (CNY per unit²), fixed cost (CNY/yr)

Objective (CNY, present value): Σ_t δ_t [Σ_o (c_o v_ot + ½ h_o v_ot² + F_o y_ot)
    + Σ_m (P^ceil g_mt + P^res r_mt − P^floor u_mt + P^pen x_mt) + Σ_i fee·buy_it].
The first sum is the resource cost of abatement; the market terms are what firms pay the
government (or the platform) and steer the market exactly as they would steer firms: they are
reported apart from the resource cost. Permit trades between firms are transfers and cancel out.

The model is built from arrays: the abatement of every (pair, period) is the sparse product
K·v with K = I_T ⊗ K₁ (K₁ the pairs × options coefficient matrix), and each family of rows is an
incidence matrix times K. No Python loop runs over index tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from emtrade.allocation import Allocation, pair_lookup
from emtrade.inputs import Inputs
from emtrade.model.problem import Problem
from emtrade.policy import Policy, discount_array

TRADING_SCOPES = ("all", "sector", "zone", "none")


@dataclass
class Built:
    """A built problem and what the solution needs to be read back."""

    problem: Problem
    inputs: Inputs
    policy: Policy
    K: sp.csr_matrix  # (pairs·T) × (options·T): kg/yr abated per unit of activity
    permits: np.ndarray  # (pairs, T) permits held free by the enterprises, NaN where uncovered
    supply: np.ndarray  # (pairs, T) permits issued in each pair's name, NaN where uncovered
    discount: np.ndarray  # δ_t per period
    weight: np.ndarray  # (pairs·T,) w_p: commodity units per kg
    market_of: np.ndarray  # (pairs·T,) market number (−1 where uncovered)
    markets: pd.DataFrame  # one row per market: market, pollutant (commodity), period, permits, baseline
    caps: pd.DataFrame  # inputs.caps with 'row' (−1 if implied by the markets) and 'implied_by'
    extras: dict = field(default_factory=dict)  # column blocks of market instruments, keyed by name

    @property
    def scope(self) -> str:
        return self.policy.scope


def build_model(inputs: Inputs, allocation: Allocation, policy: Policy) -> Built:
    """Build the least-cost model of ``policy`` (scope 'none' is command-and-control).

    Market supplies come from ``allocation.supply`` (the free allocation, or under an auction the
    permits the government sells in each market); ``Built.permits`` are the permits firms hold.
    """
    if policy.scope not in TRADING_SCOPES:
        raise ValueError(f"unknown trading scope {policy.scope!r}")
    prob = Problem()
    n_opt, n_t = len(inputs.options), len(inputs.periods)
    K1 = sp.csr_matrix(
        (inputs.coef.kg_per_unit.to_numpy(), (inputs.coef.pair.to_numpy(), inputs.coef.option.to_numpy())),
        shape=(len(inputs.pairs), n_opt),
    )
    K = sp.kron(sp.identity(n_t, format="csr"), K1, format="csr")
    delta = discount_array(policy, n_t)
    activity = define_activity(prob, inputs, delta)
    define_adoption(prob, inputs, activity.start, delta)
    define_precedence(prob, inputs, activity.start)
    define_abatement_limit(prob, inputs, K, activity.start)
    weight = np.tile(by_pollutant(inputs, policy.weight, float), n_t)
    built = Built(
        prob,
        inputs,
        policy,
        K,
        allocation.permits,
        allocation.supply,
        delta,
        weight,
        np.zeros(0, dtype=np.int64),
        pd.DataFrame(),
        pd.DataFrame(),
    )
    define_markets(built, activity.start)
    define_no_net_inflow(built, activity.start)
    built.caps = define_caps(built, activity.start)
    define_firm_limits(built, activity.start)
    define_receptors(built, activity.start)
    return built


def map_distinct(values, f, dtype) -> np.ndarray:
    """``np.array([f(v) for v in values], dtype)``, calling f once per distinct value rather than per row."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values)
    return np.array([f(u) for u in uniques], dtype=dtype)[codes] if len(codes) else np.zeros(0, dtype=dtype)


def by_pollutant(inputs: Inputs, f, dtype) -> np.ndarray:
    """``[f(p) for p in inputs.pairs.pollutant]``, with f called once per metal (through the pairs' metal codes)."""
    pol = inputs.pairs.pol.to_numpy(dtype=np.int64)
    table = np.zeros(len(inputs.pollutants), dtype=dtype)
    for k in np.flatnonzero(np.bincount(pol, minlength=len(inputs.pollutants))):
        table[k] = f(inputs.pollutants[k])
    return table[pol]


def factorize_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """``pd.factorize`` of the pairs (a_i, b_i) (codes in order of first appearance), without a tuple per row."""
    ca, ua = pd.factorize(a, sort=False)
    cb, ub = pd.factorize(b, sort=False)
    codes, first = pd.factorize(ca.astype(np.int64) * max(len(ub), 1) + cb, sort=False)
    nb = max(len(ub), 1)
    return codes, [(ua[k // nb], ub[k % nb]) for k in first]


def define_activity(prob: Problem, inputs: Inputs, delta: np.ndarray):
    """Columns ``activity`` v_ot for every option o and period t.

        0 ≤ v_ot ≤ u_o,  cost δ_t (c_o v_ot + ½ h_o v_ot²);  v_ot ∈ {0, 1} for retirement.

    A forced option (phase-out closure) has v_ot = 1. Units: kg/yr (linear, step), share
    (technology), t/yr (output cut), 0/1 (retire). Column order is period-major: t·|O| + o.
    """
    opt, n_t = inputs.options, len(inputs.periods)
    index = pd.DataFrame(
        {
            "option": np.tile(np.arange(len(opt)), n_t),
            "period": np.repeat(np.array(inputs.periods, dtype=object), len(opt)),
        }
    )
    upper = opt.upper.to_numpy(dtype=float)
    lower = np.where(opt.forced.to_numpy(dtype=bool), upper, 0.0)
    return prob.add_columns(
        "activity",
        index,
        lower=np.tile(lower, n_t),
        upper=np.tile(upper, n_t),
        cost=np.tile(opt.cost.to_numpy(dtype=float), n_t) * np.repeat(delta, len(opt)),
        quad=np.tile(opt.quad.to_numpy(dtype=float), n_t) * np.repeat(delta, len(opt)),
        integer=np.tile(opt.integer.to_numpy(dtype=bool), n_t),
        doc="activity of each abatement option (units by kind)",
    )


def define_adoption(prob: Problem, inputs: Inputs, act0: int, delta: np.ndarray) -> None:
    """Binary ``adopt`` y_ot for technologies with a fixed cost F_o, and the rows ``adoption``:

        v_ot − u_o y_ot ≤ 0,   cost δ_t F_o y_ot (CNY/yr),   y_ot ∈ {0, 1}.

    Any share adopted pays the whole fixed cost. Dual: none of interest (the MIP's prices are
    read with y fixed).
    """
    opt, n_t = inputs.options, len(inputs.periods)
    lumpy = np.flatnonzero(opt.fixed_cost.to_numpy(dtype=float) > 0)
    if len(lumpy) == 0:
        return
    n_opt = len(opt)
    index = pd.DataFrame(
        {"option": np.tile(lumpy, n_t), "period": np.repeat(np.array(inputs.periods, dtype=object), len(lumpy))}
    )
    act_cols = act0 + np.repeat(np.arange(n_t), len(lumpy)) * n_opt + np.tile(lumpy, n_t)
    forced = np.tile(opt.forced.to_numpy(dtype=bool)[lumpy], n_t)
    adopt = prob.add_columns(
        "adopt",
        index,
        lower=np.where(forced, 1.0, 0.0),
        upper=1.0,
        cost=np.tile(opt.fixed_cost.to_numpy(dtype=float)[lumpy], n_t) * np.repeat(delta, len(lumpy)),
        integer=True,
        doc="1 if a technology with a fixed cost is adopted at all",
    )
    n = len(index)
    rows = np.concatenate([np.arange(n), np.arange(n)])
    cols = np.concatenate([act_cols, adopt.start + np.arange(n)])
    vals = np.concatenate([np.ones(n), -np.tile(opt.upper.to_numpy(dtype=float)[lumpy], n_t)])
    prob.add_rows("adoption", index, rows, cols, vals, upper=0.0, doc="v_ot ≤ u_o y_ot")


def define_precedence(prob: Problem, inputs: Inputs, act0: int) -> None:
    """Rows ``precedence``: a technology that requires another cannot go further than it,

        x_ot − x_qt ≤ 0     (shares; q the prerequisite of o),

    so that a polishing stage is only adopted on top of the treatment beneath it.
    """
    req = inputs.options.requires.to_numpy()
    dep = np.flatnonzero(req >= 0)
    if len(dep) == 0:
        return
    n_opt, n_t = len(inputs.options), len(inputs.periods)
    index = pd.DataFrame(
        {"option": np.tile(dep, n_t), "period": np.repeat(np.array(inputs.periods, dtype=object), len(dep))}
    )
    offset = act0 + np.repeat(np.arange(n_t), len(dep)) * n_opt
    n = len(index)
    rows = np.concatenate([np.arange(n), np.arange(n)])
    cols = np.concatenate([offset + np.tile(dep, n_t), offset + np.tile(req[dep], n_t)])
    vals = np.concatenate([np.ones(n), -np.ones(n)])
    prob.add_rows("precedence", index, rows, cols, vals, upper=0.0, doc="x_o ≤ x_prerequisite")


def define_abatement_limit(prob: Problem, inputs: Inputs, K: sp.csr_matrix, act0: int) -> None:
    """Rows ``abatement_limit``: an enterprise cannot abate more than it discharges,

        Σ_{o∈O(i)} k_op v_ot ≤ b_ip     (kg/yr),   i.e. e_ipt ≥ 0,

    added only where the options could together exceed the baseline (retirement, technologies
    combined with other options). Its dual is the value of one more kg of baseline (rarely of use).
    """
    n_t = len(inputs.periods)
    upper = np.tile(inputs.options.upper.to_numpy(dtype=float), n_t)
    potential = K @ upper
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), n_t)
    need = np.flatnonzero(potential > base * (1 + 1e-12))
    if len(need) == 0:
        return
    sub = K[need].tocoo()
    n_pairs = len(inputs.pairs)
    index = pd.DataFrame(
        {
            "enterprise": inputs.pairs.enterprise.to_numpy()[need % n_pairs],
            "pollutant": inputs.pairs.pollutant.to_numpy()[need % n_pairs],
            "period": np.array(inputs.periods, dtype=object)[need // n_pairs],
        }
    )
    prob.add_rows(
        "abatement_limit", index, sub.row, sub.col + act0, sub.data, upper=base[need], doc="Σ_o k_op v_ot ≤ b_ip"
    )


def market_groups(inputs: Inputs, scope: str) -> np.ndarray:
    """The trading group of each emission pair: 'all', its sector, its zone, or (scope 'none') itself."""
    pairs, ent = inputs.pairs, inputs.enterprises
    if scope == "all":
        return np.full(len(pairs), "all", dtype=object)
    if scope == "sector":
        return ent.sector.to_numpy(dtype=object)[pairs.ent.to_numpy()]
    if scope == "zone":
        return ent.zone.to_numpy(dtype=object)[pairs.ent.to_numpy()]
    return pairs.enterprise.to_numpy(dtype=object)


@dataclass
class _Rows:
    """COO triplets collected for a family of rows whose columns are created along the way."""

    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)

    def add(self, rows, cols, vals) -> None:
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=float), np.shape(rows)).astype(float))

    def arrays(self):
        if not self.rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(self.rows), np.concatenate(self.cols), np.concatenate(self.vals)


def define_markets(built: Built, act0: int) -> None:
    """Rows ``market``: in each market m (trading group g, commodity c, period t) discharge is covered,

        Σ_{(i,p)∈m} w_p e_ipt + B_mt − B_m,t−1 + Σ_out f − Σ_in ρ f − g_mt − r_mt + u_mt − x_mt ≤ Σ_{(i,p)∈m} w_p a_ipt

    B_mt ≥ −L the permits banked (borrowed if negative, L the borrowing limit; B = 0 without
    banking); f the permits sold to other zones, ρ the trading ratio (zone markets); g sold by the
    government at the price ceiling, r released from the reserve, u withheld at the price floor,
    x discharged in excess and paid for at the penalty. Permits bought equal permits sold. The
    dual π_mt ≥ 0 of this row, divided by δ_t, is the **permit price** of the market in current
    CNY per kg (per PE for a pollution-equivalent market).

    With a transaction fee the market is written firm by firm: each emission pair holds permits
    for its discharge, w e_ipt − x_ipt − buy_ipt + sell_ipt ≤ w a_ipt, and the market row becomes
    Σ buy − Σ sell + (instruments) ≤ 0, with δ_t·fee·buy_ipt in the objective; its dual is then the
    sellers' price and buyers pay the price plus the fee. Pairs no allocating cap covers are in no
    market (their discharge is not capped).
    """
    inputs, pol, prob = built.inputs, built.policy, built.problem
    n_pairs, n_t = len(inputs.pairs), len(inputs.periods)
    periods = np.array(inputs.periods, dtype=object)
    group = market_groups(inputs, pol.scope)
    commodity = by_pollutant(inputs, pol.commodity, object)
    covered = ~np.isnan(built.supply)
    keys: list[tuple] = []
    market_of = np.full(n_pairs * n_t, -1, dtype=np.int64)
    for t in range(n_t):
        idx = np.flatnonzero(covered[:, t])
        if len(idx) == 0:
            continue
        codes, uniques = factorize_pairs(group[idx], commodity[idx])
        market_of[t * n_pairs + idx] = len(keys) + codes
        keys.extend((g, c, periods[t], t) for g, c in uniques)
    built.market_of = market_of
    markets = pd.DataFrame(keys, columns=["market", "pollutant", "period", "t"])
    if markets.empty:
        built.markets = markets.assign(
            permits=pd.Series(dtype=float), baseline=pd.Series(dtype=float), fee_form=pd.Series(dtype=bool)
        )
        return
    n_m = len(markets)
    pts = np.flatnonzero(market_of >= 0)
    w = built.weight
    M = sp.csr_matrix((w[pts], (market_of[pts], pts)), shape=(n_m, n_pairs * n_t))
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), n_t)
    supply = np.nan_to_num(built.supply.T.reshape(-1), nan=0.0)
    markets["permits"] = M @ supply
    markets["baseline"] = M @ base
    fee = np.array([pol.fee.get(c, 0.0) for c in markets.pollutant], dtype=float)
    markets["fee_form"] = fee > 0
    built.markets = markets
    delta_m = built.discount[markets.t.to_numpy()]
    index = markets[["market", "pollutant", "period"]]
    rows = _Rows()

    # the discharge side: aggregated, or firm by firm where a fee applies
    agg = ~markets.fee_form.to_numpy()
    pts_agg = pts[agg[market_of[pts]]]
    if len(pts_agg):
        A = (sp.csr_matrix((w[pts_agg], (market_of[pts_agg], pts_agg)), shape=(n_m, n_pairs * n_t)) @ built.K).tocoo()
        rows.add(A.row, A.col + act0, -A.data)
    rhs = np.where(agg, markets.permits.to_numpy() - markets.baseline.to_numpy(), 0.0)
    pts_fee = pts[~agg[market_of[pts]]]
    if len(pts_fee):
        _define_holdings(built, act0, pts_fee, rows, delta_m)

    # instruments, each a block of columns with entries in the market rows
    m_all = np.arange(n_m)
    com = markets.pollutant.to_numpy(dtype=object)

    def block(name, sel, *, cost, lower=0.0, upper=np.inf, coef=-1.0, doc=""):
        sel = np.asarray(sel, dtype=np.int64)
        if len(sel) == 0:
            return None
        blk = prob.add_columns(name, index.iloc[sel], lower=lower, upper=upper, cost=cost, doc=doc)
        rows.add(sel, blk.start + np.arange(len(sel)), coef)
        built.extras[name] = (blk, sel)
        return blk

    sel = m_all[np.array([c in pol.ceiling for c in com], dtype=bool)]
    block(
        "ceiling_sales",
        sel,
        cost=delta_m[sel] * np.array([pol.ceiling[c] for c in com[sel]]),
        doc="permits the government sells at the price ceiling (kg/yr)",
    )
    sel = m_all[np.array([c in pol.reserve_price for c in com], dtype=bool)]
    res = block(
        "reserve_sales",
        sel,
        cost=delta_m[sel] * np.array([pol.reserve_price[c] for c in com[sel]]),
        doc="permits released from the government reserve (kg/yr)",
    )
    if res is not None:
        _define_reserve_limit(built, res, sel)
    sel = m_all[np.array([c in pol.floor for c in com], dtype=bool)]
    block(
        "withheld",
        sel,
        cost=-delta_m[sel] * np.array([pol.floor[c] for c in com[sel]]),
        upper=markets.permits.to_numpy()[sel],
        coef=1.0,
        doc="permits not sold because the price would fall below the floor (kg/yr)",
    )
    sel = m_all[agg & np.array([c in pol.penalty for c in com], dtype=bool)]
    block(
        "excess",
        sel,
        cost=delta_m[sel] * np.array([pol.penalty[c] for c in com[sel]]),
        doc="discharge beyond the permits held, paid at the penalty (kg/yr)",
    )
    _define_bank(built, rows, index)
    _define_flows(built, rows)
    r, c, v = rows.arrays()
    prob.add_rows("market", index, r, c, v, upper=rhs, doc="Σ e ≤ Σ a per market; dual = permit price")


def _define_holdings(built: Built, act0: int, pts: np.ndarray, rows: _Rows, delta_m: np.ndarray) -> None:
    """Firm-level holding rows where a transaction fee applies (see define_markets)."""
    inputs, pol, prob = built.inputs, built.policy, built.problem
    n_pairs = len(inputs.pairs)
    m = built.market_of[pts]
    com = built.markets.pollutant.to_numpy(dtype=object)[m]
    fee = np.array([pol.fee.get(c, 0.0) for c in com])
    index = pd.DataFrame(
        {
            "enterprise": inputs.pairs.enterprise.to_numpy(dtype=object)[pts % n_pairs],
            "pollutant": inputs.pairs.pollutant.to_numpy(dtype=object)[pts % n_pairs],
            "period": np.array(inputs.periods, dtype=object)[pts // n_pairs],
        }
    )
    n = len(pts)
    buy = prob.add_columns("buy", index, cost=delta_m[m] * fee, doc="permits bought (kg/yr, commodity units)")
    sell = prob.add_columns("sell", index, doc="permits sold (kg/yr, commodity units)")
    built.extras["buy"] = (buy, pts)
    built.extras["sell"] = (sell, pts)
    hr = _Rows()
    A = (sp.diags(built.weight[pts]) @ built.K[pts]).tocoo()
    hr.add(A.row, A.col + act0, -A.data)
    hr.add(np.arange(n), buy.start + np.arange(n), -1.0)
    hr.add(np.arange(n), sell.start + np.arange(n), 1.0)
    has_pen = np.array([c in pol.penalty for c in com], dtype=bool)
    if has_pen.any():
        sel = np.flatnonzero(has_pen)
        pen = np.array([pol.penalty[c] for c in com[sel]])
        x = prob.add_columns(
            "excess_firm",
            index.iloc[sel],
            cost=delta_m[m[sel]] * pen,
            doc="discharge beyond the permits held, paid at the penalty (kg/yr)",
        )
        hr.add(sel, x.start + np.arange(len(sel)), -1.0)
        built.extras["excess_firm"] = (x, pts[sel])
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), len(inputs.periods))[pts]
    supply = np.nan_to_num(built.supply.T.reshape(-1), nan=0.0)[pts]
    r, c, v = hr.arrays()
    prob.add_rows(
        "holding",
        index,
        r,
        c,
        v,
        upper=built.weight[pts] * (supply - base),
        doc="w e − x − buy + sell ≤ w a per firm; dual = the firm's permit value",
    )
    rows.add(m, buy.start + np.arange(n), 1.0)
    rows.add(m, sell.start + np.arange(n), -1.0)


def _define_reserve_limit(built: Built, res, sel: np.ndarray) -> None:
    """Rows ``reserve``: the reserve of commodity c in period t is limited, Σ_m r_mt ≤ R_ct (kg/yr)."""
    pol, markets = built.policy, built.markets
    keys = pd.MultiIndex.from_arrays(
        [markets.pollutant.to_numpy(dtype=object)[sel], markets.period.to_numpy(dtype=object)[sel]]
    )
    codes, uniques = pd.factorize(keys, sort=False)
    index = pd.DataFrame(list(uniques), columns=["pollutant", "period"])
    qty = np.array([pol.reserve_quantity.get(c, np.inf) for c in index.pollutant], dtype=float)
    built.problem.add_rows(
        "reserve",
        index,
        codes,
        res.start + np.arange(len(sel)),
        np.ones(len(sel)),
        upper=qty,
        doc="Σ_m r_mt ≤ reserve quantity",
    )


def _define_bank(built: Built, rows: _Rows, index: pd.DataFrame) -> None:
    """Columns ``bank`` B_mt: permits carried from period t to the next in the same market (negative: borrowed).

    B enters the market row of t with +1 and that of t+1 with −1; none is carried past the last
    period, so borrowing must be repaid within the horizon.
    """
    pol, markets = built.policy, built.markets
    if not pol.banking and pol.borrowing <= 0:
        return
    nxt = markets.assign(t=markets.t - 1).reset_index().set_index(["market", "pollutant", "t"])["index"]
    here = pd.MultiIndex.from_frame(markets[["market", "pollutant", "t"]])
    following = nxt.reindex(here).to_numpy()
    sel = np.flatnonzero(~np.isnan(following))
    if len(sel) == 0:
        return
    lower = -pol.borrowing if pol.borrowing > 0 else 0.0
    upper = np.inf if pol.banking else 0.0
    blk = built.problem.add_columns(
        "bank",
        index.iloc[sel],
        lower=lower,
        upper=upper,
        doc="permits banked into the next period (kg; negative: borrowed)",
    )
    cols = blk.start + np.arange(len(sel))
    rows.add(sel, cols, 1.0)
    rows.add(following[sel].astype(np.int64), cols, -1.0)
    built.extras["bank"] = (blk, sel)


def _define_flows(built: Built, rows: _Rows) -> None:
    """Columns ``flow`` f: permits sold from zone market z to zone market z' at ratio ρ (zone scope).

    f enters the seller's market row with +1 and the buyer's with −ρ: 1 kg sold in z covers ρ kg
    in z'. Zones without a ratio row between them cannot trade.
    """
    pol, markets = built.policy, built.markets
    if pol.scope != "zone" or not pol.ratios:
        return
    pos = {
        (m, c, t): k for k, (m, c, t) in enumerate(zip(markets.market, markets.pollutant, markets.period, strict=True))
    }
    src, dst, ratio, idx = [], [], [], []
    for (m, c, t), k in pos.items():
        for a, b, rho in pol.ratios:
            if a == m and (b, c, t) in pos:
                src.append(k)
                dst.append(pos[(b, c, t)])
                ratio.append(rho)
                idx.append((a, b, c, t))
    if not src:
        return
    index = pd.DataFrame(idx, columns=["from", "to", "pollutant", "period"])
    blk = built.problem.add_columns("flow", index, doc="permits sold from one zone to another (kg/yr)")
    cols = blk.start + np.arange(len(src))
    rows.add(src, cols, 1.0)
    rows.add(dst, cols, -np.asarray(ratio))
    built.extras["flow"] = (blk, np.asarray(src))
    built.extras["flow_to"] = np.asarray(dst)
    built.extras["flow_ratio"] = np.asarray(ratio)


def define_no_net_inflow(built: Built, act0: int) -> None:
    """Rows ``no_net_inflow``: no net purchases into a listed zone (per commodity and period).

    Zone markets: Σ_in ρ f − Σ_out f ≤ 0. Other scopes: the zone's enterprises discharge no more
    than the permits issued to them, Σ_{i∈zone} w (e − a) ≤ 0. Dual: the value of one kg more
    allowed into the zone (CNY/kg).
    """
    pol, inputs = built.policy, built.inputs
    if not pol.no_net_inflow or pol.scope == "none" or built.markets.empty:
        return
    markets = built.markets
    if pol.scope == "zone":
        if "flow" not in built.extras:
            return
        blk, src = built.extras["flow"]
        dst, ratio = built.extras["flow_to"], built.extras["flow_ratio"]
        rows_r, cols_r, vals_r, keys = [], [], [], {}
        for k in range(len(src)):
            for m, sign in ((dst[k], ratio[k]), (src[k], -1.0)):
                if markets.market.iat[m] in pol.no_net_inflow:
                    key = keys.setdefault(m, len(keys))
                    rows_r.append(key)
                    cols_r.append(blk.start + k)
                    vals_r.append(sign)
        if not keys:
            return
        order = sorted(keys, key=keys.get)
        index = markets.iloc[order][["market", "pollutant", "period"]].rename(columns={"market": "zone"})
        built.problem.add_rows(
            "no_net_inflow", index, rows_r, cols_r, vals_r, upper=0.0, doc="net inflow of permits into the zone ≤ 0"
        )
        return
    n_pairs, n_t = len(inputs.pairs), len(inputs.periods)
    zone = np.tile(inputs.enterprises.zone.to_numpy(dtype=object)[inputs.pairs.ent.to_numpy()], n_t)
    pts = np.flatnonzero((built.market_of >= 0) & np.isin(zone, list(pol.no_net_inflow)))
    if len(pts) == 0:
        return
    com = markets.pollutant.to_numpy(dtype=object)[built.market_of[pts]]
    per = np.array(inputs.periods, dtype=object)[pts // n_pairs]
    codes, uniques = pd.factorize(pd.MultiIndex.from_arrays([zone[pts], com, per]), sort=False)
    C = sp.csr_matrix((built.weight[pts], (codes, pts)), shape=(len(uniques), n_pairs * n_t))
    A = (C @ built.K).tocoo()
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), n_t)
    supply = np.nan_to_num(built.supply.T.reshape(-1), nan=0.0)
    index = pd.DataFrame(list(uniques), columns=["zone", "pollutant", "period"])
    built.problem.add_rows(
        "no_net_inflow", index, A.row, A.col + act0, -A.data, upper=C @ (supply - base), doc="Σ_zone w (e − a) ≤ 0"
    )


def define_caps(built: Built, act0: int) -> pd.DataFrame:
    """Rows ``cap``: every cap c on metal p over scope S_c holds in its period,

        Σ_{i∈S_c} e_ipt ≤ T_c    ⟺    −Σ_{i∈S_c} Σ_o k_op v_ot ≤ T_c − Σ_{i∈S_c} b_ip     (kg/yr)

    except where the markets already carry it: the cap's members of metal p make up whole markets
    (all their pairs of metal p) whose permits add up to at most T_c. Such a cap is the permit
    supply of its markets, and the market rules (banking, a ceiling, penalties, exchange between
    metals) decide how much may be discharged against it; it is reported with its markets' price.
    The dual of a cap row is its shadow price, CNY/kg: what one more kg/yr of cap would save.
    """
    inputs, markets = built.inputs, built.markets
    caps = inputs.caps.copy()
    caps["row"] = -1
    caps["implied_by"] = ""
    if caps.empty:
        caps["market_rows"] = []
        return caps
    n_pairs = len(inputs.pairs)
    market_of = built.market_of
    pair_of = pair_lookup(inputs)
    period_pos = {t: i for i, t in enumerate(inputs.periods)}
    pol_of_pt = np.tile(inputs.pairs.pol.to_numpy(), len(inputs.periods))
    covered_pts = np.flatnonzero(market_of >= 0)
    size = (
        pd.Series(1, index=pd.MultiIndex.from_arrays([market_of[covered_pts], pol_of_pt[covered_pts]]))
        .groupby(level=[0, 1])
        .sum()
    )
    supply = np.nan_to_num(built.supply.T.reshape(-1), nan=0.0)
    rows, cols_pt, keep, feeding = [], [], [], []
    for k in caps.index:
        t = period_pos[caps.at[k, "period"]]
        pol = int(caps.at[k, "pol"])
        pts = t * n_pairs + pair_of(caps.at[k, "members"], pol)
        ms = market_of[pts]
        feeding.append(np.unique(ms[ms >= 0]))
        if len(pts) and (ms >= 0).all():
            uniq, counts = np.unique(ms, return_counts=True)
            whole = all(counts[j] == size.get((uniq[j], pol), -1) for j in range(len(uniq)))
            if whole and supply[pts].sum() <= caps.at[k, "total"] * (1 + 1e-12) + 1e-9:
                caps.at[k, "implied_by"] = ";".join(str(markets.at[m, "market"]) for m in uniq)
                continue
        caps.at[k, "row"] = len(keep)
        keep.append(k)
        rows.append(np.full(len(pts), len(keep) - 1))
        cols_pt.append(pts)
    caps["market_rows"] = feeding
    if not keep:
        return caps
    r = np.concatenate(rows)
    c = np.concatenate(cols_pt)
    C = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(keep), built.K.shape[0]))
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), len(inputs.periods))
    A = (C @ built.K).tocoo()
    sub = caps.loc[keep]
    built.problem.add_rows(
        "cap",
        sub[["cap", "pollutant", "period"]],
        A.row,
        A.col + act0,
        -A.data,
        upper=sub.total.to_numpy(dtype=float) - C @ base,
        doc="Σ_{S_c} e ≤ T_c; dual = shadow price",
    )
    return caps


def define_firm_limits(built: Built, act0: int) -> None:
    """Rows ``firm_limit``: a firm-specific limit that permits cannot override (一厂一策),

        e_ipt ≤ L_ipt    ⟺    −Σ_o k_op v_ot ≤ L_ipt − b_ip     (kg/yr),

    only where L < b. Dual: what the limit costs the firm at the margin (CNY/kg).
    """
    lim = built.inputs.limits
    if lim.empty:
        return
    n_pairs = len(built.inputs.pairs)
    base = built.inputs.pairs.baseline.to_numpy(dtype=float)[lim.pair.to_numpy()]
    sel = lim[lim.limit.to_numpy() < base]
    if sel.empty:
        return
    pts = sel.t.to_numpy() * n_pairs + sel.pair.to_numpy()
    A = built.K[pts].tocoo()
    index = sel[["enterprise", "pollutant", "period"]]
    built.problem.add_rows(
        "firm_limit",
        index,
        A.row,
        A.col + act0,
        -A.data,
        upper=sel.limit.to_numpy() - built.inputs.pairs.baseline.to_numpy()[sel.pair.to_numpy()],
        doc="e_ipt ≤ L_ipt",
    )


def define_receptors(built: Built, act0: int) -> None:
    """Rows ``receptor``: the load at each river receptor r of metal p stays within its limit,

        Σ_i τ_ir e_ipt ≤ Λ_rt    ⟺    −Σ_i τ_ir Σ_o k_op v_ot ≤ Λ_rt − Σ_i τ_ir b_ip

    with τ_ir the transfer coefficient (load per kg/yr discharged). The dual, divided by δ_t, is
    the receptor's shadow price (CNY per unit of load); a firm's ambient permit price is τ_ir times it.
    """
    rec, tr = built.inputs.receptors, built.inputs.transfer
    if rec.empty or tr.empty:
        return
    n_pairs = len(built.inputs.pairs)
    rows_r, cols_pt, vals = [], [], []
    for k, (rid, t) in enumerate(zip(rec.receptor, rec.t, strict=True)):
        sub = tr[tr.receptor == rid]
        rows_r.append(np.full(len(sub), k))
        cols_pt.append(t * n_pairs + sub.pair.to_numpy())
        vals.append(sub.coefficient.to_numpy(dtype=float))
    r, c, v = np.concatenate(rows_r), np.concatenate(cols_pt), np.concatenate(vals)
    T = sp.csr_matrix((v, (r, c)), shape=(len(rec), built.K.shape[0]))
    A = (T @ built.K).tocoo()
    base = np.tile(built.inputs.pairs.baseline.to_numpy(dtype=float), len(built.inputs.periods))
    built.problem.add_rows(
        "receptor",
        rec[["receptor", "pollutant", "period"]],
        A.row,
        A.col + act0,
        -A.data,
        upper=rec.limit.to_numpy(dtype=float) - T @ base,
        doc="Σ τ e ≤ Λ; dual = shadow price",
    )
    built.extras["receptor_T"] = T
