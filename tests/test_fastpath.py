"""The merit-order fast path (emtrade.fastpath) against the LP/QP of the optimisation core.

Two methods, one answer: every random market is solved by the fast path and by HiGHS
(``fast_path: off``), and the total cost must agree to 1e-9 relative, the fast path's price must
lie in the LP's interval of clearing prices, both intervals must be equal to 1e-9, and the
quantities must be equal wherever the optimum is unique (no two steps of a market at the same
price, no zero-cost step in a market whose price is 0). Hand-derived answers pin the conventions
(slack markets, negative costs, all capacity needed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, write_scenario
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import emtrade
from emtrade.errors import EmtradeError, InfeasibleError, SolverError
from emtrade.fastpath import clear, is_separable, separability, solve_separable
from emtrade.model.problem import Problem
from emtrade.solve import SolveOptions, solve_problem

REL = 1e-9
STEP_PRICES = [-5.0, 0.0, 1.0, 2.0, 3.0, 5.0, 8.0]  # CNY per commodity unit: few values, so ties are common
KAPPAS = [0.5, 1.0, 2.0, 3.0]  # commodity units per unit of activity
UPPERS = [1.0, 2.0, 4.0]


# --------------------------------------------------------------------------------------------------
# random separable problems, built as arrays


@st.composite
def markets(draw, max_markets=4, max_options=6, alone=True):
    """A Problem of independent markets: mixed steps and linear MACs, ties, boundary requirements.

    Linear MACs start at prices off the steps' grid and distinct within a market: two QP ramps
    starting at the same price with the requirement exactly there make HiGHS's QP solver cycle
    (seen with highspy 1.16), which would test HiGHS rather than the fast path.
    """
    n_m = draw(st.integers(1, max_markets))
    cols, need = [], []
    for m in range(n_m):
        n = draw(st.integers(0, max_options))
        opts = []
        for k in range(n):
            linear = draw(st.booleans()) and draw(st.booleans())  # about a quarter linear
            kappa = draw(st.sampled_from(KAPPAS))
            upper = draw(st.sampled_from(UPPERS))
            price = draw(st.sampled_from(STEP_PRICES))
            quad = 0.0
            if linear:
                price += 0.1 * (k + 1)
                quad = draw(st.sampled_from([0.5, 1.0, 2.0]))
            opts.append((m, kappa, price * kappa, quad, upper))
        cap = sum(o[1] * o[4] for o in opts)
        steps = sorted((o[2] / o[1], o[1] * o[4]) for o in opts if o[3] == 0)
        mode = draw(st.sampled_from(["boundary", "all", "slack", "inside", "inside"]))
        if mode == "boundary" and steps:
            k = draw(st.integers(1, len(steps)))
            r = float(sum(q for _, q in steps[:k]))  # exactly at the end of the k-th cheapest step
        elif mode == "all":
            r = float(cap)
        elif mode == "slack":
            r = float(-draw(st.integers(0, 2)))
        else:
            r = float(draw(st.integers(0, 100))) / 100 * cap
        cols += opts
        need.append(r)
    if alone:  # options in no market: each its own problem
        for _ in range(draw(st.integers(0, 2))):
            linear = draw(st.booleans())
            cols.append((-1, 0.0, draw(st.sampled_from([-2.0, 0.0, 3.0])), 1.0 if linear else 0.0, 2.0))
    if not cols:
        cols.append((0, 1.0, 1.0, 0.0, 1.0))
    arr = np.array(cols, dtype=float)
    return _problem(arr[:, 0].astype(int), arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], np.array(need))


def _problem(group, kappa, cost, quad, upper, need, limits=None) -> Problem:
    p = Problem()
    n = len(group)
    p.add_columns("activity", pd.DataFrame({"option": np.arange(n)}), upper=upper, cost=cost, quad=quad)
    inm = group >= 0
    p.add_rows(
        "market",
        pd.DataFrame({"market": np.arange(len(need))}),
        group[inm],
        np.flatnonzero(inm),
        -kappa[inm],
        upper=-np.asarray(need, dtype=float),
    )
    if limits is not None:
        rows, cols, vals, bound = limits
        p.add_rows("abatement_limit", pd.DataFrame({"firm": np.arange(len(bound))}), rows, cols, vals, upper=bound)
    return p


def lp_reference(problem: Problem):
    rows = np.arange(problem.rows["market"].start, problem.rows["market"].stop)
    try:
        return solve_problem(problem, SolveOptions(fast_path="off", time_limit=20), rows)
    except SolverError:  # HiGHS stopped on a time limit in a re-solve (its QP solver can cycle)
        reject()


def assert_same(problem: Problem, lp, fp) -> None:
    rows = np.arange(problem.rows["market"].start, problem.rows["market"].stop)
    assert fp.path == "merit-order" and fp.status == "optimal"
    assert fp.objective == pytest.approx(lp.objective, rel=REL, abs=REL)
    for r in rows:
        lo, hi = lp.price_low[r], lp.price_high[r]
        assert lo - 1e-9 * max(1, abs(lo)) <= fp.shadow[r] <= hi + 1e-9 * max(1, abs(hi)), (r, fp.shadow[r], lo, hi)
        assert fp.price_low[r] == pytest.approx(lo, rel=REL, abs=REL)
        assert fp.price_high[r] == pytest.approx(hi, rel=REL, abs=REL)  # inf == inf
    a = problem.arrays()
    assert (a["A"] @ fp.x <= a["row_upper"] + 1e-9 * np.maximum(1, np.abs(a["row_upper"]))).all()
    assert (fp.x >= 0).all() and (fp.x <= a["col_upper"]).all()
    unique = _unique_optimum(problem, fp)
    np.testing.assert_allclose(fp.x[unique], lp.x[unique], rtol=1e-6, atol=1e-6)


def _unique_optimum(problem: Problem, fp) -> np.ndarray:
    """Options whose optimal activity is unique: not a step sharing its market and price with another
    step, not a zero-cost step where the price is 0 (in a market or alone)."""
    a = problem.arrays()
    A = a["A"].tocsc()
    n = problem.n_cols
    market = np.full(n, -1)
    kappa = np.zeros(n)
    for j in range(n):
        rows = A.indices[A.indptr[j] : A.indptr[j + 1]]
        rows = rows[rows < problem.rows["market"].stop]
        if len(rows):
            market[j] = rows[0]
            kappa[j] = -A[rows[0], j]
    step = a["col_quad"] == 0
    price = np.where(kappa > 0, a["col_cost"] / np.where(kappa > 0, kappa, 1), a["col_cost"])
    key = pd.Series(1, index=pd.MultiIndex.from_arrays([market[step], price[step]])).groupby(level=[0, 1]).size()
    shared = np.zeros(n, dtype=bool)
    for j in np.flatnonzero(step):
        shared[j] = key[(market[j], price[j])] > 1
    market_price = np.where(market >= 0, fp.shadow[np.maximum(market, 0)], 0.0)
    free = step & (price == 0) & (market_price == 0)
    return ~(step & shared) & ~free


# --------------------------------------------------------------------------------------------------
# the fast path against the LP


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(markets())
def test_random_markets_match_the_lp(problem):
    assert is_separable(problem)
    lp = lp_reference(problem)
    rows = np.arange(problem.rows["market"].start, problem.rows["market"].stop)
    assert_same(problem, lp, solve_separable(problem, rows))


@st.composite
def markets_with_limits(draw):
    """Markets whose options are split among enterprises with an abatement limit each (κ = ρ k)."""
    base = draw(markets(max_markets=3, alone=False))
    a = base.arrays()
    A = a["A"].tocsc()
    n = base.n_cols
    market = np.array([A.indices[A.indptr[j]] if A.indptr[j + 1] > A.indptr[j] else -1 for j in range(n)])
    kappa = np.array([-A.data[A.indptr[j]] if A.indptr[j + 1] > A.indptr[j] else 0.0 for j in range(n)])
    rows, cols, vals, bound = [], [], [], []
    for m in np.unique(market[market >= 0]):
        members = np.flatnonzero(market == m)
        firm = np.array([draw(st.integers(0, 1)) for _ in members])
        for f in (0, 1):
            mine = members[firm == f]
            if not len(mine):
                continue
            rho = draw(st.sampled_from([0.5, 1.0, 2.0]))  # commodity units per kg (a PE weight)
            k = kappa[mine] / rho
            reach = float((k * a["col_upper"][mine]).sum())
            b = draw(st.sampled_from([reach, 0.5 * reach, 2 * reach, float(np.floor(reach / 3))]))
            rows += [len(bound)] * len(mine)
            cols += list(mine)
            vals += list(k)
            bound.append(b)
    need = -a["row_upper"]
    limits = (np.array(rows, dtype=int), np.array(cols, dtype=int), np.array(vals), np.array(bound))
    return _problem(market, kappa, a["col_cost"], a["col_quad"], a["col_upper"], need, limits)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(markets_with_limits())
def test_abatement_limits_match_the_lp(problem):
    assert is_separable(problem)
    rows = np.arange(problem.rows["market"].start, problem.rows["market"].stop)
    try:
        lp = solve_problem(problem, SolveOptions(fast_path="off", time_limit=20), rows)
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            solve_separable(problem, rows)
        return
    except SolverError:
        reject()
    assert_same(problem, lp, solve_separable(problem, rows))


# --------------------------------------------------------------------------------------------------
# hand-derived answers


def one_market(prices, sizes, need, quad=None):
    n = len(prices)
    quad = np.zeros(n) if quad is None else np.asarray(quad, dtype=float)
    p = _problem(np.zeros(n, int), np.ones(n), np.asarray(prices, float), quad, np.asarray(sizes, float), [need])
    return solve_separable(p, [0])


def test_requirement_inside_a_step_and_at_its_end():
    """Steps 10 kg @ 5, 10 @ 8 (ties split nothing here). R = 15: the 8-step is marginal, price 8,
    cost 50 + 40 = 90. R = 10: exactly the first step, any price in [5, 8]."""
    s = one_market([5, 8], [10, 10], 15)
    assert (s.x.tolist(), s.shadow[0], s.price_low[0], s.price_high[0], s.objective) == ([10, 5], 8, 8, 8, 90)
    s = one_market([5, 8], [10, 10], 10)
    assert (s.x.tolist(), s.price_low[0], s.price_high[0], s.objective) == ([10, 0], 5, 8, 50)


def test_equal_cost_steps_share_pro_rata():
    """Three steps at 4 CNY/kg of 2, 6 and 0 kg... and one of 4 kg at 4 too: R = 6 of 12 at the tie:
    every tied step supplies half of its size."""
    s = one_market([4, 4, 4], [2, 6, 4], 6)
    np.testing.assert_allclose(s.x, [1, 3, 2])
    assert (s.price_low[0], s.price_high[0]) == (4, 4)


def test_all_capacity_needed_has_no_upper_price():
    s = one_market([1, 3], [2, 2], 4)
    assert s.x.tolist() == [2, 2] and s.price_low[0] == 3 and s.price_high[0] == np.inf


def test_slack_market_and_negative_costs():
    """A process change that pays (−2 CNY/kg, 5 kg) is used whatever the price; the market needs 3:
    slack, price 0 and interval [0, 0]; the 1-CNY step stays idle. A linear MAC with intercept −4
    and slope 2 abates up to where its MAC is 0: 2 kg."""
    s = one_market([-2, 1, -4], [5, 5, 10], 3, quad=[0, 0, 2])
    np.testing.assert_allclose(s.x, [5, 0, 2])
    assert (s.shadow[0], s.price_low[0], s.price_high[0]) == (0, 0, 0)
    assert s.objective == pytest.approx(-10 - 4)  # −2·5, and −4·2 + ½·2·2²


def test_binding_at_zero_price():
    """Negative-cost options abate exactly R: the row binds at price 0, interval [0, next price]."""
    s = one_market([-2, 3], [5, 5], 5)
    assert (s.x.tolist(), s.price_low[0], s.price_high[0]) == ([5, 0], 0, 3)


def test_linear_mac_price_is_exact():
    """Fox River: MAC 0.7 a and 2.1 b, 40 to abate: a = 30, b = 10, price 21, cost 420."""
    s = one_market([0, 0], [100, 100], 40, quad=[0.7, 2.1])
    np.testing.assert_allclose(s.x, [30, 10], rtol=1e-14)
    assert s.shadow[0] == pytest.approx(21, rel=1e-14) and s.objective == pytest.approx(420, rel=1e-14)
    assert s.price_low[0] == s.price_high[0] == s.shadow[0]


def test_infeasible_market_raises():
    with pytest.raises(InfeasibleError, match="more than all its options"):
        one_market([1, 2], [1, 1], 3)


def _sorted_path(price, size, need, floor=True):
    """The same market cleared by the sorted table: a second, empty market sends clear() that way."""
    n = len(price)
    return clear(np.zeros(n, int), 2, np.ones(n), price, np.zeros(n), size, np.array([need, 0.0]), floor=floor)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(STEP_PRICES), st.sampled_from([0.0, *UPPERS])), min_size=1, max_size=40),
    st.integers(-2, 120),
    st.booleans(),
    st.booleans(),
)
def test_weighted_selection_matches_the_sorted_table(steps, need, exact, floor):
    """One market of steps is cleared by weighted selection (O(n)); with the selection's sorting
    threshold at 2 every round of it runs. Same prices, intervals and quantities as the sorted path."""
    import emtrade.fastpath as fp

    price = np.array([p for p, _ in steps])
    size = np.array([q for _, q in steps])
    if exact:  # the requirement at the end of a prefix of the merit order
        order = np.argsort(price, kind="stable")
        need = float(np.cumsum(size[order])[min(need, len(size) - 1)]) if need >= 0 else float(need)
    else:
        need = need / 100 * size.sum()
    saved = fp.SORT_BELOW
    fp.SORT_BELOW = 2
    try:
        sel = clear(np.zeros(len(price), int), 1, np.ones(len(price)), price, np.zeros(len(price)), size,
                    np.array([need]), floor=floor)  # fmt: skip
    finally:
        fp.SORT_BELOW = saved
    ref = _sorted_path(price, size, need, floor=floor)
    assert sel.infeasible[0] == ref.infeasible[0]
    for a, b in ((sel.price[0], ref.price[0]), (sel.low[0], ref.low[0]), (sel.high[0], ref.high[0])):
        assert a == b
    np.testing.assert_allclose(sel.v, ref.v, rtol=1e-12, atol=1e-12)


def test_weighted_selection_on_a_big_market():
    """200 000 steps on 20 prices (many ties), the requirement at a boundary and inside a tie."""
    rng = np.random.default_rng(3)
    n = 200_000
    price = rng.integers(0, 20, n).astype(float)
    size = rng.integers(1, 5, n).astype(float)
    order = np.argsort(price, kind="stable")
    for need in (float(np.cumsum(size[order])[n // 3]), 0.4 * size.sum(), float(size[price < 7].sum())):
        sel = clear(np.zeros(n, int), 1, np.ones(n), price, np.zeros(n), size, np.array([need]))
        ref = _sorted_path(price, size, need)
        assert (sel.price[0], sel.low[0], sel.high[0]) == (ref.price[0], ref.low[0], ref.high[0])
        np.testing.assert_allclose(sel.v, ref.v, rtol=1e-12, atol=1e-12)
        assert sel.v.sum() == pytest.approx(need, rel=1e-12)  # κ = 1: the abatement is the activity
    # the requirement at the end of all steps of price ≤ 6: any price in [6, 7]
    sel = clear(np.zeros(n, int), 1, np.ones(n), price, np.zeros(n), size, np.array([float(size[price < 7].sum())]))
    assert (sel.low[0], sel.high[0]) == (6.0, 7.0)


def test_many_markets_use_the_general_sort():
    """Over 65 535 markets the events are sorted by one integer key; the answer does not depend on the sort."""
    rng = np.random.default_rng(1)
    n = 400
    group = rng.integers(0, 70_000, n)
    price = rng.choice([1.0, 2.0, 3.0], n)
    size = rng.choice([1.0, 2.0], n)
    need = np.zeros(70_000)
    need[group] = 1.5
    big = clear(group, 70_000, np.ones(n), price, np.zeros(n), size, need)
    codes, uniq = pd.factorize(group)
    small = clear(codes, len(uniq), np.ones(n), price, np.zeros(n), size, need[uniq])
    np.testing.assert_array_equal(big.v, small.v)
    np.testing.assert_array_equal(big.price[uniq], small.price)


# --------------------------------------------------------------------------------------------------
# scenarios, through the whole pipeline


def both_paths(sc):
    """The scenario run by merit order and by the LP; (None, None) if both find it infeasible."""
    try:
        fast = emtrade.simulate(sc)
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            emtrade.simulate(sc, fast_path="off")
        return None, None
    try:
        lp = emtrade.simulate(sc, fast_path="off", time_limit=20)
    except SolverError:
        reject()
    return fast, lp


@st.composite
def scenarios(draw):
    """Two metals, enterprises in two sectors, step and linear MACs, sector or city-wide trading."""
    metals = ["Pb", "Cd"]
    n = draw(st.integers(2, 6))
    enterprises, abatement = [], []
    for i in range(n):
        sector = draw(st.sampled_from(["zinc", "electroplating"]))
        baseline = {m: float(draw(st.integers(5, 20))) for m in metals if draw(st.booleans()) or m == "Pb"}
        enterprises.append({"id": f"E{i}", "sector": sector, "baseline": baseline})
        for m, b in baseline.items():
            for _ in range(draw(st.integers(0, 3))):
                abatement.append(
                    {
                        "enterprise": f"E{i}",
                        "pollutant": m,
                        "kind": "step",
                        "quantity": float(draw(st.integers(1, 5))),
                        "cost": float(draw(st.sampled_from([-10, 0, 10, 20, 30, 50]))),
                    }
                )
            if draw(st.booleans()):
                abatement.append(
                    {
                        "enterprise": f"E{i}",
                        "pollutant": m,
                        "kind": "linear",
                        "slope": float(draw(st.sampled_from([1, 2, 5]))),
                        "intercept": float(draw(st.sampled_from([-15, 0, 5]))) + 0.01 * i,
                        "max": b / 2,
                    }
                )
    if not abatement:  # (with no option at all the LP's empty-model shortcut reports no price interval)
        abatement.append({"enterprise": "E0", "pollutant": "Pb", "kind": "step", "quantity": 1.0, "cost": 10.0})
    scope = draw(st.sampled_from(["all", "sector"]))
    emitted = [m for m in metals if any(m in e["baseline"] for e in enterprises)]
    caps = [{"pollutant": m, "reduction": draw(st.sampled_from([0.0, 0.1, 0.25]))} for m in emitted]
    return {
        "name": "random separable",
        "pollutants": metals,
        "enterprises": enterprises,
        "abatement": abatement,
        "caps": caps,
        "allocation": {"method": "equal_reduction"},
        "trading": {"scope": scope},
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scenarios())
def test_random_scenarios_match_the_lp(sc):
    fast, lp = both_paths(sc)
    if fast is None:
        return
    assert fast.summary["solve_path"] == "merit-order"
    assert lp.summary["solve_path"] in ("lp", "qp")
    for key in ("total_cost", "cac_total_cost"):
        if lp.summary[key] is None:
            assert fast.summary[key] is None
        else:
            assert fast.summary[key] == pytest.approx(lp.summary[key], rel=REL, abs=1e-9)
    f, p = fast.prices, lp.prices
    assert (f[["market", "pollutant", "period"]].to_numpy() == p[["market", "pollutant", "period"]].to_numpy()).all()
    np.testing.assert_allclose(f.price_low, p.price_low, rtol=REL, atol=1e-9)
    np.testing.assert_allclose(f.price_high, p.price_high, rtol=REL, atol=1e-9)
    assert ((f.price >= p.price_low - 1e-9) & (f.price <= p.price_high + 1e-9)).all()


@st.composite
def banked_scenarios(draw):
    """Steps and linear MACs over two to four periods, caps per period, banking without borrowing."""
    n_t = draw(st.integers(2, 4))
    periods = list(range(2016, 2016 + n_t))
    n = draw(st.integers(2, 5))
    enterprises, abatement = [], []
    for i in range(n):
        b = float(draw(st.integers(5, 20)))
        enterprises.append({"id": f"E{i}", "sector": draw(st.sampled_from(["zinc", "electroplating"])),
                            "baseline": {"Pb": b}})  # fmt: skip
        for _ in range(draw(st.integers(0, 3))):
            abatement.append({"enterprise": f"E{i}", "pollutant": "Pb", "kind": "step",
                              "quantity": float(draw(st.integers(1, 4))),
                              "cost": float(draw(st.sampled_from([-5, 0, 10, 20, 30, 60])))})  # fmt: skip
        if draw(st.booleans()):
            abatement.append({"enterprise": f"E{i}", "pollutant": "Pb", "kind": "linear", "max": b / 2,
                              "slope": float(draw(st.sampled_from([1, 4]))), "intercept": 3.0 + i})  # fmt: skip
    if not abatement:
        abatement.append({"enterprise": "E0", "pollutant": "Pb", "kind": "step", "quantity": 1.0, "cost": 10.0})
    caps = [{"pollutant": "Pb", "period": t, "reduction": draw(st.sampled_from([0.0, 0.05, 0.15, 0.3, 0.45]))}
            for t in periods]  # fmt: skip
    return {
        "name": "random banked",
        "pollutants": ["Pb"],
        "periods": periods,
        "enterprises": enterprises,
        "abatement": abatement,
        "caps": caps,
        "allocation": {"method": "equal_reduction"},
        "trading": {"scope": draw(st.sampled_from(["all", "sector"])), "banking": True},
        "discount_rate": draw(st.sampled_from([0.0, 0.08])),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(banked_scenarios())
def test_random_banked_markets_match_the_lp(sc):
    """Banking chains a market's periods; pool-adjacent-violators clears them exactly: the LP's cost,
    prices in its intervals, the same intervals, and a bank that is never negative."""
    fast, lp = both_paths(sc)
    if fast is None:
        return
    assert fast.summary["solve_path"] == "merit-order" and lp.summary["solve_path"] in ("lp", "qp")
    assert fast.summary["total_cost"] == pytest.approx(lp.summary["total_cost"], rel=REL, abs=1e-9)
    f, p = fast.prices, lp.prices
    np.testing.assert_allclose(f.price_low, p.price_low, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(f.price_high, p.price_high, rtol=1e-7, atol=1e-7)
    assert ((f.price >= p.price_low - 1e-7) & (f.price <= p.price_high + 1e-7)).all()
    assert (fast.bank.banked >= 0).all()
    # the discounted price never rises while permits are banked (Hotelling), and caps hold cumulatively
    delta = (1 + sc["discount_rate"]) ** -np.arange(len(sc["periods"]))
    for _, g in f.groupby(["market", "pollutant"]):
        pv = g.price.to_numpy() * delta[: len(g)]
        assert (np.diff(pv) <= 1e-7 * max(pv.max(), 1.0)).all()
        surplus = np.cumsum(g.permits.to_numpy() - g.emissions.to_numpy())
        assert (surplus >= -1e-7).all()  # no borrowing: cumulative discharge within cumulative permits
        banked = fast.bank.set_index(["market", "pollutant", "period"]).banked
        carried = banked.reindex(pd.MultiIndex.from_frame(g[["market", "pollutant", "period"]])).fillna(0.0)
        # what is not used is carried into the next period (none past the last)
        np.testing.assert_allclose(carried[:-1], np.maximum(surplus[:-1], 0.0), rtol=1e-7, atol=1e-7)


def test_banking_with_borrowing_keeps_the_lp():
    sc = emtrade.load_scenario(emtrade.bundled_scenario("textbook/rubin_banking"))
    assert emtrade.simulate(sc).summary["solve_path"] == "merit-order"
    borrow = sc.with_overrides({"trading.borrowing": True})
    assert emtrade.simulate(borrow).summary["solve_path"] in ("lp", "qp")


# --------------------------------------------------------------------------------------------------
# choosing the path


JOINT = {
    "name": "joint technology",
    "pollutants": ["Pb", "Cd"],
    "enterprises": [
        {"id": "D", "sector": "zinc", "baseline": {"Pb": 10, "Cd": 2}},
        {"id": "E", "sector": "zinc", "baseline": {"Pb": 10, "Cd": 2}},
    ],
    "abatement": [
        {"enterprise": "D", "kind": "technology", "name": "sulfide", "removal": {"Pb": 0.8, "Cd": 0.5}, "cost": 600},
        {"enterprise": "E", "kind": "step", "pollutant": "Pb", "quantity": 10, "cost": 50},
        {"enterprise": "E", "kind": "step", "pollutant": "Cd", "quantity": 2, "cost": 300},
    ],
    "caps": [{"pollutant": "Pb", "total": 16}, {"pollutant": "Cd", "total": 3.5}],
    "allocation": {"method": "equal_reduction"},
}


@pytest.mark.parametrize("name", ["fox_river", "intercept", "field_field", "pe_exchange"])
def test_auto_takes_the_fast_path_for_separable_scenarios(name):
    path = emtrade.bundled_scenario(f"textbook/{name}")
    fast, lp = emtrade.simulate(path), emtrade.simulate(path, fast_path="off")
    assert fast.summary["solve_path"] == "merit-order"
    assert lp.summary["solve_path"] in ("lp", "qp")
    assert fast.summary["total_cost"] == pytest.approx(lp.summary["total_cost"], rel=REL)
    np.testing.assert_allclose(
        fast.prices[["price", "price_low", "price_high"]], lp.prices[["price", "price_low", "price_high"]], rtol=1e-9
    )
    np.testing.assert_allclose(fast.enterprises.emissions, lp.enterprises.emissions, rtol=1e-7, atol=1e-7)


def test_field_and_field_interval_by_merit_order():
    res = emtrade.simulate(emtrade.bundled_scenario("textbook/field_field"))
    assert res.summary["solve_path"] == "merit-order"
    r = res.prices.iloc[0]
    assert (r.price_low, r.price_high, r.price) == (18, 23, 20.5)
    assert res.summary["total_cost"] == 132 and res.summary["cac_total_cost"] == 154


def test_auto_takes_the_lp_for_a_joint_technology():
    res = emtrade.simulate(JOINT)
    assert res.summary["solve_path"] == "lp"
    assert res.summary["total_cost"] == pytest.approx(300, rel=1e-6)


def test_pyomo_backend_keeps_the_lp_under_auto():
    res = emtrade.simulate(emtrade.bundled_scenario("textbook/fox_river"), backend="pyomo")
    assert res.summary["solve_path"] == "qp"


def test_non_separable_problems_say_why():
    from emtrade.allocation import allocate
    from emtrade.inputs import build_inputs
    from emtrade.model.build import build_model
    from emtrade.policy import policy_of

    sc = emtrade.load_scenario(JOINT)
    inputs = build_inputs(sc)
    built = build_model(inputs, allocate(inputs, sc.spec.allocation), policy_of(sc))
    assert not is_separable(built.problem)
    assert "more than one market" in separability(built.problem)
    banking = emtrade.load_scenario(emtrade.bundled_scenario("textbook/rubin_banking"))
    borrowing = banking.with_overrides({"trading.borrowing": True})
    inputs = build_inputs(borrowing)
    built = build_model(inputs, allocate(inputs, borrowing.spec.allocation), policy_of(borrowing))
    assert "borrowing" in separability(built.problem)


def test_fast_path_on_for_a_non_separable_scenario_is_an_error():
    with pytest.raises(EmtradeError, match=r"fast_path is 'on'.*more than one market"):
        emtrade.simulate(JOINT, fast_path="on")


def test_fast_path_on_through_the_cli_exits_with_code_2(tmp_path):
    path = write_scenario(tmp_path / "joint", {**JOINT, "solver": {"fast_path": "on"}})
    out = tmp_path / "out"
    proc = run_cli("run", path, "-o", out, "--no-report")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "fast_path" in proc.stderr and "more than one market" in proc.stderr
    assert not out.exists()


def test_summary_records_the_merit_order_path(tmp_path, run_scenario):
    out = run_scenario(emtrade.bundled_scenario("textbook/fox_river"), "--no-report")
    assert out.summary["solve_path"] == "merit-order"


# --------------------------------------------------------------------------------------------------
# big inputs from DataFrames


def test_inputs_from_frames_equal_build_inputs():
    """The Xiangtan tables through inputs_from_frames give build_inputs' enterprises, pairs, options
    (names of steps aside), coefficients and caps."""
    from pandas.testing import assert_frame_equal

    from emtrade.inputs import build_inputs, inputs_from_frames

    path = emtrade.bundled_scenario("xiangtan")
    sc = emtrade.load_scenario(path)
    folder = path.parent
    a = build_inputs(sc)
    b = inputs_from_frames(
        pd.read_csv(folder / "enterprises.csv"),
        pd.read_csv(folder / "abatement.csv"),
        pd.read_csv(folder / "caps.csv", dtype={"period": str}),
        pollutants=list(sc.spec.pollutants),
        periods=sc.periods,
        phase_out=sc.spec.phase_out,
    )
    assert_frame_equal(a.enterprises, b.enterprises)
    assert_frame_equal(a.pairs, b.pairs)
    step = (a.options.kind == "step").to_numpy()
    assert_frame_equal(a.options.drop(columns="name"), b.options.drop(columns="name"))
    assert (a.options.name.to_numpy()[~step] == b.options.name.to_numpy()[~step]).all()
    key = ["option", "pair"]
    assert_frame_equal(a.coef.sort_values(key).reset_index(drop=True), b.coef.sort_values(key).reset_index(drop=True))
    cols = [c for c in a.caps.columns if c != "members"]
    assert_frame_equal(a.caps[cols], b.caps[cols])
    assert all(np.array_equal(x, y) for x, y in zip(a.caps.members, b.caps.members, strict=True))


def test_inputs_from_frames_reports_bad_rows():
    from emtrade.inputs import inputs_from_frames

    ent = pd.DataFrame({"id": ["A", "B"], "sector": ["zinc", "zink"], "baseline_Pb": [10.0, 5.0]})
    opt = pd.DataFrame({"enterprise": ["A"], "kind": ["step"], "pollutant": ["Pb"], "quantity": [1.0], "cost": [2.0]})
    caps = pd.DataFrame({"pollutant": ["Pb"], "reduction": [0.1]})
    with pytest.raises(EmtradeError, match=r"unknown sector .*first: B"):
        inputs_from_frames(ent, opt, caps)
    ent.loc[1, "sector"] = "zinc"
    with pytest.raises(EmtradeError, match=r"unknown enterprise .*first: C"):
        inputs_from_frames(ent, opt.assign(enterprise=["C"]), caps)


def test_synthetic_market_from_frames_matches_the_lp():
    """A market of 300 enterprises × 5 steps built from DataFrames: fast path and LP agree."""
    from emtrade.allocation import allocate
    from emtrade.inputs import inputs_from_frames
    from emtrade.model.build import build_model
    from emtrade.model.readout import read_outcome
    from emtrade.policy import Policy
    from emtrade.scenario.schema import Allocation

    rng = np.random.default_rng(7)
    n = 300
    ids = [f"F{i}" for i in range(n)]
    base = rng.lognormal(np.log(100), 1, n)
    ent = pd.DataFrame({"id": ids, "sector": "zinc", "baseline_Pb": base})
    shares = np.array([0.25, 0.2, 0.15, 0.12, 0.08])
    opt = pd.DataFrame(
        {
            "enterprise": np.repeat(ids, 5),
            "kind": "step",
            "pollutant": "Pb",
            "quantity": (base[:, None] * shares).reshape(-1),
            "cost": (rng.lognormal(np.log(200), 0.8, n)[:, None] * [1, 1.6, 2.5, 4, 6.5]).reshape(-1),
        }
    )
    inputs = inputs_from_frames(ent, opt, pd.DataFrame({"pollutant": ["Pb"], "reduction": [0.3]}))
    built = build_model(inputs, allocate(inputs, Allocation(method="grandfathering")), Policy())
    rows = np.arange(built.problem.rows["market"].start, built.problem.rows["market"].stop)
    fast = solve_problem(built.problem, SolveOptions(), rows)
    lp = solve_problem(built.problem, SolveOptions(fast_path="off"), rows)
    assert fast.path == "merit-order" and lp.path == "lp"
    assert fast.objective == pytest.approx(lp.objective, rel=REL)
    assert lp.price_low[0] - 1e-9 <= fast.shadow[0] <= lp.price_high[0] + 1e-9
    a, b = read_outcome(built, fast), read_outcome(built, lp)
    np.testing.assert_allclose(a.emissions, b.emissions, rtol=1e-9, atol=1e-7)
    assert a.markets.price.iloc[0] == pytest.approx(b.markets.price.iloc[0], rel=REL)
