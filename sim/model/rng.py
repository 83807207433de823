"""All randomness of one replication, keyed by what happened, never by when.

MODEL.md asks for common random numbers per decision: the k-th visit of customer i
meets the same draws under every strategy. The draws are therefore a pure function of
(seed, replication, customer key, block), a counter-based generator:

* the replication's 256-bit root comes from numpy's ``SeedSequence(seed,
  spawn_key=(replication,))``, so replications are independent child streams;
* a block of 16 uniforms is the 64-byte keyed BLAKE2b digest (key: the root) of the
  customer's key and the block's label, split into 16 32-bit words, word w standing for
  the uniform (w + 0.5) * TO_UNIT; block "A" holds the customer's attributes, block k
  its k-th visit attempt, one slot per decision. Visit k always reads block k, whether
  or not an earlier draw was needed. Words are converted where they are read, and only
  those: a visit that ends at the door reads two of its sixteen, a customer's
  attributes nine.
* the key block of the keyed hash is compressed once per replication; each customer's
  hash starts from a copy of that state (the same digest as a fresh keyed hash).

A cryptographic hash is an excellent source of uniforms, and keyed hashing costs about
a microsecond a block; seeding a numpy Generator per customer cost twenty
(bench/README.md). New-customer candidates (gaps, thinning) come from a numpy stream
of their own, ``SeedSequence(seed, spawn_key=(replication, ARRIVALS))``.

Customer keys: ``(NEW, i)`` for the i-th candidate of the arrival stream and
``(REFERRED, *referrer_key, r)`` for the r-th customer referred by a customer.
"""

from __future__ import annotations

import hashlib
import math
import struct

import numpy as np

ARRIVALS, CUSTOMERS = 0, 1
NEW, REFERRED, IMITATION = 0, 1, 2
"""First entries of a draw key: a new prospect, a referred one, a firm's imitation review."""

# attribute slots, drawn once per customer
A_SEGMENT, A_WTP, A_VOT, A_TOLERANCE, A_REQUEST_RATE, A_UNREASONABLE = range(6)
A_ABUSE, A_REFERRAL, A_LOYALTY = range(6, 9)
N_ATTRIBUTES = 16  # seven spare slots keep room for new attributes without reshuffling

# visit slots, one block per visit attempt
(V_SERVICE, V_PATIENCE, V_REQ_REASONABLE, V_REQ_UNREASONABLE, V_SCREEN_REASONABLE,
 V_SCREEN_UNREASONABLE, V_FAILURE, V_DELIGHT, V_CLAIM, V_CLAIM_SCREEN, V_GENUINE_CLAIM,
 V_RETURN, V_REFERRAL, V_INTERVAL, V_REFERRAL_DELAY) = range(15)
N_VISIT_DRAWS = 16


_WORDS = struct.Struct("<16I").unpack
TO_UNIT = 1.0 / 4294967296.0
_ATTRIBUTE_BLOCK = b"A"

Words = tuple[int, ...]


def uniforms(words: Words) -> list[float]:
    """A block's words as uniforms in (0, 1), slot by slot."""
    return [(word + 0.5) * TO_UNIT for word in words]


_VISIT_LABELS = tuple(b"V" + k.to_bytes(4, "little") for k in range(1024))
"""The labels of the first visit blocks, made once (a customer rarely makes more)."""


class CustomerDraws:
    """One customer's draws, as words: ``attributes()`` once, ``visit(k)`` per visit
    attempt."""

    __slots__ = ("_base",)

    def __init__(self, keyed: hashlib.blake2b, key: tuple[int, ...]) -> None:
        base = keyed.copy()  # the state of a new keyed hash, its key block already hashed
        base.update(struct.pack(f"<{len(key) + 1}q", len(key), *key))
        self._base = base

    def attributes(self) -> Words:
        """The words of the attribute block: slot A_X is the uniform
        ``(words[A_X] + 0.5) * TO_UNIT``."""
        h = self._base.copy()
        h.update(_ATTRIBUTE_BLOCK)
        return _WORDS(h.digest())

    def visit(self, k: int) -> Words:
        """The words of visit attempt k (0-based): slot V_X is the uniform
        ``(words[V_X] + 0.5) * TO_UNIT``."""
        h = self._base.copy()
        h.update(_VISIT_LABELS[k] if k < 1024 else b"V" + k.to_bytes(4, "little"))
        return _WORDS(h.digest())

    def choice(self, k: int) -> Words:
        """The words of visit occasion k's choice among rival firms (a market): slot 0
        the outside option, slot 1 + f firm f. A block of its own, so the visit's own
        draws (block k) are the same whatever firm it picks."""
        h = self._base.copy()
        h.update(b"C" + k.to_bytes(4, "little"))
        return _WORDS(h.digest())


class Streams:
    """Seeds of one replication; the strategy never enters a key."""

    __slots__ = ("_keyed", "replication", "seed")

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        root = np.random.SeedSequence(seed, spawn_key=(replication, CUSTOMERS))
        self._keyed = hashlib.blake2b(digest_size=64, person=b"simrun.customer",
                                      key=root.generate_state(8, np.uint32).tobytes())
        """The keyed hash before any data: each customer's draws start from a copy."""

    def arrivals(self) -> np.random.Generator:
        """Candidate new customers: inter-arrival gaps and acceptance uniforms."""
        key = (self.replication, ARRIVALS)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))

    def customer(self, key: tuple[int, ...]) -> CustomerDraws:
        """One customer's draws: attributes, then a block per visit."""
        return CustomerDraws(self._keyed, key)


def poisson_from_uniform(mean: float, u: float) -> int:
    """Inverse-CDF Poisson draw (the counts here are small: a handful per visit)."""
    if mean <= 0.0:
        return 0
    term = math.exp(-mean)
    cdf, k = term, 0
    while u >= cdf and k < 10_000:
        k += 1
        term *= mean / k
        cdf += term
    return k

