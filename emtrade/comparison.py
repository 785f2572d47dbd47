"""Comparing runs: a named collection of results, its statistics, charts and comparison page.

>>> import emtrade
>>> cmp = emtrade.compare("textbook/intercept", "textbook/fox_river")
>>> list(cmp)
['Two firms, MAC with an intercept', 'Fox River phosphorus (Callan & Thomas)']
>>> table = cmp.headline()        # one row per headline number, one column per scenario, Δ from the first
>>> costs = emtrade.statistics.costs(cmp)   # any statistic, with a leading ``scenario`` column
>>> figure = cmp.figures()["prices"]        # any chart, scenarios side by side
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as folder:  # the page that ``emtrade compare`` writes
...     page = cmp.to_html(pathlib.Path(folder) / "compare.html")
...     page.name
'compare.html'

A collection is a read-only mapping of scenario name to :class:`~emtrade.results.Results`; every
function of :mod:`emtrade.statistics` and :mod:`emtrade.plots` accepts it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from emtrade.errors import EmtradeError


class Comparison(Mapping):
    """Runs by scenario name, in the order given: a collection for statistics, plots and pages."""

    def __init__(self, runs: Mapping[str, Any]):
        if not runs:
            raise EmtradeError("nothing to compare: give at least one results folder or scenario")
        self._runs = {str(k): v for k, v in runs.items()}

    def __getitem__(self, name: str):
        return self._runs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __repr__(self) -> str:
        return f"Comparison({', '.join(self._runs)})"

    def headline(self, lang: str = "en"):
        """Headline numbers: one row per metric, one column per scenario, and Δ from the first scenario."""
        from emtrade.report import headline_differences

        return headline_differences(self, lang)

    def figures(self, lang: str = "en") -> dict:
        """Every chart of the report for the collection (plotly figures by key)."""
        from emtrade.plots import figures

        return figures(self, lang=lang)

    def to_html(self, path: str | os.PathLike, lang: str = "en") -> Path:
        """Write the comparison page to ``path`` (written whole or not at all)."""
        from emtrade.report import comparison_html

        return write_text_atomic(Path(path), comparison_html(self, lang))

    def save_images(self, folder: str | os.PathLike, fmt: str = "png", lang: str = "en") -> list[Path]:
        """Write every chart as ``folder/<chart>.<fmt>`` (needs kaleido; raises StaticExportUnavailable)."""
        from emtrade.plots import is_empty, save_figure

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [save_figure(f, folder / f"{k}.{fmt}") for k, f in self.figures(lang).items() if not is_empty(f)]


def write_text_atomic(path: Path, content: str) -> Path:
    """Write ``content`` to ``path`` through a temporary file beside it, so that it appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def is_results_folder(path: Path) -> bool:
    return path.is_dir() and (path / "summary.json").is_file()


def load_run(folder: str | os.PathLike):
    """Results saved in ``folder``, with the MAC segments and labels saved beside them where present."""
    from emtrade.report import load_extras
    from emtrade.results import Results

    return load_extras(Results.load(folder), folder)


def run_scenario(scenario, allow_outside: bool = False, **solver_overrides: Any):
    """Load and run a scenario (a path, a bundled name, a mapping or a Scenario) with what the charts need."""
    from emtrade.pipeline import simulate
    from emtrade.scenario import Scenario, load_scenario
    from emtrade.statistics import annotate

    if isinstance(scenario, Scenario):
        sc = scenario
    elif isinstance(scenario, Mapping):
        sc = load_scenario(dict(scenario))
    else:
        sc = load_scenario(resolve_scenario(scenario), allow_outside=allow_outside)
    return annotate(simulate(sc, **solver_overrides), sc)


def resolve_scenario(item: str | os.PathLike) -> Path:
    """A scenario file, a folder with scenario.yaml, or the name of a bundled scenario."""
    from emtrade.paths import bundled_scenario

    path = Path(item)
    if path.is_file() or (path.is_dir() and (path / "scenario.yaml").is_file()):
        return path
    try:
        return bundled_scenario(str(item))
    except FileNotFoundError:
        raise EmtradeError(
            f"{item}: not a results folder (no summary.json), a scenario file, nor a bundled scenario"
        ) from None


def _stem(item: Any) -> str:
    if isinstance(item, str | os.PathLike):
        p = Path(item)
        return p.parent.name if p.name == "scenario.yaml" else (p.stem or str(item))
    return ""


def compare(*items: Any, names: list[str] | None = None, allow_outside: bool = False, **solver_overrides: Any):
    """A :class:`Comparison` of runs given as results, results folders, scenario files or bundled names.

    Results folders are loaded; scenarios (a YAML path, a folder with scenario.yaml, a bundled name
    such as ``"xiangtan"``, a mapping or a Scenario) are run first, with ``solver_overrides``. A
    single mapping of names to any of these is accepted too. Scenario names come from the runs
    (``names`` overrides them); where two runs share a name, the file or folder name tells them apart.

    >>> from emtrade import compare
    >>> cmp = compare("textbook/price_ceiling", "textbook/rubin_banking", names=["ceiling", "banking"])
    >>> cmp
    Comparison(ceiling, banking)
    >>> [float(cmp[name].summary["total_cost"]) for name in cmp]
    [1250.0, 2762.5]
    """
    from emtrade.results import Results

    if len(items) == 1 and isinstance(items[0], Mapping) and not _looks_like_scenario(items[0]):
        names = names or [str(k) for k in items[0]]
        items = tuple(items[0].values())
    if not items:
        raise EmtradeError("nothing to compare: give at least one results folder or scenario")
    if names is not None and len(names) != len(items):
        raise EmtradeError(f"{len(names)} names for {len(items)} runs")
    runs, hints = [], []
    for item in items:
        if isinstance(item, Results):
            runs.append(item)
        elif isinstance(item, str | os.PathLike) and is_results_folder(Path(item)):
            runs.append(load_run(item))
        else:
            runs.append(run_scenario(item, allow_outside=allow_outside, **solver_overrides))
        hints.append(_stem(item))
    if names is None:
        names = unique_names([r.name for r in runs], hints)
    elif len(set(names)) != len(names):
        raise EmtradeError(f"scenario names must differ: {', '.join(names)}")
    return Comparison(dict(zip(names, runs, strict=True)))


def _looks_like_scenario(obj: Mapping) -> bool:
    return "enterprises" in obj and "pollutants" in obj


def unique_names(names: list[str], hints: list[str]) -> list[str]:
    """Names made unique: a repeated name gets its file or folder name, then a number."""
    out = []
    for name, hint in zip(names, hints, strict=True):
        candidate = name or hint or "run"
        if names.count(name) > 1 and hint and hint != name:
            candidate = f"{name} ({hint})"
        base, k = candidate, 2
        while candidate in out:
            candidate = f"{base} ({k})"
            k += 1
        out.append(candidate)
    return out

