"""Benchmark of sweeps: 100 Monte Carlo runs of the Xiangtan scenario on each engine.

``bench_sweep(quick)`` returns one row per measurement: engine, workers, runs, seconds, resolve,
``ratio`` (the time of one in-process worker with re-solving, on the same runs, divided by this
row's time: above 1 is faster), the machine's load average before it and the CPU seconds of the
sweep's processes (``None`` for the pool, whose workers this process cannot see). The rows:

- ``serial``, 1 worker in-process; ``process-pool``, 2 workers (the default engine); ``dask-local``,
  a LocalCluster of 2 workers started by the sweep: 100 runs each, start-up included, each checked
  to give the serial runs.csv;
- ``serial`` with and without re-solving on cached HiGHS instances (``resolve=False``: every run
  built from scratch) on 20 runs whose step and technology costs vary.

Targets (docs/sweep.md): 2 workers ≥ 1.6× faster than 1; dask within 1.2× of the local pool.
Run ``python benchmarks/sweep_bench.py [--quick]`` to print the rows as a table.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import emtrade
from emtrade.sweeps import sweep

_LOAD: list[float] = []
_CPU: list[float] = []
UNCERTAINTY = [
    {"name": "steps", "target": "step_cost", "distribution": "lognormal", "sigma": 0.2, "per": "enterprise"},
    {"name": "technologies", "target": "technology_cost", "distribution": "lognormal", "sigma": 0.2,
     "per": "enterprise"},
    {"name": "baselines", "target": "baseline", "distribution": "uniform", "low": 0.9, "high": 1.1,
     "per": "enterprise"},
]  # fmt: skip


def scenario():
    sc = emtrade.load_scenario(emtrade.bundled_scenario("xiangtan"))
    return sc.with_overrides({"uncertainty": UNCERTAINTY})


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (pool and dask workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(sc, **kwargs) -> tuple[float, object]:
    """Wall seconds of one sweep; notes the machine's load before it and the CPU seconds it took."""
    if len(_LOAD) >= 5:
        _LOAD.clear()
        _CPU.clear()
    _LOAD.append(os.getloadavg()[0])  # other processes on the machine distort the ratios: say how busy it was
    c0, t0 = _cpu(), time.perf_counter()
    res = sweep(sc, seed=2016, progress=False, **kwargs)
    t = time.perf_counter() - t0
    _CPU.append(_cpu() - c0)
    return t, res


def bench_sweep(quick: bool = False) -> list[dict]:
    """Time the engines on Monte Carlo runs of Xiangtan (100; 12 when ``quick``), and re-solving (20; 4)."""
    n, m = (12, 4) if quick else (100, 20)
    sc = scenario()  # loaded once: every engine runs the same scenario
    rows = []
    t1, ref = _timed(sc, samples=n, workers=1)
    rows.append({"engine": "serial", "workers": 1, "runs": n, "seconds": t1, "resolve": True, "ratio": 1.0})
    t, res = _timed(sc, samples=n, workers=2)
    assert res.runs.equals(ref.runs), "the process pool gave other results"
    rows.append({"engine": "process-pool", "workers": 2, "runs": n, "seconds": t, "resolve": True, "ratio": t1 / t})
    t, res = _timed(sc, samples=n, dask_local=2)
    assert res.runs.equals(ref.runs), "the dask engine gave other results"
    rows.append({"engine": "dask-local", "workers": 2, "runs": n, "seconds": t, "resolve": True, "ratio": t1 / t})
    # re-solving against rebuilding, where only costs change (a baseline changes most matrix values,
    # so each instance is reloaded whole: see docs/sweep.md)
    costs = sc.with_overrides({"uncertainty": UNCERTAINTY[:2]})
    t_on, on = _timed(costs, samples=m, workers=1)
    t_off, off = _timed(costs, samples=m, workers=1, resolve=False)
    assert on.runs.equals(off.runs), "re-solving changed the results"
    rows.append({"engine": "serial", "workers": 1, "runs": m, "seconds": t_on, "resolve": True, "ratio": 1.0})
    rows.append({"engine": "serial", "workers": 1, "runs": m, "seconds": t_off, "resolve": False,
                 "ratio": t_on / t_off})  # fmt: skip
    for r, load, cpu in zip(rows, _LOAD, _CPU, strict=True):
        r["load_before"] = load  # 1-minute load average of the machine before the measurement
        # CPU time of the sweep's processes (cpu / seconds = cores it kept busy); the pool's workers are
        # children of the forkserver, not of this process, so their time is not seen here
        r["cpu_seconds"] = None if r["engine"] == "process-pool" else cpu
    return rows


if __name__ == "__main__":
    rows = bench_sweep(quick="--quick" in sys.argv)
    print(
        f"{'engine':<14} {'workers':>7} {'runs':>5} {'resolve':>8} {'seconds':>9} {'ratio':>6} {'load':>5} {'cpu':>7}"
    )
    for r in rows:
        print(f"{r['engine']:<14} {r['workers']:>7} {r['runs']:>5} {r['resolve']!s:>8} {r['seconds']:>9.1f} "
              f"{r['ratio']:>6.2f} {r['load_before']:>5.2f} {r['cpu_seconds'] or float('nan'):>7.1f}")  # fmt: skip
    print("ratio: the time of the 1-worker re-solving row of the same runs over this row's time")
    pool = next(r for r in rows if r["engine"] == "process-pool")["seconds"]
    for r in rows:
        if r["engine"].startswith("dask"):
            print(f"{r['engine']}: {r['seconds'] / pool:.2f}× the time of the process pool")
