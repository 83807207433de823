"""Why does B beat (or trail) A? The paired difference in a metric, split among the
knob groups in which the two strategies differ, as Shapley values.

A coalition is a set of knob groups taken from B, the rest from A
(:func:`sim.scenario.knob_groups.combine`). Every coalition's strategy runs the same
replications with the same seed on A's market, so the same customers arrive with the
same wishes under each (common random numbers), and a coalition's value in a
replication is the metric in that replication. Shapley values are computed per
replication (:mod:`sim.experiment.shapley`): exactly over all coalitions for up to six
groups that differ, from sampled permutations beyond. Each group's contribution is the
mean over replications with its Student-t 95% interval; the contributions of one
replication add up to that replication's paired difference B - A (efficiency, to
floating point), so their means add up to the mean paired difference, which is the one
``simrun compare`` reports. A group the two strategies set alike is no player: it
contributes exactly 0.

A and B must share the market (everything but the strategy): coalitions mix
strategies, never markets. A replication in which the metric is undefined under some
coalition (a ratio with nothing to divide by) is left out of every number here, so the
sums still hold.

This module runs and computes; files, tables and charts are views of :class:`Attribution`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim import __version__
from sim.experiment import knob_groups, shapley
from sim.experiment.compare import check_same_market
from sim.experiment.pool import run_parallel
from sim.experiment.runner import charts_of, default_jobs, tabulate
from sim.formats import format_difference, in_sentence
from sim.metrics import METRIC_BY_KEY, Estimate, Metric, RunResult, estimate, verdict
from sim.model.engine import run_replication
from sim.scenario import Issue, Scenario, ScenarioError
from sim.scenario.errors import suggest
from sim.scenario.knob_groups import GROUP_NAMES, combine
from sim.scenario.loader import cross_checks


@dataclass(frozen=True)
class Attribution:
    """The paired difference B - A in one metric and its Shapley split by knob group."""

    a: Scenario
    b: Scenario
    metric: str
    players: tuple[str, ...]
    """The groups that differ, in :data:`~sim.scenario.GROUP_NAMES` order."""
    plan: shapley.ShapleyPlan
    a_values: tuple[float, ...]
    """A's metric per replication (NaN where a replication is left out)."""
    b_values: tuple[float, ...]
    shares: dict[str, tuple[float, ...]]
    """Every group's contribution per replication; exactly 0.0 for a group alike in both."""
    version: str = __version__

    @property
    def contributions(self) -> dict[str, Estimate]:
        """Every group's contribution: mean and 95% CI over replications."""
        return {group: estimate(values) for group, values in self.shares.items()}

    @property
    def total(self) -> Estimate:
        """The paired difference B - A: mean and 95% CI over replications."""
        return estimate(self.differences)

    @property
    def differences(self) -> tuple[float, ...]:
        return tuple(b - a for a, b in zip(self.a_values, self.b_values, strict=True))

    @property
    def a_value(self) -> Estimate:
        return estimate(self.a_values)

    @property
    def b_value(self) -> Estimate:
        return estimate(self.b_values)

    @property
    def replications(self) -> int:
        return len(self.a_values)

    @property
    def used(self) -> int:
        """Replications behind the numbers (those with the metric defined everywhere)."""
        return sum(not math.isnan(v) for v in self.differences)

    @property
    def seed(self) -> int:
        return self.a.run.seed

    @property
    def metric_info(self) -> Metric:
        return METRIC_BY_KEY[self.metric]

    def aspects(self, group: str) -> list[knob_groups.Aspect]:
        """What the group is set to in A and in B, in short words."""
        return knob_groups.aspects(self.a.strategy, self.b.strategy, group)

    def groups(self) -> list[dict[str, Any]]:
        """Per group: its name, whether it differs, each side's settings in short words
        and its contribution (an Estimate)."""
        rows = []
        for group, e in self.contributions.items():
            found = self.aspects(group)
            rows.append({"group": group, "differs": group in self.players,
                         "a_setting": settings_text(found, "a"),
                         "b_setting": settings_text(found, "b"), "contribution": e})
        return rows

    def summary(self) -> Any:
        """One row per group and one for the total: what differs, the contribution's
        mean and 95% CI; a pandas DataFrame when pandas is installed, else dicts."""
        total = {"group": "total", "differs": True, "a_setting": self.a.name,
                 "b_setting": self.b.name, "contribution": self.total}
        rows = []
        for row in [*self.groups(), total]:
            e = row.pop("contribution")
            rows.append({**row, "mean": e.mean, "ci_low": e.low, "ci_high": e.high, "n": e.n})
        return tabulate(rows)

    @property
    def verb(self) -> str:
        """How B stands against A: 'beats' or 'trails' when the paired 95% CI excludes
        0 (with one replication, by the sign alone), else 'is within noise of'."""
        total, metric = self.total, self.metric_info
        clear = verdict(total, metric) != "unclear" or (math.isnan(total.low)
                                                       and total.mean != 0)
        if not clear or math.isnan(total.mean):
            return "is within noise of"
        return "beats" if (total.mean > 0) == metric.higher_is_better else "trails"

    @property
    def labels(self) -> tuple[str, str]:
        """A's and B's display labels; a label both share gets the name added."""
        a, b = self.a.label, self.b.label
        if a == b:
            return f"{a} ({self.a.name})", f"{b} ({self.b.name})"
        return a, b

    def sentence(self) -> str:
        """'Tiered service beats Customer is God by 46,000 on profit (EUR): +30,000 from
        prices and tiers, ...'."""
        metric, total = self.metric_info, self.total
        label = in_sentence(metric.text_for(self.a))
        a, b = self.labels
        if self.verb == "is within noise of":
            head = f"{b} is within noise of {a} on {label} ({format_difference(total, metric)})"
        else:
            amount = format_difference(replace(total, low=math.nan), metric).lstrip("+-")
            head = f"{b} {self.verb} {a} by {amount} on {label}"
        parts = sorted(((e, g) for g, e in self.contributions.items() if g in self.players),
                       key=lambda item: -abs(item[0].mean))
        return head + ": " + ", ".join(
            f"{format_difference(replace(e, low=math.nan), metric)} from {g}" for e, g in parts)

    def chart(self) -> Any:
        """The waterfall from A's value to B's, one step per group with its 95% CI (a
        matplotlib Figure; the charts are attached by :mod:`sim.api`)."""
        return charts_of(self)


def settings_text(found: list[knob_groups.Aspect], side: str) -> str:
    """One side's settings of a group: '0.8', 'admission everyone; servers 0'."""
    return "; ".join(f"{x.label} {getattr(x, side)}".strip() for x in found)


def explain_winner(result: Any, *, jobs: int | None = None,
                   on_start: Callable[[int], None] | None = None,
                   progress: Callable[[], None] | None = None) -> Attribution:
    """Why a comparison's winner on its metric wins: the winner against the baseline
    (against the runner-up when the baseline itself wins), on the same replications."""
    order = result.ranking()
    winner = order[0]
    other = result.baseline if winner != result.baseline else order[1]
    return explain(result.result(other).scenario, result.result(winner).scenario,
                   metric=result.metric, jobs=jobs, on_start=on_start, progress=progress)


def explain(a: Scenario, b: Scenario, *, metric: str = "profit", jobs: int | None = None,
            exact_max_players: int = shapley.EXACT_MAX_PLAYERS,
            permutations: int = shapley.PERMUTATIONS,
            on_start: Callable[[int], None] | None = None,
            progress: Callable[[], None] | None = None) -> Attribution:
    """Split the paired difference B - A in ``metric`` among the knob groups that differ.

    ``on_start`` receives the number of runs (coalitions x replications) before any
    starts; ``progress`` is called as each finishes. Raises :class:`ScenarioError` when
    the metric is unknown, the markets differ or the strategies do not differ at all.
    """
    if a.warmup_auto or b.warmup_auto:  # run.warmup_days = "auto": one pilot for both
        from sim.experiment.compare import resolve_warmups

        a, b = resolve_warmups([a, b], jobs)
    who = knob_groups.players(a.strategy, b.strategy)
    check(a, b, metric, who)
    game_plan = shapley.plan(who, seed=a.run.seed, exact_max_players=exact_max_players,
                             permutations=permutations)
    scenarios = {c: coalition_scenario(a, b, c) for c in game_plan.coalitions}
    reps = a.run.replications
    if on_start:
        on_start(len(scenarios) * reps)
    tasks = [(c, s, rep) for c, s in scenarios.items() for rep in range(reps)]
    values: dict[frozenset[str], list[float]] = {c: [math.nan] * reps for c in scenarios}
    jobs = min(jobs or default_jobs(), len(tasks))
    for coalition, run in run_parallel(_coalition_run, tasks, jobs):  # one pool for all
        values[coalition][run.replication] = run.metrics[metric]
        if progress:
            progress()
    game = {c: np.array(v, dtype=float) for c, v in values.items()}
    undefined = np.any(np.isnan(np.array(list(game.values()))), axis=0)
    game = {c: np.where(undefined, math.nan, v) for c, v in game.items()}
    split = game_plan.values(game)
    zeros = np.where(undefined, math.nan, 0.0)
    shares = {g: tuple(map(float, split.get(g, zeros))) for g in GROUP_NAMES}
    return Attribution(a, b, metric, who, game_plan, tuple(map(float, game[frozenset()])),
                       tuple(map(float, game[frozenset(who)])), shares)


def _coalition_run(coalition: frozenset[str], scenario: Scenario, replication: int
                   ) -> tuple[frozenset[str], RunResult]:
    return coalition, run_replication(scenario, replication)


def check(a: Scenario, b: Scenario, metric: str, who: Collection[str]) -> None:
    """Refuse what cannot be explained, naming every problem at once."""
    problems = []
    if metric not in METRIC_BY_KEY:
        known = f"metrics: {', '.join(METRIC_BY_KEY)}"
        hint = suggest(metric, METRIC_BY_KEY)
        problems.append(Issue("--metric", "unknown metric", metric,
                              f"{hint} {known}" if hint else known))
    problems.extend(Issue("", f"{d}: an explanation mixes strategies on one market, so A "
                              "and B must differ only in [strategy]")
                    for d in check_same_market([a, b]))
    if not who:
        problems.append(Issue("strategy", f"{a.name} and {b.name} set every strategy knob "
                                          "alike: nothing to explain"))
    if problems:
        raise ScenarioError(f"explain {a.name} -> {b.name}", problems)


def coalition_scenario(a: Scenario, b: Scenario, from_b: Collection[str]) -> Scenario:
    """A's scenario with the groups ``from_b`` taken from B's strategy, checked like a
    loaded scenario (names that must exist do, and so on)."""
    strategy = combine(a.strategy, b.strategy, from_b)
    mixed = replace(a, strategy=strategy)
    issues = cross_checks(mixed)
    if issues:
        taken = ", ".join(g for g in GROUP_NAMES if g in from_b)
        raise ScenarioError(f"{a.name} with {taken} from {b.name}", issues)
    return mixed


__all__ = ["Attribution", "explain"]
