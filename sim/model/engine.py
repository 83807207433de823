"""One replication of one scenario: the SimPy processes of MODEL.md.

SimPy schedules; this module only describes lives. Each customer is one process that
loops over visits until it churns; new customers come from a thinned Poisson process
(so every strategy sees the same candidates, MODEL.md Randomness); a daily process
closes the books and lets the strategy adapt. Strategy decisions that need logic
are delegated to the policies in :mod:`sim.strategies.policies`; everything else reads
the frozen :class:`~sim.scenario.model.Scenario`. Aggregates go to a
:class:`~sim.model.tally.Tally`; no record per visit is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.metrics import (
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
    WAIT_BIN_H,
    WAIT_BINS,
    RunResult,
)
from sim.model.customer import Customer
from sim.model.decisions import honoured_requests, refund_claim, satisfaction
from sim.model.rng import (
    NEW,
    REFERRED,
    V_CLAIM,
    V_CLAIM_SCREEN,
    V_DELIGHT,
    V_FAILURE,
    V_GENUINE_CLAIM,
    V_INTERVAL,
    V_PATIENCE,
    V_REFERRAL,
    V_REFERRAL_DELAY,
    V_REQ_REASONABLE,
    V_REQ_UNREASONABLE,
    V_RETURN,
    V_SCREEN_REASONABLE,
    V_SCREEN_UNREASONABLE,
    V_SERVICE,
    Streams,
    poisson_from_uniform,
)
from sim.model.tally import PERIOD_H, WEEK_H, Tally
from sim.scenario.model import Scenario
from sim.strategies.policies import Bindable

Observer = Callable[[tuple[int, ...], int, list[float]], None]
"""Called with (customer key, visit number, the visit's uniforms): for CRN tests."""
ARRIVAL_BLOCK = 1024
LEFT = -1.0  # a visit after which the customer leaves for good (never served)


def run_replication(scenario: Scenario, replication: int,
                    observer: Observer | None = None) -> RunResult:
    """Simulate one replication; the result depends only on (scenario, replication)."""
    return Replication(scenario, replication, observer).run()


class Replication:
    """The state of one simulated business over the horizon."""

    def __init__(self, scenario: Scenario, replication: int, observer: Observer | None) -> None:
        s = self.s = scenario
        self.replication = replication
        self.observer = observer
        self.streams = Streams(s.run.seed, replication)
        self.env = simpy.Environment()
        self.server = simpy.PriorityResource(self.env, capacity=s.business.servers)
        self.horizon_h = s.run.days * 24.0
        self.warmup_h = s.run.warmup_days * 24.0
        self.open_h = s.business.open_hour
        self.close_h = s.business.close_hour
        self.tally = Tally(len(s.segments), s.run.days)
        shares, acc = [], 0.0
        for seg in s.segments:
            acc += seg.share
            shares.append(acc)
        self.cumulative_shares = tuple(shares)
        strategy = s.strategy
        self.tiers = strategy.tiers
        self.queued = [0] * (max(t.priority for t in self.tiers) + 1)
        """Visits waiting, by tier priority (what an arriving customer sees ahead)."""
        segment_names = tuple(g.name for g in s.segments)
        self.assignment, self.admission, self.adaptation = (
            policy.bind(segment_names, self.tiers) if isinstance(policy, Bindable) else policy
            for policy in (strategy.assignment, strategy.admission, strategy.adaptation))
        mean_levels = sum(t.service_level for t in self.tiers) / len(self.tiers)
        self.queue_service_h = mean_levels * math.fsum(
            g.share * g.service_time.mean for g in s.segments)
        """Mean service time a customer assumes for each visit ahead of it."""
        self.level = 1.0
        self.reputation = s.market.initial_reputation
        self.reputation_alpha = 1.0 / s.market.reputation_memory_visits
        self.scarcity_signal = 0.0
        self.scarce_today = False
        self.bookings: dict[int, int] = {}
        self.in_system = 0
        self.in_system_since = self.warmup_h
        self.waitlist_measured = 0
        self.alive: set[Customer] = set()
        b = s.behaviour
        alt = s.market.alternatives
        self.return_base = (b.return_intercept + strategy.lock_in * (1 - alt) ** 2
                            - b.alternatives_weight * alt)
        self.period_revenue = self.period_cash = self.period_sat = 0.0
        self.period_sat_n = 0
        self.day_sat_n = 0
        self.overtime_h = 0.0
        """Hours the staff stayed after closing today to finish the queue (paid)."""

    # ----------------------------------------------------------------- running
    def run(self) -> RunResult:
        env = self.env
        env.process(self.new_customers())
        env.process(self.days())
        env.run(until=self.horizon_h)
        self.close_day(self.s.run.days - 1)
        t = self.tally
        self.track_in_system(0)
        in_system = self.waitlist_measured + sum(
            1 for req in (*self.server.queue, *self.server.users) if req.measured)  # type: ignore[attr-defined]
        for customer in self.alive:
            if customer.measured and customer.served_once:
                t.censored[int((self.horizon_h - customer.acquired_h) // WEEK_H)] += 1
        measured_h = self.horizon_h - self.warmup_h
        return t.result(
            self.replication, measured_h=measured_h, servers=self.s.business.servers,
            reputation=self.reputation, segment_names=tuple(g.name for g in self.s.segments),
            checks={"in_system": float(in_system)})

    def in_opening_hours(self, t: float) -> float:
        """The moment of day ``t`` (or of the next day, never in the past) at the same
        fraction of the opening hours.

        Visit intervals and referral delays pick the day; the time of day is spread over
        the opening hours in proportion to the hour the delay ended. Moving every
        out-of-hours visit to the opening instant would pile two thirds of all returning
        customers up at 09:00 (docs/model.md).
        """
        day = t // 24.0
        at = 24.0 * day + self.open_h + (t - 24.0 * day) / 24.0 * (self.close_h - self.open_h)
        return at if at >= self.env.now else at + 24.0

    def image(self) -> float:
        """Perceived-value factor from reputation and visible scarcity."""
        m = self.s.market
        reputation = 1 + m.image_sensitivity * (self.reputation - m.initial_reputation) / 10
        scarcity = 1 + self.s.strategy.exclusivity_boost * self.scarcity_signal
        return max(0.1, reputation) * scarcity

    def expected_wait_h(self, priority: int) -> float:
        """Wait a customer expects at ``priority`` from what it sees ahead of it."""
        ahead = sum(self.queued[priority:])
        free = self.server.capacity - self.server.count
        if ahead < free:
            return 0.0
        return (ahead - free + 1) / self.server.capacity * self.queue_service_h * self.level

    def track_in_system(self, change: int) -> None:
        now = self.env.now
        if now > self.warmup_h:
            self.tally.in_system_area += self.in_system * (now - self.in_system_since)
            self.in_system_since = now
        self.in_system += change

    # slot book for admission policies
    def booked(self, day: int) -> int:
        return self.bookings.get(day, 0)

    def book(self, day: int) -> None:
        self.bookings[day] = self.bookings.get(day, 0) + 1

    # ---------------------------------------------------------------- processes
    def new_customers(self) -> Generator[simpy.Event, Any, None]:
        """Thinned Poisson candidates in opening time; candidate i is customer (NEW, i)."""
        m = self.s.market
        open_per_day = self.close_h - self.open_h
        top = 1 + m.reputation_sensitivity * (10 - m.initial_reputation) / 10
        rate_per_open_h = m.new_customers_per_day / open_per_day * max(top, 1.0)
        if rate_per_open_h <= 0:
            return
        rng = self.streams.arrivals()
        open_time, index = 0.0, 0
        while True:
            block = rng.random((ARRIVAL_BLOCK, 2)).tolist()
            for u_gap, u_accept in block:
                open_time += -math.log1p(-u_gap) / rate_per_open_h
                day = open_time // open_per_day
                t = 24.0 * day + self.open_h + (open_time - day * open_per_day)
                if t >= self.horizon_h:
                    return
                yield self.env.timeout(t - self.env.now)
                factor = 1 + m.reputation_sensitivity * (self.reputation - m.initial_reputation) / 10
                if u_accept * max(top, 1.0) < factor:
                    self.env.process(self.life((NEW, index), referred=False))
                index += 1

    def days(self) -> Generator[simpy.Event, Any, None]:
        for day in range(self.s.run.days - 1):
            yield self.env.timeout(24.0 * (day + 1) - self.env.now)
            self.close_day(day)

    def close_day(self, day: int) -> None:
        """Books of one day: staff cost, daily series, visible scarcity, adaptation."""
        t, b = self.tally, self.s.business
        staffed_h = b.close_hour - b.open_hour + self.overtime_h
        self.overtime_h = 0.0
        staff = b.servers * staffed_h * b.staff_cost_per_hour
        if day >= self.s.run.warmup_days:
            t.staff_cost += staff
            t.cash -= staff
            t.staffed_h += staffed_h
        row = t.day
        row[DAY_PROFIT] -= staff
        self.period_cash -= staff
        row[DAY_SATISFACTION] = row[DAY_SATISFACTION] / self.day_sat_n if self.day_sat_n else math.nan
        row[DAY_REPUTATION] = self.reputation
        row[DAY_ALIVE] = float(len(self.alive))
        self.day_sat_n = 0
        t.daily.append(tuple(row))
        t.day = [0.0] * len(row)
        self.scarcity_signal = 0.8 * self.scarcity_signal + 0.2 * self.scarce_today
        self.scarce_today = False
        for old in [d for d in self.bookings if d <= day]:
            del self.bookings[old]
        period = getattr(self.adaptation, "period_days", 7)
        if (day + 1) % period == 0:
            satisfaction = self.period_sat / self.period_sat_n if self.period_sat_n else math.nan
            margin = self.period_cash / self.period_revenue if self.period_revenue else -math.inf
            if not math.isnan(satisfaction):
                self.level = self.adaptation.review(self.level, satisfaction, margin)
            self.period_revenue = self.period_cash = self.period_sat = 0.0
            self.period_sat_n = 0

    def life(self, key: tuple[int, ...], referred: bool) -> Generator[simpy.Event, Any, None]:
        """A customer's life: visits until it churns."""
        env, t = self.env, self.tally
        stream = self.streams.customer(key)
        now = env.now
        measured = now >= self.warmup_h
        c = Customer(key, stream.attributes(), self.s.segments,
                     self.cumulative_shares, now, measured)
        seg_row = t.segments[c.segment]
        self.alive.add(c)
        t.day[DAY_NEW] += 1
        if measured:
            seg_row[SEG_CUSTOMERS] += 1
            if referred:
                t.customers_referred += 1
            else:
                t.customers_new += 1
                cost = self.s.market.acquisition_cost
                t.acquisition_cost += cost
                t.cash -= cost
                t.day[DAY_PROFIT] -= cost
                self.period_cash -= cost
        b = self.s.behaviour
        while True:
            draws = stream.visit(c.visits)
            if self.observer is not None:
                self.observer(key, c.visits, draws)
            c.visits += 1
            t.visits_simulated += 1
            satisfaction = yield from self.visit(c, draws)
            if satisfaction == LEFT:
                self.churn(c)
                return
            x = satisfaction
            logit = (self.return_base + b.return_satisfaction_weight * (x - 7)
                     + b.return_top_weight * max(0.0, x - 8) + b.loyalty_weight * c.loyalty)
            # u < 1 / (1 + e^-logit), without overflow for very negative logits
            returns = draws[V_RETURN] * (1 + math.exp(-logit)) < 1 if logit > -700 else False
            if not returns:
                self.churn(c)
                return
            if c.served_measured:
                t.returned += 1
            interval = self.s.segments[c.segment].visit_interval.sample(draws[V_INTERVAL])
            at = self.in_opening_hours(env.now + interval)
            if at >= self.horizon_h:
                return
            yield env.timeout(at - env.now)

    def churn(self, c: Customer) -> None:
        """The customer leaves for good; only customers who were served count as churned."""
        self.alive.discard(c)
        if c.measured and c.served_once:
            t = self.tally
            t.churned += 1
            t.segments[c.segment][SEG_CHURNED] += 1
            t.deaths[int((self.env.now - c.acquired_h) // WEEK_H)] += 1

    def visit(self, c: Customer, draws: list[float]) -> Generator[simpy.Event, Any, float]:
        """One visit; returns the satisfaction that drives the return decision.

        Unserved visits (priced out, turned away, balked) return the customer's last
        satisfaction, or LEFT if it was never served: a prospect who never bought
        does not come back.
        """
        env, t, s = self.env, self.tally, self.s
        measured = env.now >= self.warmup_h
        c.served_measured = False
        seg_row = t.segments[c.segment]
        fallback = c.last_satisfaction if c.served_once else LEFT
        if measured:
            t.arrivals += 1
        # offer and purchase: the tiers worth their price
        offered = self.assignment.assign(c.segment, c.spend)
        image = self.image()
        candidates = range(len(self.tiers)) if offered is None else (offered,)
        surplus: dict[int, float] = {}
        for j in candidates:
            tier = self.tiers[j]
            gain = c.wtp * tier.value * image - tier.price
            if gain >= 0:
                surplus[j] = gain
        if not surplus:
            if measured:
                t.priced_out += 1
                seg_row[SEG_PRICED_OUT] += 1
            return fallback
        # admission: today, a later day (waitlist) or not at all
        today = int(env.now // 24.0)
        waitlist_days = s.segments[c.segment].waitlist_patience_days
        day = self.admission.admit(today, waitlist_days, self)
        if day is None:
            self.scarce_today = True
            if measured:
                t.turned_away += 1
                seg_row[SEG_TURNED_AWAY] += 1
            return fallback
        if day > today:
            self.scarce_today = True
            if measured:
                t.waitlisted += 1
                self.waitlist_measured += 1
            hour = env.now - 24.0 * today
            yield env.timeout(24.0 * day + hour - env.now)
            if measured:
                self.waitlist_measured -= 1
        # join or balk: surplus net of the wait it sees (Naor's observable queue)
        best, best_net = -1, -math.inf
        for j, gain in surplus.items():
            net = gain - c.value_of_time_per_h * self.expected_wait_h(self.tiers[j].priority)
            if net > best_net:
                best, best_net = j, net
        tier = self.tiers[best]
        ahead = sum(self.queued[tier.priority:])
        if best_net < 0:
            if measured:
                t.balked += 1
                seg_row[SEG_BALKED] += 1
                t.min_ahead_balked = min(t.min_ahead_balked, ahead)
            return fallback
        if measured and ahead > t.max_ahead_joined:
            t.max_ahead_joined = ahead
        # queue, with abandonment when patience runs out
        segment = s.segments[c.segment]
        request = self.server.request(priority=-tier.priority)
        request.measured = measured  # type: ignore[attr-defined]
        self.queued[tier.priority] += 1
        self.track_in_system(+1)
        if measured:
            t.joined += 1
        queued_at = env.now
        patience_h = segment.patience.sample(draws[V_PATIENCE])
        if not request.triggered:
            yield request | env.timeout(patience_h)
        self.queued[tier.priority] -= 1
        wait_h = env.now - queued_at
        if not request.triggered:
            request.cancel()
            self.track_in_system(-1)
            t.day[DAY_ABANDONED] += 1
            if measured:
                t.abandoned += 1
                t.sojourn_sum += wait_h
                seg_row[SEG_ABANDONED] += 1
            self.record_satisfaction(c, 0.0, measured)
            return 0.0
        # service: requests, failure, recovery, delight
        level = tier.service_level * self.level
        share = min(1.0, c.unreasonable_share * (1 + c.entitlement))
        n_reasonable = poisson_from_uniform(c.request_rate * (1 - share), draws[V_REQ_REASONABLE])
        n_unreasonable = poisson_from_uniform(c.request_rate * share, draws[V_REQ_UNREASONABLE])
        honoured_r, honoured_u = honoured_requests(
            tier.requests, n_reasonable, n_unreasonable, s.strategy.screening_accuracy,
            draws[V_SCREEN_REASONABLE], draws[V_SCREEN_UNREASONABLE])
        biz = s.business
        service_h = (segment.service_time.sample(draws[V_SERVICE]) * level
                     + honoured_r * biz.request_time_h + honoured_u * biz.unreasonable_request_time_h)
        yield env.timeout(service_h)
        self.server.release(request)
        self.track_in_system(-1)
        past_closing = env.now - (24.0 * (env.now // 24.0) + self.close_h)
        self.overtime_h = max(self.overtime_h, past_closing)
        b = s.behaviour
        entitlement_seen = c.entitlement
        c.entitlement += b.entitlement_step * honoured_u
        unit = biz.unit_cost_per_visit * level
        requests_cost = honoured_r * biz.request_cost + honoured_u * biz.unreasonable_request_cost
        failed = draws[V_FAILURE] < biz.failure_rate
        recovery_cost = recovery_points = 0.0
        recovery = s.strategy.recovery
        if failed:
            if recovery == "fix":
                recovery_cost, recovery_points = biz.fix_cost, b.fix_weight
            elif recovery == "apologize":
                recovery_cost, recovery_points = biz.apology_cost, b.apology_weight
        delighted = draws[V_DELIGHT] < tier.delight_chance
        delight_cost = biz.delight_cost if delighted else 0.0
        # payment and refund claims
        price = tier.price
        genuine, abuse, refunded = refund_claim(
            tier.refunds, failed_unfixed=failed and recovery != "fix",
            genuine_claim_probability=b.genuine_claim_probability,
            abuse_probability=min(1.0, c.abuse_propensity * (1 + c.entitlement)),
            screening_accuracy=s.strategy.screening_accuracy, u_genuine=draws[V_GENUINE_CLAIM],
            u_abuse=draws[V_CLAIM], u_screen=draws[V_CLAIM_SCREEN])
        if abuse and refunded:
            c.entitlement += b.entitlement_step
        refund = price if refunded else 0.0
        loss = biz.return_loss if refunded else 0.0
        flow = price - refund - unit - requests_cost - recovery_cost - delight_cost - loss
        # satisfaction (expectation-disconfirmation), then expectations adapt
        perceived = c.wtp * tier.value * image
        value_share = (perceived - tier.price) / perceived if perceived > 0 else 0.0
        sat = satisfaction(
            b, value_share=value_share, wait_beyond_h=max(0.0, wait_h - c.wait_tolerance_h),
            level_gap=level - c.expected_level, honoured=honoured_r + honoured_u,
            refused_reasonable=n_reasonable - honoured_r,
            refused_unreasonable=n_unreasonable - honoured_u, delighted=delighted,
            refused_genuine=genuine and not refunded, refused_abuse=abuse and not refunded)
        loyalty_sat = sat
        if failed:
            sat += recovery_points - b.failure_weight
            loyalty_sat = sat if b.recovery_restores_loyalty else min(sat, loyalty_sat)
        sat = min(10.0, max(0.0, sat))
        loyalty_sat = min(10.0, max(0.0, loyalty_sat))
        alpha = b.expectation_adaptation
        c.expected_level += alpha * (level - c.expected_level)
        c.wait_tolerance_h += alpha * (wait_h - c.wait_tolerance_h)
        c.spend += price - refund
        c.last_satisfaction = loyalty_sat
        # books
        row = t.day
        row[DAY_REVENUE] += price - refund
        row[DAY_PROFIT] += flow
        row[DAY_SERVED] += 1
        self.period_revenue += price - refund
        self.period_cash += flow
        if measured:
            t.served += 1
            c.served_measured = True
            t.gross_revenue += price
            t.refunds += refund
            t.unit_cost += unit
            t.request_cost += requests_cost
            t.recovery_cost += recovery_cost
            t.delight_cost += delight_cost
            t.return_losses += loss
            t.cash += flow
            t.busy_h += service_h
            t.wait_sum += wait_h
            t.sojourn_sum += wait_h + service_h
            t.wait_hist[min(int(wait_h / WAIT_BIN_H), WAIT_BINS)] += 1
            t.req_honoured_r += honoured_r
            t.req_refused_r += n_reasonable - honoured_r
            t.req_honoured_u += honoured_u
            t.req_refused_u += n_unreasonable - honoured_u
            t.failures += failed
            t.genuine_claims += genuine
            t.entitlement_sum += entitlement_seen
            if abuse:
                t.abuse_claims += 1
                seg_row[SEG_ABUSE_CLAIMS] += 1
                if refunded:
                    t.abuse_refunded += 1
                    t.abuse_losses += refund + loss
            seg_row[SEG_SERVED] += 1
            seg_row[SEG_REVENUE] += price - refund
            seg_row[SEG_VARIABLE_COST] += price - refund - flow
            seg_row[SEG_PROFIT] += flow
            seg_row[SEG_WAIT_H] += wait_h
            if not c.served_once:
                t.customers_served += 1
            period = int((env.now - self.warmup_h) // PERIOD_H)
            if c.last_period != period:
                t.period_active[period] = t.period_active.get(period, 0) + 1
                if c.last_period == period - 1:
                    t.period_retained[period - 1] = t.period_retained.get(period - 1, 0) + 1
                c.last_period = period
        c.served_once = True
        self.record_satisfaction(c, sat, measured)
        # word of mouth: promoters refer
        if sat >= b.promoter_threshold and draws[V_REFERRAL] < c.referral_propensity:
            delay_h = s.market.referral_delay.sample(draws[V_REFERRAL_DELAY])
            at = self.in_opening_hours(env.now + delay_h)
            if at < self.horizon_h:
                key = (REFERRED, *c.key, c.referrals)
                env.process(self.referral(key, at))
            c.referrals += 1
        return loyalty_sat

    def referral(self, key: tuple[int, ...], at: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at - self.env.now)
        yield from self.life(key, referred=True)

    def record_satisfaction(self, c: Customer, sat: float, measured: bool) -> None:
        """Satisfaction metrics and reputation; detractors talk more than promoters."""
        b, t = self.s.behaviour, self.tally
        if sat >= b.promoter_threshold:
            voice = 1.0
            promoter, detractor = 1, 0
        elif sat <= b.detractor_threshold:
            voice = b.detractor_voice
            promoter, detractor = 0, 1
        else:
            voice = b.passive_voice
            promoter = detractor = 0
        self.reputation += min(1.0, self.reputation_alpha * voice) * (sat - self.reputation)
        t.day[DAY_SATISFACTION] += sat
        self.day_sat_n += 1
        self.period_sat += sat
        self.period_sat_n += 1
        if measured:
            t.satisfaction_sum += sat
            t.satisfaction_hist[int(sat)] += 1
            t.satisfaction_n += 1
            t.promoters += promoter
            t.detractors += detractor
            row = t.segments[c.segment]
            row[SEG_PROMOTERS] += promoter
            row[SEG_DETRACTORS] += detractor
