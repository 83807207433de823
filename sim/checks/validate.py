"""``simrun validate``: the installed engine against queueing theory and economics.

Each check reduces the full model to a textbook case by data alone (a scenario with one
tier, price 0 or a fixed price, no requests, no failures, no returns, ...), runs it
through the same engine as any scenario, and compares a metric with its exact value
from :mod:`sim.checks.theory`.

Verdict: a check passes when the theory lies within the simulation's 99.9% Student-t
interval over replications, widened by a relative allowance for start-up bias (the
system starts empty; the warm-up removes most but not all of it). With about ten checks
the 99.9% level keeps the chance of a false alarm across the whole list near 1%,
while a real modelling error of a few percent still fails. Naor's threshold is exact:
the longest queue a customer joined and the shortest it balked at must equal theory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from sim.checks import theory
from sim.experiment.runner import ScenarioResult, run_scenario
from sim.metrics import Estimate, RunResult, estimate
from sim.scenario import Scenario, scenario_from_raw

CONFIDENCE = 0.999


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    """What is checked, e.g. 'M/M/3 mean wait (Erlang C)'."""
    theory: float
    simulated: Estimate
    allowance: float
    """Relative allowance for start-up bias added to the CI."""
    exact: bool = False

    @property
    def passed(self) -> bool:
        if self.exact:
            return self.simulated.low == self.theory == self.simulated.high
        slack = self.allowance * abs(self.theory)
        return self.simulated.low - slack <= self.theory <= self.simulated.high + slack


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


def _metric(result: ScenarioResult, key: str) -> Estimate:
    return estimate([r.metrics[key] for r in result.runs], CONFIDENCE)


def _derived(result: ScenarioResult, f: Callable[[RunResult], float]) -> Estimate:
    return estimate([f(r) for r in result.runs], CONFIDENCE)


def run_checks(*, replications: int = 10, jobs: int | None = None,
               seed: int = 20240601) -> list[Check]:
    """Every check of MODEL.md, 'Checks the model must pass'."""
    n = replications
    checks: list[Check] = []

    def run(scenario: Scenario) -> ScenarioResult:
        return run_scenario(scenario, jobs=jobs)

    # M/M/c, Erlang C, and Little's law on the same runs
    lam, mu, c = 2.4, 1.0, 3
    mmc = run(plain_queue(arrivals_per_h=lam, service_h=1 / mu, servers=c, days=240,
                          warmup_days=10, replications=n, seed=seed))
    checks.append(Check(f"M/M/{c} mean wait, h (Erlang C)",
                        theory.erlang_c_mean_wait(lam, mu, c), _metric(mmc, "mean_wait_h"), 0.02))
    checks.append(Check(f"M/M/{c} mean number in system (Erlang C)",
                        lam / mu + lam * theory.erlang_c_mean_wait(lam, mu, c),
                        _metric(mmc, "mean_in_system"), 0.02))
    checks.append(Check(f"M/M/{c} 90th percentile wait, h (Erlang C)",
                        theory.erlang_c_wait_quantile(lam, mu, c, 0.9),
                        _metric(mmc, "p90_wait_h"), 0.03))
    checks.append(Check("Little's law: L - lambda W (M/M/3)", 0.0, _derived(
        mmc, lambda r: r.metrics["mean_in_system"]
        - r.metrics["join_rate_per_h"] * r.metrics["mean_sojourn_h"]), 0.0))

    # M/M/c+M, Erlang A
    lam_a, theta = 3.0, 1.0
    mmca = run(plain_queue(arrivals_per_h=lam_a, service_h=1 / mu, servers=c, days=120,
                           warmup_days=5, replications=n, seed=seed + 1,
                           patience={"dist": "exponential", "mean": 1 / theta}))
    erlang_a = theory.erlang_a(lam_a, mu, c, theta)
    checks.append(Check(f"M/M/{c}+M abandonment share (Erlang A)", erlang_a.abandon_probability,
                        _metric(mmca, "abandonment_rate"), 0.02))
    checks.append(Check(f"M/M/{c}+M mean number in system (Erlang A)", erlang_a.mean_in_system,
                        _metric(mmca, "mean_in_system"), 0.02))

    # non-preemptive priority, Cobham
    high_share = 0.3
    segments = [{"name": "urgent", "share": high_share}, {"name": "normal", "share": 1 - high_share}]
    tiers = [{"name": "high", "price": 0.0, "priority": 1, "requests": "none", "refunds": "never"},
             {"name": "low", "price": 0.0, "priority": 0, "requests": "none", "refunds": "never"}]
    prio = run(plain_queue(arrivals_per_h=lam, service_h=1 / mu, servers=c, days=240,
                           warmup_days=10, replications=n, seed=seed + 2, segments=segments,
                           tiers=tiers, assignment={"kind": "by_segment", "tiers": {
                               "urgent": "high", "normal": "low"}}))
    w_high, w_low = theory.cobham_mean_waits([lam * high_share, lam * (1 - high_share)], mu, c)
    for label, segment, value in (("high", "urgent", w_high), ("low", "normal", w_low)):
        checks.append(Check(f"M/M/{c} priority wait, {label} class, h (Cobham)", value,
                            _derived(prio, _segment_wait(segment)), 0.03))

    # economics: purchase share and revenue per arrival follow the WTP survival function
    price, median, sigma = 60.0, 70.0, 0.3
    survival = theory.lognormal_survival(median, sigma)(price)
    buy = run(plain_queue(arrivals_per_h=2.0, service_h=0.01, servers=5, days=60,
                          warmup_days=0, replications=n, seed=seed + 3,
                          segments=[{"name": "all", "share": 1.0,
                                     "wtp": {"dist": "lognormal", "median": median,
                                             "sigma": sigma}}],
                          tiers=[{"name": "only", "price": price, "requests": "none",
                                  "refunds": "never"}]))
    checks.append(Check("Share who buy at price 60 = S_WTP(60)", survival, _derived(
        buy, lambda r: 1 - r.metrics["priced_out"] / r.metrics["arrivals"]), 0.0))
    checks.append(Check("Revenue per arrival = 60 x S_WTP(60)", price * survival, _derived(
        buy, lambda r: r.metrics["revenue"] / r.metrics["arrivals"]), 0.0))

    # economics: constant return probability r gives a geometric number of visits
    r, interval_days, days = 0.7, 7, 120
    geo_raw = plain_queue(arrivals_per_h=0.5, service_h=1e-4, servers=5, days=days,
                          warmup_days=0, replications=n, seed=seed + 4,
                          segments=[{"name": "all", "share": 1.0, "wtp": 100.0,
                                     "visit_interval": f"{interval_days} d"}],
                          tiers=[{"name": "only", "price": 50.0, "requests": "none",
                                  "refunds": "never"}])
    geo = run(_with_return_probability(geo_raw, r))
    visits = theory.geometric_visits_with_horizon(r, interval_days * 24.0, days * 24.0)
    checks.append(Check(f"Revenue per customer, return prob {r} (geometric series)",
                        50.0 * visits, _metric(geo, "revenue_per_customer"), 0.0))

    # Naor: an observable M/M/1 queue is joined exactly while fewer than floor(R mu / C) wait
    reward, cost, mu1 = 7.0, 2.0, 1.0
    naor = run(plain_queue(arrivals_per_h=3.0, service_h=1 / mu1, servers=1, days=30,
                           warmup_days=1, replications=n, seed=seed + 5,
                           segments=[{"name": "all", "share": 1.0, "wtp": 10.0 + reward,
                                      "value_of_time_per_h": cost}],
                           tiers=[{"name": "only", "price": 10.0, "requests": "none",
                                   "refunds": "never"}]))
    threshold = theory.naor_threshold(reward, cost, mu1)
    checks.append(Check("Naor: longest queue joined (M/M/1, R=7, C=2, mu=1)", threshold - 1,
                        _exact([run_.checks["max_waiting_ahead_joined"] for run_ in naor.runs]),
                        0.0, exact=True))
    checks.append(Check("Naor: shortest queue balked at", threshold,
                        _exact([run_.checks["min_waiting_ahead_balked"] for run_ in naor.runs]),
                        0.0, exact=True))
    return checks


def _segment_wait(segment: str) -> Callable[[RunResult], float]:
    def mean_wait(run: RunResult) -> float:
        totals = run.segments[segment]
        return totals["wait_h"] / totals["served"]

    return mean_wait


def _with_return_probability(scenario: Scenario, probability: float) -> Scenario:
    """The same scenario with a constant return probability, whatever the satisfaction."""
    from dataclasses import replace

    b = replace(scenario.behaviour, return_intercept=math.log(probability / (1 - probability)),
                return_satisfaction_weight=0.0, return_top_weight=0.0, loyalty_weight=0.0,
                alternatives_weight=0.0)
    return replace(scenario, behaviour=b)


def _exact(values: list[float]) -> Estimate:
    """Min and max over replications, shown as the interval of an exact check."""
    return Estimate(sum(values) / len(values), 0.0, len(values), min(values), max(values))


def render_checks(checks: list[Check]) -> Table:
    table = Table(title="simrun validate: theory against simulation "
                  f"({CONFIDENCE:.1%} CI over replications)", title_justify="left")
    for column, justify in (("Check", "left"), ("Theory", "right"), ("Simulated", "right"),
                            ("CI", "right"), ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for check in checks:
        e = check.simulated
        ci = f"{e.low:.4g} to {e.high:.4g}" if not math.isnan(e.low) else "n/a"
        verdict = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
        table.add_row(check.name, f"{check.theory:.4g}", f"{e.mean:.4g}", ci, verdict)
    return table
