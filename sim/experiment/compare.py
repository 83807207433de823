"""Strategies side by side on the same customers (common random numbers).

Every strategy of a comparison runs replication r with the same seed and replication
index; random streams are keyed by customer and visit, never by strategy, so the same
person arrives at the same moment with the same wishes under each strategy, and its
k-th visit meets the same draws wherever the paths allow. Differences against the
baseline are therefore paired per replication, and their intervals are much narrower
than those of two independent runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sim.experiment.folders import strategy_folders
from sim.experiment.runner import (
    HEADLINE,
    ScenarioResult,
    charts_of,
    check_metric,
    daily_columns,
    dataframe,
    did_you_mean,
    replication_columns,
    run_scenario,
    tabulate,
)
from sim.metrics import METRIC_BY_KEY, METRICS, Estimate, RunResult, estimate, t_quantile
from sim.scenario import Issue, Scenario, ScenarioError, load_scenario, scenario_from_raw
from sim.scenario.errors import suggest
from sim.scenario.loader import deep_merge, read_with_extends

BOOTSTRAP_RESAMPLES = 4000
MARKET_PARTS = ("run", "business", "market", "segments", "behaviour")


@dataclass(frozen=True)
class ComparisonResult:
    """Several strategies on the same customers; ``results`` in the order given."""

    name: str
    results: tuple[ScenarioResult, ...]
    baseline: str
    metric: str
    why: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """Why the winner wins: an explanation's summary (explain.json), when one was made."""
    selection: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """The best with a stated confidence (``--select``): what the selection procedure
    decided, its guarantee in words and each strategy's replications
    (:func:`sim.experiment.sequential.selection_dict`)."""
    precision: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """Replications run until the paired differences were precise enough
    (``--precision``, ``--half-width``): the target and what was reached."""
    tuning: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """How the strategies were tuned: a tune's summary (tune.json), when one was made."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.scenario.name for r in self.results)

    @property
    def labels(self) -> dict[str, str]:
        """Each strategy's display label (``strategy.label``, else its name); labels that
        two strategies share get the name added, so a reader can tell them apart."""
        labels = {r.scenario.name: r.scenario.label for r in self.results}
        shared = {label for label in labels.values()
                  if list(labels.values()).count(label) > 1}
        return {name: f"{label} ({name})" if label in shared and label != name else label
                for name, label in labels.items()}

    def ranking(self, metric: str | None = None) -> list[str]:
        """The strategies from best to worst mean on ``metric`` (default: the
        comparison's), in the metric's direction; undefined means last."""
        m = METRIC_BY_KEY[metric or self.metric]
        sign = 1.0 if m.higher_is_better else -1.0
        means = {n: self.result(n).estimates()[m.key].mean for n in self.names}
        return sorted(self.names, key=lambda n: (math.isnan(means[n]), -sign * means[n]))

    def result(self, name: str) -> ScenarioResult:
        """One strategy's results; a clear error naming the strategies otherwise."""
        if name not in self.names:
            raise ValueError(f"unknown strategy {name!r}{did_you_mean(name, self.names)}; "
                             f"strategies: {', '.join(self.names)}")
        return self.results[self.names.index(name)]

    @classmethod
    def of_one(cls, result: ScenarioResult) -> ComparisonResult:
        """A single run as a one-strategy comparison, so that charts and reports take
        one kind of object."""
        name = result.scenario.name
        return cls(name, (result,), name, "profit")

    @property
    def charts(self) -> Any:
        """The workshop charts of this comparison: ``cmp.charts.headline()`` returns a
        matplotlib Figure; ``cmp.charts.write(folder)`` writes them all."""
        return charts_of(self)

    def summary(self) -> Any:
        """One row per strategy and metric, with the paired difference to the baseline:
        a pandas DataFrame when pandas is installed, else a list of dicts."""
        return tabulate(comparison_rows(self))

    def replications(self) -> Any:
        """Every metric of every strategy's replications, one row each (columns strategy,
        replication, metric, unit, value): a long pandas DataFrame (pandas is needed)."""
        return dataframe(self._stacked(replication_columns), "cmp.replications()")

    def daily(self) -> Any:
        """Every daily series of every strategy's replications (columns strategy,
        replication, day, measured, series, value): a long pandas DataFrame."""
        return dataframe(self._stacked(daily_columns), "cmp.daily()")

    def _stacked(self, columns_of: Callable[[ScenarioResult], dict[str, list[Any]]]
                 ) -> dict[str, list[Any]]:
        stacked: dict[str, list[Any]] = {"strategy": []}
        for one in self.results:
            columns = columns_of(one)
            stacked["strategy"] += [one.scenario.name] * len(next(iter(columns.values())))
            for key, values in columns.items():
                stacked.setdefault(key, []).extend(values)
        return stacked

    def __repr__(self) -> str:
        first = self.results[0].scenario
        names = ", ".join(n + (" (baseline)" if n == self.baseline else "") for n in self.names)
        best = sorted(self.probability_best().items(), key=lambda kv: -kv[1])
        ranking = ", ".join(f"{n} {p:.0%}" for n, p in best)
        return (f"<ComparisonResult {self.name!r}: {names}; {len(self.results[0].runs)} "
                f"replications, seed {first.run.seed}; probability of the best {self.metric}: "
                f"{ranking}>")

    def _repr_html_(self) -> str:
        from html import escape

        from sim.formats import format_difference, format_value

        head = "".join(f"<th>{escape(n)}{' (baseline)' if n == self.baseline else ''}</th>"
                       for n in self.names)
        rows = []
        for key in HEADLINE:
            metric = METRIC_BY_KEY[key]
            cells = []
            for n in self.names:
                text = format_value(self.result(n).estimates()[key].mean, metric.unit)
                if n != self.baseline:
                    text += f"<br><small>{escape(format_difference(self.paired_difference(n, key), metric))}</small>"
                cells.append(f"<td>{text}</td>")
            rows.append(f"<tr><td>{escape(metric.text(self.results[0].scenario.run.retention_period_days))}"
                        f"</td>{''.join(cells)}</tr>")
        best = ", ".join(f"{escape(n)} {p:.0%}" for n, p in
                         sorted(self.probability_best().items(), key=lambda kv: -kv[1]))
        return (f"<div><b>{escape(self.name)}</b>: {len(self.names)} strategies on the same "
                f"customers, {len(self.results[0].runs)} replications<table><tr><th>metric</th>"
                f"{head}</tr>{''.join(rows)}</table><small>second line: paired difference to "
                f"{escape(self.baseline)}; probability of the best {escape(self.metric)}: {best}"
                "</small></div>")

    def paired_difference(self, name: str, metric: str) -> Estimate:
        """Mean and CI of (strategy - baseline) per replication, on the same customers."""
        mine, base = self._values(name, metric), self._values(self.baseline, metric)
        return estimate([a - b for a, b in zip(mine, base, strict=True)])

    def unpaired_difference(self, name: str, metric: str) -> Estimate:
        """Welch interval of the difference of means, as if the runs were independent."""
        a = [x for x in self._values(name, metric) if not math.isnan(x)]
        b = [x for x in self._values(self.baseline, metric) if not math.isnan(x)]
        return welch(a, b)

    def probability_best(self, metric: str | None = None) -> dict[str, float]:
        """Share of bootstrap resamples of replications (paired: whole replications are
        resampled) in which each strategy has the best mean. Seeded from the run seed."""
        metric = check_metric(metric or self.metric)
        key = f"best:{metric}"
        if key not in self._cache:
            import numpy as np

            values = np.array([self._values(n, metric) for n in self.names], dtype=float)
            sign = 1.0 if METRIC_BY_KEY[metric].higher_is_better else -1.0
            rng = np.random.default_rng(self.results[0].scenario.run.seed)
            reps = values.shape[1]
            picks = rng.integers(0, reps, size=(BOOTSTRAP_RESAMPLES, reps))
            means = np.nanmean(values[:, picks], axis=2) * sign
            winners = np.argmax(np.nan_to_num(means, nan=-np.inf), axis=0)
            counts = np.bincount(winners, minlength=len(self.names))
            self._cache[key] = {n: float(c) / BOOTSTRAP_RESAMPLES
                                for n, c in zip(self.names, counts, strict=True)}
        return dict(self._cache[key])

    def _values(self, name: str, metric: str) -> list[float]:
        key = check_metric(metric)
        return [run.metrics[key] for run in self.result(name).runs]


def welch(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Estimate:
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return Estimate(math.nan, math.nan, 0, math.nan, math.nan)
    import numpy as np

    va, vb = float(np.var(a, ddof=1)) / na, float(np.var(b, ddof=1)) / nb
    diff = float(np.mean(a) - np.mean(b))
    se = math.sqrt(va + vb)
    if se == 0:
        return Estimate(diff, 0.0, na + nb, diff, diff)
    dof = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = float(t_quantile(0.5 + confidence / 2, dof)) * se
    return Estimate(diff, se, na + nb, diff - half, diff + half)


def check_same_market(scenarios: Sequence[Scenario]) -> list[str]:
    """Where the scenarios' markets differ (empty: a fair comparison)."""
    first = scenarios[0]
    differences = []
    for other in scenarios[1:]:
        if other.warmup_auto != first.warmup_auto:
            differences.append(f"run.warmup_days (\"auto\" or not) differs between "
                               f"{first.source or first.name} and {other.source or other.name}")
        for part in MARKET_PARTS:
            mine, theirs = getattr(first, part), getattr(other, part)
            if part == "run":
                mine, theirs = replace(mine, name=""), replace(theirs, name="")
            if mine != theirs:
                differences.append(f"{part} differs between {first.source or first.name} "
                                   f"and {other.source or other.name}")
    return differences


def load_comparison(paths: Sequence[Path], overrides: Iterable[str] = ()
                    ) -> tuple[list[Scenario], dict[str, Any]]:
    """Scenarios to compare: several files, or one file with a [compare] table.

    A [compare] table names presets (``strategies = ["god", "tiered"]``) or defines
    strategies (``[compare.strategies.cheap] preset = "tiered" ...``); it may also set
    ``name``, ``baseline`` and ``metric``. Returns the scenarios and those settings.
    """
    overrides = list(overrides)
    if len(paths) == 1:
        raw = read_with_extends(paths[0])
        if "compare" not in raw:
            raise ScenarioError(paths[0], [Issue("compare", "is required to compare "
                                                 "strategies in one file; or name several files")])
        return _from_compare_table(paths[0], raw, overrides)
    return [load_scenario(p, overrides) for p in paths], {}


COMPARE_KEYS = ("strategies", "name", "baseline", "metric", "tune")


def _from_compare_table(path: Path, raw: dict[str, Any], overrides: list[str]
                        ) -> tuple[list[Scenario], dict[str, Any]]:
    table = raw.pop("compare")
    scenarios = [scenario_from_raw(one, source=f"{path} [compare.strategies.{name}]",
                                   default_name=name, overrides=overrides)
                 for name, one in strategy_raws(path, raw, table).items()]
    settings = {k: table[k] for k in ("name", "baseline", "metric", "tune") if k in table}
    settings.setdefault("name", path.stem)
    return scenarios, settings


def strategy_raws(path: Path, raw: dict[str, Any], table: object) -> dict[str, dict[str, Any]]:
    """Each strategy of a [compare] table as a scenario's raw table: the file's market with
    the strategy's table merged over its [strategy] (a strategy's own ``tune`` table, which
    only ``compare --tune`` reads, left out)."""
    issues: list[Issue] = []
    if not isinstance(table, dict):
        raise ScenarioError(path, [Issue("compare", "must be a table", table)])
    for key in table:
        if key not in COMPARE_KEYS:
            issues.append(Issue(f"compare.{key}", "unknown key", None,
                                suggest(key, COMPARE_KEYS) or f"known: {', '.join(COMPARE_KEYS)}"))
    for key in ("name", "baseline", "metric"):
        if key in table and not isinstance(table[key], str):
            issues.append(Issue(f"compare.{key}", "must be a string", table[key]))
    strategies = table.get("strategies")
    if isinstance(strategies, list):
        for i, preset_name in enumerate(strategies):
            if not isinstance(preset_name, str):
                issues.append(Issue(f"compare.strategies[{i}]", "must be a preset's name",
                                    preset_name))
        strategies = {str(n): {"preset": n} for n in strategies}
    elif isinstance(strategies, dict):
        for key, value in strategies.items():
            if not isinstance(value, dict):
                issues.append(Issue(f"compare.strategies.{key}", "must be a table of strategy "
                                    "knobs, e.g. [compare.strategies.cheap] preset = "
                                    '"tiered"', value))
    if not isinstance(strategies, dict) or len(strategies) < 2:
        issues.append(Issue("compare.strategies", "must name at least two strategies (a list "
                            "of presets or [compare.strategies.NAME] tables)", strategies))
    if issues:
        raise ScenarioError(path, issues)
    assert isinstance(strategies, dict)
    raws = {}
    for name, strategy in strategies.items():
        one = dict(raw)
        if isinstance(strategy, dict):
            strategy = {k: v for k, v in strategy.items() if k != "tune"}
        one["strategy"] = deep_merge(raw.get("strategy", {}), strategy) \
            if isinstance(raw.get("strategy", {}), dict) else strategy
        run = raw.get("run", {})
        one["run"] = {**(run if isinstance(run, dict) else {}), "name": name}
        raws[str(name)] = one
    return raws


def comparison_name(scenarios: Sequence[Scenario]) -> str:
    """The default name of a comparison (and its results folder): the strategies' names."""
    return "-".join(s.name for s in scenarios)


def check_comparison(scenarios: Sequence[Scenario], *, baseline: str | None = None,
                     metric: str = "profit", allow_different_markets: bool = False) -> str:
    """Refuse a comparison that cannot be made (too few strategies, names that clash as
    names or as folders, an unknown metric or baseline, different markets) before
    anything runs; returns the baseline."""
    names = [s.name for s in scenarios]
    problems = []
    if len(scenarios) < 2:
        problems.append(Issue("", "needs at least two strategies to compare"))
    if len(set(names)) != len(names):
        problems.append(Issue("run.name", "strategies to compare need distinct names", names))
    else:
        try:
            strategy_folders(names)
        except ScenarioError as error:
            problems.extend(error.issues)
    if metric not in METRIC_BY_KEY:
        known = f"known: {', '.join(METRIC_BY_KEY)}"
        close = suggest(metric, METRIC_BY_KEY) if isinstance(metric, str) else None
        problems.append(Issue("--metric", "unknown metric", metric,
                              f"{close} {known}" if close else known))
    baseline = baseline or (names[0] if names else "")
    if baseline not in names:
        problems.append(Issue("--baseline", f"must be one of {', '.join(names)}", baseline,
                              suggest(baseline, names)))
    if not allow_different_markets and scenarios:
        problems.extend(Issue("", f"{d}: strategies must meet the same customers "
                                  "(use --allow-different-markets to compare anyway)")
                        for d in check_same_market(scenarios))
    if problems:
        raise ScenarioError("compare", problems)
    return baseline


def compare(scenarios: Sequence[Scenario], *, name: str | None = None,
            baseline: str | None = None, metric: str = "profit", jobs: int | None = None,
            allow_different_markets: bool = False,
            progress: Callable[[str, RunResult], None] | None = None,
            done: Mapping[str, dict[int, RunResult]] | None = None) -> ComparisonResult:
    """Run every strategy on the same customers and pair the results.

    ``done`` holds, per strategy name, replications already finished (a checkpoint);
    ``progress`` is called with the strategy's name and each replication as it finishes.
    ``run.warmup_days = "auto"`` is found first, by pilots, the same for every strategy.
    """
    baseline = check_comparison(scenarios, baseline=baseline, metric=metric,
                                allow_different_markets=allow_different_markets)
    scenarios = resolve_warmups(scenarios, jobs)
    done = done or {}
    results = tuple(
        run_scenario(s, jobs=jobs, done=done.get(s.name),
                     progress=None if progress is None else functools.partial(progress, s.name))
        for s in scenarios)
    return ComparisonResult(name or comparison_name(scenarios), results, baseline, metric)


def resolve_warmups(scenarios: Sequence[Scenario], jobs: int | None) -> list[Scenario]:
    """The scenarios with any ``run.warmup_days = "auto"`` found by a pilot, the same
    warm-up for every strategy (:func:`sim.experiment.warmup.resolve_auto`)."""
    if not any(s.warmup_auto for s in scenarios):
        return list(scenarios)
    from sim.experiment.warmup import resolve_auto

    return resolve_auto(scenarios, jobs=jobs)[0]



def comparison_rows(result: ComparisonResult) -> list[dict[str, Any]]:
    """Tidy rows: one per strategy and metric, with the paired difference to the baseline."""
    best = result.probability_best()
    period_days = result.results[0].scenario.run.retention_period_days
    rows = []
    for name in result.names:
        summary = result.result(name).estimates()
        for metric in METRICS:
            e = summary[metric.key]
            d = result.paired_difference(name, metric.key)
            rows.append({
                "strategy": name, "metric": metric.key, "label": metric.text(period_days),
                "unit": metric.unit, "mean": e.mean, "ci_low": e.low, "ci_high": e.high,
                "n": e.n, "baseline": result.baseline, "diff_mean": d.mean,
                "diff_ci_low": d.low, "diff_ci_high": d.high,
                "probability_best": best[name] if metric.key == result.metric else math.nan})
    return rows


__all__ = ["ComparisonResult", "compare", "comparison_rows", "load_comparison"]
