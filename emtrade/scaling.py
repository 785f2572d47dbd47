"""Scaling a problem before it reaches the solver, so that the answer does not depend on the units.

HiGHS works with absolute tolerances (primal and dual feasibility 1e-7) and drops matrix and
Hessian entries below 1e-9. A scenario entered in grams instead of kilograms multiplies every
quantity by 10³ and divides every slope by 10⁶; in milligrams a slope of 1 CNY/kg² becomes 10⁻¹²
CNY/mg², below what HiGHS keeps, and the "optimal" answer is wrong. So the problem

    minimise c·x + ½ Σ_j h_j x_j²   subject to   l ≤ A x ≤ u,   l_x ≤ x ≤ u_x

is handed to the solver as the equivalent problem in x' = S⁻¹ x (column scales s_j), with row i
multiplied by r_i and the objective by ω:

    minimise ω (S c)·x' + ½ ω Σ_j h_j s_j² x'_j²   subject to   R l ≤ R A S x' ≤ R u,   S⁻¹l_x ≤ x' ≤ S⁻¹u_x.

The solver's answer maps back exactly: x = S x', row duals y = R y' / ω (from the stationarity
condition ω S (c + H x) = S Aᵀ R y'), objective = objective' / ω. Every scale is a power of two,
so scaling and unscaling are exact in floating point: no digit of the data or of the answer is
changed by them.

The scales come from the data alone:

- a continuous column with a finite nonzero bound is measured by it (s_j ≈ max |bound|): the
  activity of an option lies in [0, u_j] kg/yr (or share, or t/yr), so x'_j ∈ [0, ~1];
- a row is scaled so that its largest entry over those columns is ~1 (r_i ≈ 1 / max_j |a_ij s_j|);
- a column without a finite bound (permits bought and sold, banked, traded between zones) is then
  scaled so that its largest scaled entry is ~1;
- integer columns keep s_j = 1 (a scaled binary would no longer be a binary);
- ω makes the geometric mean of the smallest and largest nonzero scaled cost (|ω s_j c_j| and
  |ω h_j s_j²|) ~1, so that neither the cheapest option nor the dearest penalty falls below the
  solver's tolerances.

A problem entered in grams and the same problem in kilograms thus reach HiGHS as (nearly) the same
numbers, and give the same costs and, scaled by the unit, the same prices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def _power_of_two(values: np.ndarray) -> np.ndarray:
    """The power of two nearest to each positive value (1 where the value is 0, NaN or infinite)."""
    values = np.asarray(values, dtype=float)
    out = np.ones_like(values)
    ok = np.isfinite(values) & (values > 0)
    out[ok] = np.exp2(np.round(np.log2(values[ok])))
    return out


def _group_max(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """max of ``values`` per group 0..n−1, ignoring NaN (NaN where a group has no value)."""
    out = np.full(n, -np.inf)
    ok = ~np.isnan(values)
    np.maximum.at(out, group[ok], values[ok])
    out[np.isinf(out)] = np.nan
    return out


@dataclass(frozen=True)
class Scaling:
    """Column scales ``col`` (s), row scales ``row`` (r) and the objective scale ``obj`` (ω), powers of two."""

    col: np.ndarray
    row: np.ndarray
    obj: float

    @classmethod
    def identity(cls, n_cols: int, n_rows: int) -> Scaling:
        return cls(np.ones(n_cols), np.ones(n_rows), 1.0)

    @classmethod
    def of(cls, a: dict, rounds: int = 6) -> Scaling:
        """The scales of the problem held in the arrays ``a`` (see the module docstring).

        A mixed-integer problem keeps its columns unscaled (rows and objective are scaled): HiGHS's
        branch and cut took 1.6× longer on Xiangtan's MILP with scaled columns, while the columns'
        units matter little to it (it has no Hessian to lose); its continuous re-solve, which gives
        the quantities and prices, is scaled in full and checked (:mod:`emtrade.verify`).
        """
        A = a["A"].tocoo()
        n_rows, n_cols = A.shape
        lower, upper = a["col_lower"], a["col_upper"]
        with np.errstate(invalid="ignore"):
            bound = np.fmax(np.where(np.isfinite(upper), np.abs(upper), np.nan),
                            np.where(np.isfinite(lower), np.abs(lower), np.nan))  # fmt: skip
        integer = a["col_integer"].astype(bool)
        col_size = np.where(np.isfinite(bound) & (bound > 0) & ~integer, bound, np.nan)
        col_size[integer] = 1.0
        if integer.any():
            col_size[:] = 1.0
        rows, cols, coef = A.row, A.col, np.abs(A.data)
        keep = coef > 0
        rows, cols, coef = rows[keep], cols[keep], coef[keep]
        # the size of a row is its largest term |a_ij| s_j over columns of known size; a column of
        # unknown size (no finite bound: permits bought, sold, banked) takes the size of the rows
        # it enters, |a_ij| s_j ≈ size_i; the sizes spread through the matrix in a few rounds
        row_size = np.full(n_rows, np.nan)
        for _ in range(rounds):
            row_size = _group_max(rows, coef * col_size[cols], n_rows)
            unknown = np.isnan(col_size)
            if not unknown.any():
                break
            entry = unknown[cols] & ~np.isnan(row_size[rows])
            found = _group_max(cols[entry], row_size[rows[entry]] / coef[entry], n_cols)
            if not (unknown & ~np.isnan(found)).any():
                break
            col_size = np.where(unknown, found, col_size)
        row_size = _group_max(rows, coef * np.nan_to_num(col_size, nan=1.0)[cols], n_rows)
        # a row of free columns alone (or an empty row) is measured by its bound
        with np.errstate(invalid="ignore"):
            rhs = np.fmax(np.where(np.isfinite(a["row_upper"]), np.abs(a["row_upper"]), np.nan),
                          np.where(np.isfinite(a["row_lower"]), np.abs(a["row_lower"]), np.nan))  # fmt: skip
        row_size = np.where(np.isnan(row_size) | (row_size <= 0), rhs, row_size)
        col = _power_of_two(np.nan_to_num(col_size, nan=1.0))
        col[integer] = 1.0
        if integer.any():
            col[:] = 1.0
        row = 1.0 / _power_of_two(np.nan_to_num(row_size, nan=1.0))
        costs = np.concatenate([np.abs(a["col_cost"] * col), np.abs(a["col_quad"] * col * col)])
        costs = costs[(costs > 0) & np.isfinite(costs)]
        obj = 1.0 if not len(costs) else float(1.0 / _power_of_two(np.sqrt(costs.min() * costs.max())))
        return cls(col, row, obj)

    # -- data in ------------------------------------------------------------------------------------
    def apply(self, a: dict) -> dict:
        """The scaled arrays (same keys as ``a``); infinite bounds stay infinite."""
        s, r = self.col, self.row
        out = dict(a)
        out["A"] = (sp.diags(r) @ a["A"] @ sp.diags(s)).tocsc()
        out["col_cost"] = self.obj * s * a["col_cost"]
        out["col_quad"] = self.obj * s * s * a["col_quad"]
        out["col_lower"], out["col_upper"] = self.col_bounds(slice(None), a["col_lower"], a["col_upper"])
        out["row_lower"], out["row_upper"] = self.row_bounds(slice(None), a["row_lower"], a["row_upper"])
        return out

    def col_bounds(self, idx, lower, upper) -> tuple[np.ndarray, np.ndarray]:
        s = self.col[idx]
        return np.asarray(lower, float) / s, np.asarray(upper, float) / s

    def row_bounds(self, idx, lower, upper) -> tuple[np.ndarray, np.ndarray]:
        r = self.row[idx]
        return np.asarray(lower, float) * r, np.asarray(upper, float) * r

    def coefficient(self, i: int, j: int, value: float) -> float:
        return float(value * self.row[i] * self.col[j])

    # -- answers out --------------------------------------------------------------------------------
    def x(self, x_scaled: np.ndarray) -> np.ndarray:
        return np.asarray(x_scaled, float) * self.col

    def row_dual(self, y_scaled: np.ndarray) -> np.ndarray:
        return np.asarray(y_scaled, float) * self.row / self.obj

    def objective(self, value: float) -> float:
        return float(value) / self.obj

    def same_as(self, other: Scaling | None) -> bool:
        return (
            other is not None
            and self.obj == other.obj
            and np.array_equal(self.col, other.col)
            and np.array_equal(self.row, other.row)
        )
