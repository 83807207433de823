"""Metrics: what a replication measures, how it is named, and how replications combine.

The engine updates a :class:`Tally` in place (plain attributes, no per-visit records,
so memory stays flat in the number of visits) and turns it into a frozen
:class:`RunResult` at the horizon. Every view (terminal table, JSON, CSV, charts)
reads :data:`METRICS` for names, units and order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.strategies.policies import (
    DailySlots,
    Everyone,
    Fix,
    HonourAll,
    HonourNone,
    RefundNever,
)


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: str
    """'money' (in the scenario's currency), 'share' (0-1, shown as %), 'hours', 'count'
    (a whole number per replication), 'number' (a real number), 'ratio', 'score' (0-10),
    'nps' (-100 to +100)."""
    group: str
    """Section of the results table: Headline, Money, Customers, Visits, ..."""

    def text(self, period_days: int | None = None, currency: str = "") -> str:
        """The label as a person reads it: the retention period filled in where it has
        one, and the currency after a money metric's name ('Profit (EUR)')."""
        period = f"{period_days}-day period" if period_days else "period"
        text = self.label.replace("{period}", period)
        if self.unit != "money" or not currency:
            return text
        return f"{text[:-1]}, {currency})" if text.endswith(")") else f"{text} ({currency})"

    def text_for(self, scenario: Any) -> str:
        """:meth:`text` with a scenario's retention period and currency."""
        return self.text(scenario.run.retention_period_days, scenario.business.currency)

    @property
    def higher_is_better(self) -> bool:
        """Direction for 'which strategy is best' (costs, waits and losses: lower)."""
        return self.key not in LOWER_IS_BETTER


METRICS: tuple[Metric, ...] = (
    Metric("profit", "Profit", "money", "Headline"),
    Metric("customer_retention", "Customer retention (per {period})", "share", "Headline"),
    Metric("cost_per_customer", "Cost per customer served", "money", "Headline"),
    Metric("revenue", "Revenue (after refunds)", "money", "Money"),
    Metric("gross_revenue", "Revenue (before refunds)", "money", "Money"),
    Metric("refunds", "Refunds paid", "money", "Money"),
    Metric("staff_cost", "Staff cost", "money", "Money"),
    Metric("unit_cost", "Unit cost", "money", "Money"),
    Metric("request_cost", "Request cost", "money", "Money"),
    Metric("recovery_cost", "Recovery cost", "money", "Money"),
    Metric("delight_cost", "Delight cost", "money", "Money"),
    Metric("return_losses", "Return losses", "money", "Money"),
    Metric("acquisition_cost", "Acquisition cost", "money", "Money"),
    Metric("imitation_cost", "Imitation cost", "money", "Money"),
    Metric("margin", "Margin (profit / revenue)", "share", "Money"),
    Metric("cost_per_visit", "Cost per served visit", "money", "Money"),
    Metric("revenue_per_customer", "Revenue per customer served", "money", "Money"),
    Metric("profit_per_customer", "Profit per customer served", "money", "Money"),
    Metric("clv", "Customer lifetime value (discounted)", "money", "Money"),
    Metric("clv_to_cac", "CLV / CAC", "ratio", "Money"),
    Metric("customers_served", "Customers served", "count", "Customers"),
    Metric("prospects_new", "Prospects reached by marketing", "count", "Customers"),
    Metric("prospects_referred", "Prospects referred by customers", "count", "Customers"),
    Metric("customers_won", "Customers won (first purchase)", "count", "Customers"),
    Metric("conversion_rate", "Conversion (customers won / prospects)", "share", "Customers"),
    Metric("cac", "Acquisition cost per customer won (CAC)", "money", "Customers"),
    Metric("lost_prospects", "Lost prospects (left without buying)", "count", "Customers"),
    Metric("customers_churned", "Customers churned (served, then left)", "count", "Customers"),
    Metric("repeat_rate", "Repeat rate (buy again in the next {period})", "share", "Customers"),
    Metric("visit_return_rate", "Returns after served visits (share)", "share", "Customers"),
    Metric("arrivals", "Visits arriving", "count", "Visits"),
    Metric("served", "Visits served", "count", "Visits"),
    Metric("abandoned", "Visits abandoned", "count", "Visits"),
    Metric("balked", "Visits balked", "count", "Visits"),
    Metric("priced_out", "Visits priced out", "count", "Visits"),
    Metric("turned_away", "Visits turned away", "count", "Visits"),
    Metric("waitlisted", "Visits waitlisted", "count", "Visits"),
    Metric("abandonment_rate", "Abandonment (per visit joining the queue)", "share", "Service"),
    Metric("abandonment_per_arrival", "Abandonment (per arriving visit)", "share", "Service"),
    Metric("mean_wait_h", "Mean wait of served visits", "hours", "Service"),
    Metric("mean_wait_joined_h", "Mean wait (all who queued)", "hours", "Service"),
    Metric("p90_wait_h", "90th percentile wait of served visits", "hours", "Service"),
    Metric("wait_probability", "Share of served visits that waited", "share", "Service"),
    Metric("utilisation", "Server utilisation", "share", "Service"),
    Metric("mean_satisfaction", "Mean satisfaction (served visits)", "score", "Service"),
    Metric("nps", "Net promoter score (per customer)", "nps", "Service"),
    Metric("nps_per_visit", "Net promoter score (per served visit)", "nps", "Service"),
    Metric("requests_honoured_reasonable", "Reasonable requests honoured", "count", "Requests and abuse"),
    Metric("requests_refused_reasonable", "Reasonable requests refused", "count", "Requests and abuse"),
    Metric("requests_honoured_unreasonable", "Unreasonable requests honoured", "count", "Requests and abuse"),
    Metric("requests_refused_unreasonable", "Unreasonable requests refused", "count", "Requests and abuse"),
    Metric("failures", "Service failures", "count", "Requests and abuse"),
    Metric("abuse_claims", "Abusive refund claims", "count", "Requests and abuse"),
    Metric("abuse_refunded", "Abusive claims refunded", "count", "Requests and abuse"),
    Metric("abuse_losses", "Losses to abuse (refunds and goods)", "money", "Requests and abuse"),
    Metric("genuine_claims", "Genuine refund claims", "count", "Requests and abuse"),
    Metric("mean_entitlement", "Entitlement of customers served (mean)", "score", "Requests and abuse"),
    Metric("reputation_end", "Reputation at the horizon", "score", "Image and queue"),
    Metric("mean_in_system", "Mean number in the system", "number", "Image and queue"),
    Metric("mean_sojourn_h", "Mean time in the system (joined)", "hours", "Image and queue"),
    Metric("join_rate_per_h", "Joining rate (per hour)", "number", "Image and queue"),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}


def shown_metrics(scenarios: Iterable[Any]) -> tuple[Metric, ...]:
    """The metrics a table of these scenarios' results shows (the terminal's, a
    report's): every one but those 0 by construction in every scenario, rows of zeros
    that would read as findings. The imitation cost where no scenario lets a firm
    imitate a rival (``market.imitation_rate`` 0), left out silently (a market's
    concept); and those the strategies' rules hold at 0 (:func:`zero_by_rule`), which
    the table names in a note (:func:`hidden_note`). Result files always hold every
    metric."""
    scenarios = list(scenarios)
    imitates = any(s.market.imitation_rate > 0 for s in scenarios)
    hidden = {metric.key for metric, _ in hidden_by_rule(scenarios)}
    return tuple(m for m in METRICS
                 if (imitates or m.key != "imitation_cost") and m.key not in hidden)


def zero_by_rule(scenario: Any) -> dict[str, str]:
    """The metrics this scenario's strategy holds at 0 in every replication, each with
    the rule that does, in words. Only simrun's own policies are known here: a policy
    from an installed package is never taken to hold a metric at 0."""
    strategy, rules = scenario.strategy, {}
    admission = strategy.admission
    if isinstance(admission, Everyone):
        if scenario.business.max_waiting < 0:
            rules["turned_away"] = ("admission 'everyone' admits every visit, and the waiting "
                                    "room has no limit")
        rules["waitlisted"] = "admission 'everyone' serves every visit on the day it arrives"
    elif isinstance(admission, DailySlots) and not admission.waitlist:
        rules["waitlisted"] = "admission 'daily_slots' offers no later day"
    if isinstance(strategy.recovery, Fix):
        rules["genuine_claims"] = ("recovery 'fix' repairs every failed service, and only a "
                                   "failure left unrepaired brings a genuine claim")
    requests = [tier.requests for tier in strategy.tiers]  # a rule of every tier's
    refunds = [tier.refunds for tier in strategy.tiers]
    if requests and all(isinstance(policy, HonourAll) for policy in requests):
        rules["requests_refused_reasonable"] = rules["requests_refused_unreasonable"] = (
            "requests 'all' honours every special request")
    if requests and all(isinstance(policy, HonourNone) for policy in requests):
        rules["requests_honoured_reasonable"] = rules["requests_honoured_unreasonable"] = (
            "requests 'none' honours no special request")
    if refunds and all(isinstance(policy, RefundNever) for policy in refunds):
        rules["abuse_refunded"] = "refunds 'never' pays no claim"
    return rules


def hidden_by_rule(scenarios: Iterable[Any]) -> list[tuple[Metric, str]]:
    """The metrics that every one of these scenarios' strategies holds at 0
    (:func:`zero_by_rule`), in the tables' order, each with its rule in words (the rules
    of different strategies joined)."""
    rules = [zero_by_rule(s) for s in scenarios]
    if not rules:
        return []
    return [(m, "; ".join(dict.fromkeys(r[m.key] for r in rules)))
            for m in METRICS if all(m.key in r for r in rules)]


def hidden_note(scenarios: Iterable[Any]) -> str:
    """The note under a table that names the rows it leaves out by
    :func:`hidden_by_rule`, and why; '' when it leaves none out."""
    scenarios = list(scenarios)
    hidden = hidden_by_rule(scenarios)
    if not hidden:
        return ""
    by_rule: dict[str, list[str]] = {}  # rows under the same rule named together
    for metric, why in hidden:
        by_rule.setdefault(why, []).append(metric.label[0].lower() + metric.label[1:])
    rows = "; ".join(f"{' and '.join(labels)} ({why})" for why, labels in by_rule.items())
    whose = "every strategy's" if len(scenarios) > 1 else "the strategy's"
    return f"Not shown, 0 in every replication by {whose} rules: {rows}."


LOWER_IS_BETTER = frozenset({
    "cost_per_customer", "refunds", "staff_cost", "unit_cost", "request_cost", "recovery_cost",
    "delight_cost", "return_losses", "acquisition_cost", "imitation_cost", "cost_per_visit",
    "cac",
    "lost_prospects", "customers_churned", "abandoned", "balked", "priced_out", "turned_away",
    "waitlisted", "abandonment_rate", "abandonment_per_arrival", "mean_wait_h",
    "mean_wait_joined_h", "p90_wait_h", "wait_probability", "requests_refused_reasonable",
    "failures", "abuse_claims", "abuse_refunded", "abuse_losses", "genuine_claims",
    "mean_entitlement", "mean_sojourn_h"})
DAILY_COLUMNS = ("revenue", "profit", "served", "abandoned", "turned_away", "waitlisted",
                 "prospects", "mean_satisfaction", "reputation", "image", "service_level",
                 "customers_alive")
"""One value per simulated day, warm-up included: every money item is booked on the day
it happens, so no series steps at the warm-up boundary."""
(DAY_REVENUE, DAY_PROFIT, DAY_SERVED, DAY_ABANDONED, DAY_TURNED_AWAY, DAY_WAITLISTED,
 DAY_PROSPECTS, DAY_SATISFACTION, DAY_REPUTATION, DAY_IMAGE, DAY_SERVICE_LEVEL,
 DAY_ALIVE) = range(len(DAILY_COLUMNS))
SEGMENT_COLUMNS = ("prospects", "customers_won", "lost_prospects", "served", "revenue",
                   "variable_cost", "profit", "churned", "abuse_claims", "promoters",
                   "detractors", "abandoned", "balked", "priced_out", "turned_away", "wait_h",
                   "clv", "customer_retention")
(SEG_PROSPECTS, SEG_WON, SEG_LOST, SEG_SERVED, SEG_REVENUE, SEG_VARIABLE_COST, SEG_PROFIT,
 SEG_CHURNED, SEG_ABUSE_CLAIMS, SEG_PROMOTERS, SEG_DETRACTORS, SEG_ABANDONED, SEG_BALKED,
 SEG_PRICED_OUT, SEG_TURNED_AWAY, SEG_WAIT_H, SEG_CLV,
 SEG_RETENTION) = range(len(SEGMENT_COLUMNS))
TIER_COLUMNS = ("served", "abandoned", "balked", "revenue", "wait_h", "mean_wait_h")
(TIER_SERVED, TIER_ABANDONED, TIER_BALKED, TIER_REVENUE, TIER_WAIT_H,
 TIER_MEAN_WAIT_H) = range(len(TIER_COLUMNS))


@dataclass(frozen=True, slots=True)
class RunResult:
    """One replication's results: plain data, picklable, independent of the engine."""

    replication: int
    metrics: dict[str, float]
    daily: dict[str, Sequence[float]]
    """Each DAILY_COLUMNS series, one value per simulated day (warm-up included): an
    ``array("d")`` from the engine (8 bytes a day: a long horizon stays small), a tuple
    when read back from a result folder."""
    distributions: dict[str, tuple[float, ...]]
    """Shapes for charts: ``satisfaction`` (served visits by whole score 0-10),
    ``wait_minutes`` (served visits per 5-minute bin up to 2 h, then 2 h+),
    ``retention_by_period`` (customer retention of each complete retention period),
    ``repeat_rate_by_period`` (each period's customers who buy again in the next),
    ``survival_by_week`` (actuarial share of the customers won in the measured window
    still customers, by week since their first purchase)."""
    segments: dict[str, dict[str, float]]
    """Per-segment totals (SEGMENT_COLUMNS) over the measured window."""
    tiers: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per-tier totals (TIER_COLUMNS) over the measured window."""
    checks: dict[str, float] = field(default_factory=dict)
    """Independent counts for the model checks: visits in the system at the horizon
    (counted from the queue), prospects of the window still undecided at the horizon, the
    cash balance, and the longest queue joined and the shortest balked at (Naor)."""
    visits_simulated: int = 0


@dataclass(frozen=True, slots=True)
class MarketRunResult:
    """One replication of a market of rival firms: each firm's own result (every
    single-firm metric) and what only the market counts (docs/model.md, "Market of rival
    firms": the measured window)."""

    replication: int
    firms: tuple[RunResult, ...]
    market: dict[str, float]
    """``occasions`` (visit occasions), ``outside`` (occasions on which no firm was
    tried), ``prospects_new`` (new prospects of the market's stream),
    ``prospects_outside`` (of those, who tried no firm and left)."""
    per_firm: dict[str, tuple[float, ...]]
    """Per firm, in the market's order: ``first_choices`` (occasions on which it was
    tried first), ``spill_from`` (visits turned away or balking there after which the
    customer tried another firm the same day), ``spill_to`` (visits that were a second
    or later try of the day), ``spill_served`` (of those, served)."""
    switching: tuple[tuple[float, ...], ...]
    """Served visits by (previous firm the customer was served at, this firm); the last
    row holds customers' first purchases on the market."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean and Student-t 95% confidence interval over replications."""

    mean: float
    sd: float
    n: int
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_of_defined(values: Sequence[float]) -> float:
    """The mean of the values that are defined (NaN marks an undefined ratio); NaN if none."""
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


def estimate(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Mean, sd and t-interval of replication values (NaNs, e.g. undefined ratios, dropped)."""
    import numpy as np  # here, not at the top: a process that only hands out work never needs it

    data = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        nan = math.nan
        return Estimate(nan, nan, 0, nan, nan)
    mean = float(data.mean())
    if n == 1:
        return Estimate(mean, math.nan, 1, math.nan, math.nan)
    sd = float(data.std(ddof=1))
    half = float(t_quantile(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(mean, sd, n, mean - half, mean + half)


def t_quantile(p: float, dof: Any) -> Any:
    """The Student t quantile at probability ``p`` with ``dof`` degrees of freedom (a
    number or an array): ``scipy.special.stdtrit``, which is what ``scipy.stats.t.ppf``
    computes, without importing scipy.stats (about 50 MB and a second of start-up that
    a run does not otherwise need)."""
    from scipy import special

    return special.stdtrit(dof, p)


def verdict(d: Estimate, metric: Metric) -> str:
    """'better' or 'worse' when the paired 95% CI excludes zero, else 'unclear'."""
    if math.isnan(d.low) or d.low <= 0 <= d.high:
        return "unclear"
    return "better" if (d.mean > 0) == metric.higher_is_better else "worse"
