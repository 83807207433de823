"""One small deterministic test per mechanism of the model: each fails when its
mechanism is switched off or bent (every test here was checked against a hand-made
mutant of the engine that breaks exactly that mechanism)."""

from __future__ import annotations

import gc
import math
from types import SimpleNamespace

import pytest
import simpy
from helpers import Recorder, queue_sizes_at_1pm, tiny_scenario
from market_helpers import tiny_market

from sim.model import desk, engine, market
from sim.model.customer import Customer
from sim.model.engine import Replication, run_replication
from sim.model.events import SERVED
from sim.model.rng import N_VISIT_DRAWS, V_REQ_UNREASONABLE
from sim.model.tally import Visit
from sim.model.wake import wake_after
from sim.scenario import Scenario
from sim.strategies.policies import NO_REMEDY, Remedy

SHORT = {"run.days": 40, "run.warmup_days": 5}


def first(scenario: Scenario) -> dict[str, float]:
    return run_replication(scenario, 0).metrics


def a_customer(replication: Replication) -> Customer:
    """Candidate 0 of the replication's market, as the engine would build it."""
    s = replication.s
    return Customer((0, 0), replication.streams.customer((0, 0)).attributes(), s.segments,
                    replication.cumulative_shares, 0.0, True)


# --- word of mouth --------------------------------------------------------------------


def test_promoters_bring_referred_customers() -> None:
    assert first(tiny_scenario("god", SHORT))["prospects_referred"] >= 20


def test_no_referrals_at_referral_propensity_zero() -> None:
    silent = tiny_scenario("god", {**SHORT, "segments[*].referral_propensity": 0.0})
    assert first(silent)["prospects_referred"] == 0


@pytest.mark.parametrize("detractor_voice", [1.0, 2.0, 3.5])
def test_a_detractor_moves_reputation_detractor_voice_times_as_far_as_a_promoter(
        detractor_voice: float) -> None:
    """At the same distance from the current reputation, a detractor's score pulls it
    detractor_voice times as far as a promoter's (the asymmetric U of word of mouth)."""
    replication = Replication(tiny_scenario("god", {
        "behaviour.detractor_voice": detractor_voice}), 0, None)
    moves = []
    for score in (10.0, 0.0):  # a promoter and a detractor, both 5 points from 5
        replication.reputation = 5.0
        replication.voice(score)
        moves.append(abs(replication.reputation - 5.0))
    promoter_move, detractor_move = moves
    assert promoter_move == pytest.approx(5.0 / 300)  # reputation_memory_visits = 300
    assert detractor_move == pytest.approx(detractor_voice * promoter_move)


def test_passive_customers_speak_with_the_passive_voice() -> None:
    replication = Replication(tiny_scenario("god", {"behaviour.passive_voice": 0.25}), 0, None)
    replication.reputation = 5.0
    replication.voice(8.0)  # passive: 6 < 8 < 9
    assert replication.reputation - 5.0 == pytest.approx(0.25 * 3.0 / 300)


# --- entitlement ----------------------------------------------------------------------

GREEDY = {**SHORT, "segments[*].unreasonable_share": 0.5, "segments[*].abuse_propensity": 0.1}


def test_indulged_customers_grow_entitled() -> None:
    assert first(tiny_scenario("god", GREEDY))["mean_entitlement"] > 0.1


def test_customers_who_are_never_indulged_stay_unentitled() -> None:
    strict = tiny_scenario("god", {**GREEDY, "strategy.tiers[0].requests": "none",
                                   "strategy.tiers[0].refunds": "never"})
    metrics = first(strict)
    assert metrics["requests_refused_unreasonable"] > 0
    assert metrics["abuse_claims"] > 0
    assert metrics["mean_entitlement"] == 0


def test_entitlement_raises_the_unreasonable_share_of_requests() -> None:
    """The same customers ask for more out-of-scope service when they were indulged."""
    step = {"behaviour.entitlement_step": 1.0}
    indulged = first(tiny_scenario("god", {**GREEDY, **step}))
    unmoved = first(tiny_scenario("god", {**GREEDY, "behaviour.entitlement_step": 0.0}))

    def unreasonable_share(m: dict[str, float]) -> float:
        unreasonable = m["requests_honoured_unreasonable"] + m["requests_refused_unreasonable"]
        return unreasonable / (unreasonable + m["requests_honoured_reasonable"]
                               + m["requests_refused_reasonable"])

    assert unreasonable_share(indulged) > unreasonable_share(unmoved) + 0.05


def test_an_entitled_customers_requests_are_at_most_all_unreasonable() -> None:
    """Unreasonable share 0.6 and entitlement 1: 0.6 x (1 + 1) = 1.2 of its requests
    would be out of scope, capped at all of them. At 2 requests a visit it asks for
    Poisson(2) unreasonable ones and no reasonable one: the uniform 0.65 draws 2
    (P(N <= 1) = 0.41, P(N <= 2) = 0.68); uncapped, Poisson(2.4) would draw 3."""
    replication = Replication(tiny_scenario("god"), 0, None)
    customer = SimpleNamespace(segment=0, unreasonable_share=0.6, entitlement=1.0,
                               request_rate=2.0)
    words = [2**31] * N_VISIT_DRAWS
    words[V_REQ_UNREASONABLE] = int(0.65 * 2**32)
    visit = Visit(10.0)
    replication.serve(customer, replication.tiers[0], tuple(words), visit)  # type: ignore[arg-type]
    assert (visit.honoured_unreasonable, visit.refused_unreasonable) == (2, 0)  # god honours all
    assert (visit.honoured_reasonable, visit.refused_reasonable) == (0, 0)


# --- adaptation -----------------------------------------------------------------------


def run_to_the_horizon(scenario: Scenario) -> Replication:
    replication = Replication(scenario, 0, None)
    replication.run()
    return replication


def test_the_partner_moves_its_service_level_within_its_bounds() -> None:
    partner = run_to_the_horizon(tiny_scenario("partner", {"run.days": 60}))
    bounds = partner.s.strategy.adaptation
    assert partner.level != 1.0
    assert bounds.min_level <= partner.level <= bounds.max_level


def test_the_partner_reviews_its_service_level_every_period() -> None:
    """The daily series shows the level each day ran at: it can change only on the
    first day of a review period (every period_days = 7 days)."""
    partner = run_replication(tiny_scenario("partner", {"run.days": 60}), 0)
    levels = list(partner.daily["service_level"])
    changes = [day for day in range(1, len(levels)) if levels[day] != levels[day - 1]]
    assert changes
    assert all(day % 7 == 0 for day in changes)


def test_without_adaptation_the_service_level_stays_as_set() -> None:
    fixed = run_to_the_horizon(tiny_scenario("partner", {"run.days": 60,
                                                         "strategy.adaptation": "none"}))
    assert fixed.level == 1.0


# --- queue: Little's law and the time of those who gave up ---------------------------

# One server, constant one-hour services, constant half-hour patience, no requests: a
# queue where about a third of those who join give up.
IMPATIENT = {
    "run.days": 60, "run.warmup_days": 5, "business.servers": 1,
    "strategy.tiers[0].service_level": 1.0, "strategy.tiers[0].price": 0.0,
    "segments[*].service_time": "1 h", "segments[*].patience": "30 min",
    "segments[*].request_rate": 0.0, "segments[*].value_of_time_per_h": 0.0,
}


def test_the_time_of_visits_that_gave_up_counts_in_the_time_in_the_system() -> None:
    """Sojourn = wait + service for the served, the patience for those who gave up:
    with constant service S and patience P the sum is known exactly."""
    m = first(tiny_scenario("god", IMPATIENT))
    assert m["abandoned"] > 0.2 * (m["abandoned"] + m["served"])
    expected = m["served"] * (m["mean_wait_h"] + 1.0) + m["abandoned"] * 0.5
    assert m["mean_sojourn_h"] * (m["served"] + m["abandoned"]) == pytest.approx(expected, rel=1e-9)


def test_littles_law_holds_with_abandonment() -> None:
    """L = lambda W over the measured window. Little's law holds on every sample path
    up to the visits present at the window's two edges (at most a handful of one-hour
    visits over 55 days: well under 1%); leaving out the time of those who abandon
    would miss L by the abandoned share of W (over 10% here)."""
    m = first(tiny_scenario("god", IMPATIENT))
    assert m["abandoned"] > 0.2 * (m["abandoned"] + m["served"])
    little = m["join_rate_per_h"] * m["mean_sojourn_h"]
    assert math.isclose(m["mean_in_system"], little, rel_tol=0.01)


# --- the engine's processes -------------------------------------------------------------


def test_lean_processes_give_the_results_of_simpy_processes(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The engine drives its processes without ``simpy.Process`` (LeanProcess): every
    field of the result is what SimPy's own processes give, to the last bit."""
    scenario = tiny_scenario("tiered", {"run.days": 60, "run.warmup_days": 5,
                                        "business.servers": 1})
    lean = run_replication(scenario, 3)
    assert lean.metrics["abandoned"] > 0
    assert lean.metrics["prospects_referred"] > 0
    monkeypatch.setattr(engine, "LeanProcess", lambda env, process: env.process(process))
    assert repr(run_replication(scenario, 3)) == repr(lean)


def test_wakes_give_the_results_of_simpy_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's waits (service, appointments, patience, arrivals, the days, the
    book of later waits) are :class:`sim.model.wake.Wake` events scheduled as SimPy
    schedules a timeout: every field of the result is what ``env.timeout`` gives, to
    the last bit, with abandonment, waitlists and referrals all happening."""
    tiered = tiny_scenario("tiered", {"run.days": 60, "run.warmup_days": 5,
                                      "business.servers": 1})
    slots = tiny_scenario("scarcity", {"run.days": 60, "run.warmup_days": 5})
    woken = run_replication(tiered, 3), run_replication(slots, 3)
    assert woken[0].metrics["abandoned"] > 0
    assert woken[0].metrics["prospects_referred"] > 0
    assert woken[1].metrics["waitlisted"] > 0

    def timeout(env: simpy.Environment, delay: float) -> simpy.Event:
        return env.timeout(delay)

    rivals = tiny_market([("T", "tiered"), ("G", "god")], {"run.days": 60,
                                                            "run.warmup_days": 5})
    woken_market = market.run_market_replication(rivals, 3)
    monkeypatch.setattr(engine, "wake_after", timeout)
    monkeypatch.setattr(desk, "wake_after", timeout)
    monkeypatch.setattr(market, "wake_after", timeout)  # a market's days
    assert repr(run_replication(tiered, 3)) == repr(woken[0])
    assert repr(run_replication(slots, 3)) == repr(woken[1])
    assert repr(market.run_market_replication(rivals, 3)) == repr(woken_market)


def test_a_wake_is_queued_and_processed_as_a_timeout() -> None:
    """A Wake takes the queue entry a timeout of the same delay would, time, priority and
    event id, and SimPy processes it as one: its callbacks see it at its time, its value
    None, and the run goes on."""
    timed, woken = simpy.Environment(), simpy.Environment()
    for delay in (2.5, 0.0, 1.0):
        timed.timeout(delay)
        wake_after(woken, delay)
    assert [entry[:3] for entry in woken._queue] == [entry[:3] for entry in timed._queue]
    seen: list[tuple[float, object]] = []
    wake = wake_after(woken, 4.0)
    wake.callbacks.append(lambda event: seen.append((woken.now, event._value)))
    woken.run()
    assert seen == [(4.0, None)]
    assert wake.callbacks is None  # processed, as SimPy marks every event it processed


def test_waits_kept_off_the_queue_until_their_day_give_the_results_of_timeouts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A customer's wait for a visit on a later day joins SimPy's queue only when that
    day starts (Replication.wait_until): every field of the result is what a plain
    timeout gives, to the last bit, and the queue holds about one day's events instead
    of every customer between two visits."""
    scenario = tiny_scenario("tiered", {"run.days": 120, "run.warmup_days": 5,
                                        "business.servers": 1})
    booked = run_replication(scenario, 3)
    assert booked.metrics["prospects_referred"] > 0
    assert booked.metrics["visit_return_rate"] > 0.5
    booked_sizes = queue_sizes_at_1pm(Replication(scenario, 3, None))
    monkeypatch.setattr(Replication, "wait_until",
                        lambda self, at: self.env.timeout(at - self.env.now))
    assert repr(run_replication(scenario, 3)) == repr(booked)
    plain_sizes = queue_sizes_at_1pm(Replication(scenario, 3, None))
    # days 30 to 90: the queue in its steady state (it empties towards the horizon,
    # after which no visit is scheduled)
    assert max(booked_sizes[30:90]) * 3 < min(plain_sizes[30:90])


def test_a_finished_process_is_freed_at_once() -> None:
    """A LeanProcess holds its own bound method; when its generator ends it drops it, so
    reference counting frees the process (and the customer its frame held) at once
    instead of leaving a cycle for the garbage collector: with the collector off, no
    process whose generator has ended is left among the live objects."""
    scenario = tiny_scenario("tiered", {"run.days": 60, "run.warmup_days": 5})
    gc.collect()
    gc.disable()
    try:
        result = run_replication(scenario, 3)
        finished = [o for o in gc.get_objects() if isinstance(o, engine.LeanProcess)
                    and o.process.gi_frame is None]
    finally:
        gc.enable()
    assert result.metrics["customers_churned"] + result.metrics["lost_prospects"] > 20
    # every life ends by the horizon (a visit due after it is never scheduled), so
    # a process left in a reference cycle would stay here, finished
    assert finished == []

# --- what a customer sees: image, the expected wait, the hour of a visit --------------


def test_the_image_grows_with_reputation_above_the_norm_and_with_visible_scarcity() -> None:
    replication = Replication(tiny_scenario("god", {
        "market.image_sensitivity": 0.5, "market.norm_reputation": 7.0,
        "strategy.exclusivity_boost": 0.3}), 0, None)
    replication.reputation, replication.scarcity_signal = 9.0, 0.5
    assert replication.image() == pytest.approx((1 + 0.5 * 2 / 10) * (1 + 0.3 * 0.5))
    replication.reputation = -200.0  # the reputation factor never falls below 0.1
    assert replication.image() == pytest.approx(0.1 * (1 + 0.3 * 0.5))


def test_a_customer_expects_to_wait_for_the_visits_ahead_beyond_the_free_servers() -> None:
    """Three servers, one-hour services at level 1 (each visit ahead takes an hour of
    one server), the partner's dial at 1.2: with k visits ahead and f servers free the
    wait is (k - f + 1) / 3 x 1.2 hours, or none when a server is left for it. Seen as
    join_or_balk weighs it: a customer who values an hour at 1 joins while the tier's
    surplus covers the wait and balks when it falls short of it by 0.001."""
    replication = Replication(tiny_scenario("god", {
        "business.servers": 3, "strategy.tiers[0].service_level": 1.0,
        "segments[*].service_time": "1 h", "behaviour.balk_counts_own_service": False}),
        0, None)
    replication.level = 1.2
    customer = SimpleNamespace(segment=0, value_of_time_per_h=1.0)

    def joins(gain: float) -> bool:
        return replication.join_or_balk(customer, {0: gain}, Visit(0.0), False)  # type: ignore[arg-type]

    desk = replication.desk
    for busy, ahead, wait_h in ((1, 1, 0.0), (1, 2, 1 / 3 * 1.2), (3, 2, 3 / 3 * 1.2)):
        desk.busy, desk.ahead[0] = busy, ahead
        assert joins(wait_h + 1e-9)
        assert not joins(wait_h - 0.001)


def test_a_visit_due_at_some_hour_comes_at_that_fraction_of_the_opening_hours() -> None:
    """Open 9 to 17: a visit due at noon on day 1 (hour 36) comes half-way through the
    opening hours, at 13:00 (hour 37); one whose time has already passed today comes at
    that time tomorrow."""
    replication = Replication(tiny_scenario("god"), 0, None)
    assert (replication.open_h, replication.close_h) == (9, 17)
    assert replication.in_opening_hours(36.0, now=0.0) == pytest.approx(37.0)
    assert replication.in_opening_hours(24.0, now=0.0) == pytest.approx(33.0)
    assert replication.in_opening_hours(36.0, now=40.0) == pytest.approx(61.0)


# --- failures, claims, screening ------------------------------------------------------

FAILING = {**SHORT, "business.failure_rate": 0.3, "behaviour.genuine_claim_probability": 1.0}


def test_a_repaired_failure_brings_no_genuine_claim_and_an_unrepaired_one_always_does() -> None:
    fixed = first(tiny_scenario("god", {**FAILING, "strategy.recovery": "fix"}))
    ignored = first(tiny_scenario("god", {**FAILING, "strategy.recovery": "none"}))
    assert fixed["failures"] > 50
    assert fixed["genuine_claims"] == 0
    assert ignored["genuine_claims"] == ignored["failures"] > 50


def test_screening_misjudges_a_reasonable_request_with_probability_one_minus_accuracy() -> None:
    """Accuracy 0.9 over about a thousand reasonable requests: 10% refused, binomial sd
    about 1 point at 700 requests; the band is 5 points either side."""
    m = first(tiny_scenario("god", {**SHORT, "strategy.tiers[0].requests": "reasonable",
                                    "strategy.screening_accuracy": 0.9,
                                    "segments[*].request_rate": 2.0,
                                    "segments[*].unreasonable_share": 0.0}))
    asked = m["requests_honoured_reasonable"] + m["requests_refused_reasonable"]
    assert asked > 700
    assert 0.05 < m["requests_refused_reasonable"] / asked < 0.15


class Spy:
    """A recovery and an assignment policy that remember what the engine asked them."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int, float]] = []

    def remedy(self, segment: int, past_spend: float) -> Remedy:
        self.asked.append(("remedy", segment, past_spend))
        return NO_REMEDY

    def assign(self, segment: int, past_spend: float) -> None:
        self.asked.append(("assign", segment, past_spend))


def test_the_engine_asks_the_strategy_about_the_customers_own_segment_and_spend() -> None:
    recorder = Recorder()
    replication = Replication(tiny_scenario("god", FAILING), 0, recorder)
    spy = Spy()
    replication.recovery = replication.assignment = spy  # type: ignore[assignment]
    replication.run()
    served = [e for e in recorder.events if e.outcome == SERVED]
    assert {what for what, _, _ in spy.asked} == {"remedy", "assign"}
    assert {segment for _, segment, _ in spy.asked} == {0, 1}
    assert sum(what == "remedy" for what, _, _ in spy.asked) == sum(e.failed for e in served)
    # a customer's spend is what it paid before: zero on a first visit, growing after
    spends = [spend for what, _, spend in spy.asked if what == "assign"]
    assert spends[0] == 0.0
    assert max(spends) > 0
    # a failure's remedy is asked with the spend of the customer it failed, too
    remedy_spends = [spend for what, _, spend in spy.asked if what == "remedy"]
    assert min(remedy_spends) >= 0.0
    assert max(remedy_spends) > 0


# --- expectations ---------------------------------------------------------------------


def test_after_a_served_visit_expectations_move_a_share_of_the_way_to_what_it_got() -> None:
    """Expectations adapt by exponential smoothing with weight expectation_adaptation
    (0.3): the wait tolerated, the service level and the chance of delight expected."""
    replication = Replication(tiny_scenario("god", {
        "behaviour.expectation_adaptation": 0.3, "business.failure_rate": 0.0,
        "strategy.tiers[0].delight_chance": 1.0}), 0, None)
    customer = a_customer(replication)
    customer.wait_tolerance_h, customer.expected_level, customer.expected_delight = 0.4, 1.0, 0.5
    visit = Visit(0.0)
    visit.tier, visit.wait_h = 0, 1.4
    # what the serve phase sets before settling: no requests, no unit cost
    visit.service_h, visit.unit_cost, visit.request_cost, visit.entitlement_seen = 1.0, 0.0, 0.0, 0.0
    visit.honoured_reasonable = visit.refused_reasonable = 0
    visit.honoured_unreasonable = visit.refused_unreasonable = 0
    tier = replication.tiers[0]
    middle = (2**31,) * 16  # every uniform of the visit 0.5: no claim, delighted
    replication.settle(customer, tier, tier.price, 1.0, 1.2, middle, visit, False, 0.0)
    assert customer.wait_tolerance_h == pytest.approx(0.4 + 0.3 * (1.4 - 0.4))
    assert customer.expected_level == pytest.approx(1.0 + 0.3 * (1.2 - 1.0))
    assert customer.expected_delight == pytest.approx(0.5 + 0.3 * (1.0 - 0.5))
    assert customer.spend == tier.price


# --- new prospects --------------------------------------------------------------------


def test_at_the_best_reputation_new_prospects_come_at_the_highest_rate_it_can_ask() -> None:
    """At reputation 10 the rate of new prospects is new_customers_per_day x
    (1 + sensitivity (10 - norm) / 10): here 4 x (1 + 100 x 10 / 10) = 404 a day (the
    top of the thinned stream, every candidate accepted). Every visit scores 10 and a
    memory of one visit makes that the reputation from the first visit on (in the
    warm-up day, which at 4 a day has one with probability 1 - e^-4 = 0.98 and later
    days make sure of it). Over the 20 measured days the count of new prospects is
    Poisson with mean 8,080 (sd 90): within 4 sd (360) of it; an envelope a tenth
    narrower would give a mean of 7,353, 8 sd below."""
    scenario = tiny_scenario("god", {
        "run.days": 21, "run.warmup_days": 1, "business.servers": 200,
        "business.open_hour": 0, "business.close_hour": 24,
        "market.new_customers_per_day": 4.0, "market.reputation_sensitivity": 100.0,
        "market.norm_reputation": 0.0, "market.reputation_memory_visits": 1.0,
        "market.image_sensitivity": 0.0, "business.failure_rate": 0.0,
        "behaviour.baseline_satisfaction": 10.0,
        "behaviour.return_intercept": -1000.0, "segments[*].referral_propensity": 0.0})
    run = run_replication(scenario, 0)
    assert set(run.daily["reputation"]) == {10.0}  # from the end of the warm-up day on
    assert run.metrics["mean_satisfaction"] == 10.0
    assert run.metrics["prospects_new"] == pytest.approx(4 * 20 * 101, abs=4 * math.sqrt(8080))
