"""The fit checked on the holdout period: simrun and BG/NBD against what happened.

Both models see the calibration period only. The calibration customers (the cohort:
those whose first purchase falls in the calibration period) are replayed: simrun
simulates the fitted scenario with new customers arriving exactly at the cohort's
first purchases (and nobody else; a log of dates puts them at the middle of the
opening hours), for several replications; BG/NBD is fitted to the cohort's
calibration histories. Then, week by week over both periods and for the holdout:

- cumulative repeat purchases of the cohort (the tracking plot: BG/NBD's expectation
  given each customer's first purchase, simrun's mean over replications);
- the distribution of purchases per customer in the holdout (BG/NBD by simulation from
  each customer's posterior, :data:`BGNBD_DRAWS` draws each);
- conditional expectations: mean holdout purchases by calibration repeat purchases
  (simrun groups its simulated customers by their own calibration history; BG/NBD's
  equation 10 for each real customer, averaged within the group);
- spend per purchase and the cohort's holdout revenue; waits and ratings when the log
  has them.

Each comes with its error figure (:class:`Error`). A repeat purchase is every purchase
of a customer but its first; weeks count from the log's first day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.fit.bgnbd import BGNBD, fit_bgnbd
from sim.fit.scenario_out import FittedScenario
from sim.model.engine import LeanProcess, Process, Replication
from sim.model.events import SERVED, VisitEvent, VisitWatcher
from sim.model.rng import NEW
from sim.scenario.model import Scenario

BINS = 8
"""Purchase counts 0 to 6, then 7 or more."""
BGNBD_DRAWS = 50
WEEK = 7.0


@dataclass(frozen=True)
class Error:
    """One error figure: what it measures, simrun's and BG/NBD's (None: not modelled)."""

    what: str
    measure: str
    simrun: float
    bgnbd: float | None = None
    unit: str = "%"


@dataclass
class Holdout:
    fitted: FittedScenario
    bgnbd: BGNBD
    replications: int
    weeks: np.ndarray
    """The end of each week, in weeks since the log's first day."""
    calibration_weeks: float
    tracking: dict[str, np.ndarray]
    """Cumulative repeat purchases of the cohort by week: actual, simrun, BG/NBD."""
    counts: dict[str, np.ndarray]
    """Share of cohort customers with 0..6, 7+ purchases in the holdout."""
    conditional: dict[str, np.ndarray]
    """Mean holdout purchases by calibration repeat purchases 0..6, 7+."""
    group_sizes: np.ndarray
    """Actual customers in each group of calibration repeat purchases."""
    spend: dict[str, float]
    """Mean amount per holdout purchase."""
    revenue: dict[str, float]
    """The cohort's holdout revenue."""
    totals: dict[str, float]
    """The cohort's purchases in the holdout (all repeat purchases): actual, simrun,
    BG/NBD (its expectation at the holdout's end less that at the calibration's)."""
    waits: dict[str, float] | None
    """Mean minutes waited per holdout purchase (when the log has them)."""
    ratings: dict[str, float] | None
    errors: list[Error] = field(default_factory=list)


class _Cohort(VisitWatcher):
    """A replication's record of its cohort: per customer, the days of its purchases
    and what they paid, waited and rated (an engine observer)."""

    def __init__(self, customers: int, cal_days: float) -> None:
        self.cal_days = cal_days
        self.bought = np.zeros(customers, dtype=np.int64)
        self.repeat_days: list[float] = []
        self.cal_repeats = np.zeros(customers, dtype=np.int64)
        self.holdout = np.zeros(customers, dtype=np.int64)
        self.revenue = self.waited_min = self.satisfaction = 0.0

    def visited(self, e: VisitEvent) -> None:
        if e.outcome != SERVED or e.key[0] != NEW:
            return
        i = e.key[1]
        day = (e.ended_h - e.service_h - e.wait_h) / 24.0
        if self.bought[i]:
            self.repeat_days.append(day)
            if day < self.cal_days:
                self.cal_repeats[i] += 1
        self.bought[i] += 1
        if day >= self.cal_days:
            self.holdout[i] += 1
            self.revenue += e.price - e.refund
            self.waited_min += e.wait_h * 60.0
            self.satisfaction += e.satisfaction


class CohortReplication(Replication):
    """A replication whose new customers are the cohort, arriving at the given hours
    (customer i at ``arrivals_h[i]``) instead of by the Poisson process."""

    def __init__(self, scenario: Scenario, replication: int, observer: Any,
                 arrivals_h: Iterable[float]) -> None:
        super().__init__(scenario, replication, observer)
        self.arrivals_h = tuple(arrivals_h)

    def new_customers(self) -> Process:
        for index, at in enumerate(self.arrivals_h):
            yield self.env.timeout(max(0.0, at - self.env.now))
            LeanProcess(self.env, self.life((NEW, index), referred=False))


def simulate_cohort(scenario: Scenario, replication: int, arrivals_h: tuple[float, ...],
                    cal_days: float, weeks: int) -> dict[str, Any]:
    """One replication of the cohort: what :func:`holdout` compares (picklable)."""
    cohort = _Cohort(len(arrivals_h), cal_days)
    CohortReplication(scenario, replication, cohort, arrivals_h).run()
    repeats = np.bincount(np.floor(np.asarray(cohort.repeat_days) / WEEK).astype(np.int64),
                          minlength=weeks)[:weeks]
    return {"weekly": repeats, "cal_repeats": cohort.cal_repeats, "holdout": cohort.holdout,
            "revenue": cohort.revenue, "waited_min": cohort.waited_min,
            "satisfaction": cohort.satisfaction}


def holdout(fitted: FittedScenario, replications: int = 10, jobs: int = 1,
            seed: int = 1) -> Holdout:
    """simrun and BG/NBD against the holdout period (module docstring)."""
    from sim.experiment.pool import run_parallel

    cal = fitted.calibration
    log = cal.log
    cal_days, days = cal.calibration_days, cal.days
    weeks = math.ceil(days / WEEK)
    cohort = np.flatnonzero(cal.first_day < cal_days)
    first = cal.first_day[cohort]
    # actual
    index = np.full(len(log.customers), -1)
    index[cohort] = np.arange(len(cohort))
    mine = index[log.customer] >= 0
    who, day, amount = index[log.customer][mine], log.day[mine], log.amount[mine]
    repeat = day > cal.first_day[cohort][who]
    in_hold = day >= cal_days
    x = np.bincount(who[repeat & ~in_hold], minlength=len(cohort))
    t_last = np.full(len(cohort), -np.inf)
    np.maximum.at(t_last, who[~in_hold], day[~in_hold])
    actual_hold = np.bincount(who[in_hold], minlength=len(cohort))
    weekly = np.bincount(np.floor(day[repeat] / WEEK).astype(np.int64), minlength=weeks)[:weeks]
    # simrun
    s = fitted.scenario
    order = np.argsort(first, kind="stable")
    arrivals = _arrival_hours(first[order], log.has_time, s.business.open_hour,
                              s.business.close_hour)
    runs = list(run_parallel(simulate_cohort, ((s, r, arrivals, cal_days, weeks)
                                               for r in range(replications)), jobs))
    sim_weekly = np.mean([r["weekly"] for r in runs], axis=0)
    # BG/NBD, in weeks
    model = fit_bgnbd(x, (t_last - first) / WEEK, (cal_days - first) / WEEK)
    ends = np.arange(1, weeks + 1, dtype=float)
    age = np.maximum(ends[:, None] - first[None, :] / WEEK, 0.0)
    bg_tracking = model.expected(age).sum(axis=1)
    hold_weeks = (days - cal_days) / WEEK
    bg_conditional = model.conditional(hold_weeks, x, (t_last - first) / WEEK,
                                       (cal_days - first) / WEEK)
    bg_counts = _shares(bgnbd_draws(model, x, (t_last - first) / WEEK,
                                    (cal_days - first) / WEEK, hold_weeks, seed))
    group = np.minimum(x, BINS - 1)
    sim_group = [np.minimum(r["cal_repeats"], BINS - 1) for r in runs]
    result = Holdout(
        fitted, model, replications, ends, cal_days / WEEK,
        tracking={"actual": np.cumsum(weekly).astype(float), "simrun": np.cumsum(sim_weekly),
                  "BG/NBD": bg_tracking},
        counts={"actual": _shares(actual_hold),
                "simrun": np.mean([_shares(r["holdout"]) for r in runs], axis=0),
                "BG/NBD": bg_counts},
        conditional={"actual": _by_group(actual_hold, group),
                     "simrun": _by_group(np.concatenate([r["holdout"] for r in runs]),
                                         np.concatenate(sim_group)),
                     "BG/NBD": _by_group(bg_conditional, group)},
        group_sizes=np.bincount(group, minlength=BINS),
        spend={"actual": _ratio(amount[in_hold].sum(), in_hold.sum()),
               "simrun": _ratio(sum(r["revenue"] for r in runs),
                                sum(int(r["holdout"].sum()) for r in runs))},
        revenue={"actual": float(amount[in_hold].sum()),
                 "simrun": float(np.mean([r["revenue"] for r in runs]))},
        totals={"actual": float(actual_hold.sum()),
                "simrun": float(np.mean([r["holdout"].sum() for r in runs])),
                "BG/NBD": float((model.expected((days - first) / WEEK)
                                 - model.expected((cal_days - first) / WEEK)).sum())},
        waits=None, ratings=None)
    held = sum(int(r["holdout"].sum()) for r in runs)
    if log.waited_min is not None:
        waited = log.waited_min[mine][in_hold]
        result.waits = {"actual": float(np.nanmean(waited)) if len(waited) else math.nan,
                        "simrun": _ratio(sum(r["waited_min"] for r in runs), held)}
    if log.rating is not None:
        rated = log.rating[mine][in_hold]
        result.ratings = {"actual": float(np.nanmean(rated)) if len(rated) else math.nan,
                          "simrun": _ratio(sum(r["satisfaction"] for r in runs), held)}
    result.errors = errors(result)
    return result


def _arrival_hours(first_days: np.ndarray, has_time: bool, open_h: float,
                   close_h: float) -> tuple[float, ...]:
    """The simulated cohort's arrivals (hours), in order: at the first purchases; a log of
    dates spreads each day's first purchases evenly over its opening hours."""
    if has_time:
        return tuple(float(d) * 24.0 for d in first_days)
    days = np.floor(first_days)
    out = []
    for day in np.unique(days):
        n = int((days == day).sum())
        out += [float(day) * 24.0 + open_h + (k + 0.5) / n * (close_h - open_h)
                for k in range(n)]
    return tuple(out)


def bgnbd_draws(model: BGNBD, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray,
                weeks: float, seed: int) -> np.ndarray:
    """Holdout purchases under BG/NBD, :data:`BGNBD_DRAWS` draws per customer (all of the
    first customer's, then the second's, ...), simulated from each customer's posterior: alive with the probability its history gives, then rate
    lambda ~ gamma(r + x, alpha + T), dropout p ~ beta(a, b + x); purchase
    opportunities in the holdout are Poisson(lambda t), and the customer drops out
    after each purchase with p, so it makes min(opportunities, a geometric(p) number)."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    alive_p = 1 / (1 + (x > 0) * a / np.maximum(b + x - 1, 1e-12)
                   * ((alpha + big_t) / (alpha + t_x)) ** (r + x))
    shape = np.repeat(r + x, BGNBD_DRAWS)
    rate = rng.gamma(shape, 1 / np.repeat(alpha + big_t, BGNBD_DRAWS))
    p = rng.beta(a, np.repeat(b + x, BGNBD_DRAWS))
    alive = rng.random(len(shape)) < np.repeat(alive_p, BGNBD_DRAWS)
    chances = rng.poisson(rate * weeks)
    before_leaving = rng.geometric(np.clip(p, 1e-12, 1.0))
    return np.asarray(np.where(alive, np.minimum(chances, before_leaving), 0))


def _shares(counts: np.ndarray) -> np.ndarray:
    bins = np.bincount(np.minimum(counts, BINS - 1), minlength=BINS)[:BINS]
    return bins / max(bins.sum(), 1)


def _by_group(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    total = np.bincount(group, weights=values, minlength=BINS)[:BINS]
    size = np.bincount(group, minlength=BINS)[:BINS]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(size > 0, total / np.maximum(size, 1), np.nan)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else math.nan


def errors(h: Holdout) -> list[Error]:
    """The error figures of the report, each defined in docs/calibrate.md."""
    hold = h.weeks > h.calibration_weeks
    actual = h.tracking["actual"]

    def mape(series: np.ndarray) -> float:
        base = actual[hold]
        ok = base > 0
        return float(np.mean(np.abs(series[hold][ok] - base[ok]) / base[ok]) * 100)

    def total(name: str) -> float:
        want = h.totals["actual"]
        return float((h.totals[name] - want) / want * 100) if want else math.nan

    def distance(shares: np.ndarray) -> float:
        return float(0.5 * np.abs(shares - h.counts["actual"]).sum() * 100)

    def conditional(means: np.ndarray) -> float:
        ok = h.group_sizes > 0
        return float(np.average(np.abs(means[ok] - h.conditional["actual"][ok]),
                                weights=h.group_sizes[ok]))

    def relative(values: dict[str, float]) -> float:
        return float((values["simrun"] - values["actual"]) / values["actual"] * 100) \
            if values["actual"] else math.nan

    out = [
        Error("cumulative repeat purchases, holdout weeks", "mean absolute % error",
              mape(h.tracking["simrun"]), mape(h.tracking["BG/NBD"])),
        Error("repeat purchases in the holdout, total", "% error", total("simrun"),
              total("BG/NBD")),
        Error("purchases per customer in the holdout", "distance between the distributions",
              distance(h.counts["simrun"]), distance(h.counts["BG/NBD"]), "points"),
        Error("holdout purchases by calibration repeat purchases", "mean absolute error",
              conditional(h.conditional["simrun"]), conditional(h.conditional["BG/NBD"]),
              "purchases per customer"),
        Error("spend per purchase in the holdout", "% error", relative(h.spend)),
        Error("the cohort's holdout revenue", "% error", relative(h.revenue)),
    ]
    if h.waits is not None:
        out.append(Error("minutes waited per purchase", "difference",
                         h.waits["simrun"] - h.waits["actual"], unit="minutes"))
    if h.ratings is not None:
        out.append(Error("rating per purchase", "difference",
                         h.ratings["simrun"] - h.ratings["actual"], unit="points"))
    return out
