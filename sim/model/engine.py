"""One replication of one scenario: the SimPy processes of the model (docs/model.md).

SimPy schedules; this module only tells the story of one business. Each customer is a
process that loops over visits until it churns (:meth:`Replication.life`); a visit is a
short sequence of named phases (:meth:`Replication.visit`): offer, admit, join or balk,
queue, serve, settle, talk. New customers come from a thinned Poisson process, so every
strategy sees the same candidates (docs/model.md, Randomness); a daily process closes
the books and lets the strategy adapt.

What the strategy decides is asked of its policies (:mod:`sim.strategies.policies`);
what the customer decides is in :mod:`sim.model.decisions`; what each outcome adds to
which total is the tally's business (:mod:`sim.model.tally`). No record per visit is
kept.

The per-visit code reads SimPy's clock as ``env._now``, the attribute behind
``env.now``: the property costs a Python call each time (about 700 machine
instructions against 30; six reads a visit were 2.7% of a visit's instructions,
bench/README.md). It is the value ``env.now`` returns.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any, Protocol

import simpy
from simpy.core import NORMAL, URGENT

from sim.metrics import RunResult
from sim.model.customer import Customer, Patron
from sim.model.decisions import refund_claim, returns, satisfaction
from sim.model.desk import Desk, Turn
from sim.model.events import (
    ABANDONED,
    BALKED,
    PRICED_OUT,
    SERVED,
    TURNED_AWAY,
    VisitEvent,
)
from sim.model.rng import (
    NEW,
    REFERRED,
    TO_UNIT,
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
    Words,
    poisson_from_uniform,
    uniforms,
)
from sim.model.tally import Tally, Visit
from sim.model.wake import Wake, wake_after
from sim.scenario.model import Market, Scenario, Segment, Strategy, Tier
from sim.strategies.policies import NO_REMEDY, Bindable, PolicyContext, Remedy

Key = tuple[int, ...]


class Observer(Protocol):
    """What a test may watch (common random numbers by identity, not by key): who
    arrives, who referred whom, and the uniforms of every visit."""

    def acquired(self, key: Key, now: float, customer: Customer) -> None: ...
    def referred(self, referrer: Key, key: Key) -> None: ...
    def visit(self, key: Key, k: int, draws: list[float]) -> None: ...
    def visited(self, event: VisitEvent) -> None: ...


ARRIVAL_BLOCK = 1024
LEFT = -1.0
"""A visit's outcome after which the customer leaves for good (it was never served)."""

Process = Generator[simpy.Event | Wake, Any, Any]
"""A process of the model: it yields what it waits on, a :class:`Wake` (a time) or a
desk's :class:`Turn`."""


class LeanProcess:
    """Drives one of the model's processes (a customer's life, the arrivals, the days)
    on SimPy's own events, without a ``simpy.Process``.

    SimPy schedules exactly as it would a process: the process starts with an urgent
    event at the current time (as SimPy's ``Initialize``), and each event it yields
    resumes it when SimPy processes that event. What is left out is what the model never
    uses: the process as an event of its own (scheduled once more when it ends, for
    waiters the model never has), the active-process marker, and the conversion of
    failed events (the model waits only on a :class:`Wake` and a :class:`Turn`, which
    never fail). An exception in a process propagates out of ``env.run`` at once.
    Leaving out events that nobody waits on does not reorder the others: SimPy orders
    events by (time, priority, creation order), and the events left keep their creation
    order.
    """

    __slots__ = ("process", "resume_cb")

    def __init__(self, env: simpy.Environment, process: Process) -> None:
        # the generator itself, not its bound ``send``: CPython 3.11 specialises a method
        # looked up on a generator, not a call through a slot holding a bound method
        # (with the bound method's making and freeing: 0.5% of a visit's instructions)
        self.process = process
        self.resume_cb = self.resume
        start = Wake()  # already triggered, at an urgent priority: SimPy's Initialize
        start.callbacks = [self.resume_cb]
        env.schedule(start, URGENT)  # type: ignore[arg-type]

    def resume(self, event: simpy.Event | Wake) -> None:
        try:
            waits_on = self.process.send(event._value)
        except StopIteration:
            # the process holds its own bound method (a reference cycle): break it, so
            # that reference counting frees the finished process (and its generator's
            # frame: the customer, its draws) now rather than a garbage collection later
            del self.resume_cb
            return
        waits_on.callbacks.append(self.resume_cb)  # type: ignore[union-attr]


class LaterWaits:
    """A book of the waits that end on a later day, kept off SimPy's queue until that day
    starts: the single firm's :class:`Replication` and a market's clock
    (sim/model/market.py) keep one. Its owner sets ``env`` and ``later`` and starts each
    day's waits at midnight (:meth:`start_waits`, from its daily process)."""

    __slots__ = ("env", "later")
    env: simpy.Environment
    later: dict[int, list[tuple[float, Wake]]]
    """Waits that end on a later day, by that day: (when, the event waited on)."""

    def wait_until(self, at: float) -> Wake:
        """The event a process waits on until ``at``: a wake on SimPy's queue now, or, if
        ``at`` falls on a later day, one that joins the queue only when that day starts
        (:meth:`start_waits`). A customer waits weeks between visits; kept off the queue
        until their day, those waits leave it the size of one day's events, and each push
        and pop on it costs the logarithm of its size. The visit comes at the same time
        to the last bit (the time SimPy would give, ``now + (at - now)``, is kept and
        reached again from midnight exactly), and in the same order unless two events
        fall on the same instant."""
        env = self.env
        now = env._now
        day = at // 24.0
        if day <= now // 24.0:
            return wake_after(env, at - now)
        wake = Wake()
        wake.callbacks = []
        self.later.setdefault(int(day), []).append((now + (at - now), wake))
        return wake

    def start_waits(self, day: int) -> None:
        """Day ``day`` starts (midnight): its waits join SimPy's queue."""
        env = self.env
        midnight = env._now
        for when, wake in self.later.pop(day, ()):
            env.schedule(wake, NORMAL, when - midnight)  # type: ignore[arg-type]


def run_replication(scenario: Scenario, replication: int,
                    observer: Observer | None = None) -> RunResult:
    """Simulate one replication; the result depends only on (scenario, replication)."""
    return Replication(scenario, replication, observer).run()


class Arrivals(Protocol):
    """What the stream of new prospects reads: a firm alone, or a market of firms."""

    market: Market
    env: simpy.Environment
    streams: Streams
    open_h: float
    close_h: float
    horizon_h: float

    @property
    def reputation(self) -> float: ...
    def life(self, key: Key, referred: bool) -> Process: ...


def new_customers(r: Arrivals) -> Process:
    """Thinned Poisson candidates in opening time; candidate i is customer (NEW, i)."""
    m, env = r.market, r.env
    open_per_day = r.close_h - r.open_h
    sensitivity, norm = m.reputation_sensitivity, m.norm_reputation
    top = max(1 + sensitivity * (10 - norm) / 10, 1.0)
    rate_per_open_h = m.new_customers_per_day / open_per_day * top
    if rate_per_open_h <= 0:
        return
    rng = r.streams.arrivals()
    open_time, index = 0.0, 0
    while True:
        # pairs (gap, acceptance): the same numbers as a (ARRIVAL_BLOCK, 2) array
        block = iter(rng.random(2 * ARRIVAL_BLOCK).tolist())
        for u_gap, u_accept in zip(block, block, strict=True):
            open_time += -math.log1p(-u_gap) / rate_per_open_h
            day = open_time // open_per_day
            t = 24.0 * day + r.open_h + (open_time - day * open_per_day)
            if t >= r.horizon_h:
                return
            yield wake_after(env, t - env._now)
            if u_accept * top < 1.0 + sensitivity * (r.reputation - norm) / 10.0:
                LeanProcess(env, r.life((NEW, index), referred=False))
            index += 1


class SegmentRules:
    """A segment's samplers and constants as the per-visit code reads them, resolved
    once per replication rather than through the scenario on every visit."""

    __slots__ = ("patience_h", "service_h", "service_mean_h", "visit_interval_h",
                 "waitlist_patience_days")

    def __init__(self, segment: Segment) -> None:
        self.service_h = segment.service_time.sampler()
        self.patience_h = segment.patience.sampler()
        self.visit_interval_h = segment.visit_interval.sampler()
        self.service_mean_h = segment.service_time.mean
        self.waitlist_patience_days = segment.waitlist_patience_days


class Replication(LaterWaits):
    """The state of one simulated business over the horizon."""

    # Slots, not an instance dictionary: CPython 3.11 keeps at most 30 attributes in an
    # instance's shared-key dictionary, beyond which it becomes a plain dictionary and
    # every ``self.method()`` and most ``self.attribute`` reads of the per-visit code
    # take the interpreter's generic path (bench/README.md, "What changed").
    __slots__ = (
        "acquisition_cost", "adaptation", "admission", "alive", "assignment",
        "awaiting_appointment_measured", "balk_counts_own_service", "behaviour",
        "bookings", "business", "close_h", "cumulative_shares", "customers_alive",
        "customers_alive_by_segment", "customers_by_segment", "desk", "detractor_weight",
        "exclusivity_boost", "horizon_h", "in_system", "in_system_since", "level",
        "market", "max_waiting", "observer", "open_h", "overtime_h", "passive_weight",
        "promoter_weight", "queue_service_h", "recovery", "referral_delay_h",
        "replication", "reputation", "return_base", "s", "scarce_today",
        "scarcity_pricing", "scarcity_signal", "screening_accuracy", "segment_rules",
        "streams", "tally", "tier_indices", "tier_names", "tier_offset", "tiers",
        "warmup_h")

    def __init__(self, scenario: Scenario, replication: int, observer: Observer | None,
                 env: simpy.Environment | None = None) -> None:
        s = self.s = scenario
        self.replication = replication
        self.observer = observer
        self.streams = Streams(s.run.seed, replication)
        self.env = simpy.Environment() if env is None else env
        self.horizon_h = s.run.days * 24.0
        self.warmup_h = s.run.warmup_days * 24.0
        self.open_h = s.business.open_hour
        self.close_h = s.business.close_hour
        self.tally = Tally(len(s.segments), len(s.strategy.tiers), s.run.days,
                           s.run.warmup_days, s.run.retention_period_days,
                           s.market.discount_rate_per_year)
        shares, acc = [], 0.0
        for seg in s.segments:
            acc += seg.share
            shares.append(acc)
        self.cumulative_shares = tuple(shares)
        strategy = s.strategy
        self.tiers = strategy.tiers
        self.tier_indices = tuple(range(len(self.tiers)))
        self.tier_offset = 0
        """Index in ``tiers`` of the first tier of the strategy in force (a firm that
        copies a rival keeps the books of its old tiers before the new ones)."""
        self.tier_names = tuple(tier.name for tier in self.tiers)
        self.desk = Desk(self.env, s.servers, max(t.priority for t in self.tiers) + 1)
        b, biz, m = s.behaviour, s.business, s.market
        # what the per-visit code reads, resolved once
        self.behaviour, self.business, self.market = b, biz, m
        self.segment_rules = tuple(SegmentRules(g) for g in s.segments)
        self.referral_delay_h = m.referral_delay.sampler()
        self.acquisition_cost = m.acquisition_cost
        self.balk_counts_own_service = b.balk_counts_own_service
        self.max_waiting = biz.max_waiting
        self.resolve(strategy, strategy.tiers)
        self.level = 1.0
        """The adaptive service-level multiplier (the partner's dial)."""
        self.reputation = s.market.norm_reputation
        alpha = 1.0 / m.reputation_memory_visits
        self.promoter_weight, self.passive_weight, self.detractor_weight = (
            min(1.0, alpha * voice) for voice in (1.0, b.passive_voice, b.detractor_voice))
        """How far one visit's score moves reputation, by the voice of who gave it."""
        self.scarcity_signal = 0.0
        self.scarce_today = False
        self.bookings: dict[int, int] = {}
        self.later = {}
        self.in_system = 0
        self.in_system_since = self.warmup_h
        self.awaiting_appointment_measured = 0
        """Measured visits waiting for their appointment (later today, or waitlisted to a
        later day): still in the system at the horizon."""
        self.alive: set[Customer | Patron] = set()
        """Customers and prospects who have not left (prospects who never bought included)."""
        self.customers_alive = 0
        """Customers who have bought and not left."""
        self.customers_alive_by_segment = [0] * len(s.segments)
        self.customers_by_segment = self.customers_alive_by_segment
        """The firm's customers a retention period starts with, by segment: for one firm
        those who have bought and not left (the same list); a firm on a market counts
        those last served at it."""
        self.return_base = (b.return_intercept + m.lock_in * (1 - m.alternatives) ** 2
                            - b.alternatives_weight * m.alternatives)
        """The part of the return logit that is the same for every customer of the market."""
        self.overtime_h = 0.0
        """Hours the staff stayed after closing today to finish the queue (paid)."""

    def resolve(self, strategy: Strategy, tiers: tuple[Tier, ...]) -> None:
        """The strategy's policies and constants as the per-visit code reads them (at the
        start, and again when a firm on a market copies a rival's strategy)."""
        s, b, biz = self.s, self.s.behaviour, self.s.business
        self.scarcity_pricing = strategy.scarcity_pricing
        self.exclusivity_boost = strategy.exclusivity_boost
        self.screening_accuracy = strategy.screening_accuracy
        context = PolicyContext(
            segment_names=tuple(g.name for g in s.segments), tiers=tiers,
            fix=Remedy(biz.fix_cost, b.fix_weight, repairs=True),
            apology=Remedy(biz.apology_cost, b.apology_weight, repairs=False))
        self.assignment, self.admission, self.recovery, self.adaptation = (
            policy.bind(context) if isinstance(policy, Bindable) else policy
            for policy in (strategy.assignment, strategy.admission, strategy.recovery,
                           strategy.adaptation))
        mean_levels = sum(t.service_level for t in tiers) / len(tiers)
        self.queue_service_h = mean_levels * math.fsum(
            g.share * g.service_time.mean for g in s.segments)
        """Mean service time a customer assumes for each visit ahead of it."""

    # ----------------------------------------------------------------- running
    def run(self) -> RunResult:
        env = self.env
        LeanProcess(env, self.new_customers())
        LeanProcess(env, self.days())
        env.run(until=self.horizon_h)
        return self.finish()

    def finish(self) -> RunResult:
        """The books at the horizon: the last day closed, the customers still here
        counted, the metrics."""
        s, t = self.s, self.tally
        self.close_day(s.run.days - 1)
        self.track_in_system(0, self.env.now)
        in_system = self.awaiting_appointment_measured + self.desk.measured_in_system()
        for customer in self.alive:
            t.visits_simulated += customer.visits
            self.leaves_the_books(customer)
            if customer.in_cohort:
                t.censored(customer.first_purchase_h, self.horizon_h)
        return t.result(
            self.replication, servers=s.servers, reputation=self.reputation,
            segment_names=tuple(g.name for g in s.segments),
            tier_names=self.tier_names,
            checks={"in_system": float(in_system), "prospects_pending": float(sum(
                1 for c in self.alive if c.measured and not c.served_once))})

    def in_opening_hours(self, t: float, now: float) -> float:
        """The moment of day ``t`` (or of the next day, never in the past) at the same
        fraction of the opening hours.

        Visit intervals and referral delays pick the day; the time of day is spread over
        the opening hours in proportion to the hour the delay ended. Moving every
        out-of-hours visit to the opening instant would pile two thirds of all returning
        customers up at 09:00 (docs/model.md).
        """
        day = t // 24.0
        at = 24.0 * day + self.open_h + (t - 24.0 * day) / 24.0 * (self.close_h - self.open_h)
        return at if at >= now else at + 24.0

    def image(self) -> float:
        """Perceived-value factor from reputation (1 at the market norm) and visible
        scarcity."""
        m = self.market
        reputation = 1.0 + m.image_sensitivity * (self.reputation - m.norm_reputation) / 10.0
        scarcity = 1.0 + self.exclusivity_boost * self.scarcity_signal
        return (reputation if reputation > 0.1 else 0.1) * scarcity  # noqa: FURB136 -- max()

    def markup(self) -> float:
        """The factor on every price from visible scarcity (1 when the strategy prices
        none of it)."""
        return 1.0 + self.scarcity_pricing * self.scarcity_signal

    def track_in_system(self, change: int, now: float) -> None:
        if now > self.warmup_h:
            self.tally.in_system_area += self.in_system * (now - self.in_system_since)
            self.in_system_since = now
        self.in_system += change

    # appointment book for admission policies: per day, the first slot still free
    def booked(self, day: int) -> int:
        return self.bookings.get(day, 0)

    def book(self, day: int, slot: int) -> None:
        self.bookings[day] = slot + 1

    # ---------------------------------------------------------------- processes
    def new_customers(self) -> Process:
        return new_customers(self)

    def days(self) -> Process:
        for day in range(self.s.run.days - 1):
            yield wake_after(self.env, 24.0 * (day + 1) - self.env._now)
            self.close_day(day)
            self.start_waits(day + 1)

    def close_day(self, day: int) -> None:
        """End of one day: staff paid, visible scarcity, bookings, the strategy's review,
        and, at a retention period's start, the customers it starts with."""
        s, b = self.s, self.s.business
        staffed_h = b.close_hour - b.open_hour + self.overtime_h
        self.overtime_h = 0.0
        self.tally.close_day(s.servers * staffed_h * b.staff_cost_per_hour, staffed_h,
                             measured=day >= s.run.warmup_days, reputation=self.reputation,
                             image=self.image(), service_level=self.level,
                             customers_alive=self.customers_alive)
        since_warmup = day + 1 - s.run.warmup_days
        if since_warmup >= 0 and since_warmup % s.run.retention_period_days == 0:
            self.tally.period_starts(since_warmup // s.run.retention_period_days,
                                     self.customers_by_segment)
        self.scarcity_signal = 0.8 * self.scarcity_signal + 0.2 * self.scarce_today
        self.scarce_today = False
        for old in [d for d in self.bookings if d <= day]:
            del self.bookings[old]
        if (day + 1) % self.adaptation.period_days == 0:
            satisfaction, margin = self.tally.review()
            if not math.isnan(satisfaction):
                self.level = self.adaptation.review(self.level, satisfaction, margin)

    def life(self, key: Key, referred: bool, arrives_h: float | None = None) -> Process:
        """A customer's life: visits until it churns. A referred customer's life starts
        by waiting until it ``arrives_h`` (its process is started when it is referred)."""
        env, t, observer = self.env, self.tally, self.observer
        if arrives_h is not None:
            yield self.wait_until(arrives_h)
        stream = self.streams.customer(key)
        now = env._now
        measured = now >= self.warmup_h
        c = Customer(key, stream.attributes(), self.s.segments,
                     self.cumulative_shares, now, measured)
        self.alive.add(c)
        t.prospect(c.segment, referred, self.acquisition_cost, measured)
        if observer is not None:
            observer.acquired(key, now, c)
        interval_h = self.segment_rules[c.segment].visit_interval_h
        while True:
            words = stream.visit(c.visits)
            if observer is not None:
                observer.visit(key, c.visits, uniforms(words))
            c.visits += 1
            v = Visit(env._now)
            satisfaction = yield from self.visit(c, words, v)
            now = env._now
            comes_back = satisfaction != LEFT and returns(
                self.behaviour, self.return_base, satisfaction, c.loyalty,
                (words[V_RETURN] + 0.5) * TO_UNIT)
            if observer is not None:
                observer.visited(visit_event(c, v, now, comes_back))
            if not comes_back:
                self.churn(c, now)
                return
            t.returning(c.served_measured)
            interval = interval_h((words[V_INTERVAL] + 0.5) * TO_UNIT)
            at = self.in_opening_hours(now + interval, now)
            if at >= self.horizon_h:
                return
            del words, v  # freed now, while in cache, not weeks later (bench/README.md)
            yield self.wait_until(at)

    def churn(self, c: Customer | Patron, now: float) -> None:
        """The customer leaves for good: a churned customer if it had bought, else a
        lost prospect. On a market, each firm books its own relation (a Patron) so."""
        self.alive.discard(c)
        self.tally.visits_simulated += c.visits
        if c.served_once:
            self.customers_alive -= 1
            self.customers_alive_by_segment[c.segment] -= 1
            self.tally.churned(c.segment, c.first_purchase_h, c.in_cohort, now,
                               c.customer_since_h)
        else:
            self.tally.lost(c.segment, c.measured)
        self.leaves_the_books(c)

    def leaves_the_books(self, c: Customer | Patron) -> None:
        """A customer's latest score in the window counts once, when it leaves or at the
        horizon (NPS per customer)."""
        if c.latest_score >= 0:
            b = self.s.behaviour
            self.tally.final_score(c.latest_score, b.promoter_threshold, b.detractor_threshold)

    # ------------------------------------------------------------------- a visit
    def visit(self, c: Customer, words: Words, v: Visit
              ) -> Generator[simpy.Event | Wake, Any, float]:
        """One visit, phase by phase; ``v`` records how it ends. Returns the satisfaction
        that drives the return decision. Time passes only where it yields: on the
        waitlist, in the line, in the chair.

        Unserved visits (priced out, turned away, balked) return the customer's last
        satisfaction, or LEFT if it was never served: a prospect who never bought
        does not come back. An abandoned visit returns 0.
        """
        env, t = self.env, self.tally
        measured = v.arrived_h >= self.warmup_h
        c.served_measured = False
        fallback = c.last_satisfaction if c.served_once else LEFT
        t.arrival(measured)
        image = self.image()
        markup = self.markup()
        surplus = self.offer(c, image, markup)
        if not surplus:
            v.outcome = PRICED_OUT
            t.priced_out(c.segment, measured)
            return fallback
        delay_h = self.admit(c, v, measured)
        if delay_h is None:
            return fallback
        if delay_h:  # an appointment later today, or waitlisted
            self.awaiting_appointment_measured += measured
            yield wake_after(env, delay_h)
            self.awaiting_appointment_measured -= measured
        if not self.join_or_balk(c, surplus, v, measured):
            return fallback
        turn = self.queue(c, words, v, measured)
        if turn is not None:
            served = yield turn
            v.wait_h = env._now - turn.since_h
            if not served:
                self.abandon(c, v, measured)
                return 0.0
        tier = self.tiers[v.tier]
        level = self.serve(c, tier, words, v)
        yield wake_after(env, v.service_h)
        now = env._now
        self.release(measured, now)
        sat, loyalty_sat = self.settle(c, tier, tier.price * markup, image, level, words, v,
                                       measured, now)
        self.talk(c, sat, words, now)
        return loyalty_sat

    def offer(self, c: Customer, image: float, markup: float) -> dict[int, float]:
        """Offer: the surplus of each offered tier worth its price (empty: priced out).
        ``markup`` is the scarce firm's price rise with visible scarcity."""
        offered = self.assignment.assign(c.segment, c.spend)
        candidates = self.tier_indices if offered is None else (offered + self.tier_offset,)
        tiers, wtp = self.tiers, c.wtp
        surplus: dict[int, float] = {}
        for j in candidates:
            tier = tiers[j]
            gain = wtp * tier.value * image - tier.price * markup
            if gain >= 0.0:
                surplus[j] = gain
        return surplus

    def admit(self, c: Customer, v: Visit, measured: bool) -> float | None:
        """Admit: on arrival (0), at an appointment later today or on a later day (the
        hours until it: a later day is waitlisted) or not at all (None)."""
        now = v.arrived_h
        delay_h = self.admission.admit(now, self.open_h, self.close_h,
                                       self.segment_rules[c.segment].waitlist_patience_days,
                                       self)
        if delay_h is None:
            v.outcome = TURNED_AWAY
            self.scarce_today = True
            self.tally.turned_away(c.segment, measured)
            return None
        if delay_h:
            v.appointment_h = delay_h
            if (now + delay_h) // 24.0 > now // 24.0:
                v.waitlisted = True
                self.scarce_today = True
                self.tally.waitlisted(measured)
        return delay_h

    def join_or_balk(self, c: Customer, surplus: dict[int, float], v: Visit,
                     measured: bool) -> bool:
        """Join or balk: the tier with the best surplus net of the time cost the customer
        sees (its wait, and its own service if ``balk_counts_own_service``: Naor's
        observable queue); balk when even that is negative. A full waiting room turns
        the visit away at the door."""
        tiers, desk, level = self.tiers, self.desk, self.level
        own_service_h = self.segment_rules[c.segment].service_mean_h
        # The wait a customer expects at a tier's priority, from the visits it sees
        # ahead of it there beyond the free servers, each taking the mean service of
        # one server (written out here rather than a method called for each tier
        # offered: those calls were 0.6% of a visit's instructions on tiered).
        ahead_at, servers = desk.ahead, desk.capacity
        free = servers - desk.busy
        best, best_net = -1, -math.inf
        for j, gain in surplus.items():
            tier = tiers[j]
            ahead = ahead_at[tier.priority]
            time_h = (0.0 if ahead < free
                      else (ahead - free + 1) / servers * self.queue_service_h * level)
            if self.balk_counts_own_service:
                time_h += own_service_h * tier.service_level * level
            net = gain - c.value_of_time_per_h * time_h
            if net > best_net:
                best, best_net = j, net
        v.tier = best
        ahead = ahead_at[tiers[best].priority]
        if best_net < 0.0:
            v.outcome = BALKED
            self.tally.balked(c.segment, best, ahead, measured)
            return False
        if self.waiting_room_full():
            v.outcome = TURNED_AWAY
            self.scarce_today = True
            self.tally.turned_away(c.segment, measured)
            return False
        self.tally.joined(ahead, measured)
        return True

    def waiting_room_full(self) -> bool:
        """No server free and ``business.max_waiting`` visits already waiting."""
        desk = self.desk
        return 0 <= self.max_waiting <= desk.ahead[0] and desk.busy >= desk.capacity

    def queue(self, c: Customer, words: Words, v: Visit, measured: bool) -> Turn | None:
        """Queue at the tier's priority: a server now (None), or the visit's turn in the
        line, which gives up when the visit's patience runs out."""
        self.track_in_system(+1, self.env._now)
        patience_h = self.segment_rules[c.segment].patience_h((words[V_PATIENCE] + 0.5) * TO_UNIT)
        return self.desk.request(self.tiers[v.tier].priority, measured, patience_h)

    def abandon(self, c: Customer, v: Visit, measured: bool) -> None:
        """Patience ran out in the line: no sale, and the visit's word of mouth at 0."""
        v.outcome = ABANDONED
        self.track_in_system(-1, self.env._now)
        self.tally.abandoned(c.segment, v.tier, v.wait_h, measured)
        self.voice(0.0)

    def serve(self, c: Customer, tier: Tier, words: Words, v: Visit) -> float:
        """Serve: the special requests the tier honours and the service time (in ``v``).
        Returns the service level given."""
        biz = self.business
        level = tier.service_level * self.level
        share = c.unreasonable_share * (1.0 + c.entitlement)
        share = share if share < 1.0 else 1.0  # noqa: FURB136 -- min(1, share)
        u_reasonable = (words[V_REQ_REASONABLE] + 0.5) * TO_UNIT
        u_unreasonable = (words[V_REQ_UNREASONABLE] + 0.5) * TO_UNIT
        n_reasonable = poisson_from_uniform(c.request_rate * (1.0 - share), u_reasonable)
        n_unreasonable = poisson_from_uniform(c.request_rate * share, u_unreasonable)
        honoured_r, honoured_u = tier.requests.honour(
            n_reasonable, n_unreasonable, self.screening_accuracy,
            (words[V_SCREEN_REASONABLE] + 0.5) * TO_UNIT,
            (words[V_SCREEN_UNREASONABLE] + 0.5) * TO_UNIT)
        service_h = self.segment_rules[c.segment].service_h((words[V_SERVICE] + 0.5) * TO_UNIT)
        v.service_h = (service_h * level
                       + honoured_r * biz.request_time_h
                       + honoured_u * biz.unreasonable_request_time_h)
        v.honoured_reasonable, v.refused_reasonable = honoured_r, n_reasonable - honoured_r
        v.honoured_unreasonable, v.refused_unreasonable = honoured_u, n_unreasonable - honoured_u
        v.unit_cost = biz.unit_cost_per_visit * level
        v.request_cost = honoured_r * biz.request_cost + honoured_u * biz.unreasonable_request_cost
        v.entitlement_seen = c.entitlement
        c.entitlement += self.behaviour.entitlement_step * honoured_u
        return level

    def release(self, measured: bool, now: float) -> None:
        """The service ended: the server goes to the next visit in line; staff stay past
        closing to finish."""
        self.desk.release(measured)
        self.track_in_system(-1, now)
        past_closing = now - (24.0 * (now // 24.0) + self.close_h)
        if past_closing > self.overtime_h:  # noqa: PLR1730 -- max(), per visit
            self.overtime_h = past_closing

    def settle(self, c: Customer, tier: Tier, price: float, image: float, level: float,
               words: Words, v: Visit, measured: bool, now: float) -> tuple[float, float]:
        """Settle: failure and remedy, delight, payment and refund claims, satisfaction,
        adapted expectations, the books. Returns (satisfaction, the satisfaction the
        return decision sees)."""
        b, biz = self.behaviour, self.business
        v.failed = (words[V_FAILURE] + 0.5) * TO_UNIT < biz.failure_rate
        remedy = self.recovery.remedy(c.segment, c.spend) if v.failed else NO_REMEDY
        v.recovery_cost = remedy.cost
        delighted = (words[V_DELIGHT] + 0.5) * TO_UNIT < tier.delight_chance
        surprise = (1.0 - c.expected_delight) if delighted else 0.0
        v.delight_cost = biz.delight_cost if delighted else 0.0
        v.price = price
        abuse = c.abuse_propensity * (1.0 + c.entitlement)
        v.genuine, v.abuse = refund_claim(
            failed_unrepaired=v.failed and not remedy.repairs,
            genuine_claim_probability=b.genuine_claim_probability,
            abuse_probability=abuse if abuse < 1.0 else 1.0,  # noqa: FURB136 -- min()
            u_genuine=(words[V_GENUINE_CLAIM] + 0.5) * TO_UNIT,
            u_abuse=(words[V_CLAIM] + 0.5) * TO_UNIT)
        v.refunded = (v.genuine or v.abuse) and tier.refunds.pays(
            v.genuine, self.screening_accuracy, (words[V_CLAIM_SCREEN] + 0.5) * TO_UNIT)
        if v.abuse and v.refunded:
            c.entitlement += b.entitlement_step
        v.refund = v.price if v.refunded else 0.0
        v.return_loss = biz.return_loss if v.refunded else 0.0
        v.flow = (v.price - v.refund - v.unit_cost - v.request_cost - v.recovery_cost
                  - v.delight_cost - v.return_loss)
        # satisfaction (expectation-disconfirmation), then expectations adapt
        perceived = c.wtp * tier.value * image
        value_share = (perceived - price) / perceived if perceived > 0.0 else 0.0
        beyond_h = v.wait_h - c.wait_tolerance_h
        sat = satisfaction(
            b, value_share=value_share,
            wait_beyond_h=beyond_h if beyond_h > 0.0 else 0.0,  # noqa: FURB136 -- max()
            level_gap=level - c.expected_level,
            honoured=v.honoured_reasonable + v.honoured_unreasonable,
            refused_reasonable=v.refused_reasonable, refused_unreasonable=v.refused_unreasonable,
            delight_surprise=surprise, refused_genuine=v.genuine and not v.refunded,
            refused_abuse=v.abuse and not v.refunded)
        loyalty_sat = sat
        if v.failed:
            sat += remedy.satisfaction_points - b.failure_weight
            loyalty_sat = sat if b.recovery_restores_loyalty else min(sat, loyalty_sat)
        sat, loyalty_sat = on_scale(sat), on_scale(loyalty_sat)
        v.outcome, v.satisfaction = SERVED, sat
        alpha = b.expectation_adaptation
        c.expected_level += alpha * (level - c.expected_level)
        c.wait_tolerance_h += alpha * (v.wait_h - c.wait_tolerance_h)
        c.expected_delight += alpha * (delighted - c.expected_delight)
        c.spend += v.price - v.refund
        c.last_satisfaction = loyalty_sat
        self.book_served(c, v, sat, measured, now)
        return sat, loyalty_sat

    def book_served(self, c: Customer, v: Visit, sat: float, measured: bool,
                    now: float) -> None:
        """The books of a served visit: money and time, the customer's first purchase,
        its periods and score, its cash for CLV, its opinion and word of mouth."""
        t, b = self.tally, self.behaviour
        t.served(c.segment, v, sat >= b.promoter_threshold, sat <= b.detractor_threshold,
                 measured)
        if not c.served_once:
            c.served_once = True
            self.customers_alive += 1
            self.customers_alive_by_segment[c.segment] += 1
            c.first_purchase_h = now
            c.in_cohort = c.measured
            t.won(c.segment, c.measured, now)
        if c.in_cohort:
            t.cohort_cash(c.segment, c.first_purchase_h, v.flow, now)
        if measured:
            c.served_measured = True
            c.last_period = t.customer_served(not c.served_in_window, c.last_period, now)
            c.served_in_window = True
            c.latest_score = sat
        self.voice(sat)

    def talk(self, c: Customer, sat: float, words: Words, now: float) -> None:
        """Talk: a promoter may bring a referred customer (its r-th referral)."""
        if (sat >= self.behaviour.promoter_threshold
                and (words[V_REFERRAL] + 0.5) * TO_UNIT < c.referral_propensity):
            delay_h = self.referral_delay_h((words[V_REFERRAL_DELAY] + 0.5) * TO_UNIT)
            at = self.in_opening_hours(now + delay_h, now)
            key = (REFERRED, *c.key, c.referrals)
            if self.observer is not None:
                self.observer.referred(c.key, key)
            if at < self.horizon_h:
                LeanProcess(self.env, self.life(key, referred=True, arrives_h=at))
            c.referrals += 1

    def voice(self, sat: float) -> None:
        """A visit's satisfaction (0 for a visit abandoned in the queue) moves reputation;
        detractors talk more than promoters (an asymmetric U)."""
        b = self.behaviour
        if sat >= b.promoter_threshold:
            weight = self.promoter_weight
        elif sat <= b.detractor_threshold:
            weight = self.detractor_weight
        else:
            weight = self.passive_weight
        self.reputation += weight * (sat - self.reputation)


def on_scale(score: float) -> float:
    """``min(10, max(0, score))``, exactly (NaN gives 0). The engine's per-visit code
    writes ``min`` and ``max`` of two numbers as conditionals: the builtins cost several
    times more, and about 4% of a visit's instructions went to them. For the same reason
    its constants in arithmetic and comparisons with floats are written as floats
    (``1.0 - share``, ``gain >= 0.0``): CPython runs float-with-float operations on a fast
    path and mixed int-with-float ones on its generic one (the result is the same to the
    last bit; about 2.5% of a visit's instructions, bench/README.md)."""
    score = score if score > 0.0 else 0.0  # noqa: FURB136 -- max(0, score)
    return score if score < 10.0 else 10.0  # noqa: FURB136 -- min(10, score)


def visit_event(c: Customer, v: Visit, ended_h: float, comes_back: bool) -> VisitEvent:
    """The observer's row of one visit (built only when someone observes). Only a served
    visit has money, service, requests, a score and claims (Visit sets them in serve and
    settle); an unserved one has zeros and no score."""
    if v.outcome != SERVED:
        return VisitEvent(c.key, c.visits - 1, c.segment, v.arrived_h, ended_h, v.outcome,
                          v.waitlisted, v.appointment_h, v.tier, 0.0, 0.0, 0.0, v.wait_h, 0.0,
                          math.nan, 0, 0,
                          False, False, comes_back)
    return VisitEvent(
        c.key, c.visits - 1, c.segment, v.arrived_h, ended_h, v.outcome, v.waitlisted,
        v.appointment_h, v.tier,
        v.price, v.refund, v.flow, v.wait_h, v.service_h, v.satisfaction,
        v.honoured_reasonable + v.honoured_unreasonable,
        v.refused_reasonable + v.refused_unreasonable, v.failed, v.genuine or v.abuse,
        comes_back)
