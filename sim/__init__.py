"""simrun: settle "the customer is God" with evidence, by discrete-event simulation.

Notebook use::

    import sim
    result = sim.run("scenarios/tiered.toml", replications=10)
    result.summary()
    cmp = sim.compare("scenarios/god.toml", "scenarios/tiered.toml")
    cmp.summary()
    why = sim.explain("scenarios/god.toml", "scenarios/tiered.toml")
    why.summary()
    sim.charts.headline(cmp)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "charts", "compare", "explain", "limits", "load_market", "load_scenario",
           "run", "run_market"]


def __getattr__(name: str) -> Any:
    """Lazy API: ``import sim`` stays cheap for the CLI and worker processes;
    ``sim.charts`` loads matplotlib when first used."""
    if name in ("run", "compare", "explain", "run_market"):
        from sim import api

        return getattr(api, name)
    if name == "load_scenario":
        from sim.scenario import load_scenario

        return load_scenario
    if name == "load_market":
        from sim.scenario.market import load_market

        return load_market
    if name in ("charts", "limits"):
        import importlib

        if name == "charts":
            import sim.api  # noqa: F401 -- results get their .charts
        return importlib.import_module(f"sim.{name}")
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
