"""Checking a solver's answer after the solve: is it feasible, and do its prices support it?

A solver reports "optimal" when its own, scaled, tolerances are met; emtrade reports an answer as
optimal only when the answer passes the optimality (KKT) conditions again in the user's units, of

    minimise c·x + ½ Σ_j h_j x_j²   subject to   l ≤ A x ≤ u,   l_x ≤ x ≤ u_x

with the row duals y of the solve (HiGHS's sign: y_i ≤ 0 on a ≤ row at its upper bound, so the
permit price is −y_i ≥ 0):

- primal feasibility: every row and column within its bounds;
- dual feasibility of the rows: y_i ≤ 0 where only the upper bound can bind, y_i ≥ 0 where only
  the lower bound can, the sign of the binding side for ranged rows;
- complementary slackness: y_i = 0 on a row strictly inside its bounds, measured as money,
  |y_i|·slack_i CNY/yr, against the size of the objective;
- stationarity: the reduced cost d = c + h∘x − Aᵀy is ≥ 0 where x_j is at its lower bound, ≤ 0 at
  its upper bound and 0 in between.

Each residual is measured relative to the size of what it compares (a row's largest term, a
column's natural size and cost, the objective), as given by the problem's
:class:`~emtrade.scaling.Scaling`, so the check means the same in kg or mg, CNY or 10⁴ CNY. Integer
columns are fixed when this check runs (prices come from the continuous problem with the integers
fixed), so their reduced costs are free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emtrade.scaling import Scaling

#: relative tolerance of every check (HiGHS's own feasibility tolerances are 1e-7 in its scaled space)
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Check:
    """The worst relative residual of each optimality condition (dimensionless; ≤ TOLERANCE passes)."""

    primal: float
    row_sign: float
    slackness: float
    stationarity: float

    @property
    def passed(self) -> bool:
        return max(self.primal, self.row_sign, self.slackness, self.stationarity) <= TOLERANCE

    def describe(self) -> str:
        worst = {
            "primal feasibility": self.primal,
            "sign of a price": self.row_sign,
            "complementary slackness": self.slackness,
            "reduced costs": self.stationarity,
        }
        failed = [f"{k} {v:.2g}" for k, v in worst.items() if v > TOLERANCE]
        return ", ".join(failed) or "all conditions hold"


def check_optimality(a: dict, x: np.ndarray, row_dual: np.ndarray, scaling: Scaling | None = None) -> Check:
    """Residuals of the optimality conditions of ``x`` and ``row_dual`` for the arrays ``a`` (user units)."""
    scaling = scaling or Scaling.of(a)
    A = a["A"].tocsr()
    lo_r, up_r = a["row_lower"], a["row_upper"]
    lo_c, up_c = a["col_lower"], a["col_upper"]
    integer = a["col_integer"].astype(bool) | (lo_c == up_c)
    r, s, w = scaling.row, scaling.col, scaling.obj
    activity = A @ x
    with np.errstate(invalid="ignore"):
        # primal: violation of each row in units of the row's size (r_i = 1 / size_i)
        row_violation = np.fmax(np.nan_to_num(lo_r - activity, nan=0.0), np.nan_to_num(activity - up_r, nan=0.0))
        col_violation = np.fmax(np.nan_to_num(lo_c - x, nan=0.0), np.nan_to_num(x - up_c, nan=0.0))
    primal = max(_max(np.maximum(row_violation, 0) * r), _max(np.maximum(col_violation, 0) / s))

    # rows: which bound is close, in units of the row's size
    near_up = np.isfinite(up_r) & ((up_r - activity) * r <= 1e-7)
    near_lo = np.isfinite(lo_r) & ((activity - lo_r) * r <= 1e-7)
    y_scaled = row_dual * w / r  # the dual in the solver's units: ~1 for a price of the problem's size
    wrong = np.where(near_up & ~near_lo, np.maximum(y_scaled, 0), 0.0)
    wrong = np.where(near_lo & ~near_up, np.maximum(-y_scaled, 0), wrong)
    wrong = np.where(~near_lo & ~near_up, np.abs(y_scaled), wrong)
    row_sign = _max(np.where(near_lo | near_up, wrong, 0.0))

    # complementary slackness as money: |y_i| × slack_i against the objective's size
    room_up = np.where(np.isfinite(up_r), up_r - activity, np.inf)
    slack = np.fmin(room_up, np.where(np.isfinite(lo_r), activity - lo_r, np.inf))
    slack = np.where(np.isfinite(slack), np.maximum(slack, 0.0), 0.0)
    cost_terms = np.abs(a["col_cost"] * x) + 0.5 * np.abs(a["col_quad"]) * x * x
    size = float(cost_terms.sum()) + 1.0 / w
    slackness = _max(np.where(near_lo | near_up, 0.0, np.abs(row_dual) * slack)) / size

    # stationarity: reduced costs in the solver's units (ω s_j d_j)
    d = a["col_cost"] + a["col_quad"] * x - A.T @ row_dual
    d_scaled = w * s * d
    at_lo = np.isfinite(lo_c) & ((x - lo_c) / s <= 1e-7)
    at_up = np.isfinite(up_c) & ((up_c - x) / s <= 1e-7)
    bad = np.where(at_lo & ~at_up, np.maximum(-d_scaled, 0), np.abs(d_scaled))
    bad = np.where(at_up & ~at_lo, np.maximum(d_scaled, 0), bad)
    bad = np.where((at_lo & at_up) | integer, 0.0, bad)
    # relative to the column's own cost and the prices it meets, where those are larger than 1
    magnitude = w * s * (np.abs(a["col_cost"]) + np.abs(a["col_quad"] * x) + abs(A.T) @ np.abs(row_dual))
    stationarity = _max(bad / np.maximum(1.0, magnitude))
    return Check(primal, row_sign, slackness, stationarity)


def _max(values: np.ndarray) -> float:
    return float(np.max(values)) if len(values) else 0.0
