"""Cautions: where a comparison's verdict is fragile, found in its own numbers.

A room acts on who wins, so the report says when the winner may be an accident of the
set-up rather than of the strategies: a capacity limit that never binds (a scarcity
strategy that never shows scarcity), an adaptive policy pinned at a bound (the adaptation
is not at work), a measured window that is not yet in steady state (the customer base
still growing or shrinking), and confidence intervals too wide to name a winner (with the
replications that would be needed). Each check reads the replications' results only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.experiment.compare import ComparisonResult
from sim.experiment.runner import ScenarioResult
from sim.formats import in_sentence
from sim.metrics import METRIC_BY_KEY, estimate

RARELY_BINDS = 0.01
"""A limit that binds on fewer than this share of measured days is said never to bind."""
PINNED = 0.9
"""An adaptive level at a bound on at least this share of measured days is pinned."""
DRIFT = 0.10
"""A customer base that changes by more than this share over the measured window (and
clearly so across replications) is not in steady state."""


@dataclass(frozen=True, slots=True)
class Caution:
    strategy: str
    """The strategy's name, or '' for the comparison as a whole."""
    kind: str
    """'limit never binds', 'adaptation pinned', 'not steady', 'too close to call'."""
    text: str
    """One sentence a room can read."""


def cautions(result: ComparisonResult) -> list[Caution]:
    """Every caution of a comparison (or of one run seen as a comparison)."""
    found: list[Caution] = []
    for one in result.results:
        label = result.labels[one.scenario.name]
        found += [c for c in (_limit_never_binds(one, label), _adaptation_pinned(one, label),
                              _not_steady(one, label)) if c is not None]
    close = too_close_to_call(result)
    if close is not None:
        found.append(close)
    return found


def measured_days(one: ScenarioResult) -> range:
    run = one.scenario.run
    return range(run.warmup_days, run.days)


def binding_share(one: ScenarioResult) -> float:
    """Share of measured days on which someone was turned away or waitlisted."""
    days = measured_days(one)
    hits = [sum(1 for d in days if r.daily["turned_away"][d] + r.daily["waitlisted"][d] > 0)
            for r in one.runs]
    return sum(hits) / (len(days) * len(one.runs)) if one.runs and days else math.nan


def _limit_never_binds(one: ScenarioResult, label: str) -> Caution | None:
    s = one.scenario
    limited = s.strategy.admission.kind != "everyone" or s.business.max_waiting >= 0
    if not limited:
        return None
    share = binding_share(one)
    if share >= RARELY_BINDS:
        return None
    return Caution(s.name, "limit never binds", (
        f"{label}'s capacity limit binds on {100 * share:.1f}% of measured days: nobody is "
        "turned away or waitlisted, so none of its result comes from scarcity."))


def _adaptation_pinned(one: ScenarioResult, label: str) -> Caution | None:
    low, high = one.scenario.strategy.adaptation.bounds()
    if low == high:
        return None
    days = measured_days(one)
    at_bound = [sum(1 for d in days if r.daily["service_level"][d] <= low + 1e-9
                    or r.daily["service_level"][d] >= high - 1e-9) for r in one.runs]
    share = sum(at_bound) / (len(days) * len(one.runs))
    if share < PINNED:
        return None
    return Caution(one.scenario.name, "adaptation pinned", (
        f"{label}'s adaptive service level sits at a bound ({low:g} or {high:g}) on "
        f"{100 * share:.0f}% of measured days: its adaptation is not at work, the bound is."))


def drift(one: ScenarioResult, column: str = "customers_alive") -> list[float]:
    """Per replication: the change of a daily series over the measured window, by least
    squares, as a share of its mean level there."""
    days = np.asarray(measured_days(one), dtype=float)
    out = []
    for r in one.runs:
        y = np.asarray([r.daily[column][int(d)] for d in days], dtype=float)
        level = float(y.mean())
        if len(days) < 2 or level == 0:
            continue
        slope = float(np.polyfit(days, y, 1)[0])
        out.append(float(slope * (days[-1] - days[0]) / level))
    return out


def _not_steady(one: ScenarioResult, label: str) -> Caution | None:
    e = estimate(drift(one))
    if math.isnan(e.low) or abs(e.mean) <= DRIFT or e.low <= 0 <= e.high:
        return None
    way = "grows" if e.mean > 0 else "shrinks"
    return Caution(one.scenario.name, "not steady", (
        f"{label}'s customer base still {way} by {100 * abs(e.mean):.0f}% over the measured "
        "window: the results describe a business on the move, not its steady state "
        "(measure longer, or start measuring later)."))


def too_close_to_call(result: ComparisonResult) -> Caution | None:
    """The best and second-best strategy on the comparison's metric cannot be told apart:
    the replications that would make the paired 95% interval as narrow as the difference
    (the half-width falls as one over the square root of the replications)."""
    if len(result.names) < 2:
        return None
    metric = METRIC_BY_KEY[result.metric]
    sign = 1.0 if metric.higher_is_better else -1.0
    means = {n: result.result(n).estimates()[metric.key].mean for n in result.names}
    if any(math.isnan(v) for v in means.values()):
        return None
    first, second = sorted(result.names, key=lambda n: -sign * means[n])[:2]
    d = estimate([a.metrics[metric.key] - b.metrics[metric.key] for a, b in zip(
        result.result(first).runs, result.result(second).runs, strict=True)])
    if math.isnan(d.low) or not d.low <= 0 <= d.high:
        return None
    labels = result.labels
    n = d.n
    needed = (f"about {math.ceil(n * (d.half_width / abs(d.mean)) ** 2)} replications"
              if d.mean else "many more replications")
    period = result.results[0].scenario
    return Caution("", "too close to call", (
        f"{labels[first]} and {labels[second]} cannot be told apart on "
        f"{in_sentence(metric.text_for(period))}: the paired 95% interval of their difference "
        f"includes zero after {n} replications; {needed} would be needed to resolve a "
        "difference of this size."))
