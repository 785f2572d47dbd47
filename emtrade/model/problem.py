"""A linear (or convex quadratic, or mixed-integer) program held as arrays.

    minimise   c·x + ½ Σ_j h_j x_j² + c0
    subject to row_lower ≤ A x ≤ row_upper,   col_lower ≤ x ≤ col_upper,   x_j integer for j ∈ I

The Hessian is diagonal (linear marginal-abatement-cost curves give separable quadratic costs).
Columns and rows are added in named *blocks*, each with a tidy index table, so that a solution
maps back to named quantities (``x['activity']`` indexed by option and period; the dual of
``market`` indexed by market, pollutant and period). Nothing here knows about HiGHS or pyomo:
:mod:`emtrade.solve` passes the arrays to a solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

INF = np.inf


@dataclass
class Block:
    """A named slice of columns or rows, with one index row per column or row."""

    name: str
    start: int
    stop: int
    index: pd.DataFrame
    doc: str = ""

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass
class Problem:
    """The arrays of one optimisation problem; build it with :meth:`add_columns` and :meth:`add_rows`."""

    col_lower: list[np.ndarray] = field(default_factory=list)
    col_upper: list[np.ndarray] = field(default_factory=list)
    col_cost: list[np.ndarray] = field(default_factory=list)
    col_quad: list[np.ndarray] = field(default_factory=list)
    col_integer: list[np.ndarray] = field(default_factory=list)
    row_lower: list[np.ndarray] = field(default_factory=list)
    row_upper: list[np.ndarray] = field(default_factory=list)
    entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    columns: dict[str, Block] = field(default_factory=dict)
    rows: dict[str, Block] = field(default_factory=dict)
    offset: float = 0.0
    n_cols: int = 0
    n_rows: int = 0
    _frozen: dict | None = None
    _matrix: sp.csc_matrix | None = None  # the entries frozen by arrays(), if it was called

    # -- building --------------------------------------------------------------------------
    def add_columns(
        self,
        name: str,
        index: pd.DataFrame,
        *,
        lower: np.ndarray | float = 0.0,
        upper: np.ndarray | float = INF,
        cost: np.ndarray | float = 0.0,
        quad: np.ndarray | float = 0.0,
        integer: np.ndarray | bool = False,
        doc: str = "",
    ) -> Block:
        n = len(index)
        block = Block(name, self.n_cols, self.n_cols + n, index.reset_index(drop=True), doc)
        self.col_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy())
        self.col_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        self.col_cost.append(np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy())
        self.col_quad.append(np.broadcast_to(np.asarray(quad, dtype=float), (n,)).copy())
        self.col_integer.append(np.broadcast_to(np.asarray(integer, dtype=bool), (n,)).copy())
        self.columns[name] = block
        self.n_cols += n
        self._frozen = None
        return block

    def add_rows(
        self,
        name: str,
        index: pd.DataFrame,
        rows: np.ndarray,
        cols: np.ndarray,
        values: np.ndarray,
        *,
        lower: np.ndarray | float = -INF,
        upper: np.ndarray | float = INF,
        doc: str = "",
    ) -> Block:
        """Add ``len(index)`` rows; ``rows`` are 0-based within the block, ``cols`` global column numbers."""
        n = len(index)
        block = Block(name, self.n_rows, self.n_rows + n, index.reset_index(drop=True), doc)
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise ValueError(f"row block {name}: entry rows outside 0..{n - 1}")
        self.entries.append((rows + self.n_rows, np.asarray(cols, dtype=np.int64), np.asarray(values, dtype=float)))
        self.row_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy())
        self.row_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        self.rows[name] = block
        self.n_rows += n
        self._frozen = None
        return block

    # -- access ----------------------------------------------------------------------------
    def _cat(self, parts: list[np.ndarray], dtype=float) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    def arrays(self) -> dict[str, np.ndarray | sp.csc_matrix]:
        """All arrays, concatenated: col_lower/upper/cost/quad/integer, row_lower/upper and A (CSC)."""
        if self._frozen is None:
            entries = list(self.entries)
            if self._matrix is not None:  # what an earlier call froze, then the entries added since
                coo = self._matrix.tocoo()
                entries.insert(0, (coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data))
            if entries:
                r = np.concatenate([e[0] for e in entries])
                c = np.concatenate([e[1] for e in entries])
                v = np.concatenate([e[2] for e in entries])
            else:
                r = c = np.zeros(0, dtype=np.int64)
                v = np.zeros(0)
            del entries
            a = sp.csc_matrix((v, (r, c)), shape=(self.n_rows, self.n_cols))
            a.sum_duplicates()
            a.eliminate_zeros()
            del r, c, v
            frozen = {
                "col_lower": self._cat(self.col_lower),
                "col_upper": self._cat(self.col_upper),
                "col_cost": self._cat(self.col_cost),
                "col_quad": self._cat(self.col_quad),
                "col_integer": self._cat(self.col_integer, bool),
                "row_lower": self._cat(self.row_lower),
                "row_upper": self._cat(self.row_upper),
                "A": a,
            }
            # hold each array once (a million-firm market's model is otherwise held twice): the parts
            # become the concatenation, and the triplets the matrix, which later additions extend
            for name in ("col_lower", "col_upper", "col_cost", "col_quad", "col_integer", "row_lower", "row_upper"):
                setattr(self, name, [frozen[name]] if len(frozen[name]) else [])
            self.entries, self._matrix = [], a
            self._frozen = frozen
        return self._frozen

    @property
    def is_mip(self) -> bool:
        return bool(self.arrays()["col_integer"].any())

    @property
    def is_qp(self) -> bool:
        return bool((self.arrays()["col_quad"] != 0).any())

    def objective(self, x: np.ndarray) -> float:
        """c·x + ½ Σ h x² + offset."""
        a = self.arrays()
        return float(a["col_cost"] @ x + 0.5 * (a["col_quad"] * x * x).sum() + self.offset)

    def summary(self) -> str:
        kinds = ("MI" if self.is_mip else "") + ("QP" if self.is_qp else "LP")
        return f"{kinds}: {self.n_cols} columns, {self.n_rows} rows, {self.arrays()['A'].nnz} nonzeros"
