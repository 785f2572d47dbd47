"""The measured cases, one per process: ``python benchmarks/cases.py CASE METHOD N`` prints one JSON row.

Each row: build_s, solve_s, total_s (wall seconds), cpu_s (CPU seconds of the measured part),
peak_mib (the process's peak resident memory, from getrusage: imports included; emtrade drops the
synthetic DataFrames once its inputs are built, the references keep the arrays they need),
objective (CNY, to check that every method solved the same problem) and notes. The single-market
emtrade row also gives peak_model_mib, the peak before the results tables are read out.

Cases and methods:

- ``single`` (N enterprises × 5 steps, one metal, one cap): ``emtrade`` (frames → inputs →
  allocation → model → solve → readout; build = model, solve = solve_problem, here the merit-order
  fast path), ``numpy`` (argsort, cumsum, searchsorted: the lower bound), ``highspy`` (the LP built
  directly from arrays, ipm, presolve off), ``highspy-default`` (the same with HiGHS's default
  options), ``pyomo`` (a classic ConcreteModel: indexed Var, rule-based Objective and Constraint,
  solved by pyomo's HiGHS interface with ipm, presolve off).
- ``city`` (N enterprises, five metals, five periods, sector caps, banking): ``emtrade``
  (solve_problem with its default options, no price intervals, as the references: markets chained
  by banking are cleared by the exact merit-order path), ``emtrade-intervals`` (the same with the
  price intervals of the 125 markets, as a run computes them), ``emtrade-lp`` (fast_path off: the
  LP from emtrade's arrays on HiGHS, whose default method takes interior point for an LP this big),
  ``highspy`` and ``pyomo`` as above, built from the frames independently.
- ``xiangtan``: ``emtrade.simulate`` of the bundled scenario; build and solve from its timings.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic

IPM = {"solver": "ipm", "presolve": "off"}


class Clock:
    """Wall and CPU time of labelled stages."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, label: str):
        clock = self

        class _Stage:
            def __enter__(self):
                self.t, self.c = time.perf_counter(), time.process_time()

            def __exit__(self, *exc):
                clock.wall[label] = clock.wall.get(label, 0.0) + time.perf_counter() - self.t
                clock.cpu[label] = clock.cpu.get(label, 0.0) + time.process_time() - self.c

        return _Stage()


def _peak_mib() -> float:
    """The process's peak resident memory so far, MiB (getrusage's maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(clock: Clock, build: list[str], solve: list[str], **extra) -> dict:
    b = sum(clock.wall.get(k, 0.0) for k in build)
    s = sum(clock.wall.get(k, 0.0) for k in solve)
    cpu = sum(clock.cpu.get(k, 0.0) for k in build + solve)
    stages = {k: round(v, 4) for k, v in clock.wall.items()}
    stages_cpu = {k: round(v, 4) for k, v in clock.cpu.items()}
    return {"build_s": b, "solve_s": s, "total_s": b + s, "cpu_s": cpu, "stages": stages, "stages_cpu": stages_cpu,
            **extra}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# the single market


def single_emtrade(n: int) -> dict:
    from emtrade.allocation import allocate
    from emtrade.inputs import inputs_from_frames
    from emtrade.model.build import build_model
    from emtrade.model.readout import read_outcome
    from emtrade.policy import Policy
    from emtrade.scenario.schema import Allocation
    from emtrade.solve import SolveOptions, solve_problem

    f = synthetic.single_market(n)
    clock = Clock()
    with clock("inputs"):
        inputs = inputs_from_frames(f["enterprises"], f["options"], f["caps"], pollutants=f["pollutants"],
                                    periods=f["periods"])  # fmt: skip
    del f  # the synthetic tables are the benchmark's, not emtrade's: not held during the run
    gc.collect()
    with clock("allocation"):
        alloc = allocate(inputs, Allocation(method="grandfathering"))
    with clock("build"):
        built = build_model(inputs, alloc, Policy())
    rows = np.arange(built.problem.rows["market"].start, built.problem.rows["market"].stop)
    with clock("solve"):
        sol = solve_problem(built.problem, SolveOptions(), rows)
    peak_model = _peak_mib()
    with clock("readout"):
        out = read_outcome(built, sol)
    return _row(
        clock,
        ["build"],
        ["solve"],
        objective=sol.objective,
        price=float(out.markets.price.iloc[0]),
        path=sol.path,
        pipeline_s=sum(clock.wall.values()),
        peak_model_mib=peak_model,
    )


def _single_arrays(n: int):
    f = synthetic.single_market(n)
    opt = f["options"]
    cost = opt.cost.to_numpy(dtype=float)
    qty = opt.quantity.to_numpy(dtype=float)
    need = 0.3 * f["enterprises"].baseline_Pb.sum()  # the cap is 30 % below the total baseline
    return cost, qty, float(need)


def single_numpy(n: int) -> dict:
    """Merit order with numpy: sort by cost, accumulate, find the marginal step; quantities and cost."""
    cost, qty, need = _single_arrays(n)
    clock = Clock()
    with clock("solve"):
        order = np.argsort(cost)
        cum = np.cumsum(qty[order])
        k = int(np.searchsorted(cum, need))
        price = float(cost[order[k]])
        v = np.zeros(len(cost))
        v[order[:k]] = qty[order[:k]]
        v[order[k]] = need - (cum[k - 1] if k else 0.0)
        objective = float(cost @ v)
    return _row(clock, [], ["solve"], objective=objective, price=price)


def _highs(options: dict):
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in options.items():
        h.setOptionValue(k, v)
    return h


def _pass_lp(h, cost, lower, upper, row_lower, row_upper, A) -> None:
    import highspy

    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = np.where(np.isinf(upper), inf, upper)
    lp.row_lower_ = np.where(np.isinf(row_lower), -inf, row_lower)
    lp.row_upper_ = np.where(np.isinf(row_upper), inf, row_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    h.passModel(lp)


def _single_highspy(n: int, options: dict) -> dict:
    import scipy.sparse as sp

    cost, qty, need = _single_arrays(n)
    clock = Clock()
    with clock("build"):
        m = len(cost)
        A = sp.csc_matrix((np.ones(m), np.zeros(m, dtype=np.int32), np.arange(m + 1)), shape=(1, m))
        h = _highs(options)
        _pass_lp(h, cost, np.zeros(m), qty, np.array([need]), np.array([np.inf]), A)
    with clock("solve"):
        h.run()
    sol = h.getSolution()
    return _row(
        clock,
        ["build"],
        ["solve"],
        objective=float(h.getInfo().objective_function_value),
        price=float(sol.row_dual[0]),
        status=h.modelStatusToString(h.getModelStatus()),
    )


def single_highspy(n: int) -> dict:
    return _single_highspy(n, IPM)


def single_highspy_default(n: int) -> dict:
    return _single_highspy(n, {})


def _pyomo_solve(m, clock: Clock) -> float:
    from pyomo.contrib.solver.solvers.highs import Highs

    with clock("solve"):
        res = Highs().solve(m, solver_options=dict(IPM))
    return float(res.incumbent_objective)


def single_pyomo(n: int) -> dict:
    import pyomo.environ as pyo

    cost, qty, need = _single_arrays(n)
    c, q = cost.tolist(), qty.tolist()
    clock = Clock()
    with clock("build"):
        m = pyo.ConcreteModel()
        m.I = pyo.RangeSet(0, len(c) - 1)
        m.v = pyo.Var(m.I, bounds=lambda m, i: (0.0, q[i]))
        m.cost = pyo.Objective(rule=lambda m: sum(c[i] * m.v[i] for i in m.I), sense=pyo.minimize)
        m.cap = pyo.Constraint(rule=lambda m: sum(m.v[i] for i in m.I) >= need)
    objective = _pyomo_solve(m, clock)
    return _row(clock, ["build"], ["solve"], objective=objective)


# --------------------------------------------------------------------------------------------------
# the multi-metal, five-period city with banking


def _city_built(n: int, clock: Clock):
    from emtrade.allocation import allocate
    from emtrade.inputs import inputs_from_frames
    from emtrade.model.build import build_model
    from emtrade.policy import Policy
    from emtrade.scenario.schema import Allocation

    f = synthetic.city(n)
    with clock("inputs"):
        inputs = inputs_from_frames(f["enterprises"], f["options"], f["caps"], pollutants=f["pollutants"],
                                    periods=f["periods"])  # fmt: skip
    with clock("allocation"):
        alloc = allocate(inputs, Allocation(method="grandfathering"))
    with clock("build"):
        built = build_model(inputs, alloc, Policy(scope="sector", banking=True, discount=(1.0,) * 5))
    del f
    gc.collect()
    return built


def _city_emtrade(n: int, intervals: bool, fast_path: str = "auto") -> dict:
    from emtrade.solve import SolveOptions, solve_problem

    clock = Clock()
    built = _city_built(n, clock)
    prob = built.problem
    rows = np.arange(prob.rows["market"].start, prob.rows["market"].stop)
    options = SolveOptions(price_intervals=intervals, fast_path=fast_path)
    with clock("solve"):
        sol = solve_problem(prob, options, rows if intervals else None)
    return _row(clock, ["build"], ["solve"], objective=sol.objective, path=sol.path,
                model=prob.summary(), solve_stages={k: round(v, 3) for k, v in sol.timings.items()})  # fmt: skip


def city_emtrade(n: int) -> dict:
    return _city_emtrade(n, intervals=False)


def city_emtrade_intervals(n: int) -> dict:
    return _city_emtrade(n, intervals=True)


def city_emtrade_lp(n: int) -> dict:
    """The LP path: emtrade's arrays on HiGHS (interior point for an LP this big), no merit order."""
    return _city_emtrade(n, intervals=False, fast_path="off")


def _city_lp(n: int):
    """The city LP from the frames, without emtrade: activity v_ot and bank B_mt, one row per market.

    min Σ_t Σ_o c_o v_ot   s.t.  −Σ_{o∈m} v_ot + B_mt − B_m,t−1 ≤ T_mt − Σ_{i∈m} b_i,
    0 ≤ v_ot ≤ q_o,  B_mt ≥ 0 (t < last), with T_mt = (1 − r_t) Σ_{i∈m} b_i (all of it allocated).
    """
    import pandas as pd
    import scipy.sparse as sp

    f = synthetic.city(n)
    ent, opt, periods = f["enterprises"], f["options"], f["periods"]
    n_t = len(periods)
    sector_of = dict(zip(ent.id, ent.sector, strict=True))
    key = pd.MultiIndex.from_arrays([opt.enterprise.map(sector_of), opt.pollutant])
    m_code, m_keys = pd.factorize(key)
    n_m, n_o = len(m_keys), len(opt)
    # baseline per market
    long = ent.melt(id_vars=["id", "sector"], value_vars=[f"baseline_{p}" for p in f["pollutants"]])
    long = long[long.value > 0]
    long["pollutant"] = long.variable.str.slice(len("baseline_"))
    base = long.groupby(["sector", "pollutant"]).value.sum()
    base_m = base.reindex(m_keys).to_numpy()
    red = np.array(synthetic.CITY_REDUCTION)
    rhs = (-(red[None, :]) * base_m[:, None]).T.reshape(-1)  # period-major: t·n_m + m
    cost = np.tile(opt.cost.to_numpy(dtype=float), n_t)
    upper = np.tile(opt.quantity.to_numpy(dtype=float), n_t)
    rows_v = np.tile(m_code, n_t) + np.repeat(np.arange(n_t), n_o) * n_m
    cols_v = np.arange(n_o * n_t)
    nb = n_m * (n_t - 1)
    bank = n_o * n_t + np.arange(nb)
    rows_in = np.arange(nb)  # B_mt in market (m, t) with +1 ...
    rows_out = np.arange(nb) + n_m  # ... and in (m, t + 1) with −1
    r = np.concatenate([rows_v, rows_in, rows_out])
    c = np.concatenate([cols_v, bank, bank])
    v = np.concatenate([-np.ones(n_o * n_t), np.ones(nb), -np.ones(nb)])
    A = sp.csc_matrix((v, (r, c)), shape=(n_m * n_t, n_o * n_t + nb))
    cost = np.concatenate([cost, np.zeros(nb)])
    lower = np.zeros(n_o * n_t + nb)
    upper = np.concatenate([upper, np.full(nb, np.inf)])
    return cost, lower, upper, rhs, A, (m_code, n_m, n_t, n_o)


def city_highspy(n: int) -> dict:
    clock = Clock()
    with clock("build"):
        cost, lower, upper, rhs, A, _ = _city_lp(n)
        h = _highs(IPM)
        _pass_lp(h, cost, lower, upper, np.full(len(rhs), -np.inf), rhs, A)
    with clock("solve"):
        h.run()
    return _row(clock, ["build"], ["solve"], objective=float(h.getInfo().objective_function_value),
                status=h.modelStatusToString(h.getModelStatus()), columns=A.shape[1], rows=A.shape[0])  # fmt: skip


def city_pyomo(n: int) -> dict:
    """The city as a classic pyomo model: indexed variables, a rule per constraint family."""
    import pyomo.environ as pyo

    f = synthetic.city(n)
    ent, opt, periods = f["enterprises"], f["options"], f["periods"]
    sector_of = dict(zip(ent.id, ent.sector, strict=True))
    c, q = opt.cost.tolist(), opt.quantity.tolist()
    market_of = list(zip(opt.enterprise.map(sector_of), opt.pollutant, strict=True))
    red = dict(zip(periods, synthetic.CITY_REDUCTION, strict=True))
    clock = Clock()
    with clock("build"):
        members: dict = {}
        for o, mk in enumerate(market_of):
            members.setdefault(mk, []).append(o)
        base: dict = {}
        for _, e in ent.iterrows():
            for p in f["pollutants"]:
                b = e[f"baseline_{p}"]
                if b > 0:
                    base[(e.sector, p)] = base.get((e.sector, p), 0.0) + b
        m = pyo.ConcreteModel()
        m.O = pyo.RangeSet(0, len(c) - 1)
        m.T = pyo.Set(initialize=periods, ordered=True)
        m.M = pyo.Set(initialize=sorted(members), dimen=2)
        m.v = pyo.Var(m.O, m.T, bounds=lambda m, o, t: (0.0, q[o]))
        m.B = pyo.Var(m.M, m.T, within=pyo.NonNegativeReals)
        m.cost = pyo.Objective(rule=lambda m: sum(c[o] * m.v[o, t] for o in m.O for t in m.T), sense=pyo.minimize)

        def market(m, s, p, t):
            prev = m.T.prev(t) if t != m.T.first() else None
            bank = (m.B[s, p, t] if t != m.T.last() else 0) - (m.B[s, p, prev] if prev is not None else 0)
            return -sum(m.v[o, t] for o in members[(s, p)]) + bank <= -red[t] * base[(s, p)]

        m.market = pyo.Constraint(m.M, m.T, rule=market)
        for s, p in members:
            m.B[s, p, periods[-1]].fix(0.0)
    objective = _pyomo_solve(m, clock)
    return _row(clock, ["build"], ["solve"], objective=objective)


# --------------------------------------------------------------------------------------------------
# the bundled Xiangtan scenario


def xiangtan_emtrade(n: int = 0) -> dict:
    import emtrade

    sc = emtrade.load_scenario(emtrade.bundled_scenario("xiangtan"))
    t0, c0 = time.perf_counter(), time.process_time()
    res = emtrade.simulate(sc)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tm = res.summary["timings"]
    return {
        "build_s": tm["build_s"],
        "solve_s": tm["solve_s"],
        "total_s": wall,
        "cpu_s": cpu,
        "stages": {k: round(v, 4) for k, v in tm.items()},
        "objective": res.summary["total_cost"],
        "path": res.summary["solve_path"],
        "model": res.summary["model"],
    }


CASES = {
    ("single", "emtrade"): single_emtrade,
    ("single", "numpy"): single_numpy,
    ("single", "highspy"): single_highspy,
    ("single", "highspy-default"): single_highspy_default,
    ("single", "pyomo"): single_pyomo,
    ("city", "emtrade"): city_emtrade,
    ("city", "emtrade-intervals"): city_emtrade_intervals,
    ("city", "emtrade-lp"): city_emtrade_lp,
    ("city", "highspy"): city_highspy,
    ("city", "pyomo"): city_pyomo,
    ("xiangtan", "emtrade"): xiangtan_emtrade,
}


def main(argv: list[str]) -> None:
    case, method, n = argv[0], argv[1], int(float(argv[2])) if len(argv) > 2 else 0
    row = CASES[(case, method)](n)
    row["peak_mib"] = _peak_mib()
    print("ROW=" + json.dumps(row, default=float))


if __name__ == "__main__":
    main(sys.argv[1:])
