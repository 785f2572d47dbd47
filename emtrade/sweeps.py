"""Parameter sweeps and Monte Carlo: many runs of one scenario, on a local pool or a dask cluster.

A sweep is a grid of overrides (``set={"caps.0.reduction": [0.1, 0.2], "trading.scope": ["all", "none"]}``,
every combination, the first key varying slowest), times ``samples`` Monte Carlo draws of the
scenario's ``uncertainty:`` section (:mod:`emtrade.scenario.uncertainty`). Run ``i`` is grid point
``i // S`` with sample ``i % S`` (S = samples, or 1). Every grid point sees the same draws (common
random numbers: sample ``s`` depends on ``seed`` and ``s`` only), so differences between points are
not blurred by sampling noise.

Every run is :func:`emtrade.simulate` on ``scenario.with_overrides(point)`` with the sample's
multipliers applied (overrides again, so both are validated like the file). Runs are independent
and deterministic, so the results are the same, bit for bit, whatever the engine (in-process, a
local process pool, dask) and the number of workers. A run that fails (infeasible, a solver failure,
a combination of values the schema refuses) is recorded with its error and the sweep goes on.

Outputs (:class:`SweepResults`, saved by :meth:`SweepResults.save`):

``runs.csv``      one row per run: ``run``, ``point``, ``sample``; one column per ``--set`` key (its
                  value); ``u:NAME`` per uncertainty entry drawn once per sample (its multiplier);
                  ``status`` (optimal, time_limit, gap_limit, ... or infeasible, failed) and
                  ``error``; ``total_cost``, ``cac_total_cost``, ``savings`` (CNY/yr),
                  ``savings_share``, ``permits_traded`` (kg/yr), ``worst_receptor_margin`` (the
                  smallest (limit − load)/limit over receptors and periods; negative: exceeded;
                  empty without receptors) and ``worst_receptor``, ``solve_path``, ``cac_status``,
                  then ``price:MARKET:POLLUTANT:PERIOD`` (CNY/kg; CNY/PE in a PE market).
``summary.csv``   quantiles of each numeric output over the runs: one group per grid point when there
                  are samples and several points, and always the group ``all``: point, the ``--set``
                  keys, quantity, runs, mean, std, min, p05, p25, p50, p75, p95, max.
``draws.csv``     multipliers of ``per: enterprise`` entries: run, sample, name, enterprise, multiplier.
``timings.csv``   run, seconds (wall time in the worker): the one output that is not reproducible.
``sweep.json``    what was swept, the engine, workers and times, the resolver's cache statistics.
``report.html``   fan charts of prices and costs (:mod:`emtrade.sweep_report`), works offline.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emtrade.errors import EmtradeError, InfeasibleError, ScenarioError, excerpt
from emtrade.results import SIGNIFICANT_DIGITS, atomic_directory, dumps_json, round_sig
from emtrade.scenario.loader import Scenario, load_scenario
from emtrade.scenario.tables import parse_number
from emtrade.scenario.yaml_reader import read_yaml

QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
OUTPUT_COLUMNS = [
    "status", "error", "total_cost", "cac_total_cost", "savings", "savings_share", "permits_traded",
    "worst_receptor_margin", "worst_receptor", "solve_path", "cac_status",
]  # fmt: skip
NUMERIC_OUTPUTS = ["total_cost", "cac_total_cost", "savings", "savings_share", "permits_traded",
                   "worst_receptor_margin"]  # fmt: skip
#: the most Monte Carlo draws per grid point (``--samples``): 100,000 runs of even a textbook scenario
#: take hours and a runs.csv of tens of MB; more is almost surely a typo
MAX_SAMPLES = 100_000
#: the most worker processes (``--workers``, ``--dask-local``) on one machine
MAX_WORKERS = 256
PRICE_PREFIX = "price:"
DRAW_PREFIX = "u:"


# --------------------------------------------------------------------------------------------------
# the plan


@dataclass(frozen=True)
class Plan:
    """What to run: the base scenario, the grid and the Monte Carlo samples."""

    scenario: Scenario
    keys: tuple[str, ...]
    points: tuple[tuple[Any, ...], ...]
    samples: int  # 0: no Monte Carlo (one run per point, no multipliers)
    seed: int

    @property
    def per_point(self) -> int:
        return max(self.samples, 1)

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.per_point

    def locate(self, run: int) -> tuple[int, int]:
        return divmod(run, self.per_point)

    def overrides(self, point: int) -> dict[str, Any]:
        return dict(zip(self.keys, self.points[point], strict=True))


def parse_set(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["caps.0.reduction=0.1,0.2", "trading.scope=all"]`` → ``{"caps.0.reduction": [0.1, 0.2], ...}``.

    Values are YAML scalars (numbers, booleans, text). Raises :class:`EmtradeError` naming the item.
    """
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise EmtradeError(f"--set {item}: expected KEY=V1,V2,... (a dotted key into the scenario)")
        if key in out:
            raise EmtradeError(f"--set {key}: given twice; list all its values in one --set")
        parsed = []
        for text in values.split(","):
            text = text.strip()
            if not text:
                raise EmtradeError(f"--set {item}: an empty value")
            try:
                value = read_yaml(text, f"--set {key}")  # bounded: no alias bombs, no 5,000-digit numbers
            except ScenarioError as exc:
                raise EmtradeError(
                    f"--set {key}: {excerpt(text)} is not a YAML scalar ({exc.problems[0].message})"
                ) from None
            if isinstance(value, dict | list) or value is None:
                raise EmtradeError(f"--set {key}={text}: must be a number, true/false or text")
            if isinstance(value, str) and text.lower().lstrip("+-") not in ("inf", "infinity", "nan"):
                # YAML 1.1 reads 1e5 as text: a number is meant. 1_00 stays text, which the scenario's
                # number fields refuse (and its text fields, ids like 2023_01, take as it is)
                with contextlib.suppress(ValueError):
                    value = parse_number(value)
            parsed.append(value)
        out[key] = parsed
    return out


def make_plan(
    scenario: Scenario | str | os.PathLike | dict[str, Any],
    set: Mapping[str, Any] | None = None,  # the CLI's name (shadows the builtin here only)
    samples: int | None = None,
    seed: int = 0,
    *,
    allow_outside: bool = False,
) -> Plan:
    """Check the sweep before anything runs: every key and value of the grid, the uncertainty section."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, allow_outside=allow_outside)
    grid = {}
    for key, values in (set or {}).items():
        vals = list(values) if isinstance(values, list | tuple | np.ndarray | range) else [values]
        if not vals:
            raise EmtradeError(f"--set {key}: no values")
        for v in vals:
            try:
                sc.with_overrides({key: v})
            except ScenarioError as exc:
                raise EmtradeError(f"--set {key}={v}: {_one_line(exc)}") from None
        grid[str(key)] = [v.item() if isinstance(v, np.generic) else v for v in vals]
    n = 0 if samples is None else int(samples)
    if n < 0:
        raise EmtradeError(f"--samples {samples}: must be ≥ 0")
    if n > MAX_SAMPLES:
        raise EmtradeError(f"--samples {samples}: at most {MAX_SAMPLES:,} draws per grid point")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise EmtradeError(f"--seed {seed}: must be a whole number ≥ 0")
    if n and not sc.spec.uncertainty:
        raise EmtradeError(
            f"{sc.display}: --samples needs an 'uncertainty:' section in the scenario (see docs/sweep.md)"
        )
    if n:
        from emtrade.scenario.uncertainty import check_uncertainty

        problems = check_uncertainty(sc)
        if problems:
            raise EmtradeError("\n".join(f"{sc.display}: {p}" for p in problems))
    points = tuple(itertools.product(*grid.values())) if grid else ((),)
    return Plan(sc, tuple(grid), points, n, int(seed))


def _one_line(exc: ScenarioError) -> str:
    return "; ".join(": ".join(x for x in (p.where, p.message) if x) for p in exc.problems)


# --------------------------------------------------------------------------------------------------
# one run, in a worker


@dataclass
class RunOutput:
    run: int
    row: dict[str, Any]
    draws: list[tuple[str, str, float]]
    seconds: float


class Worker:
    """Runs of one plan in one thread of one process: the plan, a cache of grid points, a resolver."""

    def __init__(self, plan: Plan, resolve: bool = True):
        self.plan = plan
        self._points: dict[int, Scenario | Exception] = {}
        self.resolver = None
        if resolve:
            from emtrade.resolve import Resolver

            self.resolver = Resolver()

    def point(self, p: int) -> Scenario:
        if p not in self._points:
            if len(self._points) >= 4:
                self._points.pop(next(iter(self._points)))
            try:
                self._points[p] = self.plan.scenario.with_overrides(self.plan.overrides(p))
            except Exception as exc:  # a combination the schema refuses: each of its runs fails alike
                self._points[p] = exc
        got = self._points[p]
        if isinstance(got, Exception):
            raise got
        return got

    def run(self, run: int) -> RunOutput:
        t0 = time.perf_counter()
        p, s = self.plan.locate(run)
        row: dict[str, Any] = {"run": run, "point": p, "sample": s, **self.plan.overrides(p)}
        draws: list[tuple[str, str, float]] = []
        try:
            sc = self.point(p)
            if self.plan.samples:
                from emtrade.scenario.uncertainty import draw_sample

                sample = draw_sample(sc, self.plan.seed, s)
                row.update({f"{DRAW_PREFIX}{k}": v for k, v in sample.multipliers.items()})
                draws = sample.by_enterprise
                sc = sc.with_overrides(sample.overrides)
            res = self.resolver.simulate(sc) if self.resolver is not None else _simulate(sc)
            row.update(outputs(res))
        except Exception as exc:
            row.update(failure(exc))
        return RunOutput(run, row, draws, time.perf_counter() - t0)


def _simulate(sc: Scenario):
    from emtrade.pipeline import simulate

    return simulate(sc)


def outputs(res) -> dict[str, Any]:
    """The runs.csv columns of one solved run."""
    s = res.summary
    out: dict[str, Any] = {
        "status": s["status"],
        "error": "",
        "total_cost": _num(s.get("total_cost")),
        "cac_total_cost": _num(s.get("cac_total_cost")),
        "savings": _num(s.get("savings")),
        "savings_share": _num(s.get("savings_share")),
        "permits_traded": _num(s.get("permits_traded")),
        "worst_receptor_margin": math.nan,
        "worst_receptor": "",
        "solve_path": s.get("solve_path", ""),
        "cac_status": s.get("cac_status", ""),
    }
    rec = res.receptors
    if len(rec):
        limit = rec["limit"].to_numpy(dtype=float)
        load = rec["load"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = np.where(
                limit > 0, (limit - load) / np.where(limit > 0, limit, 1.0), np.where(load > 0, -np.inf, 0)
            )
        k = int(np.argmin(margin))
        out["worst_receptor_margin"] = float(round_sig(margin[k : k + 1])[0])
        out["worst_receptor"] = f"{rec['receptor'].iat[k]}:{rec['pollutant'].iat[k]}:{rec['period'].iat[k]}"
    for r in res.prices.itertuples(index=False):
        out[f"{PRICE_PREFIX}{r.market}:{r.pollutant}:{r.period}"] = float(r.price)
    return out


def failure(exc: BaseException) -> dict[str, Any]:
    status = "infeasible" if isinstance(exc, InfeasibleError) else "failed"
    text = str(exc) if isinstance(exc, EmtradeError) else f"{type(exc).__name__}: {exc}"
    return {"status": status, "error": " | ".join(line.strip() for line in text.splitlines() if line.strip())}


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


# --------------------------------------------------------------------------------------------------
# engines: each calls on_done(RunOutput) as runs finish


_POOL_STATE: dict[str, Worker] = {}
_THREAD = threading.local()


def _pool_init(payload: bytes, resolve: bool) -> None:
    _POOL_STATE["worker"] = Worker(pickle.loads(payload), resolve)


def _pool_run(run: int) -> RunOutput:
    return _POOL_STATE["worker"].run(run)


def _dask_run(run: int, payload: bytes, token: str, resolve: bool) -> RunOutput:
    """A run on a dask worker: one Worker per thread and plan, kept between tasks."""
    cache = getattr(_THREAD, "workers", None)
    if cache is None:
        cache = _THREAD.workers = {}
    if token not in cache:
        cache.clear()
        cache[token] = Worker(pickle.loads(payload), resolve)
    return cache[token].run(run)


def _run_serial(plan: Plan, runs: Sequence[int], resolve: bool, on_done) -> dict[str, Any]:
    worker = Worker(plan, resolve)
    for i in runs:
        on_done(worker.run(i))
    return {"engine": "serial", "workers": 1, **_stats(worker)}


def _stats(worker: Worker) -> dict[str, Any]:
    return {"resolver": worker.resolver.stats.as_dict()} if worker.resolver is not None else {}


def _run_pool(plan: Plan, runs: Sequence[int], workers: int, resolve: bool, on_done) -> dict[str, Any]:
    import concurrent.futures as cf
    import multiprocessing as mp

    payload = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_init, initargs=(payload, resolve)) as ex:
        futures = {ex.submit(_pool_run, i): i for i in runs}
        try:
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    on_done(fut.result())
                except Exception as exc:  # the worker process died (a crash in native code, memory)
                    on_done(RunOutput(i, _lost(plan, i, exc), [], math.nan))
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
    return {"engine": "process-pool", "workers": workers, "start_method": ctx.get_start_method()}


def _run_dask(plan: Plan, runs: Sequence[int], resolve: bool, on_done, scheduler: str | None, local: int | None):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - depends on the installation
        raise EmtradeError(
            "the dask engine needs dask.distributed: pip install 'emtrade[sweep]' (or dask[distributed])"
        ) from None
    import hashlib
    import logging

    payload = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    token = hashlib.blake2b(payload, digest_size=16).hexdigest()
    cluster = None
    if local is not None:
        cluster = LocalCluster(
            n_workers=local, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise EmtradeError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        n_workers = len(client.nthreads())
        data = client.scatter(payload, broadcast=True)
        futures = client.map(_dask_run, list(runs), payload=data, token=token, resolve=resolve, pure=False)
        index = {f.key: i for f, i in zip(futures, runs, strict=True)}
        try:
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    on_done(fut.result())
                except Exception as exc:  # a worker lost (KilledWorker) or a cancelled task
                    on_done(RunOutput(i, _lost(plan, i, exc), [], math.nan))
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    engine = "dask-local" if cluster is not None else "dask"
    return {"engine": engine, "workers": n_workers, "scheduler": None if cluster is not None else scheduler}


def _lost(plan: Plan, i: int, exc: BaseException) -> dict[str, Any]:
    p, s = plan.locate(i)
    return {"run": i, "point": p, "sample": s, **plan.overrides(p), **failure(exc)}


# --------------------------------------------------------------------------------------------------
# results


@dataclass
class SweepResults:
    """The runs of a sweep (``runs``), their quantiles (``summary``) and what produced them (``meta``)."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    draws: pd.DataFrame
    timings: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    plan: Plan | None = field(default=None, repr=False)

    @property
    def keys(self) -> list[str]:
        return list(self.meta.get("keys", []))

    @property
    def failed(self) -> pd.DataFrame:
        """The runs that did not solve, with their errors."""
        return self.runs[self.runs.status.isin(["failed", "infeasible"])]

    @property
    def prices(self) -> pd.DataFrame:
        """Prices in long form: run, point, sample, market, pollutant, period, price (CNY/kg)."""
        cols = [c for c in self.runs.columns if c.startswith(PRICE_PREFIX)]
        long = self.runs[["run", "point", "sample", *cols]].melt(
            id_vars=["run", "point", "sample"], var_name="column", value_name="price"
        )
        parts = long.column.str.removeprefix(PRICE_PREFIX).str.split(":", n=2, expand=True)
        if parts.shape[1] < 3:
            return pd.DataFrame(columns=["run", "point", "sample", "market", "pollutant", "period", "price"])
        long["market"], long["pollutant"], long["period"] = parts[0], parts[1], parts[2]
        return long[["run", "point", "sample", "market", "pollutant", "period", "price"]]

    def scenario(self, run: int) -> Scenario:
        """The scenario of run ``run`` (grid point and sample applied), e.g. to simulate it in full."""
        if self.plan is None:
            raise ValueError("these results were loaded from files; load the scenario and apply the run's values")
        p, s = self.plan.locate(run)
        sc = self.plan.scenario.with_overrides(self.plan.overrides(p))
        if self.plan.samples:
            from emtrade.scenario.uncertainty import draw_sample

            sc = sc.with_overrides(draw_sample(sc, self.plan.seed, s).overrides)
        return sc

    def __repr__(self) -> str:
        n, bad = len(self.runs), len(self.failed)
        return f"SweepResults({self.meta.get('scenario')!r}: {n} runs, {bad} failed, keys {self.keys})"

    def save(self, directory: str | os.PathLike, report: bool = True) -> Path:
        """Write runs.csv, summary.csv, draws.csv, timings.csv, sweep.json (and report.html), whole or not at all."""
        target = Path(directory)
        with atomic_directory(target) as tmp:
            for name in ("runs", "summary", "draws", "timings"):
                getattr(self, name).to_csv(
                    tmp / f"{name}.csv", index=False, float_format=f"%.{SIGNIFICANT_DIGITS}g", lineterminator="\n"
                )
            (tmp / "sweep.json").write_text(dumps_json(self.meta) + "\n", encoding="utf-8")
            if report:
                from emtrade.sweep_report import write_sweep_report

                write_sweep_report(self, tmp / "report.html")
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> SweepResults:
        """Read a folder written by :meth:`save` (``scenario(run)`` then needs the scenario file)."""
        import json

        folder = Path(directory)
        meta = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
        text = {
            "runs": ["status", "error", "worst_receptor", "solve_path", "cac_status"],
            "summary": ["point", "quantity"],
            "draws": ["name", "enterprise"],
            "timings": [],
        }
        tables = {}
        for name, words in text.items():
            path = folder / f"{name}.csv"
            head = pd.read_csv(path, nrows=0).columns
            numeric = [c for c in head if c in NUMERIC_OUTPUTS or c.startswith((PRICE_PREFIX, DRAW_PREFIX))]
            dtypes = {**{c: str for c in head if c in words}, **{c: float for c in numeric}}
            na = {c: ["", "nan", "NaN"] for c in head if c not in words}
            tables[name] = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=na)
        return cls(meta=meta, **tables)


def summarise(runs: pd.DataFrame, keys: Sequence[str], samples: int) -> pd.DataFrame:
    """Quantiles of every numeric output: per grid point (with samples and several points) and over all."""
    quantities = [c for c in runs.columns if c in NUMERIC_OUTPUTS or c.startswith(PRICE_PREFIX)]
    groups: list[tuple[str, dict[str, Any], pd.DataFrame]] = []
    n_points = int(runs.point.nunique()) if len(runs) else 0
    if samples > 1 and n_points > 1:
        for p, g in runs.groupby("point", sort=True):
            first = g.iloc[0]
            groups.append((str(p), {k: first[k] for k in keys}, g))
    groups.append(("all", {k: "" for k in keys}, runs))
    rows = []
    for label, values, g in groups:
        for q in quantities:
            v = pd.to_numeric(g[q], errors="coerce").to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row = {"point": label, **values, "quantity": q, "runs": len(v)}
            if len(v):
                row.update(mean=float(v.mean()), std=float(v.std(ddof=1)) if len(v) > 1 else math.nan)
                row.update(min=float(v.min()))
                row.update({name: float(np.quantile(v, p)) for name, p in QUANTILES.items()})
                row.update(max=float(v.max()))
            rows.append(row)
    cols = ["point", *keys, "quantity", "runs", "mean", "std", "min", *QUANTILES, "max"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ["mean", "std", "min", *QUANTILES, "max"]:
        out[c] = round_sig(out[c].to_numpy(dtype=float))
    return out


def _collect(plan: Plan, outs: dict[int, RunOutput]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = [outs[i].row for i in range(plan.n_runs)]
    fixed = ["run", "point", "sample", *plan.keys]
    draws = sorted({c for r in rows for c in r if c.startswith(DRAW_PREFIX)}, key=lambda c: _first_seen(rows, c))
    prices = list(dict.fromkeys(c for r in rows for c in r if c.startswith(PRICE_PREFIX)))
    runs = pd.DataFrame.from_records(rows, columns=[*fixed, *draws, *OUTPUT_COLUMNS, *prices])
    for c in ("status", "error", "worst_receptor", "solve_path", "cac_status"):
        runs[c] = runs[c].where(runs[c].notna(), "").astype(object)
    for c in [*NUMERIC_OUTPUTS, *draws, *prices]:
        runs[c] = pd.to_numeric(runs[c], errors="coerce").astype(float)
    for c in ("run", "point", "sample"):
        runs[c] = runs[c].astype(np.int64)
    draw_rows = [
        (i, plan.locate(i)[1], name, ent, float(m)) for i in range(plan.n_runs) for name, ent, m in outs[i].draws
    ]
    draws_df = pd.DataFrame(draw_rows, columns=["run", "sample", "name", "enterprise", "multiplier"])
    timings = pd.DataFrame({"run": np.arange(plan.n_runs), "seconds": [outs[i].seconds for i in range(plan.n_runs)]})
    return runs, draws_df, timings


def _first_seen(rows: list[dict], col: str) -> int:
    return next(k for k, r in enumerate(rows) if col in r)


# --------------------------------------------------------------------------------------------------
# the public function


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def sweep(
    scenario: Scenario | str | os.PathLike | dict[str, Any],
    set: Mapping[str, Any] | None = None,  # the CLI's name (shadows the builtin here only)
    samples: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    out: str | os.PathLike | None = None,
    *,
    report: bool = True,
    progress: bool | None = None,
    resolve: bool = True,
    allow_outside: bool = False,
    on_run: Callable[[RunOutput], None] | None = None,
) -> SweepResults:
    """Run a grid of overrides × Monte Carlo samples of ``scenario`` and collect one row per run.

    ``set`` maps dotted keys to lists of values (``{"caps.0.reduction": [0.1, 0.2]}``; a single
    value is a list of one); ``samples`` draws of the scenario's ``uncertainty:`` section per grid
    point, from ``seed``. Engines: ``workers`` processes on this machine (default: one per CPU;
    1 runs in this process), or a dask.distributed cluster at ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``), or a local dask cluster of ``dask_local`` worker processes. The
    results do not depend on the engine. ``out`` saves the results folder (with report.html
    unless ``report`` is false). ``progress``: a progress bar on stderr (default: if it is a
    terminal). ``resolve`` re-solves on cached HiGHS instances (:mod:`emtrade.resolve`).

    >>> from emtrade import sweep, bundled_scenario
    >>> res = sweep(bundled_scenario("textbook/fox_river"), set={"caps.0.total": [150, 160]}, workers=1)
    >>> res.runs[["caps.0.total", "total_cost", "price:all:P:1"]].to_dict("records")[0]
    {'caps.0.total': 150, 'total_cost': 656.25, 'price:all:P:1': 26.25}
    """
    if scheduler is not None and dask_local is not None:
        raise EmtradeError("give --scheduler or --dask-local, not both")
    for option, count in (("--dask-local", dask_local), ("--workers", workers)):
        if count is not None and not 1 <= int(count) <= MAX_WORKERS:
            raise EmtradeError(f"{option} {count}: must be a whole number from 1 to {MAX_WORKERS}")
    plan = make_plan(scenario, set, samples, seed, allow_outside=allow_outside)
    n = plan.n_runs
    n_workers = min(int(workers) if workers is not None else default_workers(), n)
    outs: dict[int, RunOutput] = {}
    bar = _progress(n, progress)
    failed = 0

    def on_done(o: RunOutput) -> None:
        nonlocal failed
        outs[o.run] = o
        failed += o.row.get("status") in ("failed", "infeasible")
        if bar is not None:
            bar.set_postfix_str(f"{failed} failed" if failed else "", refresh=False)
            bar.update(1)
        if on_run is not None:
            on_run(o)

    t0 = time.perf_counter()
    runs = range(n)
    try:
        if scheduler is not None or dask_local is not None:
            engine = _run_dask(plan, runs, resolve, on_done, scheduler, dask_local)
        elif n_workers <= 1:
            engine = _run_serial(plan, runs, resolve, on_done)
        else:
            engine = _run_pool(plan, runs, n_workers, resolve, on_done)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    runs_df, draws_df, timings = _collect(plan, outs)
    summary = summarise(runs_df, plan.keys, plan.samples)
    from emtrade.outcome import _versions

    meta = {
        "scenario": plan.scenario.name,
        "scenario_file": plan.scenario.display,
        "keys": list(plan.keys),
        "grid": {k: _values(plan, j) for j, k in enumerate(plan.keys)},
        "points": len(plan.points),
        "samples": plan.samples,
        "seed": plan.seed,
        "runs": n,
        "failed": int(runs_df.status.isin(["failed", "infeasible"]).sum()),
        "uncertainty": [u.model_dump(exclude_none=True) for u in plan.scenario.spec.uncertainty],
        **engine,
        "seconds": seconds,
        "resolve": resolve,
        "versions": _versions(),
        "input_hashes": dict(plan.scenario.input_hashes),
    }
    res = SweepResults(runs_df, summary, draws_df, timings, meta, plan)
    if out is not None:
        res.save(out, report=report)
    return res


def _values(plan: Plan, j: int) -> list[Any]:
    return list(dict.fromkeys(pt[j] for pt in plan.points))


def _progress(n: int, progress: bool | None):
    if progress is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    disable = None if progress is None else False  # None: only on a terminal
    return tqdm(total=n, unit="run", desc="sweep", file=sys.stderr, disable=disable, dynamic_ncols=True, smoothing=0.1)
