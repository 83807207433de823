"""Small scenarios for tests: a two-segment market that fills up in days, not months.

``tiny_scenario("scarcity", {"market.alternatives": 0.1})`` starts from the tiny market
with a strategy preset (or a raw strategy table), then sets dotted paths after the
preset is expanded, so ``strategy.tiers[0].price`` reaches preset knobs too.
``segments[*].field`` sets a field on every segment.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.metrics import Estimate, RunResult, estimate
from sim.model.customer import Customer
from sim.model.engine import Process, Replication, run_replication
from sim.model.events import VisitEvent
from sim.model.market import MarketReplication
from sim.model.rng import NEW
from sim.scenario import Scenario, scenario_from_raw
from sim.scenario.loader import expand_preset, set_path

TINY_MARKET: dict[str, Any] = {
    "run": {"name": "tiny", "days": 40, "warmup_days": 5, "replications": 3, "seed": 11},
    "business": {"servers": 2, "open_hour": 9, "close_hour": 17},
    "market": {"new_customers_per_day": 10.0, "alternatives": 0.5,
               "referral_delay": {"dist": "exponential", "mean": "3 d"}},
    "segments": [
        {"name": "regulars", "share": 0.6,
         "wtp": {"dist": "lognormal", "median": 75.0, "sigma": 0.25},
         "value_of_time_per_h": {"dist": "gamma", "mean": 15.0, "cv": 0.5},
         "service_time": {"dist": "gamma", "mean": "40 min", "cv": 0.4},
         "patience": {"dist": "exponential", "mean": "1 h"},
         "visit_interval": {"dist": "gamma", "mean": "1 w", "cv": 0.3},
         "request_rate": 0.5, "unreasonable_share": 0.2, "abuse_propensity": 0.03,
         "referral_propensity": 0.3, "loyalty": 0.5},
        {"name": "premium", "share": 0.4,
         "wtp": {"dist": "lognormal", "median": 130.0, "sigma": 0.3},
         "value_of_time_per_h": {"dist": "gamma", "mean": 50.0, "cv": 0.5},
         "service_time": {"dist": "gamma", "mean": "1 h", "cv": 0.4},
         "patience": {"dist": "exponential", "mean": "30 min"},
         "visit_interval": {"dist": "gamma", "mean": "10 d", "cv": 0.3},
         "request_rate": 1.0, "unreasonable_share": 0.25,
         "abuse_propensity": {"dist": "uniform", "low": 0.0, "high": 0.1},
         "referral_propensity": 0.4, "loyalty": 0.2},
    ],
}


def tiny_raw(strategy: str | Mapping[str, Any] = "god",
             settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The tiny market's raw table with a strategy (preset name or table) and settings."""
    raw = copy.deepcopy(TINY_MARKET)
    raw["strategy"] = ({"preset": strategy} if isinstance(strategy, str)
                       else copy.deepcopy(dict(strategy)))
    raw = expand_preset(raw, "<test>")
    apply_settings(raw, settings)
    return raw


def apply_settings(raw: dict[str, Any], settings: Mapping[str, Any] | None) -> None:
    """Set dotted paths in a raw table; ``segments[*].field`` sets it on every segment."""
    for path, value in (settings or {}).items():
        if path.startswith("segments[*]."):
            for i in range(len(raw["segments"])):
                _set(raw, f"segments[{i}].{path.removeprefix('segments[*].')}", value)
        else:
            _set(raw, path, value)


def _set(raw: dict[str, Any], path: str, value: Any) -> None:
    problem = set_path(raw, path, copy.deepcopy(value))
    assert problem is None, f"{path}: {problem}"


def tiny_scenario(strategy: str | Mapping[str, Any] = "god",
                  settings: Mapping[str, Any] | None = None) -> Scenario:
    return scenario_from_raw(tiny_raw(strategy, settings), source="<test>")


def tiny_file(path: Path, strategy: str | Mapping[str, Any] = "god",
              settings: Mapping[str, Any] | None = None) -> Path:
    """The tiny scenario written as a TOML file (for the command line)."""
    import tomli_w

    path.write_text(tomli_w.dumps(tiny_raw(strategy, settings)), encoding="utf-8")
    return path


def runs(scenario: Scenario, replications: Sequence[int]) -> list[RunResult]:
    """The given replications, one after another in this process."""
    return [run_replication(scenario, rep) for rep in replications]


def paired_difference(a: Sequence[RunResult], b: Sequence[RunResult], metric: str) -> Estimate:
    """Mean and 95% t-interval of ``a - b`` over replications run on the same seeds."""
    assert [r.replication for r in a] == [r.replication for r in b]
    return estimate([x.metrics[metric] - y.metrics[metric] for x, y in zip(a, b, strict=True)])


def clearly_positive(e: Estimate) -> bool:
    """The 95% interval lies above zero (NaN, e.g. from one replication, is not)."""
    return e.low > 0


class Recorder:
    """An engine observer that keeps what a test needs to recompute the books by hand:
    every prospect (key, when, segment) and every visit (sim.model.events.VisitEvent)."""

    def __init__(self) -> None:
        self.prospects: dict[tuple[int, ...], tuple[float, int]] = {}
        self.events: list[VisitEvent] = []

    def acquired(self, key: tuple[int, ...], now: float, customer: Customer) -> None:
        self.prospects[key] = (now, customer.segment)

    def referred(self, referrer: tuple[int, ...], key: tuple[int, ...]) -> None:
        pass

    def visit(self, key: tuple[int, ...], k: int, draws: list[float]) -> None:
        pass

    def visited(self, event: VisitEvent) -> None:
        self.events.append(event)


def scripted_run(scenario: Scenario, arrival_hours: Sequence[float],
                 recorder: Recorder | None = None) -> RunResult:
    """One replication whose new customers arrive exactly at the given hours (candidate
    i at ``arrival_hours[i]``) instead of by a Poisson process: small cases whose books
    can be computed by hand."""
    class Scripted(Replication):
        def new_customers(self) -> Generator[Any, Any, None]:
            for index, at in enumerate(arrival_hours):
                yield self.env.timeout(at - self.env.now)
                self.env.process(self.life((NEW, index), referred=False))

    return Scripted(scenario, 0, recorder).run()


def _named_replication(name: str, scenario: Scenario, replication: int
                       ) -> tuple[str, RunResult]:
    return name, run_replication(scenario, replication)


def run_many(scenarios: Mapping[str, Scenario], jobs: int = 2) -> dict[str, list[RunResult]]:
    """Every replication of every named scenario over one pool of processes (a pool per
    scenario would spend a second or two starting each), in replication order."""
    from sim.experiment.pool import run_parallel

    tasks = [(name, s, rep) for name, s in scenarios.items() for rep in range(s.run.replications)]
    found: dict[str, dict[int, RunResult]] = {name: {} for name in scenarios}
    for name, run in run_parallel(_named_replication, tasks, jobs):
        found[name][run.replication] = run
    return {name: [runs_[r] for r in sorted(runs_)] for name, runs_ in found.items()}


class Terminal(io.StringIO):
    """A stand-in for stderr that says it is a terminal, so progress bars draw on it."""

    def isatty(self) -> bool:
        return True


def queue_sizes_at_1pm(replication: Replication | MarketReplication) -> list[int]:
    """Run ``replication`` (a firm's or a market's); the size of SimPy's queue at 13:00
    of each day."""
    env, sizes = replication.env, []

    def watch() -> Process:
        yield env.timeout(13.0)
        while True:
            sizes.append(len(env._queue))
            yield env.timeout(24.0)

    env.process(watch())
    replication.run()
    return sizes
