"""One replication of a market of rival firms (docs/model.md, "Market of rival firms").

Several firms share one SimPy environment, one stream of new prospects and the
customers. Each firm is the single-firm model's :class:`Replication` (its desk, tally,
reputation, slot book, policies, visit phases), run on the shared clock; this module
adds only what a market has and a firm has not: the customer's choice among the firms
(and the outside option) at each visit occasion, spillover to the next-best firm, and
the customer's relation with each firm (:class:`Patron`), which it carries into the
firm it visits. With one firm and no outside option nothing is chosen and nothing
spills: the market is the single-firm model, draw for draw (tests/test_market.py).
Its per-visit code reads the clock as ``env._now`` and waits on wakes, as the engine's
does (sim/model/engine.py, sim/model/wake.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from typing import Any, Protocol

import simpy

from sim.metrics import DAY_PROFIT, MarketRunResult
from sim.model.customer import Customer, Patron
from sim.model.decisions import returns
from sim.model.engine import (
    LEFT,
    Key,
    LaterWaits,
    LeanProcess,
    Process,
    Replication,
    new_customers,
    visit_event,
)
from sim.model.events import ABANDONED, BALKED, SERVED, TURNED_AWAY, VisitEvent
from sim.model.rng import IMITATION, TO_UNIT, V_INTERVAL, V_RETURN, Streams, Words, uniforms
from sim.model.tally import Visit
from sim.model.wake import wake_after
from sim.scenario.knob_groups import combine, named_groups
from sim.scenario.market import MarketScenario
from sim.scenario.model import Strategy

SPILLS = (TURNED_AWAY, BALKED)
"""Outcomes after which a customer may try the next-best firm the same day."""


class MarketObserver(Protocol):
    """What may watch a market replication (its event log, sim/experiment/market_events.py):
    every try of every visit occasion, in the order the tries end."""

    def tried(self, firm: int, event: VisitEvent) -> None:
        """A try at ``firm`` ended. ``event.returns``: the customer did not leave the
        market after it (it tries another firm, or comes back another day)."""


def run_market_replication(market: MarketScenario, replication: int) -> MarketRunResult:
    """Simulate one replication of the market; depends only on (market, replication)."""
    return MarketReplication(market, replication).run()


class Firm(Replication):
    """A firm on the market: the single-firm model on the market's clock, whose referred
    customers enter the market and whose recent average wait customers hear about."""

    def __init__(self, market: MarketReplication, index: int, scenario: Any,
                 replication: int) -> None:
        super().__init__(scenario, replication, None, market.env)
        self.market_replication = market
        self.later = market.later  # one clock, one book of waits on later days
        self.index = index
        self.recent_wait_h = 0.0
        """Mean wait of the firm's recent visits that queued (served or abandoned), an
        average over about market.reputation_memory_visits visits, as word of mouth
        reports it."""
        self.wait_alpha = 1.0 / scenario.market.reputation_memory_visits
        self.customers_by_segment = [0] * len(scenario.segments)
        """The firm's customers by segment: alive on the market and last served at this
        firm (what its customer retention counts; docs/model.md)."""
        self.terms = (1.0, 1.0)
        """(image, markup) as a visit would find them now (:meth:`best_surplus`), kept
        while ``terms_reputation`` is the firm's reputation."""
        self.terms_reputation = math.nan
        """The reputation ``terms`` were worked out at; NaN: to work out again."""

    def is_open(self, now: float) -> bool:
        hour = now - 24.0 * (now // 24.0)
        return self.open_h <= hour < self.close_h

    def best_surplus(self, c: Customer, spend: float) -> float:
        """The surplus the customer expects at the best tier the firm would offer it
        (perceived value − price asked; negative when every tier costs more than it is
        worth): the tiers it offers now, as :meth:`offer` (a firm that copied a rival
        keeps its old tiers' books, not their prices)."""
        offered = self.assignment.assign(c.segment, spend)
        if self.terms_reputation != self.reputation:
            self.update_terms()
        image, markup = self.terms
        tiers, wtp = self.tiers, c.wtp
        best = -math.inf
        for j in self.tier_indices if offered is None else (offered + self.tier_offset,):
            tier = tiers[j]
            gain = wtp * tier.value * image - tier.price * markup
            if gain > best:  # noqa: PLR1730 -- max() costs more, on every occasion
                best = gain
        return best

    def update_terms(self) -> None:
        """Work out the image and markup a visit would find now. Every customer weighs
        every firm at each occasion, and these move only with the firm's reputation (at a
        visit there), its visible scarcity (when a day closes, :meth:`close_day`) and its
        strategy (a copy, :meth:`adopt`): kept until then, not worked out per customer."""
        self.terms = (self.image(), self.markup())
        self.terms_reputation = self.reputation

    def close_day(self, day: int) -> None:
        super().close_day(day)
        self.terms_reputation = math.nan  # visible scarcity moved

    def idle(self) -> bool:
        """Nobody in line or in service (a strategy changes only then)."""
        return self.desk.busy == 0 and not any(self.desk.lines)

    def adopt(self, own: Strategy, leader: str) -> None:
        """Put in place a strategy copied from a rival (:func:`imitation`). The old
        tiers keep their books; the new ones are booked beside them, named after the
        rival ('premium (copied from B)')."""
        self.s = dataclasses.replace(self.s, strategy=own)
        offset = len(self.tiers)
        self.tiers = (*self.tiers, *own.tiers)
        self.tier_offset = offset
        self.tier_indices = tuple(range(offset, len(self.tiers)))
        self.tier_names = (*self.tier_names,
                           *(f"{tier.name} (copied from {leader})" for tier in own.tiers))
        self.tally.add_tiers(len(own.tiers))
        self.desk.add_priorities(max(t.priority for t in self.tiers) + 1)
        self.resolve(own, own.tiers)
        self.terms_reputation = math.nan  # a new exclusivity boost and scarcity pricing

    def life(self, key: Key, referred: bool, arrives_h: float | None = None) -> Process:
        """A customer this firm's promoter referred: a customer of the market, whose first
        occasion goes to this firm."""
        return self.market_replication.life(key, referred, firm=self.index,
                                            arrives_h=arrives_h)

    def book_served(self, c: Customer, v: Visit, sat: float, measured: bool,
                    now: float) -> None:
        super().book_served(c, v, sat, measured, now)
        self.recent_wait_h += self.wait_alpha * (v.wait_h - self.recent_wait_h)

    def abandon(self, c: Customer, v: Visit, measured: bool) -> None:
        super().abandon(c, v, measured)
        self.recent_wait_h += self.wait_alpha * (v.wait_h - self.recent_wait_h)

    def gains(self, p: Patron, now: float) -> None:
        """The customer, just served here, was last served at a rival or nowhere: from
        now on it is the firm's customer."""
        p.customer_since_h = now
        self.customers_by_segment[p.segment] += 1

    def loses(self, p: Patron, now: float) -> None:
        """Its customer was just served at a rival: lost to switching, not to churn."""
        self.tally.switched_away(p.segment, p.customer_since_h, now)
        self.customers_by_segment[p.segment] -= 1
        p.customer_since_h = math.inf

    def churn(self, c: Customer | Patron, now: float) -> None:
        if c.customer_since_h < math.inf:  # it leaves the market as the firm's customer
            self.customers_by_segment[c.segment] -= 1
        super().churn(c, now)


class MarketBooks:
    """What the market counts beyond the firms' own books (the measured window)."""

    def __init__(self, n: int) -> None:
        self.occasions = 0
        self.outside = 0
        """Occasions on which no firm was tried: the outside option ranked first, or no
        firm was open."""
        self.first_choices = [0] * n
        self.spill_from = [0] * n
        """Visits turned away or balking at the firm after which the customer tried
        another firm the same day."""
        self.spill_to = [0] * n
        """Visits to the firm that were a customer's second (or later) try of the day."""
        self.spill_served = [0] * n
        """Of those, visits served."""
        self.switching = [[0] * n for _ in range(n + 1)]
        """Served visits by (firm of the customer's previous served visit, or row n for
        its first purchase on the market; firm of this one)."""
        self.prospects_new = 0
        """New prospects the market's stream brought (referred ones go to a firm)."""
        self.prospects_outside = 0
        """New prospects who tried no firm on their first occasion (they leave)."""


class MarketReplication(LaterWaits):
    """The market's clock, arrivals and customers; the firms do the rest. A customer's
    wait for a later day (its next occasion, a referred prospect's arrival) joins SimPy's
    queue only when that day starts, as in the single-firm model (:class:`LaterWaits`)."""

    def __init__(self, scenario: MarketScenario, replication: int) -> None:
        self.scenario = scenario
        self.observer: MarketObserver | None = None
        """Told of every visit (the market's event log, which needs the replication to
        write its rows, sets it after construction); None: nobody is."""
        first = scenario.firms[0]
        self.market = first.market
        self.s = first
        self.replication = replication
        self.env = simpy.Environment()
        self.later = {}
        self.streams = Streams(first.run.seed, replication)
        self.firms = [Firm(self, i, firm_scenario, replication)
                      for i, firm_scenario in enumerate(scenario.firms)]
        for firm in self.firms:
            firm.streams = self.streams
        self.n = len(self.firms)
        self.horizon_h = first.run.days * 24.0
        self.warmup_h = first.run.warmup_days * 24.0
        self.open_h = min(f.open_h for f in self.firms)
        self.close_h = max(f.close_h for f in self.firms)
        self.same_hours = all(f.open_h == self.open_h and f.close_h == self.close_h
                              for f in self.firms)
        m = first.market
        self.choice_scale = m.choice_scale
        self.switching_cost = m.switching_cost
        self.satisfaction_value = m.satisfaction_value
        self.search_limit = m.search_limit
        self.outside_score = m.outside_surplus / m.choice_scale if m.outside_option else None
        self.baseline = first.behaviour.baseline_satisfaction
        self.books = MarketBooks(self.n)
        self.imitation_rate = m.imitation_rate
        self.imitation_groups = named_groups(m.imitation_groups)
        self.pending: dict[int, tuple[int, Strategy, int]] = {}
        """Copies decided and not yet in place: firm -> (day it takes effect, the
        strategy it will put in place, the firm copied)."""
        self.choosing = self.n > 1 or m.outside_option
        """Whether an occasion's choice is drawn at all (one firm, no outside option:
        there is nothing to choose)."""

    # ----------------------------------------------------------------- running
    def run(self) -> MarketRunResult:
        env = self.env
        LeanProcess(env, self.new_customers())
        LeanProcess(env, self.days())
        env.run(until=self.horizon_h)
        firms = tuple(firm.finish() for firm in self.firms)
        b = self.books
        return MarketRunResult(
            replication=self.replication, firms=firms,
            market={"occasions": float(b.occasions), "outside": float(b.outside),
                    "prospects_new": float(b.prospects_new),
                    "prospects_outside": float(b.prospects_outside)},
            per_firm={"first_choices": tuple(map(float, b.first_choices)),
                      "spill_from": tuple(map(float, b.spill_from)),
                      "spill_to": tuple(map(float, b.spill_to)),
                      "spill_served": tuple(map(float, b.spill_served))},
            switching=tuple(tuple(map(float, row)) for row in b.switching))

    @property
    def reputation(self) -> float:
        """The market's reputation, which scales the stream of new prospects: the mean
        of the firms' reputations."""
        return sum(firm.reputation for firm in self.firms) / self.n

    def in_opening_hours(self, t: float) -> float:
        """As :meth:`Replication.in_opening_hours`, in the market's hours (from the
        earliest opening to the latest closing of its firms)."""
        day = t // 24.0
        at = 24.0 * day + self.open_h + (t - 24.0 * day) / 24.0 * (self.close_h - self.open_h)
        return at if at >= self.env._now else at + 24.0

    def new_customers(self) -> Process:
        """The single firm's stream of new prospects, in the market's hours and at its
        reputation."""
        return new_customers(self)

    def days(self) -> Process:
        for day in range(self.s.run.days - 1):
            yield wake_after(self.env, 24.0 * (day + 1) - self.env._now)
            for firm in self.firms:
                firm.close_day(day)
            if self.imitation_rate > 0:
                self.imitate(day)
            self.start_waits(day + 1)

    def imitate(self, day: int) -> None:
        """Imitation (docs/model.md): copies whose lag is over are put in place (on a day
        whose queue is empty, else the next one); every review period, each firm whose
        profit over it trails the best rival's decides, with probability
        ``imitation_rate`` (its own keyed draw), to copy that rival's knob groups
        ``imitation_groups``."""
        m = self.market
        for f, (due, strategy, source) in list(self.pending.items()):
            firm = self.firms[f]
            if day + 1 >= due and firm.idle():
                firm.adopt(strategy, self.scenario.names[source])
                firm.tally.imitation(m.imitation_cost, measured=day + 1 >= firm.s.run.warmup_days)
                del self.pending[f]
        period = m.imitation_period_days
        if (day + 1) % period:
            return
        profits = [firm.tally.last_days(DAY_PROFIT, period) for firm in self.firms]
        best = max(range(self.n), key=lambda f: (profits[f], -f))
        leader = self.firms[best].s.strategy
        for f in range(self.n):
            if f == best or f in self.pending or profits[f] >= profits[best]:
                continue
            own = self.firms[f].s.strategy
            copy = imitation(own, leader, self.imitation_groups)
            if copy == own:
                continue  # nothing left to copy
            u = uniforms(self.streams.customer((IMITATION, day, f)).visit(0))[0]
            if u < m.imitation_rate:
                self.pending[f] = (day + 1 + m.imitation_lag_days, copy, best)

    # ---------------------------------------------------------------- choice
    def rank(self, c: Customer, patrons: list[Patron | None], last_firm: int,
             words: Words, now: float) -> list[int]:
        """The firms in the order the customer would try them on this occasion, best
        first, cut where the outside option ranks (docs/model.md: a multinomial logit
        drawn as the largest of utility / scale + a Gumbel draw per option)."""
        scale, baseline = self.choice_scale, self.baseline
        satisfaction_value, time_value = self.satisfaction_value, c.value_of_time_per_h
        log = math.log
        scores: list[tuple[float, int]] = []
        for f, firm in enumerate(self.firms):
            if not self.same_hours and not firm.is_open(now):
                continue
            p = patrons[f]
            if p is None:
                utility = firm.best_surplus(c, 0.0) - time_value * firm.recent_wait_h
            else:
                utility = firm.best_surplus(c, p.spend) - time_value * firm.recent_wait_h
                if p.served_once:
                    utility += satisfaction_value * (p.last_satisfaction - baseline)
            if f == last_firm:
                utility += self.switching_cost
            scores.append((utility / scale - log(-log((words[1 + f] + 0.5) * TO_UNIT)), f))
        scores.sort(reverse=True)
        if self.outside_score is None:
            return [f for _, f in scores]
        outside = self.outside_score + gumbel(words[0])
        return [f for score, f in scores if score > outside]

    # ---------------------------------------------------------------- a customer
    def life(self, key: Key, referred: bool, firm: int = -1,
             arrives_h: float | None = None) -> Process:
        """A customer's life on the market: an occasion after another, each a choice and
        a visit (or, with spillover, a few), until it leaves the category. A referred
        prospect's life starts by waiting until it ``arrives_h``; its first occasion goes
        to the firm whose customer referred it."""
        env, books, observer = self.env, self.books, self.observer
        if arrives_h is not None:
            yield self.wait_until(arrives_h)
        stream = self.streams.customer(key)
        now = env._now
        measured = now >= self.warmup_h
        first = self.firms[0]
        c = Customer(key, stream.attributes(), first.s.segments, first.cumulative_shares,
                     now, measured)
        patrons: list[Patron | None] = [None] * self.n
        if not referred:
            books.prospects_new += measured
        interval_h = first.segment_rules[c.segment].visit_interval_h
        last_firm = -1
        served_anywhere = False
        while True:
            now = env._now
            occasion_measured = now >= self.warmup_h
            words = stream.visit(c.visits)
            if self.choosing:
                order = self.rank(c, patrons, last_firm, stream.choice(c.visits), now)
                if firm >= 0 and c.visits == 0 and (self.same_hours
                                                    or self.firms[firm].is_open(now)):
                    order = [firm, *(f for f in order if f != firm)]
            else:
                order = [0]
            c.visits += 1
            books.occasions += occasion_measured
            sat, visited, p = LEFT, -1, None
            for attempt, f in enumerate(order[:self.search_limit]):
                visited = f
                p = patrons[f]
                if p is None:
                    p = patrons[f] = self.patron(c, f, referred, measured,
                                                 prospect=c.visits == 1 and attempt == 0)
                if attempt == 0:
                    if occasion_measured:
                        books.first_choices[f] += 1
                elif occasion_measured:
                    books.spill_to[f] += 1
                carry_in(c, p)
                v = Visit(env._now)
                sat = yield from self.firms[f].visit(c, words, v)
                carry_out(c, p)
                outcome = v.outcome
                if outcome != SERVED and outcome != ABANDONED:
                    sat = LEFT  # the market decides on the customer's memories
                if outcome == SERVED:
                    served_anywhere = True
                    if f != last_firm:  # f's customer now, lost by the last firm
                        served_h = env._now
                        before = patrons[last_firm] if last_firm >= 0 else None
                        if before is not None:
                            self.firms[last_firm].loses(before, served_h)
                        self.firms[f].gains(p, served_h)
                    if occasion_measured:
                        books.switching[self.n if last_firm < 0 else last_firm][f] += 1
                        books.spill_served[f] += attempt > 0
                    last_firm = f
                if outcome not in SPILLS or attempt + 1 >= min(len(order), self.search_limit):
                    break
                if occasion_measured:
                    books.spill_from[f] += 1
                if observer is not None:  # it tries another firm: it did not leave
                    observer.tried(f, visit_event(c, v, env._now, True))
            if visited < 0:
                books.outside += occasion_measured
                if c.visits == 1 and not referred:
                    books.prospects_outside += measured
            if sat == LEFT and served_anywhere:
                sat = max(q.last_satisfaction for q in patrons if q is not None and q.served_once)
            comes_back = sat != LEFT and returns(
                first.behaviour, first.return_base, sat, c.loyalty,
                (words[V_RETURN] + 0.5) * TO_UNIT)
            if observer is not None and visited >= 0:
                observer.tried(visited, visit_event(c, v, env._now, comes_back))
            if not comes_back:
                self.leave(c, patrons)
                return
            if p is not None:
                self.firms[visited].tally.returning(p.served_measured)
            interval = interval_h((words[V_INTERVAL] + 0.5) * TO_UNIT)
            at = self.in_opening_hours(env._now + interval)
            if at >= self.horizon_h:
                return
            del words  # freed now, not when the next occasion comes (as in engine.py)
            yield self.wait_until(at)

    def patron(self, c: Customer, f: int, referred: bool, measured: bool,
               prospect: bool) -> Patron:
        """The customer's relation with firm f, begun on its first visit there. The firm
        it tries first as a new prospect reached it: its prospect (a new one costs its
        marketing)."""
        firm = self.firms[f]
        p = Patron(c.segment, measured and prospect)
        firm.alive.add(p)
        if prospect:
            firm.tally.prospect(c.segment, referred, firm.acquisition_cost, measured)
        return p

    def leave(self, c: Customer, patrons: list[Patron | None]) -> None:
        """The customer leaves the category: the firm it was last served at books a
        churned customer; every firm it knew takes it off its books (a firm it had
        bought at counts it in its cohort's survival; a firm whose prospect it was and
        never bought at books a lost prospect)."""
        now = self.env._now
        for firm, p in zip(self.firms, patrons, strict=True):
            if p is not None:
                firm.churn(p, now)


def imitation(own: Strategy, leader: Strategy, groups: Collection[str]) -> Strategy:
    """The strategy a firm puts in place when it copies a leader's knob groups: its own
    with those groups taken from the leader (:func:`sim.scenario.knob_groups.combine`),
    keeping its own names and its staff (servers are the firm's investment, not a knob
    to copy; docs/model.md, Imitation)."""
    return dataclasses.replace(combine(own, leader, groups), servers=own.servers)


def gumbel(word: int) -> float:
    """A standard Gumbel draw from one word of a block (by inversion)."""
    return -math.log(-math.log((word + 0.5) * TO_UNIT))


def carry_in(c: Customer, p: Patron) -> None:
    """The customer carries its relation with a firm into a visit there."""
    c.served_measured, c.served_once, c.last_satisfaction, c.spend = (
        p.served_measured, p.served_once, p.last_satisfaction, p.spend)
    c.first_purchase_h, c.in_cohort, c.measured = p.first_purchase_h, p.in_cohort, p.measured
    c.served_in_window, c.last_period, c.latest_score = (
        p.served_in_window, p.last_period, p.latest_score)
    p.visits += 1


def carry_out(c: Customer, p: Patron) -> None:
    """The relation as the visit left it, back with the firm."""
    p.served_measured, p.served_once, p.last_satisfaction, p.spend = (
        c.served_measured, c.served_once, c.last_satisfaction, c.spend)
    p.first_purchase_h, p.in_cohort = c.first_purchase_h, c.in_cohort
    p.served_in_window, p.last_period, p.latest_score = (
        c.served_in_window, c.last_period, c.latest_score)
