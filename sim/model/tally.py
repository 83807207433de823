"""The books of one replication: one call per outcome, a RunResult at the horizon.

The engine says what happened (a visit priced out, abandoned, served; a prospect reached,
won or lost; a customer churned) and whether it falls in the measured window; this module
decides what each outcome adds to which total, daily series, period and review, and how
the totals become the metrics of docs/model.md ("Metrics"). Nothing here keeps a record
per visit: counters, sums, per-day arrays and histograms whose size grows with the
logarithm of the longest wait, so memory does not grow with the number of visits.
"""

from __future__ import annotations

import math
from array import array

from sim.metrics import (
    DAILY_COLUMNS,
    DAY_ABANDONED,
    DAY_ALIVE,
    DAY_IMAGE,
    DAY_PROFIT,
    DAY_PROSPECTS,
    DAY_REPUTATION,
    DAY_REVENUE,
    DAY_SATISFACTION,
    DAY_SERVED,
    DAY_SERVICE_LEVEL,
    DAY_TURNED_AWAY,
    DAY_WAITLISTED,
    SEG_ABANDONED,
    SEG_ABUSE_CLAIMS,
    SEG_BALKED,
    SEG_CHURNED,
    SEG_CLV,
    SEG_DETRACTORS,
    SEG_LOST,
    SEG_PRICED_OUT,
    SEG_PROFIT,
    SEG_PROMOTERS,
    SEG_PROSPECTS,
    SEG_RETENTION,
    SEG_REVENUE,
    SEG_SERVED,
    SEG_TURNED_AWAY,
    SEG_VARIABLE_COST,
    SEG_WAIT_H,
    SEG_WON,
    SEGMENT_COLUMNS,
    TIER_ABANDONED,
    TIER_BALKED,
    TIER_COLUMNS,
    TIER_MEAN_WAIT_H,
    TIER_REVENUE,
    TIER_SERVED,
    TIER_WAIT_H,
    RunResult,
    mean_of_defined,
)

WEEK_H = 7 * 24.0
HOURS_PER_YEAR = 365 * 24.0


class Visit:
    """One visit as it unfolds: the engine fills it phase by phase, the tally books it,
    an observer may read it (sim/model/events.py)."""

    __slots__ = ("abuse", "appointment_h", "arrived_h", "delight_cost", "entitlement_seen",
                 "failed", "flow", "genuine", "honoured_reasonable", "honoured_unreasonable",
                 "outcome", "price", "recovery_cost", "refund", "refunded", "refused_reasonable",
                 "refused_unreasonable", "request_cost", "return_loss", "satisfaction",
                 "service_h", "tier", "unit_cost", "wait_h", "waitlisted")

    # set when the visit is served (serve, settle) and read only then: an unserved
    # visit's event has no money, requests, service or score
    price: float
    refund: float
    return_loss: float
    flow: float
    unit_cost: float
    request_cost: float
    recovery_cost: float
    delight_cost: float
    service_h: float
    entitlement_seen: float
    satisfaction: float
    honoured_reasonable: int
    refused_reasonable: int
    honoured_unreasonable: int
    refused_unreasonable: int
    failed: bool
    genuine: bool
    abuse: bool
    refunded: bool

    def __init__(self, arrived_h: float) -> None:
        # what every visit has
        self.arrived_h = arrived_h
        self.outcome = -1
        self.tier = -1
        self.waitlisted = False
        self.appointment_h = 0.0
        self.wait_h = 0.0


class WaitHistogram:
    """Waits of served visits, for quantiles without keeping each wait.

    Zero waits are counted apart (P(wait > 0) is a metric); positive waits fall in
    one-minute bins up to two hours, then in bins 1% wide with no upper limit. Quantiles
    interpolate linearly inside a bin, so they are right to a minute below two hours and
    to 1% above, however long the waits (an M/M/1 queue at 95% load has a 90th
    percentile near 45 hours)."""

    __slots__ = ("counts", "total", "zeros")
    FINE_H = 1 / 60
    FINE_BINS = 120
    RATIO = 1.01

    def __init__(self) -> None:
        self.zeros = 0
        self.total = 0
        self.counts: list[int] = [0] * self.FINE_BINS

    def add(self, wait_h: float) -> None:
        self.total += 1
        if wait_h <= 0.0:
            self.zeros += 1
            return
        index = int(wait_h / self.FINE_H)
        if index >= self.FINE_BINS:
            top = self.FINE_BINS * self.FINE_H
            index = self.FINE_BINS + int(math.log(wait_h / top) / math.log(self.RATIO))
            if index >= len(self.counts):
                self.counts.extend([0] * (index + 1 - len(self.counts)))
        self.counts[index] += 1

    def edges(self, index: int) -> tuple[float, float]:
        """Lower and upper edge of bin ``index``, in hours."""
        if index < self.FINE_BINS:
            return index * self.FINE_H, (index + 1) * self.FINE_H
        top = self.FINE_BINS * self.FINE_H
        k = index - self.FINE_BINS
        return top * self.RATIO**k, top * self.RATIO ** (k + 1)

    def quantile(self, q: float) -> float:
        if self.total == 0:
            return math.nan
        target = q * self.total
        if target <= self.zeros:
            return 0.0
        seen = float(self.zeros)
        for index, count in enumerate(self.counts):
            if count and seen + count >= target:
                low, high = self.edges(index)
                return low + (target - seen) / count * (high - low)
            seen += count
        return self.edges(len(self.counts) - 1)[1]

    def five_minute_bins(self) -> tuple[float, ...]:
        """Served visits per 5-minute bin up to 2 hours (zero waits in the first), then
        one open bin for 2 hours and more (the chart's shape)."""
        coarse = [float(sum(self.counts[i:i + 5])) for i in range(0, self.FINE_BINS, 5)]
        coarse[0] += self.zeros
        coarse.append(float(sum(self.counts[self.FINE_BINS:])))
        return tuple(coarse)


class Tally:
    """The books of one replication; attributes are totals of the measured window unless
    their name says otherwise."""

    # slots, not an instance dictionary: beyond 30 attributes CPython 3.11 turns it into
    # a plain dictionary, and every call of a method of the tally takes the generic path
    # (see Replication in sim/model/engine.py)
    __slots__ = (
        "abandoned_wait_sum", "abuse_losses", "abuse_refunded", "acquisition_cost",
        "arrivals", "busy_h", "cash", "cash_by_age_day", "censored_by_week",
        "customer_detractors", "customer_promoters", "customers_served", "daily", "day",
        "days", "days_closed", "deaths", "delight_cost", "entitlement_sum", "failures",
        "genuine_claims", "gross_revenue", "imitation_cost", "in_system_area",
        "log_discount_per_h", "max_ahead_joined", "min_ahead_balked", "period_active",
        "period_customers", "period_h", "period_lost", "period_repeat", "prospects_new",
        "prospects_referred", "recovery_cost", "refunds", "req_honoured_r",
        "req_honoured_u", "req_refused_r", "req_refused_u", "request_cost", "return_losses",
        "returned", "review_cash", "review_revenue", "review_sat", "review_sat_n",
        "satisfaction_hist", "satisfaction_sum", "scored_customers", "segments",
        "sojourn_sum", "staff_cost", "staffed_h", "tiers", "unit_cost", "visits_joined",
        "visits_simulated", "visits_waitlisted", "wait_sum", "waits", "warmup_days",
        "warmup_h", "won_by_day")

    def __init__(self, n_segments: int, n_tiers: int, days: int, warmup_days: int,
                 period_days: int, discount_rate_per_year: float) -> None:
        self.days = days
        self.warmup_h = warmup_days * 24.0
        self.warmup_days = warmup_days
        self.period_h = period_days * 24.0
        self.log_discount_per_h = math.log1p(discount_rate_per_year) / HOURS_PER_YEAR
        # visits
        # counts kept once: totals of outcomes counted per segment are derived from those
        # (visits_served, customers_won, ... below)
        self.arrivals = self.visits_waitlisted = 0
        self.visits_joined = self.visits_simulated = 0
        self.max_ahead_joined, self.min_ahead_balked = 0, 1 << 30
        # customers
        self.prospects_new = self.prospects_referred = self.customers_served = 0
        self.returned = 0
        # money (the cash balance is summed visit by visit, profit item by item: a check)
        self.gross_revenue = self.refunds = self.staff_cost = self.unit_cost = 0.0
        self.request_cost = self.recovery_cost = self.delight_cost = 0.0
        self.return_losses = self.acquisition_cost = self.cash = 0.0
        self.imitation_cost = 0.0
        # service, requests, abuse
        self.busy_h = self.staffed_h = self.wait_sum = self.abandoned_wait_sum = 0.0
        self.sojourn_sum = self.in_system_area = self.entitlement_sum = 0.0
        self.waits = WaitHistogram()
        self.req_honoured_r = self.req_refused_r = self.req_honoured_u = self.req_refused_u = 0
        self.failures = self.genuine_claims = 0
        self.abuse_refunded = 0
        self.abuse_losses = 0.0
        # satisfaction: served visits, and each customer's latest score in the window
        self.satisfaction_sum = 0.0
        self.satisfaction_hist = [0] * 11
        self.scored_customers = self.customer_promoters = self.customer_detractors = 0
        # retention periods of the measured window: the firm's customers at each
        # period's start and those of them it lost in it (churned, or on a market
        # switched to a rival), per segment
        self.period_customers: dict[int, list[int]] = {}
        self.period_lost: dict[int, list[int]] = {}
        self.period_active: dict[int, int] = {}
        self.period_repeat: dict[int, int] = {}
        # cohort of customers won in the window: survival by week, discounted cash by age
        self.deaths = [0] * (days // 7 + 2)
        self.censored_by_week = [0] * (days // 7 + 2)
        # per-day tables are arrays of machine numbers (8 bytes a day, not a Python
        # object each), so a long horizon costs little memory
        self.won_by_day = [array("q", [0]) * days for _ in range(n_segments)]
        self.cash_by_age_day = [array("d", [0.0]) * days for _ in range(n_segments)]
        self.segments = [[0.0] * len(SEGMENT_COLUMNS) for _ in range(n_segments)]
        self.tiers = [[0.0] * len(TIER_COLUMNS) for _ in range(n_tiers)]
        # the daily series (warm-up included), each made at its full length once: grown
        # a day at a time, each reallocation left the old block behind and the peak
        # memory grew 0.26 KiB a day instead of 0.18 (bench/README.md, Memory)
        self.daily = [array("d", [0.0]) * days for _ in DAILY_COLUMNS]
        self.days_closed = 0
        self.day = [0.0] * len(DAILY_COLUMNS)
        # what the firm itself measured since its last review (warm-up included)
        self.review_revenue = self.review_cash = self.review_sat = 0.0
        self.review_sat_n = 0

    # totals derived from the per-segment counts at the horizon
    def _segment_total(self, column: int) -> int:
        return int(sum(row[column] for row in self.segments))

    visits_served = property(lambda self: self._segment_total(SEG_SERVED))
    visits_abandoned = property(lambda self: self._segment_total(SEG_ABANDONED))
    visits_balked = property(lambda self: self._segment_total(SEG_BALKED))
    visits_priced_out = property(lambda self: self._segment_total(SEG_PRICED_OUT))
    visits_turned_away = property(lambda self: self._segment_total(SEG_TURNED_AWAY))
    customers_won = property(lambda self: self._segment_total(SEG_WON))
    lost_prospects = property(lambda self: self._segment_total(SEG_LOST))
    customers_churned = property(lambda self: self._segment_total(SEG_CHURNED))
    abuse_claims = property(lambda self: self._segment_total(SEG_ABUSE_CLAIMS))
    visit_promoters = property(lambda self: self._segment_total(SEG_PROMOTERS))
    visit_detractors = property(lambda self: self._segment_total(SEG_DETRACTORS))

    # ------------------------------------------------------------------ customers
    def prospect(self, segment: int, referred: bool, acquisition_cost: float,
                 measured: bool) -> None:
        """A prospect about to make its first visit; marketing paid for a new one."""
        cost = 0.0 if referred else acquisition_cost
        self.day[DAY_PROSPECTS] += 1
        self.day[DAY_PROFIT] -= cost
        self.review_cash -= cost
        if not measured:
            return
        self.segments[segment][SEG_PROSPECTS] += 1
        if referred:
            self.prospects_referred += 1
            return
        self.prospects_new += 1
        self.acquisition_cost += cost
        self.cash -= cost

    def won(self, segment: int, prospect_measured: bool, now: float) -> None:
        """A prospect's first purchase. Prospects reached in the window make the cohort of
        conversion, CAC, CLV and survival."""
        if not prospect_measured:
            return
        self.segments[segment][SEG_WON] += 1
        self.won_by_day[segment][int(now // 24.0)] += 1

    def lost(self, segment: int, prospect_measured: bool) -> None:
        """A prospect left for good without ever buying."""
        if prospect_measured:
            self.segments[segment][SEG_LOST] += 1

    def returning(self, served_measured: bool) -> None:
        """The customer decided to come back after this visit."""
        if served_measured:
            self.returned += 1

    def churned(self, segment: int, first_purchase_h: float, in_cohort: bool,
                now: float, customer_since_h: float) -> None:
        """A customer who had bought left for good (on a market: left the market).
        ``customer_since_h``: since when it has been the firm's customer without a break
        (for one firm its first purchase); infinite if it no longer was (on a market: it
        was last served at a rival, so the firm had lost it already and books no churn).
        The cohort's survival counts it either way."""
        if in_cohort:
            self.deaths[int((now - first_purchase_h) // WEEK_H)] += 1
        if now < self.warmup_h or customer_since_h > now:
            return
        self.segments[segment][SEG_CHURNED] += 1
        self._customer_lost(segment, customer_since_h, now)

    def switched_away(self, segment: int, customer_since_h: float, now: float) -> None:
        """A customer of the firm (last served there, since ``customer_since_h``) was
        served at a rival (a market of rival firms): the firm lost it, not to churn."""
        if now >= self.warmup_h:
            self._customer_lost(segment, customer_since_h, now)

    def _customer_lost(self, segment: int, customer_since_h: float, now: float) -> None:
        """A loss counts against the period it falls in if the customer had been the
        firm's customer since before that period started (customers won in a period are
        not in its denominator); as a customer's next loss comes only after it has been
        won again, each counts at most once a period."""
        period = int((now - self.warmup_h) // self.period_h)
        if customer_since_h < self.warmup_h + period * self.period_h:
            lost = self.period_lost.setdefault(period, [0] * len(self.segments))
            lost[segment] += 1

    def period_starts(self, period: int, customers: list[int]) -> None:
        """A retention period starts with these customers of the firm, by segment (for
        one firm: alive, bought before; on a market: alive, last served at the firm)."""
        self.period_customers[period] = list(customers)

    def final_score(self, latest_score: float, promoter_threshold: float,
                    detractor_threshold: float) -> None:
        """A customer's latest satisfaction in the window, when it leaves or at the horizon."""
        self.scored_customers += 1
        self.customer_promoters += latest_score >= promoter_threshold
        self.customer_detractors += latest_score <= detractor_threshold

    def censored(self, first_purchase_h: float, horizon_h: float) -> None:
        """A customer of the cohort still a customer at the horizon."""
        self.censored_by_week[int((horizon_h - first_purchase_h) // WEEK_H)] += 1

    # --------------------------------------------------------------------- visits
    def arrival(self, measured: bool) -> None:
        if measured:
            self.arrivals += 1

    def priced_out(self, segment: int, measured: bool) -> None:
        if measured:
            self.segments[segment][SEG_PRICED_OUT] += 1

    def turned_away(self, segment: int, measured: bool) -> None:
        self.day[DAY_TURNED_AWAY] += 1
        if measured:
            self.segments[segment][SEG_TURNED_AWAY] += 1

    def waitlisted(self, measured: bool) -> None:
        self.day[DAY_WAITLISTED] += 1
        if measured:
            self.visits_waitlisted += 1

    def balked(self, segment: int, tier: int, waiting_ahead: int, measured: bool) -> None:
        if measured:
            self.segments[segment][SEG_BALKED] += 1
            self.tiers[tier][TIER_BALKED] += 1
            if waiting_ahead < self.min_ahead_balked:  # noqa: PLR1730 -- min(), per visit
                self.min_ahead_balked = waiting_ahead

    def joined(self, waiting_ahead: int, measured: bool) -> None:
        if measured:
            self.visits_joined += 1
            if waiting_ahead > self.max_ahead_joined:  # noqa: PLR1730 -- max(), per visit
                self.max_ahead_joined = waiting_ahead

    def abandoned(self, segment: int, tier: int, wait_h: float, measured: bool) -> None:
        self.day[DAY_ABANDONED] += 1
        if measured:
            self.abandoned_wait_sum += wait_h
            self.sojourn_sum += wait_h
            self.segments[segment][SEG_ABANDONED] += 1
            self.tiers[tier][TIER_ABANDONED] += 1

    def served(self, segment: int, v: Visit, promoter: bool, detractor: bool,
               measured: bool) -> None:
        """Money, time, requests and satisfaction of a served visit."""
        revenue = v.price - v.refund
        satisfaction = v.satisfaction
        row = self.day
        row[DAY_REVENUE] += revenue
        row[DAY_PROFIT] += v.flow
        row[DAY_SERVED] += 1.0
        row[DAY_SATISFACTION] += satisfaction
        self.review_revenue += revenue
        self.review_cash += v.flow
        self.review_sat += satisfaction
        self.review_sat_n += 1
        if not measured:
            return
        self.satisfaction_sum += satisfaction
        self.satisfaction_hist[int(satisfaction)] += 1
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
        self.waits.add(v.wait_h)
        self.req_honoured_r += v.honoured_reasonable
        self.req_refused_r += v.refused_reasonable
        self.req_honoured_u += v.honoured_unreasonable
        self.req_refused_u += v.refused_unreasonable
        self.failures += v.failed
        self.genuine_claims += v.genuine
        self.entitlement_sum += v.entitlement_seen
        seg_row = self.segments[segment]
        if v.abuse:
            seg_row[SEG_ABUSE_CLAIMS] += 1
            if v.refunded:
                self.abuse_refunded += 1
                self.abuse_losses += v.refund + v.return_loss
        seg_row[SEG_SERVED] += 1.0
        seg_row[SEG_REVENUE] += revenue
        seg_row[SEG_VARIABLE_COST] += revenue - v.flow
        seg_row[SEG_PROFIT] += v.flow
        seg_row[SEG_WAIT_H] += v.wait_h
        seg_row[SEG_PROMOTERS] += promoter
        seg_row[SEG_DETRACTORS] += detractor
        tier_row = self.tiers[v.tier]
        tier_row[TIER_SERVED] += 1.0
        tier_row[TIER_REVENUE] += revenue
        tier_row[TIER_WAIT_H] += v.wait_h

    def customer_served(self, first_in_window: bool, last_period: int, now: float) -> int:
        """A measured served visit of a customer: distinct customers served, and the
        periods it bought in (the repeat rate). Returns the period, for the customer to
        remember."""
        if first_in_window:
            self.customers_served += 1
        period = int((now - self.warmup_h) // self.period_h)
        if last_period != period:
            self.period_active[period] = self.period_active.get(period, 0) + 1
            if last_period == period - 1:
                self.period_repeat[period - 1] = self.period_repeat.get(period - 1, 0) + 1
        return period

    def cohort_cash(self, segment: int, first_purchase_h: float, flow: float,
                    now: float) -> None:
        """A served visit's cash flow of a customer won in the window, discounted to its
        first purchase and filed by the customer's age in days (for CLV)."""
        age_day = int(now // 24.0) - int(first_purchase_h // 24.0)
        discount = math.exp(-self.log_discount_per_h * (now - first_purchase_h))
        self.cash_by_age_day[segment][age_day] += flow * discount

    # ----------------------------------------------------------------- days, reviews
    def close_day(self, staff_cost: float, staffed_h: float, measured: bool, *,
                  reputation: float, image: float, service_level: float,
                  customers_alive: int) -> None:
        """Staff cost of one day, and the day's row of the daily series."""
        if measured:
            self.staff_cost += staff_cost
            self.cash -= staff_cost
            self.staffed_h += staffed_h
        row = self.day
        row[DAY_PROFIT] -= staff_cost
        self.review_cash -= staff_cost
        served = row[DAY_SERVED]
        row[DAY_SATISFACTION] = row[DAY_SATISFACTION] / served if served else math.nan
        row[DAY_REPUTATION] = reputation
        row[DAY_IMAGE] = image
        row[DAY_SERVICE_LEVEL] = service_level
        row[DAY_ALIVE] = float(customers_alive)
        day = self.days_closed
        for column, value in zip(self.daily, row, strict=True):
            column[day] = value
        self.days_closed = day + 1
        self.day = [0.0] * len(row)

    def last_days(self, column: int, days: int) -> float:
        """The sum of a daily series over the last ``days`` days closed."""
        end = self.days_closed
        return sum(self.daily[column][max(0, end - days):end])

    def add_tiers(self, count: int) -> None:
        """Books for the tiers of a strategy the firm adopts (beside its old ones)."""
        self.tiers += [[0.0] * len(TIER_COLUMNS) for _ in range(count)]

    def imitation(self, cost: float, measured: bool) -> None:
        """The one-off cost of copying a rival's strategy (a market of rival firms)."""
        self.day[DAY_PROFIT] -= cost
        self.review_cash -= cost
        if measured:
            self.imitation_cost += cost
            self.cash -= cost

    def review(self) -> tuple[float, float]:
        """(mean satisfaction, margin) since the last review, then start a new period."""
        satisfaction = self.review_sat / self.review_sat_n if self.review_sat_n else math.nan
        margin = self.review_cash / self.review_revenue if self.review_revenue else -math.inf
        self.review_revenue = self.review_cash = self.review_sat = 0.0
        self.review_sat_n = 0
        return satisfaction, margin

    # ------------------------------------------------------------------- results
    def result(self, replication: int, *, servers: int, reputation: float,
               segment_names: tuple[str, ...], tier_names: tuple[str, ...],
               checks: dict[str, float]) -> RunResult:
        """The metrics of docs/model.md from the totals."""
        measured_h = self.days * 24.0 - self.warmup_h
        revenue = self.gross_revenue - self.refunds
        costs = (self.staff_cost + self.unit_cost + self.request_cost + self.recovery_cost
                 + self.delight_cost + self.return_losses + self.acquisition_cost
                 + self.imitation_cost)
        profit = revenue - costs
        served_customers = self.customers_served
        retention = self._customer_retention(measured_h)
        prospects = self.prospects_new + self.prospects_referred
        cac = ratio(self.acquisition_cost, self.customers_won)
        clv_by_segment = [self._clv([s]) for s in range(len(self.segments))]
        clv = self._clv(range(len(self.segments)))
        queued = self.visits_served + self.visits_abandoned
        m = {
            "profit": profit,
            "customer_retention": mean_of_defined(retention),
            "cost_per_customer": ratio(costs, served_customers),
            "revenue": revenue, "gross_revenue": self.gross_revenue, "refunds": self.refunds,
            "staff_cost": self.staff_cost, "unit_cost": self.unit_cost,
            "request_cost": self.request_cost, "recovery_cost": self.recovery_cost,
            "delight_cost": self.delight_cost, "return_losses": self.return_losses,
            "acquisition_cost": self.acquisition_cost, "imitation_cost": self.imitation_cost,
            "margin": ratio(profit, revenue),
            "cost_per_visit": ratio(costs, self.visits_served),
            "revenue_per_customer": ratio(revenue, served_customers),
            "profit_per_customer": ratio(profit, served_customers),
            "clv": clv, "clv_to_cac": ratio(clv, cac),
            "customers_served": served_customers,
            "prospects_new": self.prospects_new, "prospects_referred": self.prospects_referred,
            "customers_won": self.customers_won,
            "conversion_rate": ratio(self.customers_won, prospects),
            "cac": cac, "lost_prospects": self.lost_prospects,
            "customers_churned": self.customers_churned,
            "repeat_rate": mean_of_defined(self._repeat_rate(measured_h)),
            "visit_return_rate": ratio(self.returned, self.visits_served),
            "arrivals": self.arrivals, "served": self.visits_served,
            "abandoned": self.visits_abandoned, "balked": self.visits_balked,
            "priced_out": self.visits_priced_out, "turned_away": self.visits_turned_away,
            "waitlisted": self.visits_waitlisted,
            "abandonment_rate": ratio(self.visits_abandoned, self.visits_joined),
            "abandonment_per_arrival": ratio(self.visits_abandoned, self.arrivals),
            "mean_wait_h": ratio(self.wait_sum, self.visits_served),
            "mean_wait_joined_h": ratio(self.wait_sum + self.abandoned_wait_sum, queued),
            "p90_wait_h": self.waits.quantile(0.9),
            "wait_probability": ratio(self.waits.total - self.waits.zeros, self.waits.total),
            "utilisation": ratio(self.busy_h, servers * self.staffed_h),
            "mean_satisfaction": ratio(self.satisfaction_sum, self.visits_served),
            "nps": ratio(100.0 * (self.customer_promoters - self.customer_detractors),
                         self.scored_customers),
            "nps_per_visit": ratio(100.0 * (self.visit_promoters - self.visit_detractors),
                                   self.visits_served),
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
            "mean_sojourn_h": ratio(self.sojourn_sum, queued),
            "join_rate_per_h": ratio(self.visits_joined, measured_h),
        }
        for s, (row, value) in enumerate(zip(self.segments, clv_by_segment, strict=True)):
            row[SEG_CLV] = value
            row[SEG_RETENTION] = mean_of_defined(self._customer_retention(measured_h, s))
        for row in self.tiers:
            row[TIER_MEAN_WAIT_H] = ratio(row[TIER_WAIT_H], row[TIER_SERVED])
        checks = {**checks, "cash": self.cash,
                  "max_waiting_ahead_joined": float(self.max_ahead_joined),
                  "min_waiting_ahead_balked": float(self.min_ahead_balked)
                  if self.visits_balked else math.inf}
        distributions = {
            "satisfaction": tuple(float(n) for n in self.satisfaction_hist),
            "wait_minutes": self.waits.five_minute_bins(),
            "retention_by_period": retention,
            "repeat_rate_by_period": self._repeat_rate(measured_h),
            "survival_by_week": self._survival(),
        }
        return RunResult(
            replication=replication, metrics={k: float(v) for k, v in m.items()},
            daily=dict(zip(DAILY_COLUMNS, self.daily, strict=True)),
            distributions=distributions,
            segments={name: dict(zip(SEGMENT_COLUMNS, values, strict=True))
                      for name, values in zip(segment_names, self.segments, strict=True)},
            tiers={name: dict(zip(TIER_COLUMNS, values, strict=True))
                   for name, values in zip(tier_names, self.tiers, strict=True)},
            checks=checks, visits_simulated=self.visits_simulated)

    def complete_periods(self, measured_h: float) -> int:
        return int(measured_h // self.period_h)

    def _customer_retention(self, measured_h: float,
                            segment: int | None = None) -> tuple[float, ...]:
        """1 - lost / customers at the start, for each complete period (of one segment,
        or of all); for one firm the lost are the churned."""
        def count(table: dict[int, list[int]], period: int) -> int:
            row = table.get(period, [])
            return (sum(row) if segment is None else row[segment]) if row else 0

        return tuple(1 - count(self.period_lost, p) / count(self.period_customers, p)
                     if count(self.period_customers, p) else math.nan
                     for p in range(self.complete_periods(measured_h)))

    def _repeat_rate(self, measured_h: float) -> tuple[float, ...]:
        """Share of each complete period's customers who buy again in the next one."""
        return tuple(self.period_repeat.get(p, 0) / self.period_active[p]
                     if self.period_active.get(p) else math.nan
                     for p in range(self.complete_periods(measured_h) - 1))

    def _clv(self, segments: range | list[int]) -> float:
        """Mean discounted cash per customer won in the window, over the first days of a
        relationship: each age-day's cash over the customers observed at that age (won
        early enough to have reached it by the horizon), so customers still active at the
        horizon count for the ages they lived and no further (Nelson's mean cumulative
        function with censoring)."""
        first_day = self.warmup_days
        observed = 0  # customers won on days <= last_day - age
        total = 0.0
        for age in range(self.days - first_day):
            last_won_day = self.days - 1 - age
            if age == 0:
                observed = sum(sum(self.won_by_day[s][first_day:]) for s in segments)
            else:
                observed -= sum(self.won_by_day[s][last_won_day + 1] for s in segments)
            if observed <= 0:
                break
            total += sum(self.cash_by_age_day[s][age] for s in segments) / observed
        return total if self.customers_won else math.nan

    def _survival(self) -> tuple[float, ...]:
        """Actuarial life table of the cohort by week since first purchase: customers
        still active at the horizon count half in their last week."""
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


def ratio(a: float, b: float) -> float:
    """a / b, NaN when b is 0 (an undefined ratio, dropped from means over replications)."""
    return a / b if b else math.nan
