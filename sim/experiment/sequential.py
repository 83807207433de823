"""Replications on demand: selection of the best and runs until precise enough.

A sequential procedure decides after each look whether it needs more replications, and
of which strategies. :class:`ReplicationStream` gives it replication r of a strategy
when it asks, from the one process pool (:func:`sim.experiment.pool.run_parallel`),
lazily: while the procedure reads one stage, the workers already run the next
replications of the strategies still in contention, and what is left unstarted when it
stops is cancelled. A decision only ever reads replications 0..r-1 of each strategy,
so the outcome is the same whatever the number of workers, and the same command gives
the same files.

- :func:`select_best`: Kim and Nelson's KN or the screening subset
  (:mod:`sim.experiment.select`) on a comparison's metric; the comparison itself is the
  first stage (its ``-n`` replications of every strategy, at least 10).
- :func:`run_to_precision`, :func:`compare_to_precision`, :func:`market_to_precision`:
  replications in batches until the 95% interval of the metric (a run), of every paired
  difference to the baseline (a comparison) or of every firm's metric (a market) is as
  narrow as asked (:mod:`sim.experiment.precision`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

import numpy as np

from sim.experiment import precision as sequential_precision
from sim.experiment import select
from sim.experiment.compare import (
    ComparisonResult,
    check_comparison,
    comparison_name,
    resolve_warmups,
)
from sim.experiment.market import MarketResult
from sim.experiment.pool import run_parallel
from sim.experiment.precision import Look, Precision
from sim.experiment.runner import ScenarioResult, default_jobs
from sim.formats import format_half_width, format_size
from sim.metrics import METRIC_BY_KEY, Estimate, MarketRunResult, Metric, RunResult
from sim.model.engine import run_replication
from sim.model.market import run_market_replication
from sim.scenario import Issue, Scenario, ScenarioError
from sim.scenario.errors import suggest
from sim.scenario.market import MarketScenario

Progress = Callable[[str, RunResult], None]
"""Called with the strategy's name and each replication as it finishes."""
Plan = Callable[[int], None]
"""Called with the replications (all strategies) the procedure has asked for so far."""


def _named(name: str, scenario: Any, replication: int,
           simulate: Callable[[Any, int], Any] = run_replication) -> tuple[str, Any]:
    return name, simulate(scenario, replication)


class ReplicationStream:
    """Replication r of each strategy, run when first needed, on one pool.

    The workers run ahead, replication by replication, over the strategies still in
    contention (:meth:`keep`), never beyond ``limit`` replications of a strategy; the
    pool keeps a few tasks per worker in flight, so at most that many runs are wasted
    when the procedure stops. ``done`` holds replications already finished (a
    checkpoint), which are not run again. ``simulate`` runs one replication (a market's:
    :func:`sim.model.market.run_market_replication`).
    """

    def __init__(self, scenarios: Sequence[Any], *, limit: int, jobs: int | None = None,
                 done: Mapping[str, Mapping[int, Any]] | None = None,
                 progress: Progress | None = None,
                 simulate: Callable[[Any, int], Any] = run_replication) -> None:
        self.scenarios = {s.name: s for s in scenarios}
        self.simulate = simulate
        self.limit = limit
        self.jobs = jobs or default_jobs()
        self.progress = progress
        self.results: dict[tuple[str, int], RunResult] = {
            (name, r): run for name, runs in (done or {}).items() for r, run in runs.items()}
        self.active = list(self.scenarios)
        self._stream: Iterator[tuple[str, RunResult]] | None = None

    def keep(self, names: Sequence[str]) -> None:
        """Only these strategies need more replications from now on."""
        self.active = [n for n in self.active if n in names]

    def get(self, name: str, replication: int) -> RunResult:
        """Replication ``replication`` of ``name``, waiting for the pool if need be."""
        key = (name, replication)
        if key not in self.results and not (name in self.active and replication < self.limit):
            raise ValueError(f"replication {replication} of {name} is not in the plan")
        if key not in self.results and self._stream is None:
            self._stream = run_parallel(_named, self._tasks(), self.jobs)
        while key not in self.results:
            assert self._stream is not None
            done_name, run = next(self._stream)
            self.results[done_name, run.replication] = run
            if self.progress is not None:
                self.progress(done_name, run)
        return self.results[key]

    def runs(self, name: str, n: int) -> tuple[RunResult, ...]:
        """Replications 0..n-1 of ``name``."""
        return tuple(self.get(name, r) for r in range(n))

    def _tasks(self) -> Iterator[tuple[str, Any, int, Callable[[Any, int], Any]]]:
        for replication in range(self.limit):
            for name in list(self.active):
                if (name, replication) not in self.results:
                    yield name, self.scenarios[name], replication, self.simulate

    def close(self) -> None:
        """Cancel the replications not started (the running ones finish)."""
        if self._stream is not None:
            self._stream.close()  # type: ignore[attr-defined]
            self._stream = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


# --- the best with a stated confidence ------------------------------------------------


def select_best(scenarios: Sequence[Scenario], *, metric: str = "profit",
                delta: float | None = None, confidence: float = 0.95, subset: bool = False,
                max_replications: int = sequential_precision.MAX_REPLICATIONS,
                baseline: str | None = None, name: str | None = None,
                jobs: int | None = None, allow_different_markets: bool = False,
                done: Mapping[str, Mapping[int, RunResult]] | None = None,
                progress: Progress | None = None, plan: Plan | None = None
                ) -> ComparisonResult:
    """The comparison (each strategy's ``run.replications``, the first stage) and a
    selection on ``metric``: KN (one best, ``delta`` its indifference zone) or, with
    ``subset``, the strategies that cannot be ruled out. KN adds one replication per
    stage to every strategy in contention, up to ``max_replications`` each."""
    baseline = check_selection(scenarios, metric=metric, delta=delta, confidence=confidence,
                               subset=subset, max_replications=max_replications,
                               baseline=baseline,
                               allow_different_markets=allow_different_markets)
    n0 = scenarios[0].run.replications
    scenarios = resolve_warmups(scenarios, jobs)
    names = [s.name for s in scenarios]
    info = METRIC_BY_KEY[metric]
    with ReplicationStream(scenarios, limit=n0 if subset else max_replications, jobs=jobs,
                           done=done, progress=progress) as stream:
        if plan is not None:
            plan(len(names) * n0)
        asked = [len(names) * n0]

        def sample(systems: Sequence[int], replication: int) -> list[float]:
            stream.keep([names[i] for i in systems])
            if replication >= n0 and plan is not None:
                asked[0] += len(systems)
                plan(asked[0])
            return [_value(stream.get(names[i], replication), metric, names[i])
                    for i in systems]

        if subset:
            values = np.array([sample(range(len(names)), r) for r in range(n0)]).T
            chosen = select.screen(values, confidence=confidence,
                                   higher_is_better=info.higher_is_better)
        else:
            assert delta is not None
            chosen = select.kn(sample, len(names), delta=delta, confidence=confidence, n0=n0,
                               max_replications=max_replications,
                               higher_is_better=info.higher_is_better)
        results = tuple(ScenarioResult(s, stream.runs(s.name, n0)) for s in scenarios)
        used = {(n, r): stream.results[n, r].metrics[metric] for i, n in enumerate(names)
                for r in range(chosen.replications[i])}
    result = ComparisonResult(name or comparison_name(scenarios), results, baseline, metric)
    return replace(result, selection=selection_dict(result, chosen, max_replications, used))


def check_selection(scenarios: Sequence[Scenario], *, metric: str, delta: float | None,
                    confidence: float, subset: bool, max_replications: int,
                    baseline: str | None = None, allow_different_markets: bool = False
                    ) -> str:
    """Raise a ScenarioError listing every problem with a selection's settings (and the
    comparison's); returns the baseline's name."""
    baseline = check_comparison(scenarios, baseline=baseline, metric=metric,
                                allow_different_markets=allow_different_markets)
    n0 = scenarios[0].run.replications
    problems = [Issue("--select", p) for p in select.check_settings(
        delta=delta, confidence=confidence, k=len(scenarios), subset=subset)]
    if n0 < select.MIN_FIRST_STAGE:
        problems.append(Issue("-n", f"--select needs a first stage of at least "
                                    f"{select.MIN_FIRST_STAGE} replications of every "
                                    "strategy (to estimate the variances of the differences)",
                              n0))
    if not subset and max_replications < n0:
        problems.append(Issue("--max-replications", f"must be at least the first stage "
                                                    f"({n0} replications)", max_replications))
    if problems:
        raise ScenarioError("compare --select", problems)
    return baseline


def _value(run: RunResult, metric: str, strategy: str) -> float:
    value = run.metrics[metric]
    if math.isnan(value):
        raise ScenarioError("compare --select", [Issue(
            "--metric", f"is undefined in replication {run.replication} of {strategy} (a ratio "
                        "with nothing to divide by): a selection needs a value in every "
                        "replication; choose another metric", metric)])
    return float(value)


def selection_dict(result: ComparisonResult, chosen: select.Selection, cap: int,
                   used: Mapping[tuple[str, int], float]) -> dict[str, Any]:
    """A selection as written to comparison.json and read by the terminal and the
    report: the decision, the guarantee in words, each strategy's replications."""
    names, labels = result.names, result.labels
    metric = METRIC_BY_KEY[result.metric]
    scenario = result.results[0].scenario
    strategies = {}
    for i, name in enumerate(names):
        by = chosen.eliminated_by[i]
        strategies[name] = {
            "replications": chosen.replications[i], "mean": chosen.means[i],
            "eliminated_after": chosen.eliminated_at[i],
            "eliminated_by": None if by is None else names[by],
            "values": [used[name, r] for r in range(chosen.replications[i])]}
    return {
        "procedure": chosen.procedure,
        "metric": metric.key, "metric_label": metric.text_for(scenario),
        "higher_is_better": metric.higher_is_better,
        "confidence": chosen.confidence,
        "delta": chosen.delta if chosen.procedure == "KN" else None,
        "first_stage": chosen.first_stage,
        "max_replications": cap if chosen.procedure == "KN" else None,
        "constant": chosen.constant,
        "selected": names[chosen.selected],
        "contenders": [names[i] for i in chosen.contenders],
        "capped": chosen.capped,
        "replications_total": sum(chosen.replications),
        "strategies": strategies,
        "verdict": _verdict(chosen, names, labels, metric, scenario),
        "guarantee": guarantee(chosen, names, labels, metric, scenario, cap),
    }


def _amount(value: float, metric: Metric, scenario: Scenario) -> str:
    currency = scenario.business.currency
    text = format_size(value, metric)
    return f"{text} {currency}" if metric.unit == "money" and currency else text


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _what(metric: Metric, scenario: Scenario) -> str:
    """The metric's name in a sentence: 'profit', 'customer retention (per 90-day period)'."""
    text = metric.text(scenario.run.retention_period_days)
    return text[:1].lower() + text[1:]


def _verdict(chosen: select.Selection, names: Sequence[str], labels: Mapping[str, str],
             metric: Metric, scenario: Scenario) -> str:
    what = _what(metric, scenario)
    if chosen.procedure == "screening":
        kept = [labels[names[i]] for i in chosen.contenders]
        if len(kept) == 1:
            return f"{kept[0]} is the best on {what}: every other strategy is ruled out"
        return f"Cannot be ruled out as the best on {what}: {_listed(kept)}"
    best = labels[names[chosen.selected]]
    if chosen.capped:
        return (f"Still in contention for the best {what} at the cap: "
                f"{_listed([labels[names[i]] for i in chosen.contenders])}; {best} has the "
                "best mean")
    return f"Selected as the best on {what}: {best}"


def guarantee(chosen: select.Selection, names: Sequence[str], labels: Mapping[str, str],
              metric: Metric, scenario: Scenario, cap: int) -> str:
    """What the procedure promises, in words a room can read."""
    what = _what(metric, scenario)
    chance = f"{100 * chosen.confidence:g}%"
    if chosen.procedure == "screening":
        kept = [labels[names[i]] for i in chosen.contenders]
        return (f"With probability at least {chance}, the best strategy on {what} is among "
                f"{_listed(kept)}, however close the strategies are (screening of "
                f"{chosen.first_stage} replications of each strategy on the same customers)")
    delta = _amount(chosen.delta, metric, scenario)
    source = "Kim and Nelson's procedure on the same customers"
    if chosen.capped:
        kept = [labels[names[i]] for i in chosen.contenders]
        best = labels[names[chosen.selected]]
        return (f"The cap of {cap} replications per strategy stopped the selection with "
                f"{len(kept)} strategies in contention. With probability at least {chance}, "
                f"the best on {what} is among {_listed(kept)} if it beats every other "
                f"strategy by at least {delta}; {best}, the best mean among them, carries no "
                f"such guarantee of its own ({source})")
    best = labels[names[chosen.selected]]
    return (f"With probability at least {chance}, {best} is the best on {what} if the best "
            f"beats every other strategy by at least {delta}; differences under {delta} "
            f"count as equally good ({source})")


# --- precise enough, then stop ----------------------------------------------------------


def check_metric(metric: str) -> None:
    """A ScenarioError for an unknown metric name, with a did-you-mean."""
    if metric not in METRIC_BY_KEY:
        raise ScenarioError("--metric", [Issue("--metric", "unknown metric", metric,
                                               suggest(metric, METRIC_BY_KEY))])


def check_target(precision: Precision, where: str = "--precision") -> None:
    """Raise a ScenarioError for an unknown metric or an impossible target."""
    check_metric(precision.metric)
    problems = sequential_precision.check_precision(precision)
    if problems:
        raise ScenarioError(where, [Issue("", p) for p in problems])


def run_to_precision(scenario: Scenario, precision: Precision, *, jobs: int | None = None,
                     done: Mapping[int, RunResult] | None = None,
                     progress: Callable[[RunResult], None] | None = None,
                     plan: Plan | None = None) -> ScenarioResult:
    """Replications of ``scenario`` in batches until the 95% interval of the metric is
    within the target (relative: a share of the mean), or ``max_replications``. The
    result's scenario records the replications used, so its resolved file reproduces it."""
    check_target(precision)
    scenario = resolve_warmups([scenario], jobs)[0]
    key = precision.metric
    with ReplicationStream([scenario], limit=precision.max_replications, jobs=jobs,
                           done={scenario.name: done or {}},
                           progress=None if progress is None
                           else lambda _name, run: progress(run)) as stream:

        def values(n: int) -> tuple[dict[str, list[float]], dict[str, float]]:
            series = [run.metrics[key] for run in stream.runs(scenario.name, n)]
            return {key: series}, {key: _mean(series)}

        last = _until_precise(values, precision, plan, 1)
        spec = _with_replications(scenario, last.n)
        runs = stream.runs(scenario.name, last.n)
    result = ScenarioResult(spec, runs)
    return replace(result, precision=precision_dict(precision, last, spec, "metric", {}))


def compare_to_precision(scenarios: Sequence[Scenario], precision: Precision, *,
                         baseline: str | None = None, name: str | None = None,
                         jobs: int | None = None, allow_different_markets: bool = False,
                         done: Mapping[str, Mapping[int, RunResult]] | None = None,
                         progress: Progress | None = None,
                         plan: Plan | None = None) -> ComparisonResult:
    """Replications of every strategy in batches until the 95% interval of each paired
    difference to the baseline (on ``precision.metric``) is within the target (relative:
    a share of the baseline's mean), or ``max_replications``."""
    baseline = check_comparison(scenarios, baseline=baseline, metric=precision.metric,
                                allow_different_markets=allow_different_markets)
    check_target(precision, "compare --precision")
    scenarios = resolve_warmups(scenarios, jobs)
    key = precision.metric
    others = [s.name for s in scenarios if s.name != baseline]
    with ReplicationStream(scenarios, limit=precision.max_replications, jobs=jobs, done=done,
                           progress=progress) as stream:

        def values(n: int) -> tuple[dict[str, list[float]], dict[str, float]]:
            base = [run.metrics[key] for run in stream.runs(baseline, n)]
            diffs = {other: [run.metrics[key] - b for run, b in
                             zip(stream.runs(other, n), base, strict=True)] for other in others}
            return diffs, dict.fromkeys(others, _mean(base))

        last = _until_precise(values, precision, plan, len(scenarios))
        specs = [_with_replications(s, last.n) for s in scenarios]
        results = tuple(ScenarioResult(s, stream.runs(s.name, last.n)) for s in specs)
    result = ComparisonResult(name or comparison_name(scenarios), results, baseline, key)
    return replace(result, precision=precision_dict(precision, last, specs[0], "difference",
                                                    result.labels))


def market_to_precision(market: MarketScenario, precision: Precision, *,
                        jobs: int | None = None,
                        done: Mapping[int, MarketRunResult] | None = None,
                        progress: Callable[[MarketRunResult], None] | None = None,
                        plan: Plan | None = None) -> MarketResult:
    """Replications of the market in batches until the 95% interval of every firm's
    metric is within the target (relative: a share of that firm's own mean), or
    ``max_replications``: the widest firm decides. The result's market records the
    replications used, so its market.toml reproduces it."""
    check_target(precision)
    if market.warmup_auto:
        from sim.experiment.warmup import resolve_market_auto

        market = resolve_market_auto(market, jobs=jobs)[0]
    key = precision.metric
    with ReplicationStream([market], limit=precision.max_replications, jobs=jobs,
                           done={market.name: done or {}}, simulate=run_market_replication,
                           progress=None if progress is None
                           else lambda _name, run: progress(run)  # type: ignore[arg-type]
                           ) as stream:

        def values(n: int) -> tuple[dict[str, list[float]], dict[str, float]]:
            runs: Sequence[Any] = stream.runs(market.name, n)
            firms = {name: [run.firms[i].metrics[key] for run in runs]
                     for i, name in enumerate(market.names)}
            return firms, {name: _mean(series) for name, series in firms.items()}

        last = _until_precise(values, precision, plan, 1)
        spec = market.with_firms(_with_replications(f, last.n) for f in market.firms)
        runs: Sequence[Any] = stream.runs(market.name, last.n)
    result = MarketResult(spec, tuple(runs))
    return replace(result, precision=precision_dict(precision, last, spec.firms[0], "firm",
                                                    {}))


def _until_precise(values: Callable[[int], tuple[dict[str, list[float]], dict[str, float]]],
                   precision: Precision, plan: Plan | None, strategies: int) -> Look:
    """:func:`sequential_precision.until_precise`, telling ``plan`` the replications
    (all strategies) it expects to need: each look's, or the projection of the last."""
    looks: list[Look] = []

    def watched(n: int) -> tuple[dict[str, list[float]], dict[str, float]]:
        if plan is not None:
            guess = sequential_precision.projected(looks[-1], precision) if looks else n
            plan(strategies * max(n, guess))
        found = values(n)
        looks.append(sequential_precision.look(n, found[0], found[1], precision))
        return found

    return sequential_precision.until_precise(watched, precision)


def _mean(values: Sequence[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


def _with_replications(scenario: Scenario, n: int) -> Scenario:
    return replace(scenario, run=replace(scenario.run, replications=n))


def precision_dict(precision: Precision, last: Look, scenario: Scenario, kind: str,
                   labels: Mapping[str, str]) -> dict[str, Any]:
    """The target and what was reached, as written to summary.json, comparison.json or
    market.json; ``kind`` 'metric' (a run), 'difference' (each paired difference to the
    baseline, named in the statement by ``labels``) or 'firm' (each firm's metric on a
    market; ``widest`` names the firm furthest from its target)."""
    metric = METRIC_BY_KEY[precision.metric]
    widest = max(last.estimates, key=lambda q: _share(last.estimates[q], last.targets[q]))
    e = last.estimates[widest]
    reached = last.precise
    return {
        "metric": metric.key,
        "of": kind,
        "target": {"relative": precision.relative, "half_width": precision.half_width},
        "target_text": _target_text(precision, metric, scenario, kind),
        "half_width": _num(e.half_width),
        "relative_half_width": _num(e.half_width / abs(_scale(last, widest, precision)))
        if _scale(last, widest, precision) else None,
        "widest": widest,
        "replications": last.n,
        "min_replications": precision.min_replications,
        "max_replications": precision.max_replications,
        "reached": reached,
        "statement": _statement(precision, last, e, metric, scenario, kind, widest,
                                labels.get(widest, widest)),
    }


def _share(e: Estimate, target: float) -> float:
    if math.isnan(e.half_width) or target <= 0:
        return math.inf
    return e.half_width / target


def _scale(last: Look, quantity: str, precision: Precision) -> float:
    """What a relative target is a share of, recovered from the target itself."""
    if precision.relative is None:
        return 0.0
    return last.targets[quantity] / precision.relative


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def _target_text(precision: Precision, metric: Metric, scenario: Scenario, kind: str) -> str:
    if precision.relative is not None:
        of = {"metric": "the mean", "firm": "each firm's mean"}.get(kind, "the baseline's mean")
        return f"±{100 * precision.relative:g}% of {of}"
    assert precision.half_width is not None
    return f"±{_amount(precision.half_width, metric, scenario)}"


def _statement(precision: Precision, last: Look, e: Estimate, metric: Metric,
               scenario: Scenario, kind: str, widest: str, label: str) -> str:
    what = _what(metric, scenario)
    subject = {"metric": what, "firm": f"{label}'s {what} (the widest of the firms')"}.get(
        kind, f"{label}'s paired difference in {what}")
    width = f"±{format_half_width(e, metric)}"
    if precision.relative is not None:
        scale = _scale(last, widest, precision)
        if scale:
            width += f" ({100 * e.half_width / abs(scale):.1f}%)"
    target = _target_text(precision, metric, scenario, kind)
    if last.precise:
        return (f"Precise enough after {last.n} replications: the 95% interval of {subject} "
                f"is {width}, target {target}")
    return (f"Cap reached: after {last.n} replications (--max-replications) the 95% "
            f"interval of {subject} is {width}, wider than the target {target}; "
            f"it was not reached")


__all__ = ["ReplicationStream", "check_metric", "check_selection", "check_target",
           "compare_to_precision", "guarantee", "market_to_precision",
           "precision_dict", "run_to_precision", "select_best", "selection_dict"]
