"""The books of one replication: one call per outcome, a RunResult at the horizon.

The engine says what happened (a visit priced out, abandoned, served; a customer
acquired, churned) and whether it falls in the measured window; this module decides
what each outcome adds to which total, daily series and review period. Nothing here
keeps a record per visit: counters, sums and fixed-size histograms only, so memory does
not grow with the number of events simulated.
"""

from __future__ import annotations

import math

from sim.metrics import (
    DAILY_COLUMNS,
    DAY_ABANDONED,
    DAY_ALIVE,
    DAY_NEW,
    DAY_PROFIT,
    DAY_REPUTATION,
    DAY_REVENUE,
    DAY_SATISFACTION,
    DAY_SERVED,
    SEG_ABANDONED,
    SEG_ABUSE_CLAIMS,
    SEG_BALKED,
    SEG_CHURNED,
    SEG_CUSTOMERS,
    SEG_DETRACTORS,
    SEG_PRICED_OUT,
    SEG_PROFIT,
    SEG_PROMOTERS,
    SEG_REVENUE,
    SEG_SERVED,
    SEG_TURNED_AWAY,
    SEG_VARIABLE_COST,
    SEG_WAIT_H,
    SEGMENT_COLUMNS,
    WAIT_BIN_H,
    WAIT_BINS,
    RunResult,
    mean_of_defined,
)

PERIOD_H = 30 * 24.0
WEEK_H = 7 * 24.0


class ServedVisit:
    """What one served visit cost, earned and did: the engine fills it, the tally books it."""

    __slots__ = ("abuse", "delight_cost", "entitlement_seen", "failed", "flow", "genuine",
                 "honoured_reasonable", "honoured_unreasonable", "price", "recovery_cost",
                 "refund", "refunded", "refused_reasonable", "refused_unreasonable",
                 "request_cost", "return_loss", "service_h", "unit_cost", "wait_h")

    def __init__(self) -> None:
        self.price = self.refund = self.return_loss = self.flow = 0.0
        self.unit_cost = self.request_cost = self.recovery_cost = self.delight_cost = 0.0
        self.service_h = self.wait_h = self.entitlement_seen = 0.0
        self.honoured_reasonable = self.refused_reasonable = 0
        self.honoured_unreasonable = self.refused_unreasonable = 0
        self.failed = self.genuine = self.abuse = self.refunded = False


class Tally:
    """Counters of the measured window (visits arriving after the warm-up)."""

    __slots__ = (
        "abuse_claims",
        "abuse_losses",
        "abuse_refunded",
        "acquisition_cost",
        "arrivals",
        "busy_h",
        "cash",
        "censored_by_week",
        "customers_churned",
        "customers_new",
        "customers_referred",
        "customers_served",
        "daily",
        "day",
        "day_sat_n",
        "deaths",
        "delight_cost",
        "detractors",
        "entitlement_sum",
        "failures",
        "genuine_claims",
        "gross_revenue",
        "in_system_area",
        "max_ahead_joined",
        "min_ahead_balked",
        "period_active",
        "period_retained",
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
        "review_cash",
        "review_revenue",
        "review_sat",
        "review_sat_n",
        "satisfaction_hist",
        "satisfaction_n",
        "satisfaction_sum",
        "segments",
        "sojourn_sum",
        "staff_cost",
        "staffed_h",
        "unit_cost",
        "visits_abandoned",
        "visits_balked",
        "visits_joined",
        "visits_priced_out",
        "visits_served",
        "visits_simulated",
        "visits_turned_away",
        "visits_waitlisted",
        "wait_hist",
        "wait_sum",
        "warmup_h",
    )

    def __init__(self, n_segments: int, days: int, warmup_h: float) -> None:
        self.warmup_h = warmup_h
        # visit counts (measured window)
        self.visits_abandoned = 0
        self.abuse_claims = 0
        self.abuse_refunded = 0
        self.arrivals = 0
        self.visits_balked = 0
        self.customers_churned = 0
        self.customers_new = 0
        self.customers_referred = 0
        self.customers_served = 0
        self.detractors = 0
        self.failures = 0
        self.genuine_claims = 0
        self.visits_joined = 0
        self.max_ahead_joined = 0
        self.visits_priced_out = 0
        self.promoters = 0
        self.req_honoured_r = 0
        self.req_honoured_u = 0
        self.req_refused_r = 0
        self.req_refused_u = 0
        self.returned = 0
        self.satisfaction_n = 0
        self.visits_served = 0
        self.visits_turned_away = 0
        self.visits_simulated = 0
        self.visits_waitlisted = 0
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
        self.censored_by_week = [0] * (days // 7 + 2)
        self.segments = [[0.0] * len(SEGMENT_COLUMNS) for _ in range(n_segments)]
        self.daily: list[tuple[float, ...]] = []
        self.day = [0.0] * len(DAILY_COLUMNS)
        self.day_sat_n = 0
        # what the firm measured since its last review (warm-up included: it is running)
        self.review_revenue = self.review_cash = self.review_sat = 0.0
        self.review_sat_n = 0

    # ------------------------------------------------------------------ customers
    def acquired(self, segment: int, referred: bool, acquisition_cost: float,
                 measured: bool) -> None:
        """A customer's first visit is about to happen; a new one cost its marketing."""
        self.day[DAY_NEW] += 1
        if not measured:
            return
        self.segments[segment][SEG_CUSTOMERS] += 1
        if referred:
            self.customers_referred += 1
            return
        self.customers_new += 1
        self.acquisition_cost += acquisition_cost
        self.cash -= acquisition_cost
        self.day[DAY_PROFIT] -= acquisition_cost
        self.review_cash -= acquisition_cost

    def returning(self, served_measured: bool) -> None:
        """The customer decided to come back after this visit."""
        if served_measured:
            self.returned += 1

    def churned(self, segment: int, weeks_since_acquired: int) -> None:
        """A customer who was served (in the measured cohort) left for good."""
        self.customers_churned += 1
        self.segments[segment][SEG_CHURNED] += 1
        self.deaths[weeks_since_acquired] += 1

    # --------------------------------------------------------------------- visits
    def arrival(self, measured: bool) -> None:
        if measured:
            self.arrivals += 1

    def priced_out(self, segment: int, measured: bool) -> None:
        if measured:
            self.visits_priced_out += 1
            self.segments[segment][SEG_PRICED_OUT] += 1

    def turned_away(self, segment: int, measured: bool) -> None:
        if measured:
            self.visits_turned_away += 1
            self.segments[segment][SEG_TURNED_AWAY] += 1

    def waitlisted(self, measured: bool) -> None:
        if measured:
            self.visits_waitlisted += 1

    def balked(self, segment: int, waiting_ahead: int, measured: bool) -> None:
        if measured:
            self.visits_balked += 1
            self.segments[segment][SEG_BALKED] += 1
            self.min_ahead_balked = min(self.min_ahead_balked, waiting_ahead)

    def joined(self, waiting_ahead: int, measured: bool) -> None:
        if measured:
            self.visits_joined += 1
            self.max_ahead_joined = max(self.max_ahead_joined, waiting_ahead)

    def abandoned(self, segment: int, wait_h: float, measured: bool) -> None:
        self.day[DAY_ABANDONED] += 1
        if measured:
            self.visits_abandoned += 1
            self.sojourn_sum += wait_h
            self.segments[segment][SEG_ABANDONED] += 1

    def served(self, segment: int, v: ServedVisit, measured: bool) -> None:
        """Money, time and requests of a served visit (its satisfaction: :meth:`opinion`)."""
        revenue = v.price - v.refund
        row = self.day
        row[DAY_REVENUE] += revenue
        row[DAY_PROFIT] += v.flow
        row[DAY_SERVED] += 1
        self.review_revenue += revenue
        self.review_cash += v.flow
        if not measured:
            return
        self.visits_served += 1
        self.gross_revenue += v.price
        self.refunds += v.refund
        self.unit_cost += v.unit_cost
        self.request_cost += v.request_cost
        self.recovery_cost += v.recovery_cost
        self.delight_cost += v.delight_cost
        self.return_losses += v.return_loss
        self.cash += v.flow
        self.busy_h += v.service_h
        self.wait_sum += v.wait_h
        self.sojourn_sum += v.wait_h + v.service_h
        self.wait_hist[min(int(v.wait_h / WAIT_BIN_H), WAIT_BINS)] += 1
        self.req_honoured_r += v.honoured_reasonable
        self.req_refused_r += v.refused_reasonable
        self.req_honoured_u += v.honoured_unreasonable
        self.req_refused_u += v.refused_unreasonable
        self.failures += v.failed
        self.genuine_claims += v.genuine
        self.entitlement_sum += v.entitlement_seen
        seg_row = self.segments[segment]
        if v.abuse:
            self.abuse_claims += 1
            seg_row[SEG_ABUSE_CLAIMS] += 1
            if v.refunded:
                self.abuse_refunded += 1
                self.abuse_losses += v.refund + v.return_loss
        seg_row[SEG_SERVED] += 1
        seg_row[SEG_REVENUE] += revenue
        seg_row[SEG_VARIABLE_COST] += revenue - v.flow
        seg_row[SEG_PROFIT] += v.flow
        seg_row[SEG_WAIT_H] += v.wait_h

    def customer_served(self, first_time: bool, last_period: int, now: float) -> int:
        """A measured served visit of a customer: distinct customers and the 30-day
        periods it was active in. Returns the period, for the customer to remember."""
        if first_time:
            self.customers_served += 1
        period = int((now - self.warmup_h) // PERIOD_H)
        if last_period != period:
            self.period_active[period] = self.period_active.get(period, 0) + 1
            if last_period == period - 1:
                self.period_retained[period - 1] = self.period_retained.get(period - 1, 0) + 1
        return period

    def opinion(self, segment: int, satisfaction: float, promoter: int, detractor: int,
                measured: bool) -> None:
        """A visit's satisfaction (served, or 0 after abandoning)."""
        self.day[DAY_SATISFACTION] += satisfaction
        self.day_sat_n += 1
        self.review_sat += satisfaction
        self.review_sat_n += 1
        if measured:
            self.satisfaction_sum += satisfaction
            self.satisfaction_hist[int(satisfaction)] += 1
            self.satisfaction_n += 1
            self.promoters += promoter
            self.detractors += detractor
            row = self.segments[segment]
            row[SEG_PROMOTERS] += promoter
            row[SEG_DETRACTORS] += detractor

    # ----------------------------------------------------------------- days, reviews
    def close_day(self, staff_cost: float, staffed_h: float, measured: bool,
                  reputation: float, customers_alive: int) -> None:
        """Staff cost of one day, and the day's row of the daily series."""
        if measured:
            self.staff_cost += staff_cost
            self.cash -= staff_cost
            self.staffed_h += staffed_h
        row = self.day
        row[DAY_PROFIT] -= staff_cost
        self.review_cash -= staff_cost
        row[DAY_SATISFACTION] = row[DAY_SATISFACTION] / self.day_sat_n if self.day_sat_n else math.nan
        row[DAY_REPUTATION] = reputation
        row[DAY_ALIVE] = float(customers_alive)
        self.day_sat_n = 0
        self.daily.append(tuple(row))
        self.day = [0.0] * len(row)

    def review(self) -> tuple[float, float]:
        """(mean satisfaction, margin) since the last review, then start a new period."""
        satisfaction = self.review_sat / self.review_sat_n if self.review_sat_n else math.nan
        margin = self.review_cash / self.review_revenue if self.review_revenue else -math.inf
        self.review_revenue = self.review_cash = self.review_sat = 0.0
        self.review_sat_n = 0
        return satisfaction, margin

    def censored(self, weeks_since_acquired: int) -> None:
        """A served customer of the measured cohort still active at the horizon."""
        self.censored_by_week[weeks_since_acquired] += 1

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
            "cost_per_visit": ratio(costs, self.visits_served),
            "revenue_per_customer": ratio(revenue, served_customers),
            "profit_per_customer": ratio(profit, served_customers),
            "customers_served": served_customers, "customers_new": self.customers_new,
            "customers_referred": self.customers_referred, "customers_churned": self.customers_churned,
            "visit_return_rate": ratio(self.returned, self.visits_served),
            "arrivals": self.arrivals, "served": self.visits_served, "abandoned": self.visits_abandoned,
            "balked": self.visits_balked, "priced_out": self.visits_priced_out,
            "turned_away": self.visits_turned_away, "waitlisted": self.visits_waitlisted,
            "abandonment_rate": ratio(self.visits_abandoned, self.visits_joined),
            "mean_wait_h": ratio(self.wait_sum, self.visits_served),
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
            "mean_entitlement": ratio(self.entitlement_sum, self.visits_served),
            "reputation_end": reputation,
            "mean_in_system": ratio(self.in_system_area, measured_h),
            "mean_sojourn_h": ratio(self.sojourn_sum, self.visits_served + self.visits_abandoned),
            "join_rate_per_h": ratio(self.visits_joined, measured_h),
        }
        daily = {name: tuple(row[i] for row in self.daily) for i, name in enumerate(DAILY_COLUMNS)}
        segments = {name: dict(zip(SEGMENT_COLUMNS, values, strict=True))
                    for name, values in zip(segment_names, self.segments, strict=True)}
        checks = {**checks, "cash": self.cash,
                  "max_waiting_ahead_joined": float(self.max_ahead_joined),
                  "min_waiting_ahead_balked": float(self.min_ahead_balked)
                  if self.visits_balked else math.inf}
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
        at_risk = sum(self.deaths) + sum(self.censored_by_week)
        survival, curve = 1.0, [1.0]
        for deaths, censored in zip(self.deaths, self.censored_by_week, strict=True):
            exposed = at_risk - censored / 2
            if exposed <= 0:
                break
            survival *= 1 - deaths / exposed
            curve.append(survival)
            at_risk -= deaths + censored
        return tuple(curve)

