"""emtrade's speed and memory benchmarks, run on demand (not in CI).

    python benchmarks/run.py            # the full run (about 35 minutes on a 2-core machine, sweep included)
    python benchmarks/run.py --quick    # a subset that finishes in under 2 minutes
    python benchmarks/run.py --only single,xiangtan --sizes 1e3,1e4

Every measurement runs in a fresh process (``benchmarks/cases.py``), so that its peak memory
(getrusage's maxrss: imports and the synthetic data included) is its own, and is stopped by a
timeout if it runs too long. The table gives, per case, size N and method: build, solve and total
wall seconds, peak memory, and the ratio to a reference measured in the same run:

- ``single`` (N enterprises × 5 steps, one metal, one cap): emtrade's build + solve over the plain
  numpy merit order (the lower bound) and over the LP built directly in highspy (ipm, presolve
  off); a classic pyomo build over emtrade;
- ``city`` (N enterprises, five metals, five periods, sector caps, banking): emtrade's build + solve
  over the direct highspy LP; classic pyomo over emtrade;
- ``xiangtan``: the bundled scenario end to end (``emtrade.simulate``), model build against solve;
- ``startup``: ``emtrade --help`` and ``emtrade validate``, wall time and whether pyomo or plotly
  were imported;
- ``sweep``: rows from ``benchmarks/sweep_bench.py`` (``bench_sweep(quick)``), if that file exists.

The rows are printed as a table and written as JSON to ``benchmarks/results/<time>.json`` and
``benchmarks/results/latest.json`` (git-ignored: every run is local; the reference run is
``benchmarks/reference.json`` and the table in docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PYOMO_TIMEOUT = 300.0  # the brief: pyomo where it finishes within 5 minutes

FULL = {
    "single": {
        "sizes": [1e3, 1e4, 1e5, 1e6],
        "methods": ["emtrade", "numpy", "highspy", "highspy-default", "pyomo"],
        "limits": {"highspy-default": 1e4, "pyomo": 1e5},  # pyomo at 1e6: far beyond 5 minutes
    },
    "city": {
        "sizes": [1e3, 1e4, 1e5],
        "methods": ["emtrade", "emtrade-intervals", "emtrade-lp", "highspy", "pyomo"],
    },
}
QUICK = {
    "single": {
        "sizes": [1e3, 1e4, 1e5],
        "methods": ["emtrade", "numpy", "highspy", "pyomo"],
        "limits": {"pyomo": 1e4},
    },
    "city": {"sizes": [1e3, 1e4], "methods": ["emtrade", "emtrade-lp", "highspy", "pyomo"], "limits": {"pyomo": 1e3}},
}


def machine() -> dict:
    """CPU model, cores, memory and versions: what the numbers were measured on."""
    info: dict = {"platform": platform.platform(), "python": platform.python_version(), "cores": os.cpu_count()}
    try:
        cpu = Path("/proc/cpuinfo").read_text().splitlines()

        def field(name: str) -> str:
            return next((ln.split(":", 1)[1].strip() for ln in cpu if ln.split(":")[0].strip() == name), "?")

        info["cpu"] = field("model name")
        info["cpu_detail"] = (
            f"family {field('cpu family')} model {field('model')} stepping {field('stepping')}, "
            f"{float(field('cpu MHz')):.0f} MHz, cache {field('cache size')}"
            + (", virtual machine" if any("hypervisor" in ln for ln in cpu if ln.startswith("flags")) else "")
        )
        mem = Path("/proc/meminfo").read_text()
        kib = int(next(ln.split()[1] for ln in mem.splitlines() if ln.startswith("MemTotal")))
        info["memory_gib"] = round(kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    from importlib import metadata

    for pkg in ("emtrade", "numpy", "scipy", "pandas", "highspy", "pyomo"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[pkg] = "unknown"
    return info


def measure(case: str, method: str, n: float, timeout: float) -> dict:
    """One row from a fresh process (see cases.py), or a row saying why there is none."""
    row = {"case": case, "method": method, "n": int(n), "load_before": round(os.getloadavg()[0], 2)}
    cmd = [sys.executable, str(HERE / "cases.py"), case, method, str(int(n))]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {**row, "note": f"timeout: over {timeout:.0f} s", "total_s": None}
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("ROW=")), None)
    if proc.returncode != 0 or line is None:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {**row, "note": f"failed: {err[:150]}", "total_s": None}
    return {**row, **json.loads(line[4:]), "wall_with_startup_s": time.perf_counter() - t0}


def best_of(case: str, method: str, n: float, timeout: float, repeat: int) -> dict:
    """The fastest of ``repeat`` runs (by total time; the machine may be shared), with every total kept."""
    rows = [measure(case, method, n, timeout) for _ in range(repeat)]
    ok = [r for r in rows if r.get("total_s") is not None]
    if not ok:
        return rows[0]
    best = min(ok, key=lambda r: r["total_s"])
    if repeat > 1:
        best["totals_s"] = [r["total_s"] for r in ok]
    return best


def run_case(case: str, plan: dict, sizes, timeout: float, repeat: int, log) -> list[dict]:
    rows = []
    skip_from: dict[str, str] = {}  # method → why larger sizes are skipped
    for n in sizes or plan["sizes"]:
        for method in plan["methods"]:
            limit = plan.get("limits", {}).get(method)
            if limit is not None and n > limit:
                continue
            if method in skip_from:
                rows.append({"case": case, "method": method, "n": int(n), "total_s": None, "note": skip_from[method]})
                log(rows[-1])
                continue
            t_out = min(timeout, PYOMO_TIMEOUT) if method == "pyomo" else timeout
            t_out = min(t_out, plan.get("timeouts", {}).get(method, t_out))
            row = best_of(case, method, n, t_out, repeat if n <= 1e3 else 1)
            rows.append(row)
            log(row)
            if method == "pyomo":
                took = row.get("wall_with_startup_s") or t_out
                if row.get("total_s") is None or 10 * took > PYOMO_TIMEOUT:
                    # build and solve grow at least linearly: ten times more firms would take ≥ 10× as long
                    skip_from[method] = (
                        f"skipped: N = {int(n):.0e} took {took:.0f} s, so 10× more is over {PYOMO_TIMEOUT:.0f} s"
                        if row.get("total_s") is not None
                        else f"skipped: N = {int(n):.0e} did not finish within {PYOMO_TIMEOUT:.0f} s"
                    )
    add_ratios(rows)
    return rows


def add_ratios(rows: list[dict]) -> None:
    """emtrade's build + solve against the references of the same case and size, measured in this run."""
    by = {(r["case"], r["n"], r["method"]): r for r in rows if r.get("total_s")}
    for r in rows:
        if not r.get("total_s"):
            continue
        case, n, m = r["case"], r["n"], r["method"]
        em = by.get((case, n, "emtrade"))
        ratios = {}
        if m.startswith("emtrade"):
            for ref in ("numpy", "highspy"):
                if (case, n, ref) in by:
                    ratios[f"vs_{ref}"] = r["total_s"] / by[(case, n, ref)]["total_s"]
        elif m == "pyomo" and em is not None:
            ratios["pyomo_over_emtrade"] = r["total_s"] / em["total_s"]
            ratios["pyomo_build_over_emtrade"] = r["build_s"] / em["total_s"]
        r["ratios"] = ratios


def run_xiangtan(timeout: float, repeat: int, log) -> list[dict]:
    row = best_of("xiangtan", "emtrade", 0, timeout, repeat)
    row["n"] = 203
    if row.get("total_s"):
        row["ratios"] = {"build_over_solve": row["build_s"] / row["solve_s"]}
    log(row)
    return [row]


def run_startup(log) -> list[dict]:
    """``emtrade --help`` and ``emtrade validate``: wall time of a fresh process, heavy modules imported."""
    probe = (
        "import json, sys, time; t = time.perf_counter(); from emtrade.cli import main\n"
        "try:\n    main({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print('ROW=' + json.dumps({{'seconds': time.perf_counter() - t, "
        "'heavy': sorted({{m.split('.')[0] for m in sys.modules}} & {{'pyomo', 'plotly'}})}}))"
    )
    rows = []
    xiangtan = str(ROOT / "scenarios" / "xiangtan" / "scenario.yaml")
    for label, args in (("emtrade --help", ["--help"]), ("emtrade validate xiangtan", ["validate", xiangtan])):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", probe.format(args=args)], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        wall = time.perf_counter() - t0
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("ROW=")), None)
        data = json.loads(line[4:]) if line else {"seconds": None, "heavy": ["?"]}
        row = {"case": "startup", "method": label, "n": 0, "total_s": wall, "heavy_imports": data["heavy"],
               "note": "imports " + (", ".join(data["heavy"]) or "neither pyomo nor plotly")}  # fmt: skip
        rows.append(row)
        log(row)
    return rows


# --- the sweep row: filled by benchmarks/sweep_bench.py (the sweep's own file) ------------------
def run_sweep(quick: bool, log) -> list[dict]:
    """Rows of ``bench_sweep(quick)`` from benchmarks/sweep_bench.py ("100 Xiangtan runs on 1 and 2
    workers"), if the file exists; they keep their own columns and are printed as they come."""
    if not (HERE / "sweep_bench.py").exists():
        return [{"case": "sweep", "note": "benchmarks/sweep_bench.py not found: no sweep rows"}]
    sys.path.insert(0, str(HERE))
    from sweep_bench import bench_sweep

    rows = [{"case": "sweep", **r} for r in bench_sweep(quick)]
    for r in rows:
        log(r)
    return rows


# --------------------------------------------------------------------------------------------------
# the table


def _num(v, fmt="{:.3g}") -> str:
    if v is None:
        return "-"
    return fmt.format(v)


def _cells(r: dict) -> tuple[str, list[str], str, str]:
    """N, the build/solve/total/peak cells, the ratios and the note of one row, as text."""
    ratios = ", ".join(f"{k} {v:.2f}" for k, v in (r.get("ratios") or {}).items())
    n = f"{r['n']:.0e}" if r.get("n") else "-"
    cells = [_num(r.get(k)) for k in ("build_s", "solve_s", "total_s")] + [_num(r.get("peak_mib"), "{:.0f}")]
    return n, cells, ratios, r.get("note", "")


def format_table(rows: list[dict]) -> str:
    head = f"{'case':<9} {'N':>8} {'method':<26} {'build s':>9} {'solve s':>9} {'total s':>9} {'peak MiB':>9}  ratios"
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.get("case") == "sweep":
            continue
        n, cells, ratios, note = _cells(r)
        lines.append(
            f"{r['case']:<9} {n:>8} {r['method']:<26} " + " ".join(f"{c:>9}" for c in cells) + f"  {ratios}"
            + (f"  {note}" if note else "")
        )  # fmt: skip
    sweep = [r for r in rows if r.get("case") == "sweep"]
    if sweep:
        lines += ["", "sweep (benchmarks/sweep_bench.py):"]
        keys = [k for k in sweep[0] if k != "case"]
        lines.append("  " + "  ".join(f"{k:>12}" for k in keys))
        for r in sweep:
            lines.append("  " + "  ".join(f"{_num(r.get(k)) if isinstance(r.get(k), float) else str(r.get(k)):>12}"
                                          for k in keys))  # fmt: skip
    return "\n".join(lines)


def format_markdown(rows: list[dict]) -> str:
    """The table of the non-sweep rows in Markdown, as docs/performance.md shows it."""
    lines = ["| case | N | method | build s | solve s | total s | peak MiB | ratios (same run) |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for r in rows:
        if r.get("case") == "sweep":
            continue
        n, cells, ratios, note = _cells(r)
        lines.append(f"| {r['case']} | {n} | {r['method']} | " + " | ".join(cells)
                     + f" | {'; '.join(x for x in (ratios, note) if x)} |")  # fmt: skip
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[str]:
    """The targets of issue 6, checked on this run's rows (where the run measured them)."""
    by = {(r.get("case"), r.get("n"), r.get("method")): r for r in rows}
    out = []

    def check(label, ok, detail):
        out.append(f"{'PASS' if ok else 'MISS'}  {label}: {detail}")

    em = by.get(("single", 1_000_000, "emtrade"))
    if em and em.get("total_s"):
        r = em["ratios"].get("vs_numpy")
        check("single market 1M × 5: emtrade ≤ 3× numpy merit order", r is not None and r <= 3, f"{r:.2f}×")
        model = em.get("peak_model_mib", em["peak_mib"])
        check("single market 1M × 5: peak memory ≤ 2 GiB (inputs, model, solve)", model <= 2048, f"{model:.0f} MiB")
        check("single market 1M × 5: peak memory ≤ 2 GiB (with the results tables)", em["peak_mib"] <= 2048,
              f"{em['peak_mib']:.0f} MiB")  # fmt: skip
    em = by.get(("city", 100_000, "emtrade"))
    hs = by.get(("city", 100_000, "highspy"))
    if em and hs and hs.get("total_s"):
        if em.get("total_s"):
            r = em["total_s"] / hs["total_s"]
            check("city 1e5: emtrade build + solve ≤ 1.5× direct highspy", r <= 1.5, f"{r:.2f}×")
        else:
            check("city 1e5: emtrade build + solve ≤ 1.5× direct highspy", False, em.get("note", "no result"))
    py = by.get(("city", 100_000, "pyomo"))
    if em and py:
        if py.get("total_s") and em.get("total_s"):
            r = py["total_s"] / em["total_s"]
            check("city 1e5: emtrade ≥ 5× faster than classic pyomo", r >= 5, f"{r:.1f}×")
        elif em.get("total_s"):
            check("city 1e5: emtrade ≥ 5× faster than classic pyomo", True,
                  f"pyomo: {py.get('note')}; emtrade {em['total_s']:.0f} s")  # fmt: skip
    lp = by.get(("city", 100_000, "emtrade-lp"))
    if lp and hs and hs.get("total_s") and lp.get("total_s"):
        r = lp["total_s"] / hs["total_s"]
        check("city 1e5, the LP path (fast_path off): ≤ 1.5× direct highspy", r <= 1.5, f"{r:.2f}×")
    xt = by.get(("xiangtan", 203, "emtrade"))
    if xt and xt.get("total_s"):
        check("Xiangtan: model build < solve", xt["build_s"] < xt["solve_s"],
              f"build {xt['build_s']:.3f} s, solve {xt['solve_s']:.3f} s")  # fmt: skip
    for r in rows:
        if r.get("case") == "startup":
            check(f"{r['method']} imports neither pyomo nor plotly", not r["heavy_imports"],
                  f"{r['total_s']:.2f} s, {r['note']}")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a subset that finishes in under 2 minutes")
    ap.add_argument("--only", help="comma-separated: single, city, xiangtan, startup, sweep")
    ap.add_argument("--sizes", help="comma-separated N for single and city (e.g. 1e3,1e4)")
    ap.add_argument("--methods", help="comma-separated methods for single and city (e.g. emtrade,highspy)")
    ap.add_argument(
        "--repeat", type=int, help="runs per measurement for N ≤ 1e3, the fastest kept (default 3; quick 1)"
    )
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per measurement (pyomo: at most 300)")
    ap.add_argument("--sweep", action="store_true", help="with --quick: include the sweep rows (they take minutes)")
    ap.add_argument("--out", type=Path, help="JSON file to write (default benchmarks/results/<time>.json)")
    ap.add_argument("--markdown", type=Path, metavar="JSON", help="print the table of a results file in Markdown")
    args = ap.parse_args(argv)
    if args.markdown:
        doc = json.loads(args.markdown.read_text())
        print(format_markdown(doc["rows"]))
        print("\n" + "\n".join(doc.get("targets", [])))
        return 0
    plan = QUICK if args.quick else FULL
    repeat = args.repeat or (1 if args.quick else 3)
    default = ["startup", "single", "city", "xiangtan"] + ([] if args.quick and not args.sweep else ["sweep"])
    only = args.only.split(",") if args.only else default
    sizes = [float(s) for s in args.sizes.split(",")] if args.sizes else None
    started = time.time()
    info = machine()
    info["load_at_start"] = os.getloadavg()
    cpu, cores, mem = info.get("cpu", "?"), info["cores"], info.get("memory_gib", "?")
    print(f"{cpu} ({info.get('cpu_detail', '')}), {cores} cores, {mem} GiB; load {info['load_at_start']}")

    def log(row):
        ratios = ", ".join(f"{k} {v:.2f}" for k, v in (row.get("ratios") or {}).items())
        print(f"  {row.get('case')} {row.get('method', '')} N={row.get('n', '')}: total {_num(row.get('total_s'))} s, "
              f"peak {_num(row.get('peak_mib'), '{:.0f}')} MiB {row.get('note', '')} {ratios}", flush=True)  # fmt: skip

    rows: list[dict] = []
    for case in only:
        if case in plan:
            spec = plan[case]
            if args.methods:
                spec = {**spec, "methods": [m for m in spec["methods"] if m in args.methods.split(",")]}
            rows += run_case(case, spec, sizes, args.timeout, repeat, log)
        elif case == "xiangtan":
            rows += run_xiangtan(args.timeout, repeat, log)
        elif case == "startup":
            rows += run_startup(log)
        elif case == "sweep":
            rows += run_sweep(args.quick, log)
    info["load_at_end"] = os.getloadavg()
    info["seconds"] = time.time() - started
    checks = targets(rows)
    print()
    print(format_table(rows))
    print()
    print("\n".join(checks))
    out = args.out or RESULTS / time.strftime("%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"machine": info, "quick": args.quick, "rows": rows, "targets": checks}
    out.write_text(json.dumps(doc, indent=1, default=float))
    if args.out is None:
        (RESULTS / "latest.json").write_text(json.dumps(doc, indent=1, default=float))
    print(f"\nwritten: {out} ({info['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
