"""The decisions of one service, as pure functions: which requests are honoured, what
happens to a refund claim, how satisfied the customer leaves.

Each takes plain numbers and the uniforms of the visit's slots and returns plain
numbers, so it can be read (and tested) without SimPy; the engine books the results.
See docs/model.md, "A visit, step by step".
"""

from __future__ import annotations

from sim.model.rng import binomial_from_uniform
from sim.scenario.model import Behaviour


def honoured_requests(policy: str, n_reasonable: int, n_unreasonable: int,
                      screening_accuracy: float, u_reasonable: float,
                      u_unreasonable: float) -> tuple[int, int]:
    """(reasonable, unreasonable) requests honoured under a tier's request policy.

    'all' honours everything, 'none' nothing; 'reasonable' screens each request and
    misjudges it with probability 1 - accuracy: a misjudged reasonable request is
    refused, a misjudged unreasonable one honoured."""
    if policy == "all":
        return n_reasonable, n_unreasonable
    if policy == "none":
        return 0, 0
    miss = 1 - screening_accuracy
    refused = binomial_from_uniform(n_reasonable, miss, u_reasonable)
    return n_reasonable - refused, binomial_from_uniform(n_unreasonable, miss, u_unreasonable)


def refund_claim(refunds: str, *, failed_unfixed: bool, genuine_claim_probability: float,
                 abuse_probability: float, screening_accuracy: float, u_genuine: float,
                 u_abuse: float, u_screen: float) -> tuple[bool, bool, bool]:
    """(genuine claim, abusive claim, refunded) for one served visit.

    A failure left unfixed leads to a genuine claim with its probability; otherwise the
    customer may claim without cause. 'always' refunds every claim, 'verified' refunds
    genuine claims and catches abuse with the screening accuracy, 'never' refunds none."""
    genuine = failed_unfixed and u_genuine < genuine_claim_probability
    abuse = not genuine and u_abuse < abuse_probability
    if genuine:
        return True, False, refunds != "never"
    if abuse:
        if refunds == "always":
            return False, True, True
        if refunds == "verified":
            return False, True, u_screen >= screening_accuracy
        return False, True, False
    return False, False, False


def satisfaction(b: Behaviour, *, value_share: float, wait_beyond_h: float, level_gap: float,
                 honoured: int, refused_reasonable: int, refused_unreasonable: int,
                 delighted: bool, refused_genuine: bool, refused_abuse: bool) -> float:
    """Satisfaction before failure and recovery, unclipped (expectation-disconfirmation:
    baseline, product value, wait beyond tolerance, service against expectation,
    requests, delight, refused claims)."""
    return (b.baseline_satisfaction
            + b.value_weight * value_share
            - b.wait_weight_per_h * wait_beyond_h
            + b.service_level_weight * level_gap
            + b.request_honoured_weight * honoured
            - b.reasonable_refused_weight * refused_reasonable
            - b.unreasonable_refused_weight * refused_unreasonable
            + (b.delight_weight if delighted else 0.0)
            - (b.refund_refused_weight if refused_genuine else 0.0)
            - (b.abuse_refused_weight if refused_abuse else 0.0))
