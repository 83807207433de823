"""The scenario language: TOML in, typed frozen objects out.

The names below load on first use, so that importing one light part (the CLI needs
only :mod:`sim.scenario.errors` to start) does not load the typed model and the loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.scenario.errors import Issue, ScenarioError
    from sim.scenario.loader import load_scenario, resolved_raw, scenario_from_raw, scenario_toml
    from sim.scenario.model import Scenario

__all__ = ["Issue", "Scenario", "ScenarioError", "load_scenario", "resolved_raw",
           "scenario_from_raw", "scenario_toml"]


def __getattr__(name: str) -> Any:
    # Plain import statements (not importlib) so that ``python -X importtime`` shows them.
    if name in ("Issue", "ScenarioError"):
        from sim.scenario import errors

        return getattr(errors, name)
    if name == "Scenario":
        from sim.scenario import model

        return model.Scenario
    if name in ("load_scenario", "resolved_raw", "scenario_from_raw", "scenario_toml"):
        from sim.scenario import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")
