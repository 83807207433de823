"""The decisions of one service (sim/model/decisions.py), without SimPy."""

from __future__ import annotations

from sim.model.decisions import honoured_requests, refund_claim


def test_request_policies_honour_all_none_or_the_screened() -> None:
    assert honoured_requests("all", 3, 2, 0.8, 0.5, 0.5) == (3, 2)
    assert honoured_requests("none", 3, 2, 0.8, 0.5, 0.5) == (0, 0)
    # perfect screening: every reasonable request honoured, every unreasonable refused
    assert honoured_requests("reasonable", 3, 2, 1.0, 0.99, 0.99) == (3, 0)
    # useless screening: the reverse
    assert honoured_requests("reasonable", 3, 2, 0.0, 0.01, 0.01) == (0, 2)


def test_a_verified_refund_policy_refuses_caught_abuse_and_pays_genuine_claims() -> None:
    common = {"genuine_claim_probability": 1.0, "abuse_probability": 1.0,
              "screening_accuracy": 0.8, "u_genuine": 0.5, "u_abuse": 0.5}
    assert refund_claim("verified", failed_unfixed=True, u_screen=0.1, **common) == (True, False, True)
    assert refund_claim("verified", failed_unfixed=False, u_screen=0.1, **common) == (False, True, False)
    assert refund_claim("verified", failed_unfixed=False, u_screen=0.9, **common) == (False, True, True)
    assert refund_claim("never", failed_unfixed=True, u_screen=0.9, **common) == (True, False, False)
    assert refund_claim("always", failed_unfixed=False, u_screen=0.1, **common) == (False, True, True)
