"""Re-solve, don't rebuild: many runs of one model structure on persistent HiGHS instances.

A :class:`Resolver` lives in one worker of a sweep and runs scenario after scenario through
:func:`emtrade.simulate` itself (so every rule of the pipeline and of the solve applies unchanged),
while the HiGHS instances that :func:`emtrade.solve.solve_problem` asks for are kept between runs,
keyed by the structure of the problem: sizes, the sparsity pattern of A, integrality, which
columns are quadratic, the solver options, and the instance's role (the mixed-integer problem, or
the continuous one whose integer decisions are then fixed). The first run of a structure builds the
instances; a later run with the same structure builds only the arrays
(:func:`~emtrade.model.build.build_model`, cheap) and pushes the numbers that changed into the
existing instance: costs (``changeColsCost``), column and row bounds (``changeColsBounds``,
``changeRowsBounds``), matrix values (``changeCoeff``; a fresh instance loaded with the new model
when most of them changed) and the quadratic diagonal (``passHessian``). A run with another
structure (a trading scope that changes the markets, a cap that stops binding a firm...) gets
instances of its own; the cache keeps a few, least recently used out first.

Every pushed solve starts from HiGHS's cold state (``clearSolver``), never from the previous run's
basis or incumbent. A run's answer is then a function of its own inputs only, bit for bit the answer
of a fresh :func:`emtrade.simulate` whatever ran before it in the worker, which is what makes a
sweep's results independent of the engine and of the number of workers (tests/test_resolve.py).
Warm starts were measured and left out (docs/sweep.md): in the bundled Xiangtan scenario the time is
in HiGHS's branch and cut, which no basis helps, and a start from another run's incumbent was no
faster (slower on command-and-control), while it could change which of two integer solutions within
the MIP gap is returned. The price intervals (re-solves of one problem with one row bound moved) do
run warm, inside :func:`~emtrade.solve.solve_problem`, as always.

Because a cold solve is a pure function of the numbers, its answer is also remembered (the last
few, by a hash of every number, flag and option): a cold solve of numbers met before is answered
from memory. This is where a sweep over market rules gains most: command-and-control does not
depend on the trading scope, banking, fees or price ceilings, so it is solved once for the whole
grid. Only solves after which no warm re-solve follows on the instance are remembered (the
mixed-integer problem, whose integer values are all that is used, and a continuous problem without
price intervals), so that the price intervals always start from the basis of a real solve.

How the instances reach the solve: while a resolver is active in a thread, the solve module's
backend factory hands out the cached instance for the calls that ``solve_problem`` itself makes;
every other call (outer approximation's master problems, the pyomo backend, other threads) gets a
new instance as before. Nothing changes for code that does not activate a resolver.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from emtrade import solve as _solve
from emtrade.results import Results
from emtrade.scaling import Scaling
from emtrade.scenario.loader import Scenario
from emtrade.solve import HighsBackend, SolveOptions

#: above this share of changed matrix values, reloading the whole model is cheaper than changeCoeff
RELOAD_SHARE = 0.5
#: cold answers kept per resolver
MEMO_SIZE = 16


class PersistentHighs(HighsBackend):
    """A :class:`~emtrade.solve.HighsBackend` whose numbers can be replaced by those of a same-structure problem.

    ``current`` mirrors the numbers held by the HiGHS instance (bound changes made through the
    backend's methods included), so that :meth:`update` pushes exactly what differs.
    """

    def __init__(self, arrays: dict, options: SolveOptions):
        super().__init__(arrays, options)
        self.current = _numbers(arrays)
        self.integrality = arrays["col_integer"].copy()
        self.cold = True  # no solve since the numbers were last replaced
        self.memo: OrderedDict[str, Any] | None = None  # set by the resolver where a cold answer may be reused
        self.remembered = 0

    def run(self, *args: Any, **kwargs: Any):
        """Solve; a cold solve of numbers solved before is answered from the memo (the same answer).

        Arguments (a time budget for one call) go to :meth:`HighsBackend.run`; such a call is never
        remembered.
        """
        memo, cold = self.memo, self.cold
        self.cold = False
        if memo is None or not cold or args or kwargs:
            return super().run(*args, **kwargs)
        key = self.state_key()
        if key in memo:
            memo.move_to_end(key)
            self.remembered += 1
            return copy.deepcopy(memo[key])
        answer = super().run()
        memo[key] = copy.deepcopy(answer)
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
        return answer

    def state_key(self) -> str:
        """Every number and flag a cold solve depends on."""
        h = hashlib.blake2b(digest_size=20)
        for name in sorted(self.current):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.current[name]).tobytes())
        h.update(np.ascontiguousarray(self.integrality).tobytes())
        h.update(np.ascontiguousarray(self.arrays["A"].indices).tobytes())
        h.update(np.ascontiguousarray(self.arrays["A"].indptr).tobytes())
        h.update(repr(sorted(self.options.__dict__.items())).encode())
        return h.hexdigest()

    # bound and integrality changes made by solve_problem: keep the mirror exact
    def set_col_bounds(self, idx, lower, upper) -> None:
        super().set_col_bounds(idx, lower, upper)
        idx = np.asarray(idx, dtype=np.int64)
        self.current["col_lower"][idx] = lower
        self.current["col_upper"][idx] = upper

    def set_row_bounds(self, idx, lower, upper) -> None:
        super().set_row_bounds(idx, lower, upper)
        idx = np.asarray(idx, dtype=np.int64)
        self.current["row_lower"][idx] = lower
        self.current["row_upper"][idx] = upper

    def make_continuous(self, idx) -> None:
        super().make_continuous(idx)
        self.integrality[np.asarray(idx, dtype=np.int64)] = False

    def update(self, arrays: dict) -> str:
        """Hold the numbers of ``arrays`` (same structure), in HiGHS's cold state; 'pushed' or 'reloaded'."""
        h, cur = self.h, self.current
        new_data = arrays["A"].data
        changed_a = np.flatnonzero(new_data != cur["A_data"])
        self.arrays = arrays
        scaling = Scaling.of(arrays)
        # new numbers may call for other scales (emtrade.scaling): then every number changes, so reload
        if len(changed_a) > RELOAD_SHARE * max(len(new_data), 1) or not scaling.same_as(self.scaling):
            # a fresh instance, not passModel into this one: a used instance keeps solver state that
            # passModel does not clear (measured: after 50 Xiangtan runs a degenerate market's price
            # interval came out otherwise than on a fresh instance)
            self.h = _solve._new_highs()
            self._mip, self._runs = bool(arrays["col_integer"].any()), 0
            self._load(arrays)
            self.current = _numbers(arrays)
            self.integrality = arrays["col_integer"].copy()
            self.cold = True
            return "reloaded"
        integer = np.flatnonzero(arrays["col_integer"] != self.integrality)
        if len(integer):
            kinds = [self.hs.HighsVarType.kInteger if arrays["col_integer"][j] else self.hs.HighsVarType.kContinuous
                     for j in integer]  # fmt: skip
            h.changeColsIntegrality(len(integer), integer.astype(np.int32), np.array(kinds))
            self._mip = bool(arrays["col_integer"].any())
        # the same scales as the numbers held: push the changed numbers, scaled
        s, w = scaling.col, scaling.obj
        idx = np.flatnonzero(arrays["col_cost"] != cur["col_cost"])
        if len(idx):
            h.changeColsCost(len(idx), idx.astype(np.int32), (w * s[idx] * arrays["col_cost"][idx]).astype(float))
        if not np.array_equal(arrays["col_quad"], cur["col_quad"]):
            quad = w * s * s * arrays["col_quad"]
            nz = np.flatnonzero(quad)
            counts = np.zeros(len(quad) + 1, dtype=np.int32)
            counts[nz + 1] = 1
            h.passHessian(
                len(quad),
                len(nz),
                int(self.hs.HessianFormat.kTriangular),
                np.cumsum(counts).astype(np.int32),
                nz.astype(np.int32),
                quad[nz].astype(float),
            )
        lo, up = arrays["col_lower"], arrays["col_upper"]
        idx = np.flatnonzero((lo != cur["col_lower"]) | (up != cur["col_upper"]))
        if len(idx):
            lo_s, up_s = scaling.col_bounds(idx, lo[idx], up[idx])
            h.changeColsBounds(len(idx), idx.astype(np.int32), lo_s, up_s)
        lo, up = arrays["row_lower"], arrays["row_upper"]
        idx = np.flatnonzero((lo != cur["row_lower"]) | (up != cur["row_upper"]))
        if len(idx):
            lo_s, up_s = scaling.row_bounds(idx, lo[idx], up[idx])
            inf = self.hs.kHighsInf
            lo_s, up_s = np.where(np.isinf(lo_s), -inf, lo_s), np.where(np.isinf(up_s), inf, up_s)
            h.changeRowsBounds(len(idx), idx.astype(np.int32), lo_s, up_s)
        if len(changed_a):
            A = arrays["A"]
            col_of = np.repeat(np.arange(A.shape[1]), np.diff(A.indptr))
            for k in changed_a:
                i, j = int(A.indices[k]), int(col_of[k])
                h.changeCoeff(i, j, scaling.coefficient(i, j, new_data[k]))
        h.clearSolver()
        self._runs = 0  # the first solve of these numbers takes the method a fresh instance would
        self.current = _numbers(arrays)
        self.integrality = arrays["col_integer"].copy()
        self.cold = True
        return "pushed"


def _numbers(a: dict) -> dict[str, np.ndarray]:
    return {
        "col_cost": a["col_cost"].copy(),
        "col_quad": a["col_quad"].copy(),
        "col_lower": a["col_lower"].copy(),
        "col_upper": a["col_upper"].copy(),
        "row_lower": a["row_lower"].copy(),
        "row_upper": a["row_upper"].copy(),
        "A_data": a["A"].data.copy(),
    }


def structure_key(a: dict, options: SolveOptions, role: str) -> str:
    """Everything a persistent instance depends on besides the numbers that can be pushed."""
    h = hashlib.blake2b(digest_size=20)
    A = a["A"]
    for part in (A.indptr, A.indices, a["col_integer"], a["col_quad"] != 0):
        arr = np.ascontiguousarray(part)
        h.update(repr((arr.dtype.str, arr.shape)).encode())
        h.update(arr.tobytes())
    h.update(repr((A.shape, role, sorted(options.__dict__.items()))).encode())
    return h.hexdigest()


@dataclass
class ResolverStats:
    """What the cache did with the solver instances that solve_problem asked for."""

    built: int = 0  # a new instance (first run of a structure)
    pushed: int = 0  # changed numbers pushed into a cached instance
    reloaded: int = 0  # a cached instance whose matrix mostly changed: the model passed again
    remembered: int = 0  # cold solves of numbers solved before, answered from the memo
    runs: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"runs": self.runs, "built": self.built, "pushed": self.pushed, "reloaded": self.reloaded,
                "remembered": self.remembered}  # fmt: skip


class Resolver:
    """Runs scenarios exactly like :func:`emtrade.simulate`, on cached HiGHS instances (module docstring).

    One per thread (the HiGHS instances are not shared between threads). ``slots`` instances are
    kept, least recently used out first.

    >>> from emtrade import load_scenario, bundled_scenario
    >>> r = Resolver()
    >>> sc = load_scenario(bundled_scenario("textbook/fox_river")).with_overrides({"solver.fast_path": "off"})
    >>> [r.simulate(sc.with_overrides({"caps.0.total": t})).summary["total_cost"] for t in (160, 150)]
    [420.0, 656.25]
    >>> r.stats.as_dict()
    {'runs': 2, 'built': 2, 'pushed': 2, 'reloaded': 0, 'remembered': 0}
    """

    def __init__(self, slots: int = 8):
        self._instances: OrderedDict[str, PersistentHighs] = OrderedDict()
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self.max_slots = slots
        self.stats = ResolverStats()
        self._owner = threading.get_ident()
        _install()

    def simulate(self, scenario: Scenario | str | dict[str, Any], **solver_overrides: Any) -> Results:
        """:func:`emtrade.simulate` with the solver instances of this resolver."""
        from emtrade.pipeline import simulate

        with self.active():
            try:
                res = simulate(scenario, **solver_overrides)
            finally:
                for inst, before in _LOCAL.context.counted.values():
                    self.stats.remembered += inst.remembered - before
        self.stats.runs += 1
        return res

    @contextlib.contextmanager
    def active(self) -> Iterator[Resolver]:
        """Within this block, solve_problem in this thread solves on this resolver's instances."""
        if threading.get_ident() != self._owner:
            raise RuntimeError("a Resolver belongs to the thread that made it")
        previous = getattr(_LOCAL, "context", None)
        _LOCAL.context = _Context(self)
        try:
            yield self
        except BaseException:
            # an instance left mid-way (a moved bound, a failed solve) must not serve the next run
            for key in _LOCAL.context.used:
                self._instances.pop(key, None)
            raise
        finally:
            _LOCAL.context = previous

    def instance(self, arrays: dict, options: SolveOptions, role: str) -> PersistentHighs:
        key = structure_key(arrays, options, role)
        _LOCAL.context.used.append(key)
        inst = self._instances.get(key)
        if inst is None:
            inst = PersistentHighs(arrays, options)
            self._instances[key] = inst
            while len(self._instances) > self.max_slots:
                self._instances.popitem(last=False)
            self.stats.built += 1
        else:
            self._instances.move_to_end(key)
            how = inst.update(arrays)
            self.stats.pushed += how == "pushed"
            self.stats.reloaded += how == "reloaded"
        # a cold answer may stand in for a solve only where no warm re-solve follows on the instance:
        # the MIP (only its integers are used) and a continuous problem without price intervals
        inst.memo = self._memo if role == "mip" or not options.price_intervals else None
        _LOCAL.context.counted.setdefault(id(inst), (inst, inst.remembered))
        return inst


# --------------------------------------------------------------------------------------------------
# the hand-over inside emtrade.solve

_LOCAL = threading.local()
#: the solve module's backend factory; if it is ever renamed, resolvers run plain emtrade.simulate
_ORIGINAL_BACKEND = getattr(_solve, "_backend", None)
_INSTALL_LOCK = threading.Lock()


class _Context:
    def __init__(self, resolver: Resolver):
        self.resolver = resolver
        self.frame: Any = None  # the solve_problem call being served (held, so that it stays distinct)
        self.calls = 0
        self.used: list[str] = []
        self.counted: dict[int, tuple[PersistentHighs, int]] = {}  # instances served: memo hits before


def _install() -> None:
    """Put the dispatcher in place of emtrade.solve's backend factory (once; idempotent)."""
    with _INSTALL_LOCK:
        if _ORIGINAL_BACKEND is not None and _solve._backend is not _dispatch:
            _solve._backend = _dispatch


def _dispatch(arrays: dict, options: SolveOptions):
    """solve_problem's backend factory: the resolver's instance where one is active, else a new one.

    Only the calls made by solve_problem itself are served (not outer approximation's master
    problems). Within one solve_problem call of a mixed-integer problem the first instance asked
    for solves the MIP and the second the continuous problem with the integers fixed; every other
    problem asks once, for the continuous role.
    """
    ctx = getattr(_LOCAL, "context", None)
    caller = sys._getframe(1)
    if ctx is None or options.backend != "highs" or caller.f_code is not _solve.solve_problem.__code__:
        return _ORIGINAL_BACKEND(arrays, options)
    if caller is not ctx.frame:
        ctx.frame, ctx.calls = caller, 0
    ctx.calls += 1
    mip = bool(arrays["col_integer"].any()) and not bool((arrays["col_quad"] != 0).any())
    role = "mip" if mip and ctx.calls == 1 else "continuous"
    return ctx.resolver.instance(arrays, options, role)
