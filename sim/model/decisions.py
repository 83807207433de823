"""The customer's side of a visit, as pure functions: whether it claims a refund, how
satisfied it leaves, whether it comes back.

Each takes plain numbers and the uniforms of the visit's slots and returns plain
numbers, so it can be read (and tested) without SimPy; the engine books the results.
What the *firm* decides (requests honoured, claims paid, remedies) lives in the
strategy policies, :mod:`sim.strategies.policies`. See docs/model.md, "A visit, step by
step".
"""

from __future__ import annotations

import math

from sim.scenario.model import Behaviour


def refund_claim(*, failed_unrepaired: bool, genuine_claim_probability: float,
                 abuse_probability: float, u_genuine: float, u_abuse: float
                 ) -> tuple[bool, bool]:
    """(genuine claim, abusive claim) after one served visit.

    A failure left unrepaired leads to a genuine claim with its probability; otherwise
    the customer may claim without cause with its abuse probability."""
    genuine = failed_unrepaired and u_genuine < genuine_claim_probability
    return genuine, not genuine and u_abuse < abuse_probability


def satisfaction(b: Behaviour, *, value_share: float, wait_beyond_h: float, level_gap: float,
                 honoured: int, refused_reasonable: int, refused_unreasonable: int,
                 delight_surprise: float, refused_genuine: bool, refused_abuse: bool) -> float:
    """Satisfaction before failure and recovery, unclipped (expectation-disconfirmation:
    baseline, product value, wait beyond tolerance, service against expectation,
    requests, delight as far as it still surprises, refused claims)."""
    return (b.baseline_satisfaction
            + b.value_weight * value_share
            - b.wait_weight_per_h * wait_beyond_h
            + b.service_level_weight * level_gap
            + b.request_honoured_weight * honoured
            - b.reasonable_refused_weight * refused_reasonable
            - b.unreasonable_refused_weight * refused_unreasonable
            + b.delight_weight * delight_surprise
            - (b.refund_refused_weight if refused_genuine else 0.0)
            - (b.abuse_refused_weight if refused_abuse else 0.0))


def returns(b: Behaviour, base_logit: float, satisfaction: float, loyalty: float,
            u: float) -> bool:
    """The return decision: a logistic function of satisfaction, steep at the top.

    ``base_logit`` holds what is the same for every customer of the market (intercept,
    lock-in, alternatives)."""
    top = satisfaction - 8.0
    logit = (base_logit + b.return_satisfaction_weight * (satisfaction - 7.0)
             + b.return_top_weight * (top if top > 0.0 else 0.0)  # noqa: FURB136 -- max()
             + b.loyalty_weight * loyalty)
    # u < 1 / (1 + e^-logit), without overflow for very negative logits
    return u * (1.0 + math.exp(-logit)) < 1.0 if logit > -700.0 else False
