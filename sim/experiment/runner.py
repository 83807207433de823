"""Replications of one scenario, in this process or over local worker processes.

Each replication is a pure function of (scenario, replication index), so the results
do not depend on how many workers ran them or in which order they finished: the list
is ordered by replication before anything is summarised. Worker processes come from
:mod:`sim.experiment.pool`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sim import __version__
from sim.experiment.pool import run_parallel
from sim.metrics import METRICS, Estimate, RunResult, estimate
from sim.model.engine import run_replication
from sim.scenario.model import Scenario

Progress = Callable[[RunResult], None]

_chart_book: Callable[[Any], Any] | None = None


def attach_charts(chart_book: Callable[[Any], Any]) -> None:
    """Give results their ``.charts``: ``chart_book(result)`` makes the object behind
    ``result.charts``. The charts sit above this layer, which never imports them; the
    layer that wires the two (:mod:`sim.api`) attaches them here instead."""
    global _chart_book
    _chart_book = chart_book


def charts_of(result: Any) -> Any:
    """``result.charts`` of a run or a comparison, as attached by :func:`attach_charts`."""
    if _chart_book is None:
        raise AttributeError("charts are attached by sim.api (sim.run and sim.compare load "
                             "it): import sim.api, or call sim.charts.headline(result)")
    return _chart_book(result)


@dataclass(frozen=True)
class ScenarioResult:
    """All replications of one scenario, in replication order."""

    scenario: Scenario
    runs: tuple[RunResult, ...]
    version: str = __version__
    precision: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """Replications run until the metric's interval was narrow enough (``--precision``,
    ``--half-width``): the target and what was reached; None for a fixed number."""
    _summary: dict[str, Estimate] = field(default_factory=dict, repr=False, compare=False)

    @property
    def seed(self) -> int:
        return self.scenario.run.seed

    def estimates(self) -> dict[str, Estimate]:
        """Mean and 95% t-interval of every metric over the replications."""
        if not self._summary:
            for metric in METRICS:
                values = [run.metrics[metric.key] for run in self.runs]
                self._summary[metric.key] = estimate(values)
        return self._summary

    @property
    def charts(self) -> Any:
        """The workshop charts for this one strategy: ``result.charts.waterfall()``."""
        return charts_of(self)

    def summary(self) -> Any:
        """One row per metric (mean, sd, CI, n): a pandas DataFrame when pandas is
        installed, else a list of dicts with the same columns."""
        period = self.scenario.run.retention_period_days
        return tabulate([{"metric": m.key, "label": m.text(period), "unit": m.unit,
                          "mean": e.mean, "sd": e.sd, "ci_low": e.low, "ci_high": e.high,
                          "n": e.n}
                         for m, e in ((m, self.estimates()[m.key]) for m in METRICS)])


def tabulate(rows: list[dict[str, Any]]) -> Any:
    """Rows as a pandas DataFrame if pandas is importable, else the rows themselves."""
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)


def default_jobs() -> int:
    return os.cpu_count() or 1


def run_scenario(scenario: Scenario, *, replications: Iterable[int] | None = None,
                 jobs: int | None = None, progress: Progress | None = None,
                 done: dict[int, RunResult] | None = None) -> ScenarioResult:
    """Run the scenario's replications (or the given indices) and collect them.

    ``done`` holds replications already finished (from a checkpoint); they are not
    run again. ``progress`` is called once per replication as it finishes. A scenario
    with ``run.warmup_days = "auto"`` first has its warm-up found by a pilot
    (:func:`sim.experiment.warmup.resolve_auto`); the result's scenario records it.
    """
    if scenario.warmup_auto:  # run.warmup_days = "auto": a pilot finds it first
        from sim.experiment.warmup import resolve_auto

        scenario = resolve_auto([scenario], jobs=jobs)[0][0]
    wanted = list(range(scenario.run.replications) if replications is None else replications)
    results = dict(done or {})
    todo = [r for r in wanted if r not in results]
    jobs = min(jobs or default_jobs(), max(len(todo), 1))
    for run in results.values():
        if progress:
            progress(run)
    for run in run_parallel(run_replication, ((scenario, rep) for rep in todo), jobs):
        results[run.replication] = run
        if progress:
            progress(run)
    return ScenarioResult(scenario, tuple(results[r] for r in wanted))
