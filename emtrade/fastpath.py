"""An exact fast path for separable markets: merit-order clearing instead of the LP.

When every market is independent of every other (no caps or receptors across markets, no joint
technologies abating two metals, no borrowing, trading ratios or government sales) and no decision
is an integer, the optimisation falls apart into one small problem per market m:

    minimise   Σ_j c_j v_j + ½ h_j v_j²                       (CNY/yr, present value)
    subject to Σ_j κ_j v_j ≥ R_m,   0 ≤ v_j ≤ u_j,

with v_j the activity of option j (kg/yr for steps and linear MACs, a share for a technology
abating one metal), κ_j = −A[m, j] > 0 the commodity units (kg, or PE) the market gains per unit of
activity, c_j the linear cost (CNY per unit), h_j ≥ 0 the quadratic coefficient (CNY per unit², a
linear MAC; 0 for a step) and R_m = −(row upper bound) the abatement the market needs (kg/yr or
PE/yr). At a permit price P (CNY per commodity unit) option j supplies

    s_j(P) = κ_j u_j · [c_j/κ_j < P]                      (a step; any share of it at P = c_j/κ_j)
    s_j(P) = κ_j · clip((P κ_j − c_j)/h_j, 0, u_j)         (a linear MAC)

and the market's supply A(P) = Σ_j s_j(P) is piecewise linear and non-decreasing with jumps at the
step prices. The market clears at

    P* = max(0, inf{P : A(P+) ≥ R_m}),

the interval of clearing prices (the range of the market row's dual over all optimal duals) is
{P ≥ 0 : A(P−) ≤ R_m ≤ A(P+)} = [max(P_lo, 0), max(P_hi, 0)] with P_lo = inf{P : A(P+) ≥ R_m}
and P_hi = sup{P : A(P−) ≤ R_m} (P_hi = ∞ when all capacity is needed; a slack market, A(0−) > R,
has price 0 and interval [0, 0]). Options cheaper than P* are used fully (those with negative
costs whatever the price), dearer ones not at all, linear MACs up to where their marginal cost
meets P*, and steps exactly at P* share what is still needed pro rata to their size (a
deterministic choice among equally cheap optima). These are the KKT conditions of the problem
above, so the answer is the LP's: the same cost, a price in the LP's interval, the same interval.

Per-enterprise limits ``abatement_limit`` (Σ_{o∈O(i)} k_o v_o ≤ b_i, added when an enterprise's
options could abate more than it discharges) are handled exactly: each limited enterprise first
fills its own limit b_i cheapest-first (the same search with "market" = the enterprise and
R = b_i, without the floor at 0), and every option's bound u_o is cut to what that fill uses. On
[0, b_i] the enterprise's least cost of abating q is the same with the cut bounds as with the
limit, and with the cut bounds the limit can no longer bind, so the market problem is unchanged.
This needs, within each limit row, all options in the same market and κ_o / k_o constant (one
metal's options), which :func:`is_separable` checks.

Banking without borrowing chains a market's periods (cumulative abatement covers cumulative
need); the chain is cleared exactly by pool-adjacent-violators over the periods' merit orders
(:func:`_clear_banked`): at most T − 1 further rounds of the same search for T periods.

Everything is vectorised across all markets at once: one event per step (its price c/κ and jump
κu) and two per linear MAC (the start and end of its ramp, changing the slope by ±κ²/h), sorted by
market and price, with segmented cumulative sums for A(P) at every event; no Python loop runs
over options or markets. Cost: O(n log n) for n options.

Where it is used: :func:`emtrade.solve.solve_problem` calls :func:`solve_separable` when
``solver.fast_path`` is 'on' (an :class:`~emtrade.errors.EmtradeError` saying why if the problem is
not separable) or 'auto' on the default backend and :func:`is_separable` holds; results show
``solve_path: merit-order``. Costs in the problem are present values (δ_t c), so prices come out
in present-value CNY as the LP's duals do; :mod:`emtrade.model.readout` turns both into current
CNY. An option in no market row (its pair is uncapped) is a problem of its own: min c v + ½ h v²
on [0, u], i.e. used only where its cost is negative.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emtrade.errors import EmtradeError, InfeasibleError
from emtrade.model.problem import Problem

PATH = "merit-order"
ROW_BLOCKS = ("market", "abatement_limit")
COLUMN_BLOCKS = ("activity", "bank")
#: comparisons of cumulative supply with a requirement R are exact up to this share of max(|R|, capacity)
REL_TOL = 1e-12
#: a requirement above the whole capacity by at most this share is met with all capacity (solver tolerance)
FEAS_TOL = 1e-9
#: weighted selection sorts what is left once it is this small
SORT_BELOW = 4096


@dataclass
class _Structure:
    """The separable structure of a problem, read off its arrays."""

    market: slice  # the market rows
    col_market: np.ndarray  # market row (0-based within the block) of each column, −1 if none
    kappa: np.ndarray  # κ_j = −A[market, j] > 0 (0 where the column is in no market)
    limit: slice | None  # the abatement_limit rows, if any
    col_limit: np.ndarray  # limit row (0-based) of each column, −1 if none
    limit_coef: np.ndarray  # k_j = A[limit, j] > 0 (0 where none)
    limit_ratio: np.ndarray  # per limit row: κ_j / k_j of its options (commodity units per kg)
    n_act: int = 0  # the activity columns are 0 … n_act − 1
    bank: slice | None = None  # the bank columns, if any (banking without borrowing)
    bank_row: np.ndarray | None = None  # market row (0-based) each bank column carries permits out of
    next_row: np.ndarray | None = None  # per market row: the row of the next period (−1 for the last)


def is_separable(problem: Problem) -> bool:
    """True if ``problem`` is a set of independent markets that :func:`solve_separable` clears exactly.

    The exact conditions, read from the arrays and the named blocks:

    - the only column block is ``activity``, with no integer columns, lower bounds 0, finite upper
      bounds, finite costs and quadratic coefficients h ≥ 0 (no bank, ceiling, reserve, floor,
      excess, buy/sell, flow or adoption columns);
    - the only row blocks are ``market`` (row ≤ finite bound, no lower bound) and
      ``abatement_limit`` (no cap, receptor, firm-limit, precedence, reserve or other rows);
    - every column has at most one nonzero in the market rows, and it is negative (an option
      lowers the discharge of one market; a column in no market row is a problem of its own);
    - every column has at most one nonzero in the limit rows, positive; within a limit row every
      column lies in the same market (or none) with the same ratio κ/k.
    """
    return analyse(problem)[0] is not None


def separability(problem: Problem) -> str:
    """Why ``problem`` is not separable ('' if it is): for error messages."""
    return analyse(problem)[1]


def analyse(problem: Problem) -> tuple[_Structure | None, str]:
    """The separable structure of ``problem`` (for :func:`solve_separable`), or None and why not.

    A pass over every nonzero: :func:`emtrade.solve.solve_problem` makes it once and hands the
    structure on, rather than caching it (a cache would hold a big model's arrays after the solve).
    """
    return _analyse_arrays(problem)


#: what each block of columns or rows stands for, to say why a problem is not separable
WHY = {
    "adopt": "fixed technology costs (integer adoption decisions)",
    "adoption": "fixed technology costs (integer adoption decisions)",
    "flow": "trading between zones at ratios",
    "buy": "transaction fees (holdings firm by firm)",
    "sell": "transaction fees (holdings firm by firm)",
    "holding": "transaction fees (holdings firm by firm)",
    "ceiling_sales": "a price ceiling",
    "reserve_sales": "a government reserve",
    "reserve": "a government reserve",
    "withheld": "a price floor",
    "excess": "penalties on excess discharge",
    "excess_firm": "penalties on excess discharge",
    "cap": "caps across markets",
    "receptor": "river receptors",
    "firm_limit": "firm limits",
    "precedence": "technology prerequisites",
    "no_net_inflow": "no net inflow into zones",
    "dominant": "market power",
}


def _why(names: list[str]) -> str:
    return ", ".join(f"{WHY[n]} ({n})" if n in WHY else n for n in names)


def _analyse_arrays(problem: Problem) -> tuple[_Structure | None, str]:
    extra_cols = [n for n, b in problem.columns.items() if n not in COLUMN_BLOCKS and len(b)]
    if extra_cols:
        return None, f"the model has {_why(extra_cols)}"
    extra_rows = [n for n, b in problem.rows.items() if n not in ROW_BLOCKS and len(b)]
    if extra_rows:
        return None, f"the model has {_why(extra_rows)}"
    a = problem.arrays()
    act = problem.columns.get("activity")
    n = len(act) if act is not None else 0
    if n and act.start != 0:
        return None, "the activity columns do not come first"
    bank = problem.columns.get("bank")
    chains = None
    if bank is not None and len(bank):
        chains, why = _bank_chains(a, bank.slice, problem.rows.get("market"))
        if chains is None:
            return None, why
        a = {**a, "A": a["A"][:, :n]}
        a.update({k: a[k][:n] for k in ("col_lower", "col_upper", "col_cost", "col_quad", "col_integer")})
    if a["col_integer"].any():
        return None, "it has integer decisions (fixed costs, closures)"
    lo, up, cost, quad = a["col_lower"], a["col_upper"], a["col_cost"], a["col_quad"]
    # reductions rather than elementwise tests: NaN and ±inf show in the min and max
    if n and not (lo.min() == 0 == lo.max() and up.min() >= 0 and np.isfinite(up.max())):
        return None, "some activity has a lower bound other than 0 or no finite upper bound"
    if n and not (np.isfinite(cost.min()) and np.isfinite(cost.max()) and quad.min() >= 0 and np.isfinite(quad.max())):
        return None, "some cost is not finite or not convex"
    market = problem.rows.get("market")
    limit = problem.rows.get("abatement_limit")
    m_slice = market.slice if market is not None else slice(0, 0)
    lower_m, upper_m = a["row_lower"][m_slice], a["row_upper"][m_slice]
    if not (np.isneginf(lower_m).all() and np.isfinite(upper_m).all()):
        return None, "a market row is not of the form Σ ≤ bound"
    A = a["A"].tocsc()
    rows_nz, vals_nz = A.indices, A.data
    if len(rows_nz) == n and np.array_equal(A.indptr, np.arange(n + 1)):
        col_of_nz = None  # one nonzero per column, in column order
    else:
        col_of_nz = np.repeat(np.arange(n, dtype=np.int64), np.diff(A.indptr))

    col_market, kappa = _one_per_column(rows_nz, col_of_nz, vals_nz, m_slice, n, -1.0)
    if col_market is None:
        return None, "some option abates more than one market (a joint technology or an exchange across markets)"
    if n and kappa.min() < 0:
        return None, "some option raises a market's discharge"
    l_slice = None
    col_limit = np.full(n, -1, dtype=np.int64)
    limit_coef = np.zeros(n)
    ratio = np.zeros(0)
    if limit is not None and len(limit):
        l_slice = limit.slice
        if not (np.isneginf(a["row_lower"][l_slice]).all() and np.isfinite(a["row_upper"][l_slice]).all()):
            return None, "an abatement limit is not of the form Σ ≤ bound"
        col_limit, limit_coef = _one_per_column(rows_nz, col_of_nz, vals_nz, l_slice, n, 1.0)
        if col_limit is None:
            return None, "some option counts against two abatement limits"
        if (limit_coef < 0).any():
            return None, "an abatement limit has a negative coefficient"
        # within a limit row: one market (or none) and a constant ratio κ/k
        lim_cols = np.flatnonzero(col_limit >= 0)
        rows = col_limit[lim_cols]
        n_lim = len(limit)
        mk = col_market[lim_cols].astype(float)
        r_mk_min = _group_reduce(np.minimum, rows, mk, n_lim, np.inf)
        r_mk_max = _group_reduce(np.maximum, rows, mk, n_lim, -np.inf)
        if (r_mk_min[rows] != r_mk_max[rows]).any():
            return None, "an abatement limit spans options of several markets"
        rho = kappa[lim_cols] / limit_coef[lim_cols]
        r_min = _group_reduce(np.minimum, rows, rho, n_lim, np.inf)
        r_max = _group_reduce(np.maximum, rows, rho, n_lim, -np.inf)
        if (np.abs(r_max[rows] - r_min[rows]) > 1e-12 * np.abs(r_max[rows])).any():
            return None, "an abatement limit spans options of several metals"
        ratio = np.where(np.isfinite(r_max), r_max, 0.0)
    st = _Structure(m_slice, col_market, kappa, l_slice, col_limit, limit_coef, ratio, n_act=n)
    if chains is not None:
        st.bank, st.bank_row, st.next_row = bank.slice, chains[0], chains[1]
    return st, ""


def _bank_chains(a: dict, cols: slice, market) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
    """Bank columns that only chain a market's periods: ((row out of, next row per row), '') or (None, why).

    Each bank column B must have cost 0, bounds [0, ∞) (banking without borrowing: with borrowing
    the order of prices below no longer holds), +1 in one market row and −1 in another, and no two
    bank columns may leave or enter the same row.
    """
    n_bank = cols.stop - cols.start
    if market is None:
        return None, "banking without markets"
    lower, upper, cost = a["col_lower"][cols], a["col_upper"][cols], a["col_cost"][cols]
    if not ((lower == 0).all() and np.isposinf(upper).all() and (cost == 0).all()):
        return None, "borrowing, or a bank with bounds or costs, which the merit order does not model"
    B = a["A"][:, cols].tocsc()
    if not np.array_equal(np.diff(B.indptr), np.full(n_bank, 2)):
        return None, "a bank column outside a pair of market rows"
    rows = B.indices.reshape(n_bank, 2)
    vals = B.data.reshape(n_bank, 2)
    out_of = np.where(vals[:, 0] > 0, rows[:, 0], rows[:, 1]) - market.start
    into = np.where(vals[:, 0] > 0, rows[:, 1], rows[:, 0]) - market.start
    n_m = len(market)
    if not (
        np.array_equal(np.sort(vals, axis=1), np.tile([-1.0, 1.0], (n_bank, 1)))
        and out_of.min() >= 0 and into.min() >= 0 and out_of.max() < n_m and into.max() < n_m
        and len(np.unique(out_of)) == n_bank and len(np.unique(into)) == n_bank
    ):  # fmt: skip
        return None, "a bank column that does not carry permits from one market row to the next"
    next_row = np.full(n_m, -1, dtype=np.int64)
    next_row[out_of] = into
    if _chain_order(next_row) is None:
        return None, "bank columns that chain market rows in a cycle"
    return (out_of, next_row), ""


def _chain_order(next_row: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Market rows in chain order (each chain's periods in turn) and the chain of each, or None for a cycle."""
    n = len(next_row)
    has_prev = np.zeros(n, dtype=bool)
    has_prev[next_row[next_row >= 0]] = True
    chain = np.full(n, -1, dtype=np.int64)
    pos = np.zeros(n, dtype=np.int64)
    cur = np.flatnonzero(~has_prev)
    ids = np.arange(len(cur))
    level = 0
    while len(cur):
        chain[cur], pos[cur] = ids, level
        nxt = next_row[cur]
        keep = nxt >= 0
        cur, ids, level = nxt[keep], ids[keep], level + 1
    if (chain < 0).any():
        return None
    return np.lexsort((pos, chain)), chain


def _one_per_column(rows_nz, col_of_nz, vals_nz, block: slice, n: int, sign: float):
    """Row (within ``block``) and sign·coefficient of each column's nonzero in ``block``; None if some has two."""
    if col_of_nz is None and (not n or (rows_nz.min() >= block.start and rows_nz.max() < block.stop)):
        return rows_nz.astype(np.int64) - block.start, sign * vals_nz  # one nonzero per column, all in the block
    if col_of_nz is None:
        col_of_nz = np.arange(n, dtype=np.int64)
    inside = (rows_nz >= block.start) & (rows_nz < block.stop)
    cols = col_of_nz[inside]
    if len(cols) and (np.bincount(cols, minlength=n) > 1).any():
        return None, None
    row = np.full(n, -1, dtype=np.int64)
    coef = np.zeros(n)
    row[cols] = rows_nz[inside] - block.start
    coef[cols] = sign * vals_nz[inside]
    return row, coef


def _group_reduce(ufunc, groups: np.ndarray, values: np.ndarray, n: int, init: float) -> np.ndarray:
    out = np.full(n, init)
    ufunc.at(out, groups, values)
    return out


# --------------------------------------------------------------------------------------------------
# the clearing itself


@dataclass
class _Cleared:
    """The outcome of :func:`clear` for every option and group."""

    v: np.ndarray  # activity of every option
    price: np.ndarray  # per group: inf{P : A(P+) ≥ R} (−inf when R ≤ 0), floored at 0 if asked
    low: np.ndarray  # per group: the interval of clearing prices (floored at 0 if asked)
    high: np.ndarray
    infeasible: np.ndarray  # per group: R exceeds the whole capacity


def clear(
    group: np.ndarray,
    n_groups: int,
    kappa: np.ndarray,
    cost: np.ndarray,
    quad: np.ndarray,
    upper: np.ndarray,
    need: np.ndarray,
    *,
    floor: bool = True,
) -> _Cleared:
    """Clear ``n_groups`` independent markets; option j belongs to ``group[j]`` (see the module docstring).

    ``kappa`` (> 0), ``cost``, ``quad`` (≥ 0) and ``upper`` (≥ 0, finite) are per option; ``need``
    (R, per group) in the same commodity units as κ·v. With ``floor`` the price is max(0, ·) and
    options are valued at that price (negative-cost options used fully even when the market is
    slack); without it the search is the bare inf{P : A(P+) ≥ R} (used for per-enterprise limits,
    where a negative price means the limit is filled by options that pay for themselves).
    Infeasible groups get every option at its upper bound and ``infeasible`` set.

    One market of steps is cleared by weighted selection (:func:`_one_market_of_steps`, O(n)).
    Otherwise A(P) is tabulated at every event in (group, price) order: after_k = A(p_k+) and
    before_k = after_k − jump_k = A(p_k−). The price is found from that table; the quantities are
    then read in the options' own order by comparing each step's price with its market's price:
    below → all of it, above → none, equal → the share (R − A(P−)) / (the steps' total at P),
    clipped to [0, 1], which is exact whether P sits on a jump or on a ramp.
    """
    group = np.asarray(group, dtype=np.int64)
    need = np.asarray(need, dtype=float)
    upper = np.asarray(upper, dtype=float)
    lin = quad > 0
    any_lin = bool(lin.any())
    step = ~lin if any_lin else np.ones(len(quad), dtype=bool)
    if len(kappa) and kappa.min() == 1.0 == kappa.max():  # kg markets: no arithmetic needed
        own_price, size = cost, upper
    else:
        own_price = cost / kappa  # CNY per commodity unit: a step's price, a ramp's start
        size = kappa * upper  # a step's jump (commodity units)
    l_idx = np.flatnonzero(lin & (upper > 0)) if any_lin else np.zeros(0, dtype=np.int64)
    if len(l_idx):
        s_idx = np.flatnonzero(step)
        sigma = kappa[l_idx] ** 2 / quad[l_idx]  # the ramp's slope: commodity per (CNY per commodity unit)
        ev_price = np.concatenate(
            [own_price[s_idx], own_price[l_idx], (cost[l_idx] + quad[l_idx] * upper[l_idx]) / kappa[l_idx]]
        )
        ev_jump = np.concatenate([size[s_idx], np.zeros(2 * len(l_idx))])
        ev_slope = np.concatenate([np.zeros(len(s_idx)), sigma, -sigma])
        ev_active = np.concatenate(
            [np.zeros(len(s_idx), np.int8), np.ones(len(l_idx), np.int8), -np.ones(len(l_idx), np.int8)]
        )
        ev_group = np.concatenate([group[s_idx], group[l_idx], group[l_idx]])
    elif n_groups == 1 and len(group):  # one market of steps: a weighted selection, no sort
        return _one_market_of_steps(own_price, size, upper, float(need[0]), floor=floor)
    else:  # steps only: one event per option, in the options' own arrays
        ev_price, ev_jump, ev_group = own_price, size, group
    order = _sort_by_group_then_price(ev_group, ev_price, n_groups)
    p, jump = ev_price[order], ev_jump[order]
    n_ev = len(p)
    if n_groups == 1:
        g = None
        counts = np.array([n_ev], dtype=np.int64)
    else:
        g = ev_group[order]
        counts = np.bincount(g, minlength=n_groups)
    start = np.zeros(n_groups, dtype=np.int64)
    np.cumsum(counts[:-1], out=start[1:])
    end = start + counts
    first = np.zeros(n_ev, dtype=bool)
    first[start[counts > 0]] = True

    # A(P) at every event: after_k = A(p_k+), before_k = A(p_k−)
    after = _segment_cumsum(jump, g, first, n_groups)
    slope = None
    if len(l_idx):
        # S_k, the slope of A after event k (exactly 0 where no ramp is active: no rounding residue)
        active = _segment_cumsum(ev_active[order].astype(np.int64), g, first, n_groups)
        slope = np.where(active > 0, np.maximum(_segment_cumsum(ev_slope[order], g, first, n_groups), 0.0), 0.0)
        last = np.zeros(n_ev, dtype=bool)
        last[end[counts > 0] - 1] = True
        gap = np.zeros(n_ev)
        gap[:-1] = np.where(last[:-1], 0.0, p[1:] - p[:-1])
        area = slope * gap  # supply added between event k and k + 1
        after = after + _segment_cumsum(area, g, first, n_groups) - area

    capacity = np.where(counts > 0, after[np.maximum(end - 1, 0)], 0.0) if n_ev else np.zeros(n_groups)
    scale = np.maximum(np.maximum(np.abs(need), capacity), 1e-300)
    tol = REL_TOL * scale
    infeasible = need > capacity + np.maximum(FEAS_TOL * scale, tol)
    R = np.minimum(need, capacity)  # a hair above capacity (solver tolerance): all capacity is needed

    # k* = the first event with after ≥ R, k' = the first with after > R (a prefix of each group lies below)
    below = _count_in_groups(after, R - tol, g, n_groups, side="left")
    upto = _count_in_groups(after, R + tol, g, n_groups, side="right")
    lo_price = _crossing(p, after, jump, slope, first, start, counts, below, R, tol, strict=False)
    hi_price = _crossing(p, after, jump, slope, first, start, counts, upto, R, tol, strict=True)
    if floor:
        price = np.maximum(lo_price, 0.0)
        low, high = price, np.maximum(hi_price, 0.0)
    else:
        price, low, high = lo_price, lo_price, hi_price
    value_at = np.where(infeasible, np.inf, price)  # infeasible: everything at its upper bound

    # quantities, in the options' own order: ramps at the price, steps against it
    v = np.zeros(len(group))
    gp = value_at[group] if n_groups > 1 else (value_at[0] if n_groups else 0.0)  # each option's market price
    if len(l_idx):
        gl = gp[l_idx] if n_groups > 1 else gp
        v[l_idx] = np.clip((gl * kappa[l_idx] - cost[l_idx]) / quad[l_idx], 0.0, upper[l_idx])
    under = step & (own_price < gp)
    at = np.flatnonzero(step & (own_price == gp))
    np.copyto(v, upper, where=under)
    if len(at):
        supplied = np.bincount(group, weights=kappa * v, minlength=n_groups)  # A(P−): steps below, ramps at P
        tied = np.bincount(group[at], weights=size[at], minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            fill = np.clip(np.where(tied > 0, (R - supplied) / tied, 0.0), 0.0, 1.0)
        v[at] = fill[group[at]] * upper[at]
    return _Cleared(v, price, low, high, infeasible)


def _one_market_of_steps(price: np.ndarray, size: np.ndarray, upper: np.ndarray, need: float, *, floor: bool):
    """:func:`clear` for one market of steps, in O(n) by weighted selection instead of a sort.

    With W(P) = Σ_{p_j ≤ P} size_j (= A(P+)), the same quantities as the sorted table:
    P_lo = min{P : W(P) ≥ R − tol} (−∞ if R ≤ tol) and P_hi = min{P : W(P) > R + tol} (−∞ if
    R < −tol, +∞ if there is none), each found by :func:`_weighted_select`.
    """
    capacity = float(size.sum())
    scale = max(abs(need), capacity, 1e-300)
    tol = REL_TOL * scale
    infeasible = need > capacity + max(FEAS_TOL * scale, tol)
    r = min(need, capacity)
    cand_p, cand_s, acc = _bracket(price, size, r - tol, r + tol, capacity)
    lo = -np.inf if r <= tol else _weighted_select(cand_p, cand_s, r - tol, strict=False, acc=acc)
    hi = -np.inf if r < -tol else _weighted_select(cand_p, cand_s, r + tol, strict=True, acc=acc)
    if floor:
        P, low, high = max(lo, 0.0), max(lo, 0.0), max(hi, 0.0)
    else:
        P, low, high = lo, lo, hi
    at_price = np.inf if infeasible else P
    under = price < at_price
    v = np.where(under, upper, 0.0)
    at = np.flatnonzero(price == at_price)
    if len(at):  # the steps at the price share what is still needed
        below = float(np.add.reduce(size, where=under))
        tied = float(size[at].sum())
        fill = min(max((r - below) / tied, 0.0), 1.0) if tied > 0 else 0.0
        v[at] = fill * upper[at]
    one = np.ones(1)
    return _Cleared(v, P * one, low * one, high * one, np.array([infeasible]))


def _bracket(price: np.ndarray, size: np.ndarray, t_lo: float, t_hi: float, total: float):
    """Narrow the search for both answers to the prices in some [a, b]: (prices, sizes, W(a−)).

    a and b are read off a fixed-seed sample of the steps (the weighted quantiles of the targets
    ± 5 %), then checked on all of them in one pass: the bracket holds if W(a−) < t_lo and
    W(b) > t_hi, where W(a−) = Σ_{p_j < a} size_j. If it does not (a bad sample, a target at
    the very end), everything is returned: the answer never depends on the sample, only the speed.
    """
    n = len(price)
    if n <= 16 * SORT_BELOW or total <= 0:
        return price, size, 0.0
    idx = np.random.default_rng(20161).integers(0, n, 1 << 14)
    order = np.argsort(price[idx])
    sp, share = price[idx][order], np.cumsum(size[idx][order])
    if share[-1] <= 0:
        return price, size, 0.0
    share /= share[-1]
    ia = int(np.searchsorted(share, t_lo / total - 0.05))
    ib = int(np.searchsorted(share, t_hi / total + 0.05))
    a = sp[ia - 1] if ia > 0 else -np.inf
    b = sp[ib] if ib < len(sp) else np.inf
    below = price < a
    w_a = float(np.add.reduce(size, where=below))
    inside = ~below & (price <= b)
    if w_a < t_lo and w_a + float(np.add.reduce(size, where=inside)) > t_hi:
        return price[inside], size[inside], w_a
    return price, size, 0.0


def _weighted_select(price: np.ndarray, size: np.ndarray, t: float, *, strict: bool, acc: float = 0.0) -> float:
    """min{P ∈ price : acc + Σ_{price_j ≤ P} size_j ≥ t} (> t if ``strict``); +∞ if no price reaches t.

    Quickselect on weights: split at the median price (np.partition), keep the side where t is
    reached, carrying the weight of what lies below; each round at most halves the candidates,
    so the work is O(n). The last ``SORT_BELOW`` are sorted.
    """

    def reached(w: float) -> bool:
        return w > t if strict else w >= t

    p, s = price, size  # the candidates; acc: the weight of every price below them
    while len(p) > SORT_BELOW:
        k = len(p) // 2
        pivot = np.partition(p, k)[k]
        lt = p < pivot
        w_lt = acc + float(np.add.reduce(s, where=lt))
        if reached(w_lt):
            p, s = p[lt], s[lt]
            continue
        eq = p == pivot
        w_le = w_lt + float(np.add.reduce(s, where=eq))
        if reached(w_le):
            return float(pivot)
        acc = w_le
        gt = ~(lt | eq)
        p, s = p[gt], s[gt]
    order = np.argsort(p, kind="stable")
    cum = acc + np.cumsum(s[order])
    k = int(np.searchsorted(cum, t, side="right" if strict else "left"))
    return float(p[order[k]]) if k < len(cum) else np.inf


def _objective(problem: Problem, x: np.ndarray, cost: np.ndarray, quad: np.ndarray) -> float:
    """:meth:`Problem.objective` (c·x + ½ Σ h x² + offset), skipping the quadratic sum when h = 0 (adding 0.0)."""
    value = cost @ x
    if quad.any():
        value = value + 0.5 * (quad * x * x).sum()
    return float(value + problem.offset)


def _count_in_groups(values, bound, g, n_groups: int, *, side: str) -> np.ndarray:
    """Per group, how many of its (non-decreasing) values are < bound (side 'left') or ≤ bound ('right')."""
    if n_groups == 1:
        return np.array([np.searchsorted(values, bound[0], side=side)], dtype=np.int64)
    hit = values < bound[g] if side == "left" else values <= bound[g]
    return np.bincount(g, weights=hit, minlength=n_groups).astype(np.int64)


def _crossing(p, after, jump, slope, first, start, counts, n_below, R, tol, *, strict: bool) -> np.ndarray:
    """Where A crosses R in each group: inf{P : A(P+) ≥ R} (``strict`` False) or sup{P : A(P−) ≤ R} (True).

    k = start + n_below is the first event with after_k ≥ R (> R if strict). If A reaches R on the
    ramp before p_k (before_k past R), the crossing is p_{k−1} + (R − after_{k−1}) / S_{k−1}; if k
    is a group's first event, A is 0 (≥ R: −inf) before it; otherwise the jump at p_k crosses R.
    No such k: +inf (R beyond, or exactly at, all capacity) or, in an empty group, by the sign of R.
    """
    n_groups = len(counts)
    out = np.full(n_groups, np.inf)
    has = n_below < counts
    if has.any():
        k = start[has] + n_below[has]
        r, t = R[has], tol[has]
        prev = np.maximum(k - 1, 0)
        before = after[k] - jump[k]  # A(p_k−)
        past = before > r + t if strict else before >= r - t
        is_first = first[k]
        ramp = past & ~is_first
        at = p[k]
        if slope is not None and ramp.any():
            s = np.where(ramp, slope[prev], 1.0)
            on_ramp = np.clip(p[prev] + (r - after[prev]) / s, p[prev], p[k])
            at = np.where(ramp, on_ramp, at)
        out[has] = np.where(past & is_first, -np.inf, at)
    empty = counts == 0
    if empty.any():
        zero_ok = R[empty] >= -tol[empty] if strict else R[empty] <= tol[empty]
        out[empty] = np.where(zero_ok, np.inf, -np.inf) if strict else np.where(zero_ok, -np.inf, np.inf)
    return out


def _sort_by_group_then_price(group: np.ndarray, price: np.ndarray, n_groups: int) -> np.ndarray:
    """The permutation sorting events by (group, price); ties in any order (they are split pro rata).

    One group: an argsort of the prices. Fewer than 2¹⁶ groups: then a stable radix sort of the
    group numbers. More: an argsort of the integer key group · n + rank(price).
    """
    if n_groups <= 1:
        return np.argsort(price)
    if n_groups < 2**16:
        order = np.argsort(price)
        return order[np.argsort(group[order].astype(np.uint16), kind="stable")]  # a radix sort
    # many groups: one integer key, group · n + the price's rank (a sort of ints beats a two-key lexsort)
    n = len(price)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(price)] = np.arange(n)
    return np.argsort(group.astype(np.int64) * n + rank)


def _segment_cumsum(x: np.ndarray, g: np.ndarray, first: np.ndarray, n_groups: int) -> np.ndarray:
    """Cumulative sums of ``x`` restarting at every group (``g`` sorted; ``first`` marks group starts).

    Integers: one global cumsum minus the running total at each group's start (exact). Floats:
    each group summed on its own (pandas' grouped cumsum), since a global cumsum would carry the
    rounding of every earlier group into each group's sums.
    """
    if len(x) == 0 or n_groups <= 1:
        return np.cumsum(x)
    if x.dtype.kind in "iu":
        cs = np.cumsum(x)
        carry = np.zeros(len(x), dtype=cs.dtype)
        starts = np.flatnonzero(first)
        carry[starts[1:]] = cs[starts[1:] - 1]
        idx = np.zeros(len(x), dtype=np.int64)
        idx[starts] = starts
        np.maximum.accumulate(idx, out=idx)
        return cs - carry[idx]
    return pd.Series(x).groupby(g, sort=False).cumsum().to_numpy()


# --------------------------------------------------------------------------------------------------
# a Problem → a Solution


def _clear_banked(group, n_m, kappa, cost, quad, upper, need, next_row, *, intervals: bool):
    """Clear markets whose periods are chained by banking (no borrowing): per row, and the bank.

    With B_t ≥ 0 the permits carried from period t to t+1 of one market, the market rows
    −Σ κ v_t + B_t − B_{t−1} ≤ −R_t say that cumulative abatement covers cumulative need,
    Σ_{s≤t} κ v_s ≥ Σ_{s≤t} R_s. Their duals λ_t (present-value prices) satisfy, from the bank
    columns' reduced costs, λ_t ≥ λ_{t+1} with equality wherever B_t > 0 (Hotelling: the present
    value of a banked permit cannot fall while permits are held). The dual problem
    max_λ Σ_t g_t(λ_t) subject to λ_1 ≥ … ≥ λ_T ≥ 0 has separable concave g_t (g_t(λ) =
    λ R_t − max_v (λ κ·v − cost_t(v))), so pool-adjacent-violators solves it exactly (Best,
    Chakravarti & Ubhaya 2000): start with every period alone, and while a period block clears
    below the next one, pool the two into one market needing both requirements; a block's price
    is the merit-order price of its pooled supply. PAV's answer does not depend on the order of
    pooling, so every violating pair is pooled at once: at most T − 1 rounds of :func:`clear`.

    Within a pooled block at price P, steps priced exactly at P are shared front-loaded (earliest
    period first), which maximises every prefix of cumulative abatement and so keeps every
    B_t ≥ 0; the block ends with B = 0. Returns the :class:`_Cleared` per market row (``price`` the
    row's λ) and B per row (0 in each chain's last row).

    With ``intervals``, [low, high] is the exact range of λ_t over all optimal duals: with the
    optimal v fixed, λ_t lies in its own period's interval at that abatement (``clear`` at
    need = κ·v_t), is 0 where the row is slack, equals λ_{t+1} where B_t > 0, and the chain is
    non-increasing; so within each run of periods joined by a positive bank λ lies in the
    intersection of the runs' boxes, the highest λ_t is the running minimum of the upper ends up
    to t and the lowest the running maximum of the lower ends from t on.
    """
    order, chain = _chain_order(next_row)
    chain_sorted = chain[order]
    same_chain = np.zeros(n_m, dtype=bool)  # sorted row k follows k − 1 in its chain
    same_chain[1:] = chain_sorted[1:] == chain_sorted[:-1]
    cut = np.ones(n_m, dtype=bool)  # sorted row k starts a block
    while True:
        blk_sorted = np.cumsum(cut) - 1
        block = np.empty(n_m, dtype=np.int64)
        block[order] = blk_sorted
        n_b = int(blk_sorted[-1]) + 1 if n_m else 0
        res = clear(block[group], n_b, kappa, cost, quad, upper, np.bincount(block, weights=need, minlength=n_b))
        price = np.where(res.infeasible, np.inf, res.price)
        bnd = np.flatnonzero(cut & same_chain)
        left, right = price[blk_sorted[bnd - 1]], price[blk_sorted[bnd]]
        finite = np.isfinite(left) & np.isfinite(right)
        scale = np.where(finite, np.maximum(np.abs(left), np.abs(right)), 0.0)
        violating = right > left + 1e-12 * scale
        if not violating.any():
            break
        cut[bnd[violating]] = False
    row_price = res.price[block]
    infeasible = res.infeasible[block]

    # front-load the steps priced exactly at their block's price
    own = cost / kappa
    at_price = (quad <= 0) & (own == res.price[block[group]]) & (upper > 0) & ~infeasible[group]
    v = np.where(at_price, 0.0, res.v)
    base = np.bincount(group, weights=kappa * v, minlength=n_m)
    cap = np.bincount(group[at_price], weights=kappa[at_price] * upper[at_price], minlength=n_m)
    remaining = np.bincount(block, weights=need - base, minlength=n_b)
    cap_sorted = cap[order]
    before = np.cumsum(cap_sorted) - cap_sorted
    before -= before[np.flatnonzero(cut)][blk_sorted]  # capacity at the price in the block's earlier periods
    give = np.clip(remaining[blk_sorted] - before, 0.0, cap_sorted)
    fill = np.zeros(n_m)
    fill[order] = np.divide(give, cap_sorted, out=np.zeros(n_m), where=cap_sorted > 0)
    v[at_price] = np.minimum(fill[group[at_price]], 1.0) * upper[at_price]

    # the bank: cumulative surplus along each chain, carried out of every row but a chain's last
    supply = np.bincount(group, weights=kappa * v, minlength=n_m)
    surplus = (supply - need)[order]
    carried = np.cumsum(surplus)
    starts = np.flatnonzero(~same_chain)
    carried -= (np.cumsum(surplus) - surplus)[starts][np.cumsum(~same_chain) - 1]
    # what is "zero" along a chain: a share of the largest quantity in it (rounding in the sums above)
    size = np.maximum(np.abs(need), supply)
    tol = 1e-9 * pd.Series(size[order]).groupby(chain_sorted).transform("max").to_numpy()[np.argsort(order)]
    bank = np.zeros(n_m)
    bank[order] = np.maximum(carried, 0.0)
    bank[(next_row < 0) | (bank <= tol)] = 0.0

    low = high = row_price
    if intervals and n_m:
        box = clear(group, n_m, kappa, cost, quad, upper, supply)
        lo, hi = box.low.copy(), box.high.copy()
        bank_in = np.zeros(n_m)
        has_next = next_row >= 0
        bank_in[next_row[has_next]] = bank[has_next]
        slack = supply + bank_in - bank > need + tol
        lo[slack], hi[slack] = 0.0, 0.0
        linked = np.zeros(n_m, dtype=bool)  # sorted row k shares its price with k − 1 (a positive bank between)
        linked[1:] = same_chain[1:] & (bank[order[:-1]] > tol[order[:-1]])
        seg_sorted = np.cumsum(~linked) - 1
        seg_start = np.flatnonzero(~linked)
        seg_lo = np.maximum.reduceat(lo[order], seg_start)
        seg_hi = np.minimum.reduceat(hi[order], seg_start)
        seg_chain = chain_sorted[seg_start]
        top = pd.Series(seg_hi).groupby(seg_chain).cummin().to_numpy()
        bottom = pd.Series(seg_lo[::-1]).groupby(seg_chain[::-1]).cummax().to_numpy()[::-1]
        low, high = np.empty(n_m), np.empty(n_m)
        low[order], high[order] = bottom[seg_sorted], top[seg_sorted]
    cleared = _Cleared(np.where(infeasible[group], upper, v), row_price, low, high, infeasible)
    return cleared, bank


def solve_separable(problem: Problem, interval_rows: np.ndarray | None = None, structure: _Structure | None = None):
    """Solve a separable ``problem`` exactly by merit order; the same :class:`emtrade.solve.Solution` as the LP.

    ``x`` the activities, ``shadow`` = −(row dual) ≥ 0 (the market price P*, present value, on each
    market row; on each binding abatement limit the difference between the market's price and the
    enterprise's own marginal cost), ``price_low``/``price_high`` the interval of clearing prices on
    ``interval_rows`` (NaN elsewhere), ``objective`` c·x + ½ Σ h x² + offset, status 'optimal',
    path 'merit-order'. Raises :class:`EmtradeError` if the problem is not separable and
    :class:`InfeasibleError` if a market needs more than all its options can abate.
    """
    from emtrade.solve import Solution

    t0 = time.perf_counter()
    st, why = (structure, "") if structure is not None else analyse(problem)
    if st is None:
        raise EmtradeError(
            f"solver.fast_path is 'on', but the markets cannot be cleared one by one: {why}; "
            "use fast_path: auto (the fast path where it applies) or off"
        )
    a = problem.arrays()
    n = st.n_act
    cost, quad, upper = a["col_cost"][:n], a["col_quad"][:n], a["col_upper"][:n]
    shadow = np.zeros(problem.n_rows)

    # per-enterprise abatement limits: cut each option's bound to its enterprise's cheapest fill
    mu = None
    if st.limit is not None:
        n_lim = st.limit.stop - st.limit.start
        lc = np.flatnonzero(st.col_limit >= 0)
        b = a["row_upper"][st.limit]
        fill = clear(st.col_limit[lc], n_lim, st.limit_coef[lc], cost[lc], quad[lc], upper[lc], b, floor=False)
        cut = ~fill.infeasible  # a limit the options cannot reach never binds
        upper = upper.copy()
        upper[lc] = np.where(cut[st.col_limit[lc]], fill.v, upper[lc])
        mu = np.where(cut, fill.price, np.inf)

    n_m = st.market.stop - st.market.start
    need = -a["row_upper"][st.market]
    all_in = n == 0 or st.col_market.min() >= 0
    want = interval_rows is not None and len(interval_rows) > 0
    market_of = st.col_market if all_in else st.col_market[st.col_market >= 0]
    args = (cost, quad, upper) if all_in else (arr[st.col_market >= 0] for arr in (cost, quad, upper))
    kappa = st.kappa if all_in else st.kappa[st.col_market >= 0]
    if st.bank is None:
        res = clear(market_of, n_m, kappa, *args, need)
        bank = None
    else:
        res, bank = _clear_banked(market_of, n_m, kappa, *args, need, st.next_row, intervals=want)
    if all_in:  # the usual case: no copies
        x = res.v
    else:
        x = np.zeros(n)
        x[st.col_market >= 0] = res.v
    if res.infeasible.any():
        m = int(np.flatnonzero(res.infeasible)[0])
        blk = problem.rows["market"]
        label = ", ".join(str(v) for v in blk.index.iloc[m].to_numpy())
        raise InfeasibleError(f"market {label} needs {need[m]:.6g} abated, more than all its options can give")
    shadow[st.market] = res.price
    # columns in no market: each on its own, min c v + ½ h v² over [0, u]
    if not all_in:
        alone = np.flatnonzero(st.col_market < 0)
        h, c, u = quad[alone], cost[alone], upper[alone]
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp = np.clip(-c / np.where(h > 0, h, 1.0), 0.0, u)
        x[alone] = np.where(h > 0, ramp, np.where(c < 0, u, 0.0))
    if mu is not None:
        lim_cols = np.flatnonzero(st.col_limit >= 0)
        rows = st.col_limit[lim_cols]
        n_lim = len(mu)
        mkt = np.full(n_lim, -1, dtype=np.int64)
        mkt[rows] = st.col_market[lim_cols]
        pi = np.where(mkt >= 0, res.price[np.maximum(mkt, 0)], 0.0)  # per market row
        with np.errstate(invalid="ignore"):
            lam = np.where(np.isfinite(mu), np.maximum(pi * st.limit_ratio - mu, 0.0), 0.0)
        shadow[st.limit] = lam

    low = high = None
    if interval_rows is not None and len(interval_rows):
        low = np.full(problem.n_rows, np.nan)
        high = np.full(problem.n_rows, np.nan)
        rows = np.asarray(interval_rows, dtype=np.int64)
        mine = rows[(rows >= st.market.start) & (rows < st.market.stop)]
        low[mine] = res.low[mine - st.market.start]
        high[mine] = res.high[mine - st.market.start]
    objective = _objective(problem, x, cost, quad)  # the bank costs nothing
    if bank is not None:
        x = np.concatenate([x, bank[st.bank_row]])
    elapsed = time.perf_counter() - t0
    return Solution(
        status="optimal",
        optimal=True,
        x=x,
        shadow=shadow,
        objective=objective,
        path=PATH,
        price_low=low,
        price_high=high,
        timings={"merit_order": elapsed, "total": elapsed},
    )
