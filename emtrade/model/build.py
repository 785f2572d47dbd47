"""The permit-market model, one function per constraint family.

Symbols (all per period t ∈ T):

    v_ot   activity of abatement option o (kg/yr, share, t/yr or 0/1: see emtrade.inputs)
    k_op   kg/yr of metal p abated per unit of activity of option o
    b_ip   baseline discharge of enterprise i, metal p (kg/yr)
    e_ipt  = b_ip − Σ_{o∈O(i)} k_op v_ot, the discharge (kg/yr); an expression, not a variable
    a_ipt  initial permits (kg/yr), from emtrade.allocation
    c_o, h_o, F_o  linear cost (CNY per unit), quadratic coefficient (CNY per unit²), fixed cost (CNY/yr)

Objective (CNY): Σ_t Σ_o (c_o v_ot + ½ h_o v_ot² + F_o y_ot), the resource cost of abatement;
permit payments are transfers between firms and cancel out.

The model is built from arrays: the abatement of every (pair, period) is the sparse product
K·v with K = I_T ⊗ K₁ (K₁ the pairs × options coefficient matrix), and each family of rows is an
incidence matrix times K. No Python loop runs over index tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from emtrade.allocation import Allocation
from emtrade.inputs import Inputs
from emtrade.model.problem import Problem

TRADING_SCOPES = ("all", "sector", "zone", "none")


@dataclass
class Built:
    """A built problem and what the solution needs to be read back."""

    problem: Problem
    inputs: Inputs
    scope: str
    K: sp.csr_matrix  # (pairs·T) × (options·T): kg/yr abated per unit of activity
    permits: np.ndarray  # (pairs, T) permits held free by the enterprises, NaN where uncovered
    market_of: np.ndarray  # (pairs·T,) market row number (−1 where uncovered)
    markets: pd.DataFrame  # one row per market: market, pollutant, period, permits, baseline
    caps: pd.DataFrame  # inputs.caps with 'row' (−1 if implied by the markets) and 'implied_by'


def build_model(inputs: Inputs, allocation: Allocation, scope: str) -> Built:
    """Build the least-cost model for a trading ``scope`` ('none' is command-and-control).

    Market supplies come from ``allocation.supply`` (the free allocation, or under an auction the
    permits the government sells in each market); ``Built.permits`` are the permits firms hold.
    """
    if scope not in TRADING_SCOPES:
        raise ValueError(f"unknown trading scope {scope!r}")
    prob = Problem()
    n_opt, n_t = len(inputs.options), len(inputs.periods)
    K1 = sp.csr_matrix(
        (inputs.coef.kg_per_unit.to_numpy(), (inputs.coef.pair.to_numpy(), inputs.coef.option.to_numpy())),
        shape=(len(inputs.pairs), n_opt),
    )
    K = sp.kron(sp.identity(n_t, format="csr"), K1, format="csr")
    activity = define_activity(prob, inputs)
    define_adoption(prob, inputs, activity.start)
    define_precedence(prob, inputs, activity.start)
    define_abatement_limit(prob, inputs, K, activity.start)
    market_of, markets = define_markets(prob, inputs, K, activity.start, allocation.supply, scope)
    caps = define_caps(prob, inputs, K, activity.start, market_of, markets)
    return Built(prob, inputs, scope, K, allocation.permits, market_of, markets, caps)


def define_activity(prob: Problem, inputs: Inputs):
    """Columns ``activity`` v_ot for every option o and period t.

        0 ≤ v_ot ≤ u_o,  cost c_o v_ot + ½ h_o v_ot²;  v_ot ∈ {0, 1} for retirement.

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
        cost=np.tile(opt.cost.to_numpy(dtype=float), n_t),
        quad=np.tile(opt.quad.to_numpy(dtype=float), n_t),
        integer=np.tile(opt.integer.to_numpy(dtype=bool), n_t),
        doc="activity of each abatement option (units by kind)",
    )


def define_adoption(prob: Problem, inputs: Inputs, act0: int) -> None:
    """Binary ``adopt`` y_ot for technologies with a fixed cost F_o, and the rows ``adoption``:

        v_ot − u_o y_ot ≤ 0,   cost F_o y_ot (CNY/yr),   y_ot ∈ {0, 1}.

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
        cost=np.tile(opt.fixed_cost.to_numpy(dtype=float)[lumpy], n_t),
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


def define_markets(
    prob: Problem, inputs: Inputs, K: sp.csr_matrix, act0: int, supply: np.ndarray, scope: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """Rows ``market``: in each market m (metal p, trading group g, period t) discharge is covered by permits,

        Σ_{(i,p)∈m} e_ipt ≤ Σ_{(i,p)∈m} a_ipt    ⟺    −Σ_{(i,p)∈m} Σ_o k_op v_ot ≤ A_m − B_m     (kg/yr)

    so that permits bought equal permits sold (net purchases e − a sum to at most zero). The dual
    π_m ≥ 0 of this row is the **permit price** of the market, CNY/kg. Pairs that no allocating
    cap covers are in no market (their discharge is not capped).
    """
    n_pairs, n_t = len(inputs.pairs), len(inputs.periods)
    group = market_groups(inputs, scope)
    pol = inputs.pairs.pollutant.to_numpy(dtype=object)
    covered = ~np.isnan(supply)  # (pairs, T)
    keys = []
    market_of = np.full(n_pairs * n_t, -1, dtype=np.int64)
    frames = []
    for t, period in enumerate(inputs.periods):
        idx = np.flatnonzero(covered[:, t])
        if len(idx) == 0:
            continue
        df = pd.DataFrame({"pair": idx, "market": group[idx], "pollutant": pol[idx]})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(df[["market", "pollutant"]]), sort=False)
        market_of[t * n_pairs + idx] = len(keys) + codes
        for m, p in uniques:
            keys.append((m, p, period))
        frames.append(df)
    markets = pd.DataFrame(keys, columns=["market", "pollutant", "period"])
    if markets.empty:
        markets["permits"] = markets["baseline"] = pd.Series(dtype=float)
        return market_of, markets
    rows_pt = np.flatnonzero(market_of >= 0)
    M = sp.csr_matrix((np.ones(len(rows_pt)), (market_of[rows_pt], rows_pt)), shape=(len(markets), n_pairs * n_t))
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), n_t)
    pool = M @ np.nan_to_num(supply.T.reshape(-1), nan=0.0)
    market_base = M @ base
    markets["permits"] = pool
    markets["baseline"] = market_base
    A = (M @ K).tocoo()
    prob.add_rows(
        "market",
        markets[["market", "pollutant", "period"]],
        A.row,
        A.col + act0,
        -A.data,
        upper=pool - market_base,
        doc="Σ e ≤ Σ a per market; dual = permit price",
    )
    return market_of, markets


def define_caps(
    prob: Problem, inputs: Inputs, K: sp.csr_matrix, act0: int, market_of: np.ndarray, markets: pd.DataFrame
) -> pd.DataFrame:
    """Rows ``cap``: every cap c on metal p over scope S_c holds in its period,

        Σ_{i∈S_c} e_ipt ≤ T_c    ⟺    −Σ_{i∈S_c} Σ_o k_op v_ot ≤ T_c − Σ_{i∈S_c} b_ip     (kg/yr)

    except where the market rows already imply it (the scope is a union of whole markets whose
    permits add up to at most T_c): such a cap is reported with the price of its markets. The dual
    of a cap row is its shadow price, CNY/kg: what one more kg/yr of cap would save.
    """
    caps = inputs.caps.copy()
    caps["row"] = -1
    caps["implied_by"] = ""
    feeding: list[np.ndarray] = []  # the market rows each cap's members trade in
    if caps.empty:
        return caps
    n_pairs = len(inputs.pairs)
    pair_code = {(int(e), int(p)): k for k, (e, p) in enumerate(zip(inputs.pairs.ent, inputs.pairs.pol, strict=True))}
    period_pos = {t: i for i, t in enumerate(inputs.periods)}
    market_size = np.bincount(market_of[market_of >= 0], minlength=len(markets))
    rows, cols_pt, keep = [], [], []
    for k in caps.index:
        t = period_pos[caps.at[k, "period"]]
        pol = int(caps.at[k, "pol"])
        pts = t * n_pairs + np.array([pair_code[(int(e), pol)] for e in caps.at[k, "members"]], dtype=np.int64)
        ms = market_of[pts]
        feeding.append(np.unique(ms[ms >= 0]))
        if (ms >= 0).all():
            uniq, counts = np.unique(ms, return_counts=True)
            whole = (counts == market_size[uniq]).all()
            if whole and markets.permits.to_numpy()[uniq].sum() <= caps.at[k, "total"] * (1 + 1e-12) + 1e-9:
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
    C = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(keep), K.shape[0]))
    base = np.tile(inputs.pairs.baseline.to_numpy(dtype=float), len(inputs.periods))
    A = (C @ K).tocoo()
    sub = caps.loc[keep]
    prob.add_rows(
        "cap",
        sub[["cap", "pollutant", "period"]],
        A.row,
        A.col + act0,
        -A.data,
        upper=sub.total.to_numpy(dtype=float) - C @ base,
        doc="Σ_{S_c} e ≤ T_c; dual = shadow price",
    )
    return caps
