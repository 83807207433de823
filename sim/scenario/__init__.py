"""The scenario language: TOML in, typed frozen objects out."""

from sim.scenario.errors import Issue, ScenarioError
from sim.scenario.loader import load_scenario, resolved_raw, scenario_from_raw
from sim.scenario.model import Scenario

__all__ = ["Issue", "Scenario", "ScenarioError", "load_scenario", "resolved_raw",
           "scenario_from_raw"]
