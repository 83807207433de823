"""All randomness of one replication, keyed by what happened, never by when.

MODEL.md asks for common random numbers per decision: the k-th visit of customer i
meets the same draws under every strategy. Each customer therefore owns a generator
seeded from ``(seed, replication, CUSTOMERS, *customer_key)`` (numpy's SeedSequence
spawn keys, so the tree is the same as spawning and independent of order). The
customer draws its attributes first, then one fixed block of uniforms per visit
attempt, one slot per decision: visit k always reads block k, whether or not an
earlier draw was needed. New-customer candidates come from their own stream.

Customer keys: ``(NEW, i)`` for the i-th candidate of the arrival stream and
``(REFERRED, *referrer_key, r)`` for the r-th customer referred by a customer.
"""

from __future__ import annotations

import math

import numpy as np

ARRIVALS, CUSTOMERS = 0, 1
NEW, REFERRED = 0, 1

# attribute slots, drawn once per customer
A_SEGMENT, A_WTP, A_VOT, A_TOLERANCE, A_REQUEST_RATE, A_UNREASONABLE = range(6)
A_ABUSE, A_REFERRAL, A_LOYALTY = range(6, 9)
N_ATTRIBUTES = 12  # three spare slots keep room for new attributes without reshuffling

# visit slots, one block per visit attempt
(V_SERVICE, V_PATIENCE, V_REQ_REASONABLE, V_REQ_UNREASONABLE, V_SCREEN_REASONABLE,
 V_SCREEN_UNREASONABLE, V_FAILURE, V_DELIGHT, V_CLAIM, V_CLAIM_SCREEN, V_GENUINE_CLAIM,
 V_RETURN, V_REFERRAL, V_INTERVAL, V_REFERRAL_DELAY) = range(15)
N_VISIT_DRAWS = 16


class Streams:
    """Seeds of one replication; the strategy never enters a key."""

    __slots__ = ("replication", "seed")

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication

    def arrivals(self) -> np.random.Generator:
        """Candidate new customers: inter-arrival gaps and acceptance uniforms."""
        key = (self.replication, ARRIVALS)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

    def customer(self, key: tuple[int, ...]) -> np.random.Generator:
        """One customer's own stream: attributes, then a block per visit."""
        ss = np.random.SeedSequence(self.seed, spawn_key=(self.replication, CUSTOMERS, *key))
        return np.random.default_rng(ss)


def poisson_from_uniform(mean: float, u: float) -> int:
    """Inverse-CDF Poisson draw (the counts here are small: a handful per visit)."""
    if mean <= 0:
        return 0
    term = math.exp(-mean)
    cdf, k = term, 0
    while u >= cdf and k < 10_000:
        k += 1
        term *= mean / k
        cdf += term
    return k


def binomial_from_uniform(n: int, p: float, u: float) -> int:
    """Inverse-CDF binomial draw for small n."""
    if n == 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    q = 1 - p
    term = q**n
    cdf, k = term, 0
    while u >= cdf and k < n:
        term *= (n - k) / (k + 1) * p / q
        k += 1
        cdf += term
    return k
