"""The decisions of one service, without SimPy: the firm's (strategy policies) and the
customer's (sim/model/decisions.py)."""

from __future__ import annotations

from sim.model.decisions import refund_claim, returns
from sim.scenario.model import Behaviour
from sim.strategies.policies import (
    Apologize,
    Fix,
    HonourAll,
    HonourNone,
    HonourReasonable,
    NoRecovery,
    PolicyContext,
    RefundAlways,
    RefundNever,
    RefundVerified,
    Remedy,
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
