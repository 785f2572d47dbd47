"""The one place that calls the solver: options, status checks, duals, MIP price recovery.

Problem classes and the path taken (reported in the results as ``solve_path``):

- LP and convex QP (linear MACs give a diagonal quadratic cost): solved as they are. HiGHS's QP
  solver regularises the Hessian by 1e-7 by default, which moves quantities by ~1e-7 relative;
  emtrade sets the regularisation to zero so that the textbook answers come out exact.
- MILP (fixed costs, retirement): solved by HiGHS's branch and cut; prices then come from the LP
  with every integer decision fixed at its optimum ("milp+fixed-lp").
- Mixed-integer QP, which HiGHS does not solve: outer approximation ("miqp-oa+fixed-qp"). Each
  quadratic cost ½h x² becomes an epigraph variable w ≥ ½h x̂² + h x̂ (x − x̂) over tangent cuts;
  the MILP gives a lower bound, the QP with its integers fixed an upper bound, and cuts are added
  at both points until the bounds meet within the MIP gap. The QP at the best integers gives the
  quantities and prices.

Prices are shadow prices −∂cost/∂(row bound) ≥ 0 of ≤ rows, normalised here once. Where step
curves leave a market's price undetermined, the interval of clearing prices [low, high] is the
range of that row's dual over all optimal dual solutions; it equals the one-sided derivatives of
the optimal cost in the row's bound, read off as the row's dual after moving the bound by a
small δ each way (an exact method for LPs while δ is below the distance to the next breakpoint).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from emtrade.errors import InfeasibleError, SolverError
from emtrade.model.problem import Problem
from emtrade.scaling import Scaling

FEAS_TOL = 1e-7
#: 'auto' solves a continuous LP with at least this many columns by interior point (see HighsBackend.run)
IPM_MIN_COLUMNS = 5_000
_BANNER_SHOWN = False


@dataclass
class SolveOptions:
    time_limit: float | None = None
    mip_gap: float = 1e-6
    backend: str = "highs"
    price_intervals: bool = True
    fast_path: str = "auto"  # 'auto' | 'on' | 'off': see emtrade.fastpath
    method: str = "auto"  # 'auto' | 'simplex' | 'ipm': HiGHS's algorithm for a continuous LP's first solve
    max_oa_iterations: int = 60


@dataclass
class Solution:
    """What a solve returns. ``shadow`` is −(row dual): ≥ 0 on binding ≤ rows of a minimisation."""

    status: str  # 'optimal', 'time_limit', 'gap_limit'
    optimal: bool
    x: np.ndarray
    shadow: np.ndarray
    objective: float
    path: str
    mip_gap: float | None = None
    price_low: np.ndarray | None = None  # per row, where intervals were computed (NaN elsewhere)
    price_high: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Run:
    status: str  # optimal, infeasible, time_limit, unbounded, other
    x: np.ndarray | None
    row_dual: np.ndarray | None
    objective: float
    dual_bound: float | None = None
    gap: float | None = None


# --------------------------------------------------------------------------------------------------
# backends


def _new_highs():
    """A silent HiGHS instance; the first construction prints a banner to fd 1, which we swallow."""
    global _BANNER_SHOWN
    import highspy

    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        with _quiet_fd(1):
            h = highspy.Highs()
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    # one thread: branch and cut explores nodes in a thread-dependent order, so the MIP solution
    # returned within the gap (and with it the prices) could differ between machines with other
    # core counts; runs are byte-identical everywhere this way, and sweeps get their parallelism
    # from worker processes, which extra solver threads would only oversubscribe. (Measured on
    # Xiangtan: 2 threads were 7 % faster in wall time for 18 % more CPU.)
    h.setOptionValue("threads", 1)
    return h


def _run_interruptibly(h) -> None:
    """``h.run()``, but a Ctrl-C or SIGTERM during the solve stops it within moments.

    HiGHS runs in C++ and holds the main thread for as long as it solves (minutes on a big MIP),
    while Python runs signal handlers only between bytecodes: a SIGTERM would wait for the solve to
    end. So, on the main thread, HiGHS solves in a helper thread (highspy's ``startSolve``) while the
    main thread waits in short, interruptible steps; when a signal's handler raises
    KeyboardInterrupt there, the solve is cancelled through HiGHS's interrupt callbacks
    (``cancelSolve``: the simplex, interior-point and MIP solvers poll them), the helper thread
    ends, and the KeyboardInterrupt goes on to the caller, which leaves earlier results whole.
    Elsewhere (a worker thread of a sweep, where no signal arrives) HiGHS runs directly.
    """
    if threading.current_thread() is not threading.main_thread():
        h.run()
        return
    h.HandleUserInterrupt = True
    try:
        thread = h.startSolve()
        interrupted = False
        while True:
            try:
                done, _ = h.wait(0.05)
            except KeyboardInterrupt:
                interrupted = True
                h.cancelSolve()
                continue
            if done:
                break
        thread.join()
        if interrupted:
            raise KeyboardInterrupt
    finally:
        h.HandleUserInterrupt = False


@contextlib.contextmanager
def _quiet_fd(fd: int):
    try:
        saved = os.dup(fd)
    except OSError:  # no real fd (some notebook front ends): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class HighsBackend:
    """The problem held in one persistent HiGHS instance, so that bound changes re-solve warm."""

    def __init__(self, arrays: dict, options: SolveOptions):
        import highspy

        self.hs = highspy
        self.h = _new_highs()
        self.options = options
        self.arrays = arrays
        self._mip = bool(arrays["col_integer"].any())
        self._runs = 0
        self._load(arrays)

    def _load(self, a: dict) -> None:
        """Hand the problem to HiGHS scaled (see :mod:`emtrade.scaling`); answers are unscaled in :meth:`run`."""
        self.scaling = Scaling.of(a)
        a = self.scaling.apply(a)
        hs = self.hs
        inf = hs.kHighsInf
        lp = hs.HighsLp()
        A = a["A"].tocsc()
        lp.num_col_ = A.shape[1]
        lp.num_row_ = A.shape[0]
        lp.col_cost_ = a["col_cost"]
        lp.col_lower_ = np.where(np.isinf(a["col_lower"]), -inf, a["col_lower"])
        lp.col_upper_ = np.where(np.isinf(a["col_upper"]), inf, a["col_upper"])
        lp.row_lower_ = np.where(np.isinf(a["row_lower"]), -inf, a["row_lower"])
        lp.row_upper_ = np.where(np.isinf(a["row_upper"]), inf, a["row_upper"])
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        lp.offset_ = 0.0
        if a["col_integer"].any():
            lp.integrality_ = [hs.HighsVarType.kInteger if i else hs.HighsVarType.kContinuous for i in a["col_integer"]]
        quad = a["col_quad"]
        if (quad != 0).any():
            n = len(quad)
            hess = hs.HighsHessian()
            hess.dim_ = n
            hess.format_ = hs.HessianFormat.kTriangular
            nz = np.flatnonzero(quad)
            counts = np.zeros(n + 1, dtype=np.int32)
            counts[nz + 1] = 1
            hess.start_ = np.cumsum(counts).astype(np.int32)
            hess.index_ = nz.astype(np.int32)
            hess.value_ = quad[nz].astype(float)
            model = hs.HighsModel()
            model.lp_ = lp
            model.hessian_ = hess
            self.h.passModel(model)
            # exact QP answers: no Hessian regularisation (see module docstring)
            self.h.setOptionValue("qp_regularization_value", 0.0)
        else:
            self.h.passModel(lp)

    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        if len(idx):
            lower, upper = self.scaling.col_bounds(idx, lower, upper)
            self.h.changeColsBounds(len(idx), idx, lower, upper)

    def set_row_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        inf = self.hs.kHighsInf
        lower, upper = self.scaling.row_bounds(np.asarray(idx, int), lower, upper)
        lower = np.where(np.isinf(lower), -inf, lower)
        upper = np.where(np.isinf(upper), inf, upper)
        for i, lo, up in zip(np.asarray(idx, int), lower, upper, strict=True):
            self.h.changeRowBounds(int(i), float(lo), float(up))

    def make_continuous(self, idx: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        if len(idx):
            self.h.changeColsIntegrality(len(idx), idx, np.array([self.hs.HighsVarType.kContinuous] * len(idx)))
            self._mip = len(idx) < int(self.arrays["col_integer"].sum())

    def _first_solve_by_ipm(self) -> bool:
        """Interior point (presolve off, crossover on) for the first solve of a big continuous LP.

        A market row couples every option of the market: one dense row over thousands of columns,
        on which dual simplex (HiGHS's default for LPs) pivots through every option in turn; with
        presolve it was 100× slower than interior point at 10⁴ firms (issue 6's measurements).
        Crossover leaves an optimal basis, so the re-solves that follow (price intervals, MIP
        prices) run warm by simplex. QPs and MIPs keep HiGHS's own choice (its QP solver is an
        active-set method; branch and cut chooses per node).
        """
        method = self.options.method
        if self._runs or method == "simplex" or self._mip or (self.arrays["col_quad"] != 0).any():
            return False
        return method == "ipm" or len(self.arrays["col_cost"]) >= IPM_MIN_COLUMNS

    def run(self, time_limit: float | None = None) -> _Run:
        """Solve (warm from the last basis); ``time_limit`` caps this call below the run's own limit."""
        h, hs = self.h, self.hs
        limits = [t for t in (self.options.time_limit, time_limit) if t]
        h.setOptionValue("time_limit", float(min(limits)) if limits else float("inf"))
        h.setOptionValue("mip_rel_gap", float(self.options.mip_gap))
        ipm = self._first_solve_by_ipm()
        h.setOptionValue("solver", "ipm" if ipm else "choose")
        h.setOptionValue("presolve", "off" if ipm else "choose")
        _run_interruptibly(h)
        self._runs += 1
        ms = h.getModelStatus()
        info = h.getInfo()
        MS = hs.HighsModelStatus
        if ms == MS.kModelEmpty or h.getNumCol() == 0:
            # nothing to decide (no abatement options): feasible iff every row holds at zero
            a = self.arrays
            ok = bool(((a["row_lower"] <= 1e-9) & (a["row_upper"] >= -1e-9)).all())
            if not ok:
                return _Run("infeasible", None, None, float("nan"))
            return _Run("optimal", np.zeros(0), np.zeros(len(a["row_upper"])), 0.0)
        status = {
            MS.kOptimal: "optimal",
            MS.kInfeasible: "infeasible",
            MS.kUnboundedOrInfeasible: "infeasible",
            MS.kUnbounded: "unbounded",
            MS.kTimeLimit: "time_limit",
            MS.kIterationLimit: "iteration_limit",
            MS.kObjectiveBound: "other",
        }.get(ms, "other")
        has_primal = info.primal_solution_status == 2 or (
            status in ("time_limit", "iteration_limit") and info.primal_solution_status >= 1
        )
        if not has_primal:
            return _Run(status, None, None, float("nan"))
        sol = h.getSolution()
        scaling = self.scaling
        x = scaling.x(sol.col_value)
        dual = scaling.row_dual(sol.row_dual) if sol.dual_valid else None
        mip = self._mip
        return _Run(
            status,
            x,
            dual,
            scaling.objective(info.objective_function_value),
            scaling.objective(info.mip_dual_bound) if mip else None,
            float(info.mip_gap) if mip else None,
        )


class PyomoBackend:
    """The same arrays as a pyomo ConcreteModel, solved by pyomo's HiGHS interface (rebuilt per run)."""

    def __init__(self, arrays: dict, options: SolveOptions):
        self.arrays = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in arrays.items()}
        self.options = options

    def set_col_bounds(self, idx, lower, upper) -> None:
        self.arrays["col_lower"][idx] = lower
        self.arrays["col_upper"][idx] = upper

    def set_row_bounds(self, idx, lower, upper) -> None:
        self.arrays["row_lower"][idx] = lower
        self.arrays["row_upper"][idx] = upper

    def make_continuous(self, idx) -> None:
        self.arrays["col_integer"][idx] = False

    def run(self, time_limit: float | None = None) -> _Run:
        """Solve the scaled arrays (as the HiGHS backend does, see :mod:`emtrade.scaling`), answer unscaled."""
        from emtrade.model.pyomo_model import solve_arrays_with_pyomo

        scaling = Scaling.of(self.arrays)
        run = solve_arrays_with_pyomo(scaling.apply(self.arrays), self.options)
        if run.x is not None:
            run.x = scaling.x(run.x)
        if run.row_dual is not None:
            run.row_dual = scaling.row_dual(run.row_dual)
        run.objective = scaling.objective(run.objective)
        if run.dual_bound is not None:
            run.dual_bound = scaling.objective(run.dual_bound)
        return run


def _backend(arrays: dict, options: SolveOptions):
    if options.backend == "pyomo":
        return PyomoBackend(arrays, options)
    return HighsBackend(arrays, options)


# --------------------------------------------------------------------------------------------------
# the solve


def solve_problem(problem: Problem, options: SolveOptions, interval_rows: np.ndarray | None = None) -> Solution:
    """Solve ``problem``; with ``interval_rows``, also the interval of each of those rows' shadow price.

    Raises :class:`InfeasibleError` if no feasible point exists and :class:`SolverError` if the
    solver stops without one (a time limit hit before the first feasible point).

    Separable problems (independent markets of one-metal options, see :mod:`emtrade.fastpath`) are
    cleared exactly by merit order instead (path 'merit-order'): with ``fast_path='on'``, or with
    'auto' on the default backend ('highs'; an explicit ``backend='pyomo'`` keeps the LP).
    """
    if options.fast_path == "on" or (options.fast_path == "auto" and options.backend == "highs"):
        from emtrade import fastpath

        structure, _ = fastpath.analyse(problem)
        if options.fast_path == "on" or structure is not None:
            rows = interval_rows if options.price_intervals else None
            return fastpath.solve_separable(problem, rows, structure)
    t0 = time.perf_counter()
    arrays = problem.arrays()
    integer = np.flatnonzero(arrays["col_integer"])
    notes: list[str] = []
    timings: dict[str, float] = {}
    mip_gap = None
    if len(integer) and problem.is_qp:
        x_int, status, mip_gap, oa_notes = _outer_approximation(arrays, integer, options)
        notes += oa_notes
        path = "miqp-oa+fixed-qp"
    elif len(integer):
        backend = _backend(arrays, options)
        run = backend.run()
        _check(run, "the mixed-integer problem")
        x_int, status, mip_gap = run.x, run.status, run.gap
        path = "milp+fixed-lp"
    else:
        x_int, status, path = None, "optimal", "qp" if problem.is_qp else "lp"
    timings["integer"] = time.perf_counter() - t0

    # the continuous problem (integers fixed where there are any): quantities, duals, intervals
    t1 = time.perf_counter()
    continuous = arrays
    if x_int is not None:
        fixed = np.round(x_int[integer])
        continuous = _with_integers_fixed(arrays, integer, fixed)
        notes.append("prices are duals of the continuous problem with every integer decision fixed at its optimum")
    backend = _backend(arrays, options)
    if x_int is not None:
        backend.make_continuous(integer)
        backend.set_col_bounds(integer, fixed, fixed)
    what = "the continuous problem with the integer decisions fixed" if x_int is not None else "the problem"
    run, verified = _verified_run(backend, continuous, options, what)
    if run.status != "optimal":
        status = run.status
    if not verified.passed:
        status = "unverified"
        notes.append(f"the solver's answer fails the optimality check in the scenario's units ({verified.describe()}): "
                     "quantities and prices may be wrong")  # fmt: skip
    x = _clip_to_bounds(run.x, arrays)
    shadow = -run.row_dual
    timings["continuous"] = time.perf_counter() - t1

    low = high = None
    if options.price_intervals and interval_rows is not None and len(interval_rows) and run.status == "optimal":
        t2 = time.perf_counter()
        budget = max(2.0, 20.0 * timings["continuous"])
        low, high, interval_notes = _price_intervals(
            backend, arrays, x, shadow, np.asarray(interval_rows, dtype=int), problem, options, budget
        )
        notes.extend(interval_notes)
        timings["intervals"] = time.perf_counter() - t2
    if status == "optimal" and mip_gap is not None and mip_gap > 1e-6:
        # stopped within the requested gap, not proven optimal: say so
        status = "gap_limit"
        notes.append(f"the MIP stopped at a relative gap of {mip_gap:.3g} (mip_gap {options.mip_gap:g})")
    sol = Solution(
        status=status,
        optimal=status == "optimal",
        x=x,
        shadow=shadow,
        objective=problem.objective(x),
        path=path,
        mip_gap=mip_gap,
        price_low=low,
        price_high=high,
        timings=timings,
        notes=notes,
    )
    timings["total"] = time.perf_counter() - t0
    return sol


def _with_integers_fixed(a: dict, integer: np.ndarray, values: np.ndarray) -> dict:
    lower, upper, kinds = a["col_lower"].copy(), a["col_upper"].copy(), a["col_integer"].copy()
    lower[integer] = upper[integer] = values
    kinds[integer] = False
    return {**a, "col_lower": lower, "col_upper": upper, "col_integer": kinds}


def _verified_run(backend, arrays: dict, options: SolveOptions, what: str):
    """Solve the continuous problem and check the answer (:mod:`emtrade.verify`) in the user's units.

    An answer that fails the check is solved once more from scratch by the other algorithm
    (simplex for interior point and the reverse; HiGHS's QP solver has no alternative, so a QP is
    solved cold); the better of the two answers is returned with its check.
    """
    from emtrade.verify import check_optimality

    run = backend.run()
    _check(run, what)
    if run.row_dual is None:
        raise SolverError("the solver returned no duals, so no prices can be reported")
    check = check_optimality(arrays, run.x, run.row_dual)
    if check.passed or options.backend != "highs":
        return run, check
    other = "simplex" if options.method != "simplex" else "ipm"
    retry = _backend(arrays, SolveOptions(**{**options.__dict__, "method": other})).run()
    if retry.x is None or retry.row_dual is None or retry.status != "optimal":
        return run, check
    second = check_optimality(arrays, retry.x, retry.row_dual)
    return (retry, second) if second.passed or _worst(second) < _worst(check) else (run, check)


def _worst(check) -> float:
    return max(check.primal, check.row_sign, check.slackness, check.stationarity)


def _check(run: _Run, what: str) -> None:
    if run.status == "infeasible":
        raise InfeasibleError(f"{what} is infeasible")
    if run.x is None:
        if run.status == "time_limit":
            raise SolverError(f"the time limit was reached before a feasible solution of {what} was found")
        raise SolverError(f"the solver stopped without a solution of {what} (status {run.status})")


def _clip_to_bounds(x: np.ndarray, a: dict) -> np.ndarray:
    """Solver tolerances leave values a hair outside their bounds; results should not show −1e-12 kg."""
    return np.minimum(np.maximum(x, a["col_lower"]), a["col_upper"])


def _price_intervals(backend, a: dict, x: np.ndarray, shadow: np.ndarray, rows: np.ndarray, problem: Problem,
                     options: SolveOptions, budget: float):  # fmt: skip
    """[low, high] of each row's shadow price over all optimal duals (see the module docstring).

    Each re-solve is capped at ``budget`` seconds; one that the warm solver cannot finish (HiGHS's QP
    solver can cycle on degenerate problems) is tried once more from scratch, and a row whose
    interval still cannot be found keeps the point price, with a note.
    """
    A = a["A"].tocsr()
    Acsc = a["A"].tocsc()
    activity = A @ x
    upper = a["row_upper"]
    slack = upper - activity
    lo_b, up_b = a["col_lower"], a["col_upper"]
    # tolerances and probe steps relative to each row's and column's own size (emtrade.scaling), so
    # that they mean the same whatever the units of the scenario
    sizes = getattr(backend, "scaling", None) or Scaling.of(a)
    row_size, col_size = 1.0 / sizes.row, sizes.col
    binding = slack <= 1e-7 * row_size
    low = np.full(len(upper), np.nan)
    high = np.full(len(upper), np.nan)
    notes: list[str] = []
    with np.errstate(invalid="ignore"):  # infinite bounds: inf − inf is no concern here
        above = np.where(np.isfinite(lo_b), x > lo_b + 1e-7 * col_size, True)
        below = np.where(np.isfinite(up_b), x < up_b - 1e-7 * col_size, True)
    interior = above & below
    probe = _Probe(backend, a, options, budget)
    for r in rows:
        price = max(shadow[r], 0.0)
        if not binding[r]:
            low[r] = high[r] = 0.0
            continue
        if _pinned(r, A, Acsc, interior, binding):
            low[r] = high[r] = price
            continue
        scale = max(row_size[r], abs(upper[r]), float(np.abs(A.data[A.indptr[r] : A.indptr[r + 1]]
                                                         * x[A.indices[A.indptr[r] : A.indptr[r + 1]]]).sum()))
        try:
            hi = _one_sided(probe, r, a["row_lower"][r], upper[r], -1e-6 * scale, quadratic=problem.is_qp)
            lo = _one_sided(probe, r, a["row_lower"][r], upper[r], 1e-6 * scale, quadratic=problem.is_qp)
        except SolverError:
            low[r] = high[r] = price
            notes.append(f"the price interval of row {r} could not be computed (the solver did not finish); "
                         "the point price is reported")
            continue
        finally:
            probe.restore(r, a["row_lower"][r], upper[r])
        high[r] = np.inf if hi is None else max(hi, price)
        low[r] = 0.0 if lo is None else min(max(lo, 0.0), price)
    return low, high, notes


class _Probe:
    """Re-solves with one row bound moved: warm on the persistent backend, cold if that fails."""

    def __init__(self, backend, arrays: dict, options: SolveOptions, budget: float):
        self.backend, self.arrays, self.options, self.budget = backend, arrays, options, budget

    def dual(self, r: int, lower: float, upper: float) -> float | None:
        self.backend.set_row_bounds([r], [lower], [upper])
        run = self.backend.run(time_limit=self.budget)
        if run.status not in ("optimal", "infeasible") or (run.status == "optimal" and run.row_dual is None):
            cold = {**self.arrays, "row_upper": self.arrays["row_upper"].copy()}
            cold["row_upper"][r] = upper
            run = _backend(cold, self.options).run(time_limit=self.budget)
        if run.status == "infeasible":
            return None
        if run.status != "optimal" or run.row_dual is None:
            raise SolverError(f"re-solving for the price interval of row {r} ended with status {run.status}")
        return float(-run.row_dual[r])

    def restore(self, r: int, lower: float, upper: float) -> None:
        self.backend.set_row_bounds([r], [lower], [upper])


def _one_sided(probe: _Probe, r: int, lower: float, upper: float, step: float, *, quadratic: bool) -> float | None:
    """The dual of row r just beside its bound, on the side of ``step`` (None: infeasible there).

    Within one piece of the value function the dual is constant (LP) or affine in the bound (QP,
    where the active set is fixed), so π(0±) = 2π(δ) − π(2δ) is exact for QPs too. A solver that
    cannot resolve a tiny move of the bound is given a ten times larger one, three times at most.
    """
    for attempt in range(4):
        d = step * 10**attempt
        try:
            p1 = probe.dual(r, lower, upper + d)
            if p1 is None or not quadratic:
                return p1
            p2 = probe.dual(r, lower, upper + 2 * d)
            return p1 if p2 is None else 2 * p1 - p2
        except SolverError:
            if attempt == 3:
                raise
    return None  # pragma: no cover


def _pinned(r: int, A, Acsc, interior: np.ndarray, binding: np.ndarray) -> bool:
    """True if row r's dual is the same in every optimal dual solution.

    It is if some column in row r lies strictly between its bounds (so its reduced cost is zero in
    every optimal dual) and every other row containing that column is slack (so its dual is zero):
    then c_j + h_j x_j = π_r a_rj fixes π_r.
    """
    cols = A.indices[A.indptr[r] : A.indptr[r + 1]]
    for j in cols[interior[cols]]:
        rows_j = Acsc.indices[Acsc.indptr[j] : Acsc.indptr[j + 1]]
        if all(rr == r or not binding[rr] for rr in rows_j):
            return True
    return False


def _outer_approximation(a: dict, integer: np.ndarray, options: SolveOptions):
    """Solve a convex MIQP by outer approximation; return the best integer point, status, gap, notes."""
    quad = a["col_quad"]
    qcols = np.flatnonzero(quad)
    h = quad[qcols]
    lo, up = a["col_lower"][qcols], a["col_upper"][qcols]
    n, m, nq = len(quad), a["A"].shape[0], len(qcols)
    # initial tangent points: both bounds and the middle
    points = [lo, up, 0.5 * (lo + up)]
    best_x, best_ub, lb = None, np.inf, -np.inf
    notes = []
    status = "optimal"

    def true_cost(x):
        return float(a["col_cost"] @ x + 0.5 * (quad * x * x).sum())

    cont_arrays = {**a, "col_integer": np.zeros(n, dtype=bool)}
    for it in range(options.max_oa_iterations):
        milp = _oa_master(a, qcols, h, points, n, m, nq)
        run = _backend(milp, options).run()
        _check(run, "the outer-approximation master problem")
        if run.status == "time_limit":
            status = "time_limit"
        lb = max(lb, run.dual_bound if run.dual_bound is not None else run.objective)
        x_master = run.x[:n]
        # upper bound: the QP with the master's integers fixed
        qp = _backend(cont_arrays, options)
        fixed = np.round(x_master[integer])
        qp.set_col_bounds(integer, fixed, fixed)
        qrun = qp.run()
        if qrun.x is not None and qrun.status in ("optimal", "time_limit"):
            ub = true_cost(qrun.x)
            if ub < best_ub:
                best_ub, best_x = ub, qrun.x
            points.append(qrun.x[qcols])
        points.append(x_master[qcols])
        gap = (best_ub - lb) / max(1.0, abs(best_ub))
        if gap <= max(options.mip_gap, 1e-9) or status == "time_limit":
            notes.append(f"outer approximation converged in {it + 1} iterations (gap {max(gap, 0):.2e})")
            return best_x, status, max(gap, 0.0), notes
    notes.append(f"outer approximation stopped after {options.max_oa_iterations} iterations")
    if best_x is None:
        raise SolverError("outer approximation found no feasible integer point")
    return best_x, "iteration_limit", max((best_ub - lb) / max(1.0, abs(best_ub)), 0.0), notes


def _oa_master(a: dict, qcols, h, points, n, m, nq) -> dict:
    """The MILP: quadratic costs replaced by epigraph columns w_j ≥ ½h x̂² + h x̂ (x_j − x̂) for each point x̂."""
    import scipy.sparse as sp

    pts = np.array(points)  # (k, nq)
    k = len(pts)
    # cut rows: h x̂ x_j − w_j ≤ ½ h x̂²
    rows = np.arange(k * nq)
    j = np.tile(np.arange(nq), k)
    xhat = pts.reshape(-1)
    hh = np.tile(h, k)
    A_x = sp.csc_matrix((hh * xhat, (rows, qcols[j])), shape=(k * nq, n))
    A_w = sp.csc_matrix((-np.ones(k * nq), (rows, j)), shape=(k * nq, nq))
    A = sp.bmat([[a["A"], sp.csc_matrix((m, nq))], [A_x, A_w]], format="csc")
    return {
        "A": A,
        "col_lower": np.concatenate([a["col_lower"], np.zeros(nq)]),
        "col_upper": np.concatenate([a["col_upper"], np.full(nq, np.inf)]),
        "col_cost": np.concatenate([a["col_cost"], np.ones(nq)]),
        "col_quad": np.zeros(n + nq),
        "col_integer": np.concatenate([a["col_integer"], np.zeros(nq, dtype=bool)]),
        "row_lower": np.concatenate([a["row_lower"], np.full(k * nq, -np.inf)]),
        "row_upper": np.concatenate([a["row_upper"], 0.5 * hh * xhat * xhat]),
    }
