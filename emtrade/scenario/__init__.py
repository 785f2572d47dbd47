"""Scenario files: schema, loading, validation."""

from emtrade.scenario.loader import Scenario, load_scenario

__all__ = ["Scenario", "load_scenario"]
