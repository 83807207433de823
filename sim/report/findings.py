"""Who wins on what, worked out from the numbers and said in plain words.

For each headline metric the best strategy is the one with the best mean (in the
metric's direction); it is compared with the runner-up by the paired difference over
replications (both met the same customers), and the difference counts as clear only
when its 95% confidence interval excludes zero. Nothing here is a judgement beyond that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.experiment.compare import ComparisonResult
from sim.formats import (
    format_difference_interval,
    format_interval,
    format_plain,
    format_probability,
    format_size,
)
from sim.metrics import METRIC_BY_KEY, Estimate, Metric, estimate
from sim.report.html import Html, el, join

SUMMARY_METRICS = ("profit", "customer_retention", "cost_per_customer", "mean_satisfaction",
                   "mean_wait_h")
"""The metrics the plain-language summary speaks about, in this order."""

WINS = {
    "profit": "earns the most profit",
    "customer_retention": "keeps the most customers",
    "cost_per_customer": "serves a customer at the lowest cost",
    "mean_satisfaction": "has the most satisfied customers",
    "mean_wait_h": "keeps waits shortest",
}
"""How a win on each summary metric reads; other metrics read 'has the best <label>'."""


@dataclass(frozen=True, slots=True)
class Finding:
    """The best strategy on one metric, and how clearly it beats the runner-up."""

    metric: Metric
    best: str
    value: Estimate
    runner_up: str | None
    difference: Estimate | None
    """Paired (best - runner-up) per replication; None with a single strategy."""

    @property
    def tie(self) -> bool:
        d = self.difference
        return d is not None and d.mean == 0 and (d.n < 2 or d.sd == 0)

    @property
    def clear(self) -> bool | None:
        """True when the paired 95% CI excludes zero; None when there is no interval."""
        d = self.difference
        if d is None or math.isnan(d.low):
            return None
        return not (d.low <= 0 <= d.high)


def undefined(result: ComparisonResult, metrics: tuple[str, ...] = SUMMARY_METRICS
              ) -> list[Metric]:
    """The metrics without a value for some strategy (e.g. 30-day retention in a run
    that measures fewer than two periods)."""
    return [METRIC_BY_KEY[key] for key in metrics
            if any(math.isnan(result.result(n).estimates()[key].mean) for n in result.names)]


def findings(result: ComparisonResult, metrics: tuple[str, ...] = SUMMARY_METRICS
             ) -> list[Finding]:
    """One finding per metric whose mean is defined for every strategy."""
    out = []
    missing = {m.key for m in undefined(result, metrics)}
    for key in metrics:
        metric = METRIC_BY_KEY[key]
        if key in missing:
            continue
        means = {name: result.result(name).estimates()[key] for name in result.names}
        sign = 1.0 if metric.higher_is_better else -1.0
        ranked = sorted(result.names, key=lambda n: -sign * means[n].mean)
        best = ranked[0]
        runner_up = ranked[1] if len(ranked) > 1 else None
        difference = None if runner_up is None else paired(result, best, runner_up, key)
        out.append(Finding(metric, best, means[best], runner_up, difference))
    return out


def paired(result: ComparisonResult, a: str, b: str, key: str) -> Estimate:
    """Mean and 95% CI of (a - b) per replication, on the same customers."""
    runs_a, runs_b = result.result(a).runs, result.result(b).runs
    assert [r.replication for r in runs_a] == [r.replication for r in runs_b]
    return estimate([x.metrics[key] - y.metrics[key] for x, y in zip(runs_a, runs_b, strict=True)])


def sentence(f: Finding) -> Html:
    """The finding as one sentence, strategy names in bold."""
    m = f.metric
    value = format_plain(f.value.mean, m.unit)
    ci = format_interval(f.value, m)
    stated = f"{value} ({ci})" if ci else value
    if f.runner_up is None or f.difference is None:
        return join([el("strong", m.text()), f": {stated}."])
    if f.tie:
        return join([el("strong", f.best), " and ", el("strong", f.runner_up),
                     f" tie on {m.text().lower()}: {value}."])
    d = f.difference
    better = ("more" if d.mean > 0 else "less")
    wins = WINS.get(m.key, f"has the best {m.text().lower()}")
    if m.key == "profit" and f.value.mean < 0:
        wins = "loses the least money (profit)"
    lead = [el("strong", f.best), f" {wins}: ",
            stated, f", {format_size(d.mean, m)} {better} than ", el("strong", f.runner_up),
            " on the same customers"]
    if f.clear is None:
        tail = " (one replication: no confidence interval; run more to tell)."
    elif f.clear:
        tail = f", a clear difference (paired 95% CI {format_difference_interval(d, m)})."
    else:
        tail = (f", but that is within the noise (paired 95% CI {format_difference_interval(d, m)} "
                "includes zero).")
    return join([*lead, tail])


def probability_line(result: ComparisonResult) -> Html:
    """'Probability of having the best profit: tiered 100%, god 0%.'"""
    best = result.probability_best()
    label = METRIC_BY_KEY[result.metric].text().lower()
    ranking = sorted(result.names, key=lambda n: -best[n])
    parts: list[Html | str] = []
    for i, name in enumerate(ranking):
        parts += [", " if i else "", el("strong", name), f" {format_probability(best[name])}"]
    n = len(result.results[0].runs)
    rough = f" With only {n} replications this is rough." if n < 10 else ""
    return join([f"Probability of having the best {label} (bootstrap over replications): ",
                 *parts, ".", rough])


__all__ = ["SUMMARY_METRICS", "Finding", "findings", "paired", "probability_line", "sentence",
           "undefined"]
