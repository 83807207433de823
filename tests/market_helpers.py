"""Small markets for tests: the tiny market of helpers.py with rival firms."""

from __future__ import annotations

import copy
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from helpers import TINY_MARKET, apply_settings

from sim.metrics import MarketRunResult, RunResult
from sim.model.engine import LeanProcess
from sim.model.market import MarketReplication, run_market_replication
from sim.model.rng import NEW
from sim.scenario.market import MarketScenario, market_from_raw

Firm = tuple[str, Any] | tuple[str, Any, Mapping[str, Any]]


def tiny_market_raw(firms: Sequence[Firm],
                    settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The tiny market with firms given as (name, strategy) or (name, strategy,
    business), then dotted settings (``market.choice_scale``, ``firms[1].business...``)."""
    raw = copy.deepcopy(TINY_MARKET)
    raw["firms"] = [{"name": firm[0], "strategy": copy.deepcopy(firm[1]),
                     **({"business": dict(firm[2])} if len(firm) > 2 else {})}  # type: ignore[misc]
                    for firm in firms]
    apply_settings(raw, settings)
    return raw


def tiny_market(firms: Sequence[Firm], settings: Mapping[str, Any] | None = None
                ) -> MarketScenario:
    return market_from_raw(tiny_market_raw(firms, settings), source="<test>")


def market_runs(market: MarketScenario, replications: Sequence[int]) -> list[MarketRunResult]:
    return [run_market_replication(market, rep) for rep in replications]


def scripted_market_run(market: MarketScenario,
                        arrival_hours: Sequence[float]) -> MarketRunResult:
    """Replication 0 of the market, its new prospects arriving exactly at the given hours
    (candidate i at ``arrival_hours[i]``) instead of by a Poisson process, as
    helpers.scripted_run does for one firm: small cases whose books are worked out by
    hand."""
    return scripted_market_replication(market, arrival_hours).run()


def scripted_market_replication(market: MarketScenario,
                                arrival_hours: Sequence[float]) -> MarketReplication:
    """The replication of :func:`scripted_market_run`, not run yet: for a test that reads
    the firms' state once it has run."""
    replication = MarketReplication(market, 0)
    env = replication.env

    def scripted() -> Generator[Any, Any, None]:
        for index, at in enumerate(arrival_hours):
            yield env.timeout(at - env.now)
            LeanProcess(env, replication.life((NEW, index), referred=False))

    replication.new_customers = scripted  # type: ignore[method-assign]
    return replication


def fingerprint(run: RunResult) -> str:
    """Every field of a RunResult as text (floats by repr: bit for bit)."""
    daily = {key: list(values) for key, values in run.daily.items()}
    return repr((run.replication, run.metrics, daily, run.distributions, run.segments,
                 run.tiers, run.checks, run.visits_simulated))


def _named_market_replication(name: str, market: MarketScenario, replication: int
                              ) -> tuple[str, MarketRunResult]:
    return name, run_market_replication(market, replication)


def run_markets(markets: Mapping[str, MarketScenario], jobs: int = 2
                ) -> dict[str, list[MarketRunResult]]:
    """Every replication of every named market over one pool, in replication order."""
    from sim.experiment.pool import run_parallel

    tasks = [(name, m, rep) for name, m in markets.items() for rep in range(m.run.replications)]
    found: dict[str, dict[int, MarketRunResult]] = {name: {} for name in markets}
    for name, run in run_parallel(_named_market_replication, tasks, jobs):
        found[name][run.replication] = run
    return {name: [runs[r] for r in sorted(runs)] for name, runs in found.items()}
