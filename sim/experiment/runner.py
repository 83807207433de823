"""Replications of one scenario, in this process or over local worker processes.

Each replication is a pure function of (scenario, replication index), so the results
do not depend on how many workers ran them or in which order they finished: the list
is ordered by replication before anything is summarised. Worker processes come from
:mod:`sim.experiment.pool`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim import __version__
from sim.experiment.pool import run_parallel
from sim.metrics import DAILY_COLUMNS, METRIC_BY_KEY, METRICS, Estimate, RunResult, estimate
from sim.scenario.model import Scenario

if TYPE_CHECKING:
    from sim.experiment.events import EventFiles

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


HEADLINE = ("profit", "customer_retention", "cost_per_customer")
"""The metrics a result's short text and notebook table show."""


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

    def estimate(self, metric: str) -> Estimate:
        """One metric's mean and 95% t-interval; a clear error for an unknown metric."""
        return self.estimates()[check_metric(metric)]

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

    def replications(self) -> Any:
        """Every metric of every replication, one row each (columns replication, metric,
        unit, value): a long pandas DataFrame (pandas is needed)."""
        return dataframe(replication_columns(self), "result.replications()")

    def daily(self) -> Any:
        """Every daily series of every replication, one row per replication, day and
        series (columns replication, day, measured, series, value; measured is False in
        the warm-up): a long pandas DataFrame (pandas is needed)."""
        return dataframe(daily_columns(self), "result.daily()")

    def __repr__(self) -> str:
        s = self.scenario
        head = (f"{s.name!r}: strategy {s.strategy.preset or 'custom'}, "
                f"{_count(len(self.runs), 'replication')}, seed {s.run.seed}, "
                f"days {s.run.warmup_days}-{s.run.days}")
        return f"<ScenarioResult {head}; {_headline_text(self.estimates())}>"

    def _repr_html_(self) -> str:
        from html import escape

        s = self.scenario
        rows = "".join(f"<tr><td>{escape(text)}</td><td>{escape(mean)}</td>"
                       f"<td>{escape(ci)}</td></tr>"
                       for text, mean, ci in _headline_rows(self))
        return (f"<div><b>{escape(s.name)}</b>: strategy {escape(s.strategy.preset or 'custom')}"
                f", {_count(len(self.runs), 'replication')}, seed {s.run.seed}"
                f"<table><tr><th>metric</th><th>mean</th><th>95% CI</th></tr>{rows}</table>"
                "<small>.summary(), .replications(), .daily(): every metric as a table"
                "</small></div>")


def check_metric(metric: str) -> str:
    """``metric`` if it is a metric's key; else a ValueError naming the valid keys."""
    if metric not in METRIC_BY_KEY:
        raise ValueError(f"unknown metric {metric!r}{did_you_mean(metric, METRIC_BY_KEY)}; metrics: "
                         + ", ".join(METRIC_BY_KEY))
    return metric


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    from sim.scenario.errors import suggest

    hint = suggest(word, choices) if isinstance(word, str) else None
    return f" ({hint})" if hint else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _headline_rows(result: ScenarioResult) -> list[tuple[str, str, str]]:
    from sim.formats import format_value

    period = result.scenario.run.retention_period_days
    rows = []
    for key in HEADLINE:
        metric, e = METRIC_BY_KEY[key], result.estimates()[key]
        ci = ("n/a" if math.isnan(e.low) else
              f"{format_value(e.low, metric.unit)} to {format_value(e.high, metric.unit)}")
        rows.append((metric.text(period), format_value(e.mean, metric.unit), ci))
    return rows


def _headline_text(estimates: dict[str, Estimate]) -> str:
    from sim.formats import format_value

    return ", ".join(f"{key} {format_value(estimates[key].mean, METRIC_BY_KEY[key].unit)}"
                     for key in HEADLINE)


def replication_columns(result: ScenarioResult) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"replication": [], "metric": [], "unit": [], "value": []}
    for run in result.runs:
        for metric in METRICS:
            columns["replication"].append(run.replication)
            columns["metric"].append(metric.key)
            columns["unit"].append(metric.unit)
            columns["value"].append(run.metrics[metric.key])
    return columns


def daily_columns(result: ScenarioResult) -> dict[str, list[Any]]:
    warmup = result.scenario.run.warmup_days
    columns: dict[str, list[Any]] = {"replication": [], "day": [], "measured": [],
                                     "series": [], "value": []}
    for run in result.runs:
        for series in DAILY_COLUMNS:
            values = run.daily[series]
            columns["replication"] += [run.replication] * len(values)
            columns["day"] += range(len(values))
            columns["measured"] += [day >= warmup for day in range(len(values))]
            columns["series"] += [series] * len(values)
            columns["value"] += values
    return columns


def tabulate(rows: list[dict[str, Any]]) -> Any:
    """Rows as a pandas DataFrame if pandas is importable, else the rows themselves."""
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)


def dataframe(columns: dict[str, list[Any]], what: str) -> Any:
    """Columns as a pandas DataFrame; an ImportError that says so without pandas."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(f"{what} returns a pandas DataFrame and pandas is not installed: "
                          "pip install pandas, or pip install -e '.[notebook]' (without it, "
                          "read result.runs)") from None
    return pd.DataFrame(columns)


def default_jobs() -> int:
    return os.cpu_count() or 1


def run_scenario(scenario: Scenario, *, replications: Iterable[int] | None = None,
                 jobs: int | None = None, progress: Progress | None = None,
                 done: dict[int, RunResult] | None = None,
                 events: EventFiles | None = None,
                 meanwhile: Callable[[], object] | None = None) -> ScenarioResult:
    """Run the scenario's replications (or the given indices) and collect them.

    ``done`` holds replications already finished (from a checkpoint); they are not
    run again. ``progress`` is called once per replication as it finishes. A scenario
    with ``run.warmup_days = "auto"`` first has its warm-up found by a pilot
    (:func:`sim.experiment.warmup.resolve_auto`); the result's scenario records it.
    Work is handed out lazily: nothing is allocated per replication before it runs. With
    ``events``, each replication run now also writes its event log there
    (:mod:`sim.experiment.events`); the results are the same. ``meanwhile()`` runs in a
    thread while the replications run in worker processes (the caller's imports for
    what it does with the result; :func:`sim.experiment.pool.run_parallel`).
    """
    if scenario.warmup_auto:  # run.warmup_days = "auto": a pilot finds it first
        from sim.experiment.warmup import resolve_auto

        scenario = resolve_auto([scenario], jobs=jobs)[0][0]
    wanted = range(scenario.run.replications) if replications is None else list(replications)
    if events is None:
        results = replications_of(replication, scenario, wanted, jobs, progress, done,
                                  meanwhile=meanwhile)
    else:
        from sim.experiment.events import run_logged

        results = replications_of(run_logged, scenario, wanted, jobs, progress, done,
                                  extra=(events,), meanwhile=meanwhile)
    return ScenarioResult(scenario, tuple(results[r] for r in wanted))


def replication(scenario: Scenario, index: int) -> RunResult:
    """:func:`sim.model.engine.run_replication`, the model imported where the replication
    runs: a command whose replications run in worker processes never imports the model
    (numpy, SimPy) itself, and its workers start that much sooner."""
    from sim.model.engine import run_replication

    return run_replication(scenario, index)


def replications_of(function: Callable[..., Any], spec: Any, wanted: Sequence[int],
                    jobs: int | None, progress: Callable[[Any], None] | None,
                    done: Mapping[int, Any] | None, extra: tuple[Any, ...] = (),
                    meanwhile: Callable[[], object] | None = None) -> dict[int, Any]:
    """``function(spec, replication, *extra)`` for each wanted replication not ``done``,
    over the process pool (with ``meanwhile`` in a thread while it runs them in other
    processes); every result (done ones first) goes to ``progress`` as it finishes.
    ``wanted`` may be a range: a million replications queued take no memory."""
    results = dict(done or {})
    jobs = min(jobs or default_jobs(), max(len(wanted) - len(results), 1))
    for run in results.values():
        if progress:
            progress(run)
    todo = ((spec, rep, *extra) for rep in wanted if rep not in results)
    for run in run_parallel(function, todo, jobs, meanwhile):
        results[run.replication] = run
        if progress:
            progress(run)
    return results
