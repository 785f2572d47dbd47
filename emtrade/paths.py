"""Where the bundled scenarios live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

DEFAULT_SCENARIO = "xiangtan"


def scenarios_root() -> Path:
    """The folder of bundled scenarios (``scenarios/`` of the source tree, packaged as emtrade.scenarios)."""
    try:
        from importlib.resources import files

        root = Path(str(files("emtrade.scenarios")))
        if root.is_dir():
            return root
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "scenarios"


def bundled_scenario(name: str = DEFAULT_SCENARIO) -> Path:
    """Path of the bundled scenario ``name`` (``'xiangtan'``, ``'textbook/fox_river'``, ...).

    >>> bundled_scenario("textbook/fox_river").name
    'fox_river.yaml'
    """
    root = scenarios_root()
    for candidate in (root / name / "scenario.yaml", root / f"{name}.yaml", root / name):
        if candidate.is_file():
            return candidate
    known = ", ".join(bundled_scenarios())
    raise FileNotFoundError(f"no bundled scenario '{name}'; the bundled ones are: {known}")


def bundled_scenarios() -> list[str]:
    """Names of the bundled scenarios.

    >>> names = bundled_scenarios()
    >>> "xiangtan" in names and "textbook/fox_river" in names
    True
    """
    root = scenarios_root()
    names = []
    for path in sorted(root.rglob("*.yaml")):
        rel = path.relative_to(root)
        names.append(str(rel.parent) if rel.name == "scenario.yaml" else str(rel.with_suffix("")))
    return names
