"""In-place aggregates of one replication, turned into a RunResult at the horizon.

Nothing here keeps a record per visit: counters, sums and fixed-size histograms only,
so memory does not grow with the number of events simulated.
"""

from __future__ import annotations

import math

from sim.metrics import (
    DAILY_COLUMNS,
    SEGMENT_COLUMNS,
    WAIT_BIN_H,
    WAIT_BINS,
    RunResult,
    mean_of_defined,
)

PERIOD_H = 30 * 24.0
WEEK_H = 7 * 24.0


class Tally:
    """Counters of the measured window (visits arriving after the warm-up)."""

    __slots__ = (
        "abandoned",
        "abuse_claims",
        "abuse_losses",
        "abuse_refunded",
        "acquisition_cost",
        "arrivals",
        "balked",
        "busy_h",
        "cash",
        "censored",
        "churned",
        "customers_new",
        "customers_referred",
        "customers_served",
        "daily",
        "day",
        "deaths",
        "delight_cost",
        "detractors",
        "entitlement_sum",
        "failures",
        "genuine_claims",
        "gross_revenue",
        "in_system_area",
        "joined",
        "max_ahead_joined",
        "min_ahead_balked",
        "period_active",
        "period_retained",
        "priced_out",
        "promoters",
        "recovery_cost",
        "refunds",
        "req_honoured_r",
        "req_honoured_u",
        "req_refused_r",
        "req_refused_u",
        "request_cost",
        "return_losses",
        "returned",
        "satisfaction_hist",
        "satisfaction_n",
        "satisfaction_sum",
        "segments",
        "served",
        "sojourn_sum",
        "staff_cost",
        "staffed_h",
        "turned_away",
        "unit_cost",
        "visits_simulated",
        "wait_hist",
        "wait_sum",
        "waitlisted",
    )

    def __init__(self, n_segments: int, days: int) -> None:
        # visit counts (measured window)
        self.abandoned = 0
        self.abuse_claims = 0
        self.abuse_refunded = 0
        self.arrivals = 0
        self.balked = 0
        self.churned = 0
        self.customers_new = 0
        self.customers_referred = 0
        self.customers_served = 0
        self.detractors = 0
        self.failures = 0
        self.genuine_claims = 0
        self.joined = 0
        self.max_ahead_joined = 0
        self.priced_out = 0
        self.promoters = 0
        self.req_honoured_r = 0
        self.req_honoured_u = 0
        self.req_refused_r = 0
        self.req_refused_u = 0
        self.returned = 0
        self.satisfaction_n = 0
        self.served = 0
        self.turned_away = 0
        self.visits_simulated = 0
        self.waitlisted = 0
        self.min_ahead_balked = 1 << 30
        # money and time sums (measured window)
        self.abuse_losses = 0.0
        self.acquisition_cost = 0.0
        self.busy_h = 0.0
        self.cash = 0.0
        self.delight_cost = 0.0
        self.entitlement_sum = 0.0
        self.gross_revenue = 0.0
        self.in_system_area = 0.0
        self.recovery_cost = 0.0
        self.refunds = 0.0
        self.request_cost = 0.0
        self.return_losses = 0.0
        self.satisfaction_sum = 0.0
        self.sojourn_sum = 0.0
        self.staff_cost = 0.0
        self.staffed_h = 0.0
        self.unit_cost = 0.0
        self.wait_sum = 0.0
        self.wait_hist = [0] * (WAIT_BINS + 1)
        self.satisfaction_hist = [0] * 11
        self.period_active: dict[int, int] = {}
        self.period_retained: dict[int, int] = {}
        self.deaths = [0] * (days // 7 + 2)
        self.censored = [0] * (days // 7 + 2)
        self.segments = [[0.0] * len(SEGMENT_COLUMNS) for _ in range(n_segments)]
        self.daily: list[tuple[float, ...]] = []
        self.day = [0.0] * len(DAILY_COLUMNS)

    def result(self, replication: int, *, measured_h: float, servers: int,
               reputation: float, segment_names: tuple[str, ...],
               checks: dict[str, float]) -> RunResult:
        retention = self._retention_by_period(measured_h)
        revenue = self.gross_revenue - self.refunds
        costs = (self.staff_cost + self.unit_cost + self.request_cost + self.recovery_cost
                 + self.delight_cost + self.return_losses + self.acquisition_cost)
        profit = revenue - costs
        served_customers = self.customers_served
        nan = math.nan

        def ratio(a: float, b: float) -> float:
            return a / b if b else nan

        m = {
            "profit": profit,
            "period_retention": mean_of_defined(retention),
            "cost_per_customer": ratio(costs, served_customers),
            "revenue": revenue, "gross_revenue": self.gross_revenue, "refunds": self.refunds,
            "staff_cost": self.staff_cost, "unit_cost": self.unit_cost,
            "request_cost": self.request_cost, "recovery_cost": self.recovery_cost,
            "delight_cost": self.delight_cost, "return_losses": self.return_losses,
            "acquisition_cost": self.acquisition_cost,
            "margin": ratio(profit, revenue),
            "cost_per_visit": ratio(costs, self.served),
            "revenue_per_customer": ratio(revenue, served_customers),
            "profit_per_customer": ratio(profit, served_customers),
            "customers_served": served_customers, "customers_new": self.customers_new,
            "customers_referred": self.customers_referred, "customers_churned": self.churned,
            "visit_return_rate": ratio(self.returned, self.served),
            "arrivals": self.arrivals, "served": self.served, "abandoned": self.abandoned,
            "balked": self.balked, "priced_out": self.priced_out,
            "turned_away": self.turned_away, "waitlisted": self.waitlisted,
            "abandonment_rate": ratio(self.abandoned, self.joined),
            "mean_wait_h": ratio(self.wait_sum, self.served),
            "p90_wait_h": self._wait_quantile(0.9),
            "utilisation": ratio(self.busy_h, servers * self.staffed_h),
            "mean_satisfaction": ratio(self.satisfaction_sum, self.satisfaction_n),
            "nps": ratio(100.0 * (self.promoters - self.detractors), self.satisfaction_n),
            "requests_honoured_reasonable": self.req_honoured_r,
            "requests_refused_reasonable": self.req_refused_r,
            "requests_honoured_unreasonable": self.req_honoured_u,
            "requests_refused_unreasonable": self.req_refused_u,
            "failures": self.failures, "abuse_claims": self.abuse_claims,
            "abuse_refunded": self.abuse_refunded, "abuse_losses": self.abuse_losses,
            "genuine_claims": self.genuine_claims,
            "mean_entitlement": ratio(self.entitlement_sum, self.served),
            "reputation_end": reputation,
            "mean_in_system": ratio(self.in_system_area, measured_h),
            "mean_sojourn_h": ratio(self.sojourn_sum, self.served + self.abandoned),
            "join_rate_per_h": ratio(self.joined, measured_h),
        }
        daily = {name: tuple(row[i] for row in self.daily) for i, name in enumerate(DAILY_COLUMNS)}
        segments = {name: dict(zip(SEGMENT_COLUMNS, values, strict=True))
                    for name, values in zip(segment_names, self.segments, strict=True)}
        checks = {**checks, "cash": self.cash,
                  "max_waiting_ahead_joined": float(self.max_ahead_joined),
                  "min_waiting_ahead_balked": float(self.min_ahead_balked)
                  if self.balked else math.inf}
        distributions = {
            "satisfaction": tuple(float(n) for n in self.satisfaction_hist),
            "wait_minutes": self._wait_minutes_hist(),
            "retention_by_period": retention,
            "survival_by_week": self._survival(),
        }
        return RunResult(replication, {k: float(v) for k, v in m.items()}, daily,
                         distributions, segments, checks, self.visits_simulated)

    def _retention_by_period(self, measured_h: float) -> tuple[float, ...]:
        """Share of each complete 30-day period's customers served again in the next."""
        complete = int(measured_h // PERIOD_H)
        return tuple(self.period_retained.get(p, 0) / self.period_active[p]
                     if self.period_active.get(p) else math.nan for p in range(complete - 1))

    def _wait_minutes_hist(self) -> tuple[float, ...]:
        """Served visits by wait, in 5-minute bins up to 2 hours, the last bin open."""
        per_bin = round(5 / 60 / WAIT_BIN_H)
        coarse = [float(sum(self.wait_hist[i:i + per_bin]))
                  for i in range(0, 120 // 5 * per_bin, per_bin)]
        coarse.append(float(sum(self.wait_hist[120 // 5 * per_bin:])))
        return tuple(coarse)

    def _wait_quantile(self, q: float) -> float:
        total = sum(self.wait_hist)
        if total == 0:
            return math.nan
        target, seen = q * total, 0
        for i, count in enumerate(self.wait_hist):
            if count and seen + count >= target:
                return (i + (target - seen) / count) * WAIT_BIN_H
            seen += count
        return WAIT_BINS * WAIT_BIN_H

    def _survival(self) -> tuple[float, ...]:
        """Actuarial life table by week: censored customers count half in their week."""
        at_risk = sum(self.deaths) + sum(self.censored)
        survival, curve = 1.0, [1.0]
        for deaths, censored in zip(self.deaths, self.censored, strict=True):
            exposed = at_risk - censored / 2
            if exposed <= 0:
                break
            survival *= 1 - deaths / exposed
            curve.append(survival)
            at_risk -= deaths + censored
        return tuple(curve)

