"""``simrun validate``: the installed engine against queueing theory and economics.

Each check reduces the full model to a textbook case by data alone (a scenario with one
tier, price 0 or a fixed price, no requests, no failures, no returns, ...), runs it
through the same engine as any scenario, and compares a metric with its exact value
from :mod:`sim.checks.theory`. Nothing here changes how the engine works.

**Verdict.** A check passes when ``|mean - theory| <= t * s / sqrt(n) + a``:

- ``mean``, ``s``: mean and standard deviation of the metric over ``n`` independent
  replications. Each replication's value is itself an average over thousands of
  visits, so the mean over replications is close to normal and Student's t applies.
- ``t``: the two-sided Student-t quantile at level ``FAMILY_ERROR / m`` (Bonferroni
  over the ``m`` statistical checks): an engine without error fails *any* check of
  the list with probability at most ``FAMILY_ERROR`` (1%), whatever the seed.
- ``a``: a deterministic allowance, only where the simulation estimates something
  slightly different from the steady-state value the theory gives. Each is derived
  from the case, never a blanket percentage:

  * *start-up*: runs start empty and measure after a warm-up. The expected time
    average over the measured window of the queue started empty is computed exactly
    (:func:`sim.checks.theory.window_means_from_empty`); its difference from the
    steady state is the allowance for the number in system, and its relative
    difference for the number waiting is the allowance for waits and abandonment
    (Little's law on the window ties a per-visit wait average to the number waiting).
    Below 1e-12 relative for the cases here: their warm-ups span many relaxation times,
    so the allowance only guards a case someone makes slower.
  * *horizon edge*: the about ``L`` visits still in the system at the horizon are
    missing from per-visit averages over the ``N = lambda T`` visits of the window.
    They move a share by at most ``L / N``, a quantile by at most ``(L / N) / f`` (``f``
    the density at the quantile) and a mean wait by about ``2 (L / N)`` of itself
    (they are length-biased: their waits about twice the mean for exponential
    sojourns). For Little's law the window's ``L - lambda W`` differs from 0 by the
    customers present at the window's two ends; its expectation lies between
    ``-lambda W^2 / T`` and ``lambda E[S^2] / T`` (S the sojourn): the allowance is
    ``lambda E[S^2] / T`` (0.05% of L at the default length, yet several standard
    errors of a long run; on Little's law over a finite window: Kim & Whitt,
    "Statistical analysis with Little's law", Operations Research 61 (2013) 1030-1045).
  * *90th percentile*: waits are kept in a histogram of bins of width ``h`` (1
    minute) and the quantile is interpolated linearly within its bin. Linear
    interpolation misreads the distribution function inside a bin by at most
    ``|f'| h^2 / 8``, so the quantile by at most ``(|f'| / f) h^2 / 8``, which is
    ``delta h^2 / 8`` for the exponential tail of the M/M/c wait (decay
    ``delta = c mu - lambda``). And a sample quantile is biased by the curvature of the
    distribution function, ``-f' / (2 f) * Var``, which is ``(delta / 2) s^2`` here
    (second-order Bahadur expansion), with ``s^2`` the observed variance across
    replications.
  * *ratios*: a wait per served visit divides two sums; its relative bias is at most
    about ``cv_N^2 + cv_N cv_S`` (coefficients of variation across replications of the
    count and of the sum), under a tenth of the tolerance at every length used here,
    and is not allowed for.
  * *economics*: none. The share who buy and the revenue per arrival are proportions
    over arrivals, unbiased given their number; revenue per customer averages
    customers that are independent and identical given their number.

The join-or-balk thresholds of an observable queue are exact: the longest queue a
customer joined and the shortest it balked at, in every replication, must equal the
limit found from the definition of the customer's expected cost
(:func:`sim.checks.theory.observable_join_limit`), once under the model's rule (only the
wait counts against the surplus: willingness to pay is for the service, its duration
included) and once under Naor's (the customer's own service counts too:
``behaviour.balk_counts_own_service``). The two differ by one place in the queue.

**Power.** For each check the output states the smallest relative bias it detects
with probability ``POWER`` (90%): ``(a + (t + t_power) * s / sqrt(n)) / scale`` with
``t_power`` the one-sided Student-t quantile at ``POWER`` and ``scale`` the theory
value (for Little's law, whose theory is 0: the number in system).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from rich.table import Table

from sim.checks import theory
from sim.experiment.pool import run_parallel
from sim.experiment.runner import ScenarioResult, default_jobs
from sim.metrics import RunResult
from sim.model.engine import run_replication
from sim.model.tally import WaitHistogram
from sim.scenario import Scenario, scenario_from_raw

FAMILY_ERROR = 0.01
"""Chance that a correct engine fails at least one statistical check (Bonferroni)."""
POWER = 0.9
"""Probability with which the stated detectable bias fails its check."""
QUANTILE = 0.9


@dataclass(frozen=True, slots=True)
class Check:
    """One line of ``simrun validate``: a theory value and the replications' values."""

    name: str
    """What is checked, e.g. 'M/M/2 mean wait, h (Erlang C)'."""
    theory: float
    values: tuple[float, ...]
    """The metric in each replication."""
    allowance: float = 0.0
    """Deterministic allowance added to the t half-width (module docstring)."""
    allowance_for: str = ""
    """What the allowance covers, e.g. 'start-up, horizon edge'."""
    scale: float | None = None
    """What a relative bias is relative to; None: the theory value."""
    exact: bool = False
    """Every replication must equal the theory (the join-or-balk thresholds)."""
    level: float = FAMILY_ERROR
    """Two-sided error level of this check; run_checks sets FAMILY_ERROR / m."""

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / self.n

    @property
    def standard_error(self) -> float:
        if self.n < 2:
            return math.nan
        m = self.mean
        return math.sqrt(math.fsum((v - m) ** 2 for v in self.values) / (self.n - 1) / self.n)

    @property
    def critical_t(self) -> float:
        return _t_quantile(1 - self.level / 2, self.n - 1)

    @property
    def tolerance(self) -> float:
        """Largest |mean - theory| that passes: t s / sqrt(n) + allowance."""
        if self.exact:
            return 0.0
        return self.critical_t * self.standard_error + self.allowance

    @property
    def passed(self) -> bool:
        if self.exact:
            return min(self.values) == self.theory == max(self.values)
        return abs(self.mean - self.theory) <= self.tolerance

    @property
    def detectable_bias(self) -> float:
        """Smallest relative bias that fails this check with probability POWER."""
        if self.exact:
            return 0.0
        t_power = _t_quantile(POWER, self.n - 1)
        scale = abs(self.theory) if self.scale is None else self.scale
        return (self.tolerance + t_power * self.standard_error) / scale


def _t_quantile(p: float, df: int) -> float:
    if df < 1:
        return math.nan
    from scipy import stats  # lazy: scipy.stats costs a second to import

    return float(stats.t.ppf(p, df))


@dataclass(frozen=True, slots=True)
class Cases:
    """The textbook cases' parameters (hours). Theory is computed from these, and so is
    the simulation in :func:`simulate`: judging the same runs against the theory of
    other parameters is judging an engine that got those parameters wrong.

    The queue sets the cost of a precise check. The relative variance of a mean wait
    per simulated visit (lambda times the asymptotic variance of the time-average number
    waiting, over its square; from the spectral decomposition of the birth-death chain)
    is 58 for M/M/2 at 50% load, 94 for M/M/3 at 60% and 191 for M/M/3 at 80% (observed
    in simulation: 65, 93 and 160), so M/M/2 at 50% reaches a given precision with a
    third of the visits M/M/3 at 80% needs.
    """

    arrivals_per_h: float = 1.0
    """M/M/c and the priority queue: offered load 1 on 2 servers (50%)."""
    service_h: float = 1.0
    servers: int = 2
    abandoning_arrivals_per_h: float = 5.0
    """M/M/c+M: overloaded (5 arrivals an hour for a capacity of 3); patience settles
    who leaves (42%). Overload makes the number in system respond to patience (+1.7% for
    a patience 3% longer), which the abandonment share hardly does (-0.2%)."""
    abandoning_servers: int = 3
    patience_h: float = 2.0
    high_share: float = 0.3
    price: float = 60.0
    wtp_median: float = 70.0
    wtp_sigma: float = 0.3
    return_probability: float = 0.7
    naor_reward: float = 7.0
    naor_cost_per_h: float = 2.0
    naor_service_h: float = 1.0
    room_arrivals_per_h: float = 3.0
    """M/M/2/4: two servers, a waiting room of two places, overloaded (40% turned away)."""
    room_servers: int = 2
    room_places: int = 2


# Measured days and warm-up days of each case at length 1.
_DAYS = {"fifo": (230, 10), "abandon": (115, 5), "priority": (230, 10), "buy": (60, 0),
         "returns": (120, 0), "naor": (29, 1), "naor_classic": (29, 1), "room": (115, 5)}


@dataclass(frozen=True, slots=True)
class Runs:
    """The replications of every case."""

    fifo: ScenarioResult
    abandon: ScenarioResult
    priority: ScenarioResult
    buy: ScenarioResult
    returns: ScenarioResult
    naor: ScenarioResult
    naor_classic: ScenarioResult
    room: ScenarioResult


def plain_queue(*, arrivals_per_h: float, service_h: float, servers: int, days: int,
                warmup_days: int, replications: int, seed: int,
                patience: Any = 1e9, segments: list[dict[str, Any]] | None = None,
                tiers: list[dict[str, Any]] | None = None,
                assignment: Any = "self_select") -> Scenario:
    """The model reduced to a plain queue: open around the clock, one tier at price 0,
    everyone buys and waits, no requests, failures, refunds, referrals or returns, and
    reputation does not move the arrival rate."""
    segment = {"name": "all", "share": 1.0, "wtp": 1.0, "value_of_time_per_h": 0.0,
               "service_time": {"dist": "exponential", "mean": service_h},
               "patience": patience, "request_rate": 0.0, "abuse_propensity": 0.0,
               "referral_propensity": 0.0}
    raw = {
        "run": {"name": "validate", "days": days, "warmup_days": warmup_days,
                "replications": replications, "seed": seed},
        "business": {"servers": servers, "open_hour": 0, "close_hour": 24,
                     "failure_rate": 0.0, "staff_cost_per_hour": 0.0,
                     "unit_cost_per_visit": 0.0},
        "market": {"new_customers_per_day": arrivals_per_h * 24, "reputation_sensitivity": 0.0,
                   "image_sensitivity": 0.0, "acquisition_cost": 0.0, "lock_in": 0.0},
        "segments": [{**segment, **s} for s in segments] if segments else [segment],
        "behaviour": {"return_intercept": -1000.0},
        "strategy": {"tiers": tiers or [{"name": "only", "price": 0.0, "requests": "none",
                                         "refunds": "never"}],
                     "recovery": "none", "assignment": assignment},
    }
    return scenario_from_raw(raw, source="<validate>")


def simulate(cases: Cases = Cases(), *, replications: int = 10, jobs: int | None = None,
             seed: int = 20240601, length: float | Mapping[str, float] = 1.0) -> Runs:
    """Run every case: ``replications`` each, measured windows ``length`` times the
    default (warm-ups unchanged); ``length`` may be given per case ('fifo', 'abandon',
    'priority', 'buy', 'returns', 'naor'; 1 for a case not named)."""
    k = cases
    if not isinstance(length, Mapping):
        length = dict.fromkeys(_DAYS, float(length))
    unknown = set(length) - set(_DAYS)
    if unknown:
        raise ValueError(f"unknown case(s) {sorted(unknown)}; known: {sorted(_DAYS)}")
    lengths = {**dict.fromkeys(_DAYS, 1.0), **length}

    def case(name: str, offset: int, *,
             adjust: Callable[[Scenario], Scenario] = lambda s: s, **queue: Any) -> Scenario:
        measured, warmup = _DAYS[name]
        days = warmup + max(1, round(measured * lengths[name]))
        return adjust(plain_queue(days=days, warmup_days=warmup, replications=replications,
                                  seed=seed + offset, **queue))

    def tier(name: str, price: float, priority: int = 0) -> dict[str, Any]:
        return {"name": name, "price": price, "priority": priority, "requests": "none",
                "refunds": "never"}

    queue: dict[str, Any] = {"arrivals_per_h": k.arrivals_per_h,
                             "service_h": k.service_h, "servers": k.servers}
    naor: dict[str, Any] = {
        "arrivals_per_h": 3.0, "service_h": k.naor_service_h, "servers": 1,
        "segments": [{"name": "all", "share": 1.0, "wtp": 10.0 + k.naor_reward,
                      "value_of_time_per_h": k.naor_cost_per_h}],
        "tiers": [tier("only", 10.0)]}
    scenarios = {
        "fifo": case("fifo", 0, **queue),
        "abandon": case("abandon", 1, arrivals_per_h=k.abandoning_arrivals_per_h,
                        service_h=k.service_h, servers=k.abandoning_servers,
                        patience={"dist": "exponential", "mean": k.patience_h}),
        "priority": case("priority", 2, **queue,
                         segments=[{"name": "urgent", "share": k.high_share},
                                   {"name": "normal", "share": 1 - k.high_share}],
                         tiers=[tier("high", 0.0, 1), tier("low", 0.0)],
                         assignment={"kind": "by_segment",
                                     "tiers": {"urgent": "high", "normal": "low"}}),
        "buy": case("buy", 3, arrivals_per_h=2.0, service_h=0.01, servers=5,
                    segments=[{"name": "all", "share": 1.0,
                               "wtp": {"dist": "lognormal", "median": k.wtp_median,
                                       "sigma": k.wtp_sigma}}],
                    tiers=[tier("only", k.price)]),
        "returns": case("returns", 4,
                        adjust=lambda s: _with_return_probability(s, k.return_probability),
                        arrivals_per_h=0.5, service_h=1e-4, servers=5,
                        segments=[{"name": "all", "share": 1.0, "wtp": 100.0,
                                   "visit_interval": "7 d"}],
                        tiers=[tier("only", 50.0)]),
        "naor": case("naor", 5, **naor),
        "naor_classic": case("naor_classic", 6, adjust=_counting_own_service, **naor),
        "room": case("room", 7, adjust=lambda s: _with_waiting_room(s, k.room_places),
                     arrivals_per_h=k.room_arrivals_per_h, service_h=k.service_h,
                     servers=k.room_servers),
    }
    return Runs(**_run_all(scenarios, jobs))


def _run_all(scenarios: dict[str, Scenario], jobs: int | None) -> dict[str, ScenarioResult]:
    """Every replication of every scenario over one pool of worker processes (one pool
    per scenario would cost a second or two of start-up each)."""
    tasks = [(name, rep) for name, s in scenarios.items() for rep in range(s.run.replications)]
    # the longest first, so that no worker is left with a long one at the end
    tasks.sort(key=lambda task: -scenarios[task[0]].run.days
               * scenarios[task[0]].market.new_customers_per_day)
    runs: dict[tuple[str, int], RunResult] = {}
    jobs = min(jobs or default_jobs(), len(tasks))
    for name, run in run_parallel(_one_replication, ((n, scenarios[n], rep) for n, rep in tasks),
                                  jobs):
        runs[name, run.replication] = run
    return {name: ScenarioResult(s, tuple(runs[name, rep] for rep in range(s.run.replications)))
            for name, s in scenarios.items()}


def _one_replication(name: str, scenario: Scenario, replication: int) -> tuple[str, RunResult]:
    return name, run_replication(scenario, replication)


def judge(runs: Runs, cases: Cases = Cases()) -> list[Check]:
    """Every check of MODEL.md, 'Checks the model must pass': the runs against the
    theory of ``cases``, each check at level FAMILY_ERROR / m."""
    k = cases
    lam, mu, c = k.arrivals_per_h, 1 / k.service_h, k.servers
    checks: list[Check] = []

    # M/M/c, Erlang C, and Little's law on the same runs
    fifo = _Window(runs.fifo, lam, mu, c)
    wait = theory.erlang_c_mean_wait(lam, mu, c)
    in_system = lam / mu + lam * wait
    p90 = theory.erlang_c_wait_quantile(lam, mu, c, QUANTILE)
    decay = c * mu - lam
    checks.append(Check(
        f"M/M/{c} mean wait, h (Erlang C)", wait, fifo.values("mean_wait_h"),
        wait * (fifo.startup_waiting + 2 * fifo.edge_share(in_system)),
        "start-up, horizon edge"))
    checks.append(Check(
        f"M/M/{c} mean number in system (Erlang C)", in_system,
        fifo.values("mean_in_system"), fifo.startup_in_system, "start-up"))
    p90_values = fifo.values("p90_wait_h")
    curvature = decay / 2 * _variance(p90_values)
    density = decay * (1 - QUANTILE)  # of the wait at its quantile (exponential tail)
    checks.append(Check(
        f"M/M/{c} 90th percentile wait, h (Erlang C)", p90, p90_values,
        decay * WaitHistogram.FINE_H**2 / 8 + curvature + p90 * fifo.startup_waiting
        + fifo.edge_share(in_system) / density,
        "binning, quantile curvature, start-up, horizon edge"))
    second_moment = _mmc_sojourn_second_moment(lam, mu, c)
    checks.append(Check(
        f"Little's law: L - lambda W (M/M/{c})", 0.0, fifo.values(
            lambda r: r.metrics["mean_in_system"]
            - r.metrics["join_rate_per_h"] * r.metrics["mean_sojourn_h"]),
        lam * second_moment / fifo.measured_h, "horizon edge", scale=in_system))

    # M/M/c+M, Erlang A
    lam_a, c_a, theta = k.abandoning_arrivals_per_h, k.abandoning_servers, 1 / k.patience_h
    erlang_a = theory.erlang_a(lam_a, mu, c_a, theta)
    abandon = _Window(runs.abandon, lam_a, mu, c_a, theta)
    checks.append(Check(
        f"M/M/{c_a}+M abandonment share (Erlang A)", erlang_a.abandon_probability,
        abandon.values("abandonment_rate"),
        erlang_a.abandon_probability * abandon.startup_waiting
        + abandon.edge_share(erlang_a.mean_in_system), "start-up, horizon edge"))
    checks.append(Check(
        f"M/M/{c_a}+M mean number in system (Erlang A)", erlang_a.mean_in_system,
        abandon.values("mean_in_system"), abandon.startup_in_system, "start-up"))

    # non-preemptive priority, Cobham
    priority = _Window(runs.priority, lam, mu, c)
    rates = [lam * k.high_share, lam * (1 - k.high_share)]
    for label, segment, value in zip(("high", "low"), ("urgent", "normal"),
                                     theory.cobham_mean_waits(rates, mu, c), strict=True):
        checks.append(Check(
            f"M/M/{c} priority wait, {label} class, h (Cobham)", value,
            priority.values(_segment_wait(segment)),
            value * (priority.startup_waiting + 2 * priority.edge_share(in_system)),
            "start-up, horizon edge"))

    # economics: purchase share and revenue per arrival follow the WTP survival function
    survival = theory.lognormal_survival(k.wtp_median, k.wtp_sigma)(k.price)
    buy = runs.buy.runs
    checks.append(Check(
        f"Share who buy at price {k.price:g} = S_WTP({k.price:g})", survival,
        tuple(1 - r.metrics["priced_out"] / r.metrics["arrivals"] for r in buy)))
    checks.append(Check(
        f"Revenue per arrival = {k.price:g} x S_WTP({k.price:g})", k.price * survival,
        tuple(r.metrics["revenue"] / r.metrics["arrivals"] for r in buy)))

    # economics: constant return probability r gives a geometric number of visits
    r = k.return_probability
    run = runs.returns.scenario.run
    visits = theory.geometric_visits_with_horizon(r, 7 * 24.0, run.days * 24.0)
    checks.append(Check(
        f"Revenue per customer, return prob {r:g} (geometric series)", 50.0 * visits,
        tuple(x.metrics["revenue_per_customer"] for x in runs.returns.runs)))

    # An observable M/M/1 queue: the longest queue joined and the shortest balked at, in
    # people waiting (the one in service not counted), from the join limit found from the
    # definition of the expected cost (theory.observable_join_limit), under the model's
    # rule (the wait counts) and under Naor's (the customer's own service counts too)
    queue_name = (f"M/M/1, R={k.naor_reward:g}, C={k.naor_cost_per_h:g}, "
                  f"mu={1 / k.naor_service_h:g}")
    for label, case_runs, own in (("wait only (the model)", runs.naor.runs, False),
                                  ("Naor: wait and own service", runs.naor_classic.runs, True)):
        limit = theory.observable_join_limit(k.naor_reward, k.naor_cost_per_h,
                                             1 / k.naor_service_h, counts_own_service=own)
        checks.append(Check(
            f"Join or balk, {label}: longest queue joined ({queue_name})", max(limit - 1, 0),
            tuple(x.checks["max_waiting_ahead_joined"] for x in case_runs), exact=True))
        checks.append(Check(
            f"Join or balk, {label}: shortest queue balked at", limit,
            tuple(x.checks["min_waiting_ahead_balked"] for x in case_runs), exact=True))

    # M/M/c/K: a waiting room of K - c places; a visit that finds it full is turned away
    c_k, places = k.room_servers, k.room_places
    lam_k = k.room_arrivals_per_h
    finite = theory.mmck(lam_k, mu, c_k, c_k + places)
    room = _Window(runs.room, lam_k, mu, c_k, capacity=c_k + places)
    checks.append(Check(
        f"M/M/{c_k}/{c_k + places} share turned away (blocking)", finite.blocking_probability,
        room.values(lambda r: r.metrics["turned_away"] / r.metrics["arrivals"]),
        finite.blocking_probability * room.startup_in_system / finite.mean_in_system
        + room.edge_share(finite.mean_in_system), "start-up, horizon edge"))
    checks.append(Check(
        f"M/M/{c_k}/{c_k + places} mean number in system", finite.mean_in_system,
        room.values("mean_in_system"), room.startup_in_system, "start-up"))

    m = sum(not check.exact for check in checks)
    return [replace(check, level=FAMILY_ERROR / m) for check in checks]


def run_checks(*, replications: int = 10, jobs: int | None = None, seed: int = 20240601,
               length: float | Mapping[str, float] = 1.0,
               cases: Cases = Cases()) -> list[Check]:
    """Simulate every case and judge it against theory."""
    runs = simulate(cases, replications=replications, jobs=jobs, seed=seed, length=length)
    return judge(runs, cases)


class _Window:
    """The replications of one queueing case and what their measured window implies:
    start-up bias (exact, from the chain started empty) and the horizon edge."""

    def __init__(self, result: ScenarioResult, lam: float, mu: float, servers: int,
                 theta: float = 0.0, capacity: int | None = None) -> None:
        run = result.scenario.run
        self.result = result
        self.lam = lam
        self.warmup_h = run.warmup_days * 24.0
        self.measured_h = (run.days - run.warmup_days) * 24.0
        self._queue = (lam, mu, servers, theta)
        self._capacity = capacity

    def values(self, metric: str | Callable[[RunResult], float]) -> tuple[float, ...]:
        if isinstance(metric, str):
            return tuple(r.metrics[metric] for r in self.result.runs)
        return tuple(metric(r) for r in self.result.runs)

    @cached_property
    def _startup(self) -> tuple[float, float]:
        lam, mu, servers, _ = self._queue
        steady = (theory.erlang_a(*self._queue) if self._capacity is None
                  else theory.mmck(lam, mu, servers, self._capacity))
        window = theory.window_means_from_empty(*self._queue, self.warmup_h,
                                                self.warmup_h + self.measured_h,
                                                capacity=self._capacity)
        return (abs(window.in_system - steady.mean_in_system),
                abs(window.waiting / steady.mean_queue_length - 1))

    @property
    def startup_in_system(self) -> float:
        """|E[time-average number in system over the window] - L| (absolute)."""
        return self._startup[0]

    @property
    def startup_waiting(self) -> float:
        """|E[time-average number waiting over the window] / Lq - 1| (relative)."""
        return self._startup[1]

    def edge_share(self, in_system: float) -> float:
        """L / N: the share of the window's visits still in the system at the horizon."""
        return in_system / (self.lam * self.measured_h)


def _mmc_sojourn_second_moment(lam: float, mu: float, servers: int) -> float:
    """E[S^2] of the M/M/c FIFO sojourn S = Wq + B: Wq is 0 with probability 1 - C and
    exponential with rate delta = c mu - lambda otherwise, B ~ exp(mu) independent, so
    E[S^2] = 2 C / delta^2 + 2 E[Wq] / mu + 2 / mu^2."""
    wait_probability = theory.erlang_c_wait_probability(lam, mu, servers)
    delta = servers * mu - lam
    return (2 * wait_probability / delta**2
            + 2 * theory.erlang_c_mean_wait(lam, mu, servers) / mu + 2 / mu**2)


def _variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def _segment_wait(segment: str) -> Callable[[RunResult], float]:
    def mean_wait(run: RunResult) -> float:
        totals = run.segments[segment]
        return totals["wait_h"] / totals["served"]

    return mean_wait


def _counting_own_service(scenario: Scenario) -> Scenario:
    """Customers who count their own service as well as the wait (Naor's model)."""
    return replace(scenario, behaviour=replace(scenario.behaviour,
                                               balk_counts_own_service=True))


def _with_waiting_room(scenario: Scenario, places: int) -> Scenario:
    return replace(scenario, business=replace(scenario.business, max_waiting=places))


def _with_return_probability(scenario: Scenario, probability: float) -> Scenario:
    """The same scenario with a constant return probability, whatever the satisfaction."""
    b = replace(scenario.behaviour, return_intercept=math.log(probability / (1 - probability)),
                return_satisfaction_weight=0.0, return_top_weight=0.0, loyalty_weight=0.0,
                alternatives_weight=0.0)
    return replace(scenario, behaviour=b)


def render_checks(checks: list[Check]) -> Table:
    """Theory, simulation, tolerance (with its allowance) and detectable bias per check."""
    m = sum(not check.exact for check in checks)
    n = max(check.n for check in checks)
    kinds = sorted({kind.strip() for check in checks if check.allowance_for
                    for kind in check.allowance_for.split(",")})
    table = Table(
        title=f"simrun validate: theory against simulation ({n} replications per case)",
        title_justify="left", caption_justify="left",
        caption=f"Pass: |simulated - theory| <= tolerance = t s/sqrt(n) + allowance, t at "
                f"{FAMILY_ERROR:.0%} family-wise over {m} checks (Bonferroni: "
                f"{FAMILY_ERROR / m:.3%} each). Allowances (derived in sim/checks/"
                f"validate.py): {', '.join(kinds)}. Detects: smallest bias (relative to "
                f"theory; to L for Little's law) that fails with {POWER:.0%} probability. "
                "Join-or-balk thresholds: exact in every replication.")
    for column, justify in (("Check", "left"), ("Theory", "right"), ("Simulated", "right"),
                            ("Tolerance", "right"), ("Allowance", "right"),
                            ("Detects", "right"), ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for check in checks:
        if check.exact:
            tolerance, allowance, detects = "exact", "", "any change"
        else:
            tolerance = f"±{check.tolerance:.3g}"
            allowance = f"{check.allowance:.1g}" if check.allowance_for else "0"
            percent = 100 * check.detectable_bias
            detects = f"{percent:.2g}%" if percent < 100 else f"{percent:.0f}%"
        verdict = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
        table.add_row(check.name, f"{check.theory:.4g}", f"{check.mean:.4g}", tolerance,
                      allowance, detects, verdict)
    return table
