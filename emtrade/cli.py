"""The ``emtrade`` command: thin commands over the public API.

Errors in the input end with a message naming the file, row or key, and exit code 2; no
traceback unless ``--debug``. Heavy modules are imported inside the commands that need them, so
``emtrade --help`` and ``emtrade validate`` start fast.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from pathlib import Path

import click

from emtrade.errors import EmtradeError

DEBUG = {"on": False}


def _fail(message: str, code: int = 2) -> None:
    for line in str(message).splitlines() or [""]:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


def handle_errors(func):
    """Turn input errors into one-line messages with exit code 2; Ctrl-C into a clean exit."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
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
@handle_errors
def run(scenario, out, allow_outside, backend, time_limit, mip_gap):
    """Run SCENARIO (a YAML file, a folder, or a bundled name; default: the Xiangtan scenario).

    Writes summary.json, enterprises.csv, prices.csv, firms.csv, caps.csv, options.csv and
    abatement.csv into the results folder, whole or not at all.
    """
    from emtrade.scenario import load_scenario

    path = _resolve_scenario(scenario)
    sc = load_scenario(path, allow_outside=allow_outside)
    _print_warnings(sc.warnings)
    from emtrade.pipeline import simulate

    overrides = {
        k: v for k, v in {"backend": backend, "time_limit": time_limit, "mip_gap": mip_gap}.items() if v is not None
    }
    res = simulate(sc, **overrides)
    target = Path(out) if out else _default_out(path)
    res.save(target)
    click.echo(headline_table(res))
    _print_warnings([w for w in res.summary.get("warnings", []) if w not in sc.warnings])
    if res.summary["status"] != "optimal":
        click.echo(
            f"warning: the solver stopped with status '{res.summary['status']}': results are not proven optimal",
            err=True,
        )
    click.echo(f"results: {target}")


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


def _num(v, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:,.2f}{unit}" if abs(v) < 1e4 else f"{v:,.0f}{unit}"


def headline_table(res) -> str:
    """A terse table of the headline results for the terminal."""
    s = res.summary
    lines = [f"{s['scenario']}: {s['status']} ({s['solve_path']})"]
    lines.append(f"  total abatement cost       {_num(s['total_cost'])} CNY/yr")
    lines.append(f"  command-and-control cost   {_num(s['cac_total_cost'])} CNY/yr")
    share = s.get("savings_share")
    pct = f" ({share:.1%})" if isinstance(share, float) else ""
    lines.append(f"  savings from trading       {_num(s['savings'])} CNY/yr{pct}")
    lines.append(f"  permits traded             {_num(s['permits_traded'])} kg/yr")
    if s.get("government_revenue"):
        lines.append(f"  auction revenue            {_num(s['government_revenue'])} CNY/yr")
    p = res.prices
    if len(p):
        shown = p if len(p) <= 12 else p.sort_values("price", ascending=False).head(12)
        lines.append("  market            pollutant  period      price CNY/kg   interval")
        for r in shown.itertuples():
            interval = "" if r.price_low == r.price_high else f"[{_num(r.price_low)}, {_num(r.price_high)}]"
            lines.append(
                f"  {str(r.market)[:16]:<16}  {r.pollutant:<9}  {r.period!s:<10} {_num(r.price):>13}   {interval}"
            )
        if len(p) > 12:
            lines.append(f"  ... {len(p) - 12} more markets in prices.csv")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
