"""Who wins, and what the others do better: worked out from the numbers, said in true
sentences.

The verdict ranks the strategies on the comparison's metric (its mean, in the metric's
direction) and sets the winner against the runner-up by the paired difference over
replications (both met the same customers): a clear win when that difference's 95%
interval excludes zero. Trade-offs are the other headline numbers on which a strategy is
*clearly* better than the winner, each said so that it cannot mislead: a retention rate
with the size of the base it is a rate of, waits with how busy the staff were.
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
    in_sentence,
)
from sim.metrics import METRIC_BY_KEY, Estimate, Metric, estimate
from sim.report.html import Html, el, join

SUMMARY_METRICS = ("profit", "customer_retention", "cost_per_customer", "mean_satisfaction",
                   "nps", "mean_wait_h")
"""The headline numbers the summary speaks about, in this order."""

WINS = {
    "profit": "earns the most profit",
    "customer_retention": "keeps the largest share of its customers",
    "cost_per_customer": "serves a customer at the lowest cost",
    "mean_satisfaction": "leaves its customers the most satisfied",
    "nps": "has the best net promoter score",
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
    """The metrics without a value for some strategy (e.g. customer retention in a run
    that measures less than one retention period)."""
    return [METRIC_BY_KEY[key] for key in metrics
            if any(math.isnan(result.result(n).estimates()[key].mean) for n in result.names)]


def finding(result: ComparisonResult, key: str) -> Finding:
    metric = METRIC_BY_KEY[key]
    means = {name: result.result(name).estimates()[key] for name in result.names}
    sign = 1.0 if metric.higher_is_better else -1.0
    ranked = sorted(result.names, key=lambda n: -sign * means[n].mean)
    best = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    difference = None if runner_up is None else paired(result, best, runner_up, key)
    return Finding(metric, best, means[best], runner_up, difference)


def findings(result: ComparisonResult, metrics: tuple[str, ...] = SUMMARY_METRICS
             ) -> list[Finding]:
    """One finding per metric whose mean is defined for every strategy."""
    missing = {m.key for m in undefined(result, metrics)}
    return [finding(result, key) for key in metrics if key not in missing]


def paired(result: ComparisonResult, a: str, b: str, key: str) -> Estimate:
    """Mean and 95% CI of (a - b) per replication, on the same customers."""
    runs_a, runs_b = result.result(a).runs, result.result(b).runs
    assert [r.replication for r in runs_a] == [r.replication for r in runs_b]
    return estimate([x.metrics[key] - y.metrics[key] for x, y in zip(runs_a, runs_b, strict=True)])


def ranking(result: ComparisonResult) -> list[str]:
    """The strategies from best to worst on the comparison's metric."""
    return result.ranking()


def sentence(result: ComparisonResult, f: Finding) -> Html:
    """The finding as one sentence, strategy labels in bold."""
    labels = result.labels
    m = f.metric
    text = m.text_for(result.results[0].scenario)
    value = format_plain(f.value.mean, m.unit)
    ci = format_interval(f.value, m)
    stated = f"{value} ({ci})" if ci else value
    if f.runner_up is None or f.difference is None:
        return join([el("strong", text), f": {stated}."])
    if f.tie:
        return join([el("strong", labels[f.best]), " and ", el("strong", labels[f.runner_up]),
                     f" tie on {in_sentence(text)}: {value}."])
    d = f.difference
    better = "more" if d.mean > 0 else "less"
    wins = WINS.get(m.key, f"has the best {in_sentence(text)}")
    if m.key == "profit" and f.value.mean < 0:
        wins = "loses the least money"
    lead = [el("strong", labels[f.best]), f" {wins}: ", stated, (f", {format_size(d.mean, m)} "
            f"{better} than "), el("strong", labels[f.runner_up]), " on the same customers"]
    if f.clear is None:
        tail = " (one replication: no confidence interval; run more to tell)."
    elif f.clear:
        tail = f", a clear difference (paired 95% CI {format_difference_interval(d, m)})."
    else:
        tail = (f", but that is within the noise (paired 95% CI "
                f"{format_difference_interval(d, m)} includes zero).")
    return join([*lead, tail])


def trade_offs(result: ComparisonResult) -> list[Html]:
    """Each headline number on which another strategy is clearly better than the
    winner on the comparison's metric, said truly."""
    order = ranking(result)
    winner = order[0]
    said = []
    for key in SUMMARY_METRICS:
        metric = METRIC_BY_KEY[key]
        if key == result.metric or metric in undefined(result, (key,)):
            continue
        for name in order[1:]:
            d = paired(result, name, winner, key)
            clearly_better = d.low > 0 if metric.higher_is_better else d.high < 0
            if clearly_better:  # NaN bounds compare False: no interval, no claim
                said.append(_trade_off(result, name, winner, metric))
    return said


def _trade_off(result: ComparisonResult, name: str, winner: str, metric: Metric) -> Html:
    labels = result.labels
    scenario = result.results[0].scenario

    def mean(who: str, key: str) -> float:
        return result.result(who).estimates()[key].mean

    def both(key: str) -> str:
        unit = METRIC_BY_KEY[key].unit
        return f"{format_plain(mean(name, key), unit)} against {format_plain(mean(winner, key), unit)}"

    key = metric.key
    if key == "customer_retention":
        base = (f"{format_plain(mean(name, 'customers_served'), 'count')} and "
                f"{format_plain(mean(winner, 'customers_served'), 'count')} customers served")
        claim, detail = ("keeps a larger share of its customers",
                         (f"{both(key)} per {scenario.run.retention_period_days}-day period "
                         f"(rates over {base})"))
    elif key == "mean_wait_h":
        claim, detail = ("keeps waits shorter", (f"{both(key)} on average, with its staff busy "
                         f"{both('utilisation')} of their hours"))
    elif key == "cost_per_customer":
        claim, detail = "serves a customer for less", f"{both(key)} per customer served"
    elif key == "mean_satisfaction":
        claim, detail = ("leaves its customers more satisfied",
                         f"{both(key)} out of 10 on served visits")
    elif key == "nps":
        claim, detail = "has more promoters among its customers", f"NPS {both(key)}"
    elif key == "profit":
        claim, detail = "earns more profit", f"{both(key)} over the measured days"
    else:
        claim, detail = f"does better on {in_sentence(metric.text_for(scenario))}", both(key)
    return join(["But ", el("strong", labels[name]), f" {claim} than ",
                 el("strong", labels[winner]), f": {detail}."])


def probability_line(result: ComparisonResult) -> Html:
    """'Probability of having the best profit: Tiered service 100%, ...'."""
    best = result.probability_best()
    labels = result.labels
    label = in_sentence(METRIC_BY_KEY[result.metric].text_for(result.results[0].scenario))
    order = sorted(result.names, key=lambda n: -best[n])
    parts: list[Html | str] = []
    for i, name in enumerate(order):
        parts += [", " if i else "", el("strong", labels[name]),
                  f" {format_probability(best[name])}"]
    n = len(result.results[0].runs)
    rough = f" With only {n} replications this is rough." if n < 10 else ""
    return join([(f"Probability of having the best {label} (bootstrap over replications, not "
                 "a guarantee): "), *parts, ".", rough])


__all__ = ["SUMMARY_METRICS", "Finding", "finding", "findings", "paired", "probability_line",
           "ranking", "sentence", "trade_offs", "undefined"]
