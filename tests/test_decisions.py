"""The decisions of one service, without SimPy: the firm's (strategy policies) and the
customer's (sim/model/decisions.py)."""

from __future__ import annotations

import math

import pytest

from sim.model.decisions import refund_claim, returns
from sim.scenario.model import Behaviour, Tier
from sim.strategies.policies import (
    Apologize,
    BySegment,
    BySpend,
    DailySlots,
    Fix,
    HonourAll,
    HonourNone,
    HonourReasonable,
    NoAdaptation,
    NoRecovery,
    PolicyContext,
    RefundAlways,
    RefundNever,
    RefundVerified,
    Remedy,
    SatisfactionTarget,
    binomial_from_uniform,
)


def test_request_policies_honour_all_none_or_the_screened() -> None:
    assert HonourAll().honour(3, 2, 0.8, 0.5, 0.5) == (3, 2)
    assert HonourNone().honour(3, 2, 0.8, 0.5, 0.5) == (0, 0)
    # perfect screening: every reasonable request honoured, every unreasonable refused
    assert HonourReasonable().honour(3, 2, 1.0, 0.99, 0.99) == (3, 0)
    # useless screening: the reverse
    assert HonourReasonable().honour(3, 2, 0.0, 0.01, 0.01) == (0, 2)


def test_a_verified_refund_policy_refuses_caught_abuse_and_pays_genuine_claims() -> None:
    verified = RefundVerified()
    assert verified.pays(True, 0.8, u_screen=0.1)
    assert not verified.pays(False, 0.8, u_screen=0.1)  # abuse caught
    assert verified.pays(False, 0.8, u_screen=0.9)  # abuse missed
    assert not RefundNever().pays(True, 0.8, u_screen=0.9)
    assert RefundAlways().pays(False, 0.8, u_screen=0.1)


def test_a_claim_is_genuine_only_after_an_unrepaired_failure() -> None:
    certain = {"genuine_claim_probability": 1.0, "abuse_probability": 1.0,
               "u_genuine": 0.5, "u_abuse": 0.5}
    assert refund_claim(failed_unrepaired=True, **certain) == (True, False)
    assert refund_claim(failed_unrepaired=False, **certain) == (False, True)
    honest = {**certain, "abuse_probability": 0.0}
    assert refund_claim(failed_unrepaired=False, **honest) == (False, False)
    # each happens when its uniform falls below its probability (u < p: P = p)
    edge = {"genuine_claim_probability": 0.25, "abuse_probability": 0.25,
            "u_genuine": 0.25, "u_abuse": 0.25}
    assert refund_claim(failed_unrepaired=True, **edge) == (False, False)
    assert refund_claim(failed_unrepaired=True, **{**edge, "u_genuine": 0.2499}) == (True, False)
    assert refund_claim(failed_unrepaired=False, **{**edge, "u_abuse": 0.2499}) == (False, True)


def test_recovery_policies_bind_the_firms_remedies() -> None:
    fix, apology = Remedy(20.0, 3.5, repairs=True), Remedy(2.0, 1.0, repairs=False)
    context = PolicyContext(("a",), (), fix=fix, apology=apology)
    assert Fix().bind(context).remedy(0, 0.0) is fix
    assert Apologize().bind(context).remedy(0, 0.0) is apology
    assert NoRecovery().remedy(0, 0.0) == Remedy(0.0, 0.0, repairs=False)


def test_the_return_decision_is_steeper_above_eight() -> None:
    b = Behaviour(return_intercept=0.0, return_satisfaction_weight=1.0, return_top_weight=2.0,
                  loyalty_weight=1.0)
    # at satisfaction 7 the logit is 0: probability 1/2, so u just below 1/2 returns
    assert returns(b, 0.0, 7.0, 0.0, 0.499)
    assert not returns(b, 0.0, 7.0, 0.0, 0.501)
    # at 9 the logit is 2 + 2 = 4: probability 1/(1 + e^-4) = 0.982
    assert returns(b, 0.0, 9.0, 0.0, 0.98)
    assert not returns(b, 0.0, 9.0, 0.0, 0.983)
    # a hopeless logit never overflows
    assert not returns(b, -1000.0, 0.0, 0.0, 1e-9)


def binomial_cdf(n: int, p: float, k: int) -> float:
    return math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize("n", [1, 2, 3, 6])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_a_binomial_draw_inverts_the_binomial_cdf(n: int, p: float) -> None:
    """The draw is the smallest k whose CDF exceeds u: u in [CDF(k-1), CDF(k)) gives k."""
    for k in range(n + 1):
        low = binomial_cdf(n, p, k - 1) if k else 0.0
        high = binomial_cdf(n, p, k)
        for u in (low + 1e-9, (low + high) / 2, high - 1e-9):
            assert binomial_from_uniform(n, p, u) == k, (n, p, k, u)


def test_a_binomial_draw_of_a_certain_or_impossible_event() -> None:
    assert binomial_from_uniform(0, 0.5, 0.9) == 0
    assert binomial_from_uniform(4, 0.0, 0.999) == 0
    assert binomial_from_uniform(4, 1.0, 0.001) == 4
    # exactly on a step the next count starts: P(k <= 0) = 1/4 for n = 2, p = 1/2
    assert binomial_from_uniform(2, 0.5, 0.25) == 1


class Book:
    """An appointment book in a dict, as the engine keeps it: per day the first slot
    still free."""

    def __init__(self, **booked: int) -> None:
        self.days = {int(day.removeprefix("d")): n for day, n in booked.items()}

    def booked(self, day: int) -> int:
        return self.days.get(day, 0)

    def book(self, day: int, slot: int) -> None:
        self.days[day] = slot + 1


def at(day: int, hour: float) -> float:
    return 24.0 * day + hour


def test_daily_slots_give_the_first_free_slot_that_has_not_ended() -> None:
    """Four slots over 9:00-17:00: 9-11, 11-13, 13-15 and 15-17."""
    slots, book = DailySlots(slots_per_day=4, waitlist=True), Book()
    assert slots.admit(at(4, 10.0), 9.0, 17.0, 3.0, book) == 0.0  # 9-11 is free: at once
    assert book.days == {4: 1}
    assert slots.admit(at(4, 10.5), 9.0, 17.0, 3.0, book) == 0.5  # 9-11 taken: at 11:00
    assert slots.admit(at(4, 16.0), 9.0, 17.0, 3.0, book) == 0.0  # 15-17, at once
    assert book.days == {4: 4}


def test_daily_slots_lose_a_slot_that_ended_unbooked() -> None:
    slots, book = DailySlots(slots_per_day=4, waitlist=True), Book(d4=1)
    assert slots.admit(at(4, 14.0), 9.0, 17.0, 3.0, book) == 0.0  # 11-13 ended: 13-15
    assert book.days == {4: 3}
    assert slots.admit(at(4, 14.5), 9.0, 17.0, 3.0, book) == 0.5  # 15-17


def test_daily_slots_waitlist_to_the_first_free_slot_within_patience() -> None:
    slots = DailySlots(slots_per_day=2, waitlist=True)  # 9-13 and 13-17
    book = Book(d4=2, d5=2, d6=1)
    # days 4 and 5 are full: day 6 at 13:00, 45 hours ahead
    assert slots.admit(at(4, 16.0), 9.0, 17.0, 3.0, book) == 45.0
    assert book.days == {4: 2, 5: 2, 6: 2}
    assert slots.admit(at(5, 10.0), 9.0, 17.0, 3.0, book) == 47.0  # day 7 at 9:00
    assert slots.admit(at(5, 10.0), 9.0, 17.0, 1.0, book) is None  # 7 is beyond one day
    assert DailySlots(slots_per_day=2, waitlist=False).admit(
        at(5, 10.0), 9.0, 17.0, 3.0, book) is None


def test_a_verified_refund_catches_abuse_with_probability_screening_accuracy() -> None:
    """Caught when u < accuracy: P(caught) = accuracy, so u = accuracy is missed."""
    assert RefundVerified().pays(False, 0.5, u_screen=0.5)
    assert not RefundVerified().pays(False, 0.5, u_screen=0.4999)


def test_the_partners_review_raises_lowers_or_keeps_its_service_level() -> None:
    partner = SatisfactionTarget(target=8.0, band=0.5, min_margin=0.2, step=0.1,
                                 min_level=0.8, max_level=1.5)
    assert partner.review(1.0, 7.0, 0.3) == pytest.approx(1.1)  # below target: raise
    assert partner.review(1.0, 9.0, 0.3) == pytest.approx(0.9)  # over-serving: lower
    assert partner.review(1.0, 7.0, 0.1) == pytest.approx(0.9)  # margin too thin: lower
    # on the edges: at the margin floor, at target + band and at target it holds
    assert partner.review(1.0, 8.5, 0.2) == 1.0
    assert partner.review(1.0, 8.0, 0.3) == 1.0
    # within its bounds
    assert partner.review(1.5, 7.0, 0.3) == 1.5
    assert partner.review(0.8, 9.0, 0.3) == 0.8


def tiers(*spends: float) -> tuple[Tier, ...]:
    return tuple(Tier(name=f"t{i}", price=10.0, min_spend=spend)
                 for i, spend in enumerate(spends))


def test_by_segment_offers_each_segment_its_named_tier() -> None:
    context = PolicyContext(("young", "old", "rich"), tiers(0, 0, 0),
                            fix=Remedy(0, 0, repairs=True), apology=Remedy(0, 0, repairs=False))
    policy = BySegment({"rich": "t2", "young": "t0", "old": "t2"}).bind(context)
    assert [policy.assign(s, 0.0) for s in range(3)] == [0, 2, 2]


def test_by_spend_offers_the_highest_tier_the_past_spend_reaches() -> None:
    context = PolicyContext(("all",), tiers(0, 500, 100),
                            fix=Remedy(0, 0, repairs=True), apology=Remedy(0, 0, repairs=False))
    policy = BySpend().bind(context)
    assert [policy.assign(0, spend) for spend in (0, 99.9, 100, 499, 500, 1e6)] == [
        0, 0, 2, 2, 1, 1]


def test_adaptation_bounds_are_where_the_level_may_go() -> None:
    assert NoAdaptation().bounds() == (1.0, 1.0)
    assert NoAdaptation().review(1.3, 2.0, -1.0) == 1.3
    assert SatisfactionTarget(min_level=0.7, max_level=1.4).bounds() == (0.7, 1.4)
