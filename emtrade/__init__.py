"""emtrade: simulate emission-permit markets for heavy metals.

The public API, for notebooks and scripts:

- :func:`load_scenario` reads and validates a scenario (YAML + CSV, or a dict);
- :func:`simulate` runs it: the market outcome and the command-and-control comparison;
- :class:`Results` holds the tidy tables of a run (``.enterprises``, ``.prices``, ``.summary``...);
- :func:`bundled_scenario` gives the path of a scenario shipped with emtrade;
- :func:`compare` collects runs (results, results folders, scenarios) for side-by-side statistics,
  charts and a comparison page (:mod:`emtrade.statistics`, :mod:`emtrade.plots`).

Heavy modules (pyomo, HiGHS, plotly) are imported only when a function needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from emtrade.paths import bundled_scenario, bundled_scenarios
from emtrade.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from emtrade.comparison import compare
    from emtrade.orders import clear_orders
    from emtrade.pipeline import simulate
    from emtrade.results import Results
    from emtrade.sweeps import sweep

__all__ = [
    "Results",
    "Scenario",
    "bundled_scenario",
    "bundled_scenarios",
    "clear_orders",
    "compare",
    "load_scenario",
    "simulate",
    "sweep",
]

_LAZY = {
    "simulate": "emtrade.pipeline",
    "Results": "emtrade.results",
    "clear_orders": "emtrade.orders",
    "compare": "emtrade.comparison",
    "sweep": "emtrade.sweeps",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emtrade' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
