"""The model as a pyomo ConcreteModel, for researchers who want to inspect or extend it in pyomo.

:func:`to_pyomo` turns a built :class:`~emtrade.model.problem.Problem` into a ConcreteModel with
one indexed ``Var`` per column block (``m.activity``, ``m.adopt``) and one indexed ``Constraint``
per row family (``m.market``, ``m.cap``, ...), each documented with the family's equation. The
``pyomo`` backend (``solver: {backend: pyomo}``) solves this model with pyomo's HiGHS interface;
the tests check that both backends give the same answers.

Rows are built as ``LinearExpression`` objects straight from the sparse matrix, never by loops
over index tuples.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from emtrade.model.problem import Problem


def to_pyomo(problem: Problem) -> pyo.ConcreteModel:
    """A pyomo ConcreteModel of ``problem``, with named blocks of variables and constraints."""
    a = problem.arrays()
    blocks = [(b.name, b.start, b.stop, b.doc) for b in problem.columns.values()]
    rows = [(b.name, b.start, b.stop, b.doc) for b in problem.rows.values()]
    return _build(a, blocks, rows, problem.offset)


def _build(a: dict, col_blocks, row_blocks, offset: float = 0.0) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    n = len(a["col_cost"])
    lower, upper, integer = a["col_lower"], a["col_upper"], a["col_integer"]
    var_of: list = [None] * n
    for name, start, stop, doc in col_blocks:
        size = stop - start

        def bounds(_m, k, s=start):
            lo, up = lower[s + k], upper[s + k]
            return (None if np.isinf(lo) else float(lo), None if np.isinf(up) else float(up))

        def domain(_m, k, s=start):
            return pyo.Integers if integer[s + k] else pyo.Reals

        var = pyo.Var(range(size), bounds=bounds, domain=domain, doc=doc)
        setattr(m, name, var)
        for k in range(size):
            var_of[start + k] = var[k]
    A = a["A"].tocsr()
    row_lower, row_upper = a["row_lower"], a["row_upper"]
    for name, start, stop, doc in row_blocks:

        def rule(_m, r, s=start):
            i = s + r
            lo, up = row_lower[i], row_upper[i]
            cols = A.indices[A.indptr[i] : A.indptr[i + 1]]
            vals = A.data[A.indptr[i] : A.indptr[i + 1]]
            if len(cols) == 0:
                return pyo.Constraint.Skip
            expr = LinearExpression(
                constant=0.0, linear_coefs=[float(v) for v in vals], linear_vars=[var_of[j] for j in cols]
            )
            return (None if np.isinf(lo) else float(lo), expr, None if np.isinf(up) else float(up))

        setattr(m, name, pyo.Constraint(range(stop - start), rule=rule, doc=doc))
    cost, quad = a["col_cost"], a["col_quad"]
    nz = np.flatnonzero(cost)
    lin = LinearExpression(
        constant=float(offset), linear_coefs=[float(cost[j]) for j in nz], linear_vars=[var_of[j] for j in nz]
    )
    qz = np.flatnonzero(quad)
    obj = lin + sum(0.5 * float(quad[j]) * var_of[j] ** 2 for j in qz) if len(qz) else lin
    m.cost = pyo.Objective(expr=obj, sense=pyo.minimize, doc="resource cost of abatement, CNY")
    m._emtrade_vars = var_of
    m._emtrade_rows = [(name, start, stop) for name, start, stop, _ in row_blocks]
    return m


def solve_arrays_with_pyomo(a: dict, options):
    """Build the arrays as a pyomo model, solve it with pyomo's HiGHS interface, return a solver run."""
    from pyomo.contrib.solver.common.results import TerminationCondition
    from pyomo.contrib.solver.solvers.highs import Highs

    from emtrade.solve import _Run

    n, nrows = len(a["col_cost"]), a["A"].shape[0]
    m = _build(a, [("x", 0, n, "")], [("row", 0, nrows, "")])
    # the same settings as the direct backend (see emtrade.solve._new_highs for the one thread)
    solver_options = {"mip_rel_gap": float(options.mip_gap), "qp_regularization_value": 0.0, "threads": 1}
    kwargs = {"solver_options": solver_options, "load_solutions": False, "raise_exception_on_nonoptimal_result": False}
    if options.time_limit:
        kwargs["time_limit"] = float(options.time_limit)
    res = Highs().solve(m, **kwargs)
    tc = res.termination_condition
    if tc == TerminationCondition.provenInfeasible or tc == TerminationCondition.infeasibleOrUnbounded:
        return _Run("infeasible", None, None, float("nan"))
    status = (
        "optimal"
        if tc == TerminationCondition.convergenceCriteriaSatisfied
        else ("time_limit" if tc == TerminationCondition.maxTimeLimit else "other")
    )
    try:
        values = res.solution_loader.get_vars()
    except Exception:
        return _Run(status, None, None, float("nan"))
    x = np.array([values[v] for v in m._emtrade_vars], dtype=float)
    dual = None
    if not a["col_integer"].any():
        duals = res.solution_loader.get_duals()
        dual = np.zeros(nrows)
        for r in range(nrows):
            if r in m.row:
                dual[r] = duals.get(m.row[r], 0.0)
    bound = res.objective_bound if a["col_integer"].any() else None
    gap = None
    if bound is not None and res.incumbent_objective is not None:
        gap = abs(res.incumbent_objective - bound) / max(1e-10, abs(res.incumbent_objective))
    return _Run(status, x, dual, float(res.incumbent_objective or 0.0), None if bound is None else float(bound), gap)
