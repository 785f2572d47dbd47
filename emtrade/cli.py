"""The ``emtrade`` command: thin commands over the public API.

Errors in the input end with a message naming the file, row or key, and exit code 2; no
traceback unless ``--debug``. Heavy modules are imported inside the commands that need them, so
``emtrade --help`` and ``emtrade validate`` start fast.
"""

from __future__ import annotations

import functools
import math
import re
import signal
import sys
import threading
from pathlib import Path

import click

from emtrade.errors import EmtradeError

DEBUG = {"on": False}


def _fail(message: str, code: int = 2) -> None:
    for line in str(message).splitlines() or [""]:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def handle_errors(func):
    """Turn input errors into one-line messages with exit code 2; Ctrl-C into a clean exit."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        # SIGTERM ends a run like Ctrl-C: the temporary results folder is removed, old results stay
        previous = signal.signal(signal.SIGTERM, _terminate) if _main_thread() else None
        try:
            return func(*args, **kwargs)
        except EmtradeError as exc:
            if DEBUG["on"]:
                raise
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: nothing was written", err=True)
            sys.exit(130)
        except OSError as exc:
            if DEBUG["on"]:
                raise
            _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        except Exception as exc:  # a bug: say so plainly, with the way to see more
            if DEBUG["on"]:
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
            sys.exit(1)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="emtrade")
def main(debug: bool) -> None:
    """Simulate heavy-metal emission-permit markets (sector caps, allocation, trading)."""
    DEBUG["on"] = debug


def _resolve_scenario(scenario: str | None) -> Path:
    from emtrade.paths import DEFAULT_SCENARIO, bundled_scenario

    if scenario is None:
        return bundled_scenario(DEFAULT_SCENARIO)
    path = Path(scenario)
    if path.exists():
        return path
    try:
        return bundled_scenario(scenario)
    except FileNotFoundError:
        raise EmtradeError(f"{scenario}: no such file, and not the name of a bundled scenario") from None


def _default_out(path: Path) -> Path:
    stem = path.parent.name if path.name == "scenario.yaml" else path.stem
    slug = re.sub(r"[^\w.-]+", "_", stem).strip("_") or "run"
    return Path("results") / slug


def _print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        click.echo(f"warning: {w}", err=True)


@main.command()
@click.argument("scenario", required=False)
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Results folder (default results/<scenario>).")
@click.option("--allow-outside", is_flag=True, help="Let table paths leave the scenario's folder.")
@click.option("--backend", type=click.Choice(["highs", "pyomo"]), help="Override the solver backend.")
@click.option("--time-limit", type=float, help="Time limit per solve, seconds.")
@click.option("--mip-gap", type=float, help="Relative MIP gap.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True, help="Report language.")
@click.option("--no-report", is_flag=True, help="Write the tables only, without report.html.")
@handle_errors
def run(scenario, out, allow_outside, backend, time_limit, mip_gap, lang, no_report):
    """Run SCENARIO (a YAML file, a folder, or a bundled name; default: the Xiangtan scenario).

    Writes summary.json, enterprises.csv, prices.csv, firms.csv, caps.csv, options.csv and
    abatement.csv into the results folder, with report.html (charts and tables, works offline) and
    what the charts need (supply.csv, labels.json) unless --no-report: whole or not at all.
    """
    from emtrade.scenario import load_scenario
    from emtrade.scenario.loader import check_solver_overrides

    # the options override the scenario's solver keys: the same bounds apply (--mip-gap 2 is refused)
    overrides = check_solver_overrides(
        {"backend": backend, "time_limit": time_limit, "mip_gap": mip_gap},
        {"backend": "--backend", "time_limit": "--time-limit", "mip_gap": "--mip-gap"},
    )
    path = _resolve_scenario(scenario)
    sc = load_scenario(path, allow_outside=allow_outside)
    _print_warnings(sc.warnings)
    from emtrade.pipeline import simulate

    res = simulate(sc, **overrides)
    target = Path(out) if out else _default_out(path)
    if not no_report:
        from emtrade.statistics import annotate

        annotate(res, sc)
    res.save(target, report=not no_report, lang=lang)
    click.echo(headline_table(res))
    _print_warnings([w for w in res.summary.get("warnings", []) if w not in sc.warnings])
    if res.summary["status"] != "optimal":
        click.echo(
            f"warning: the solver stopped with status '{res.summary['status']}': results are not proven optimal",
            err=True,
        )
    click.echo(f"results: {target}")
    if not no_report:
        click.echo(f"report: {target / 'report.html'}")


@main.command()
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False), default="compare.html", show_default=True, help="The page."
)
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True, help="Page language.")
@click.option("--names", help="Comma-separated scenario names, one per run (default: the scenarios' names).")
@click.option(
    "--images",
    type=click.Choice(["png", "svg", "pdf"]),
    help="Also write every chart as an image into OUT's folder (<page>-figures/); needs kaleido.",
)
@click.option("--allow-outside", is_flag=True, help="Let table paths leave the scenario's folder.")
@handle_errors
def compare(runs, out, lang, names, images, allow_outside):
    """Compare RUNS side by side: results folders (of emtrade run), scenario files or bundled names.

    Scenarios are run first (nothing is saved but the page). The page holds the headline numbers of
    every run with their differences from the first, the permit prices, and every chart of the
    report with the scenarios side by side or overlaid; it works offline.
    """
    from emtrade.comparison import compare as compare_runs

    name_list = [n.strip() for n in names.split(",")] if names else None
    cmp = compare_runs(*runs, names=name_list, allow_outside=allow_outside)
    target = cmp.to_html(Path(out), lang=lang)
    click.echo(f"compared: {', '.join(cmp)}")
    click.echo(f"page: {target}")
    if images:
        from emtrade.plots import StaticExportUnavailable

        folder = target.with_name(f"{target.stem}-figures")
        try:
            written = cmp.save_images(folder, images, lang=lang)
            click.echo(f"images: {len(written)} charts in {folder}")
        except StaticExportUnavailable as exc:
            click.echo(f"warning: no images written: {exc}", err=True)


@main.command("sweep")
@click.argument("scenario")
@click.option(
    "-o", "--out", type=click.Path(file_okay=False), help="Results folder (default results/<scenario>-sweep)."
)
@click.option(
    "--set",
    "set_",
    multiple=True,
    metavar="KEY=V1,V2,...",
    help="Values of a dotted scenario key (YAML scalars); repeat for a grid over every combination.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    help="Monte Carlo draws of the scenario's uncertainty section (at most 100,000 per grid point).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the draws.")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Local worker processes (default: one per CPU; at most 256)."
)
@click.option("--scheduler", metavar="ADDRESS", help="Run on the dask.distributed cluster at ADDRESS.")
@click.option(
    "--dask-local",
    type=click.IntRange(min=1),
    metavar="W",
    help="Start a local dask cluster of W workers (at most 256).",
)
@click.option("--no-report", is_flag=True, help="Write the tables only, without report.html.")
@click.option("--allow-outside", is_flag=True, help="Let table paths leave the scenario's folder.")
@handle_errors
def sweep(scenario, out, set_, samples, seed, workers, scheduler, dask_local, no_report, allow_outside):
    """Run SCENARIO over a grid of --set values and/or --samples Monte Carlo draws.

    Writes runs.csv (one row per run: its values, status and error, total cost, command-and-control
    cost, savings, the price of every market and period, the worst receptor margin), summary.csv
    (quantiles), draws.csv, timings.csv, sweep.json and report.html (fan charts, works offline),
    whole or not at all. A failed run is recorded with its error; the sweep goes on. The results
    do not depend on the engine or the number of workers. The guide: docs/sweep.md.
    """
    from emtrade.scenario import load_scenario
    from emtrade.sweeps import parse_set
    from emtrade.sweeps import sweep as run_sweep

    grid = parse_set(set_)
    path = _resolve_scenario(scenario)
    sc = load_scenario(path, allow_outside=allow_outside)
    _print_warnings(sc.warnings)
    target = Path(out) if out else _default_out(path).with_name(_default_out(path).name + "-sweep")
    res = run_sweep(
        sc, set=grid, samples=samples, seed=seed, workers=workers, scheduler=scheduler, dask_local=dask_local,
        out=target, report=not no_report,
    )  # fmt: skip
    m = res.meta
    click.echo(f"{m['scenario']}: {m['runs']} runs, {m['failed']} failed, {m['seconds']:.1f} s "
               f"({m['engine']}, {m['workers']} workers)")  # fmt: skip
    overall = res.summary[res.summary.point == "all"].set_index("quantity")
    for q, label in (("total_cost", "total cost"), ("savings", "savings")):
        if q in overall.index and overall.at[q, "runs"]:
            r = overall.loc[q]
            click.echo(f"  {label:<11} median {_num(r.p50)}  5-95 % [{_num(r.p05)}, {_num(r.p95)}] CNY/yr")
    if m["failed"]:
        click.echo(f"warning: {m['failed']} runs failed: see status and error in runs.csv", err=True)
    click.echo(f"results: {target}")
    if not no_report:
        click.echo(f"report: {target / 'report.html'}")
    if m["failed"] == m["runs"]:
        _fail("every run failed (see runs.csv)", 1)


@main.command()
@click.argument("scenario")
@click.option("--allow-outside", is_flag=True, help="Let table paths leave the scenario's folder.")
@handle_errors
def validate(scenario, allow_outside):
    """Check SCENARIO without solving: schema, references, and warnings."""
    from emtrade.scenario import load_scenario

    path = _resolve_scenario(scenario)
    sc = load_scenario(path, allow_outside=allow_outside)
    _print_warnings(sc.warnings)
    click.echo(f"{path}: valid. {sc!r}")


@main.command("scenarios")
def list_scenarios():
    """List the bundled scenarios."""
    from emtrade.paths import bundled_scenarios

    for name in bundled_scenarios():
        click.echo(name)


@main.command("clear")
@click.argument("orders", type=click.Path(dir_okay=False))
@click.option("--supply", type=float, help="Permits for sale, kg: a sealed-bid auction (the book holds bids only).")
@click.option("--reserve-price", type=float, help="Price floor, CNY/kg: bids below it are rejected.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write the result as JSON to this file.")
@handle_errors
def clear(orders, supply, reserve_price, out):
    """Clear the book ORDERS (CSV or .xlsx: id, side, quantity, price) at one uniform price.

    Without --supply: a call market of bids and asks. With --supply: a sealed-bid uniform-price
    auction of that many permits. Ties at the margin are rationed pro rata. The JSON holds price,
    price_low, price_high (CNY/kg), volume (kg) and filled (order id -> kg); it is written whole or not
    at all. The rules: docs/orders.md.
    """
    from emtrade.orders import clear_orders

    result = clear_orders(Path(orders), supply=supply, reserve_price=reserve_price)
    if out:
        result.save(out)
    click.echo(result.to_text())
    if out:
        click.echo(f"result: {out}")


def _num(v, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:,.2f}{unit}" if abs(v) < 1e4 else f"{v:,.0f}{unit}"


def headline_table(res) -> str:
    """A terse table of the headline results for the terminal."""
    s = res.summary
    periods = s.get("periods") or []
    # amounts are sums over the periods: per year only when there is one
    money = "CNY/yr" if len(periods) <= 1 else f"CNY over {periods[0]}–{periods[-1]}"
    mass = "kg/yr" if len(periods) <= 1 else f"kg over {periods[0]}–{periods[-1]}"
    lines = [f"{s['scenario']}: {s['status']} ({s['solve_path']})"]
    lines.append(f"  total abatement cost       {_num(s['total_cost'])} {money}")
    lines.append(f"  command-and-control cost   {_num(s['cac_total_cost'])} {money}")
    share = s.get("savings_share")
    pct = f" ({share:.1%})" if isinstance(share, float) else ""
    lines.append(f"  savings from trading       {_num(s['savings'])} {money}{pct}")
    lines.append(f"  permits traded             {_num(s['permits_traded'])} {mass}")
    if s.get("government_revenue"):
        lines.append(f"  government revenue         {_num(s['government_revenue'])} {money}")
    if s.get("excess"):
        lines.append(
            f"  discharge beyond permits   {_num(s['excess'])} {mass} (penalties {_num(s.get('penalties'))} {money})"
        )
    p = res.prices
    if len(p):
        shown = p if len(p) <= 12 else p.sort_values("price", ascending=False).head(12)
        lines.append("  market            pollutant  period      price CNY/kg   interval")
        for r in shown.itertuples():
            same = math.isclose(r.price_low, r.price_high, rel_tol=1e-9, abs_tol=1e-9)
            interval = "" if same else f"[{_num(r.price_low)}, {_num(r.price_high)}]"
            lines.append(
                f"  {str(r.market)[:16]:<16}  {r.pollutant:<9}  {r.period!s:<10} {_num(r.price):>13}   {interval}"
            )
        if len(p) > 12:
            lines.append(f"  ... {len(p) - 12} more markets in prices.csv")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
