"""Strategy policies: every decision a strategy makes, one small class per rule.

A strategy is a bundle of policies plus plain numbers (prices, service levels, delight
chances in :class:`sim.scenario.model.Tier`). Each policy is a frozen dataclass whose
fields are its settings, registered under (role, kind), so the loader parses, checks
and documents it like any other part of a scenario, and a new rule is one registered
class. The six roles, each behind a Protocol:

* ``admission`` (strategy): the day an arriving visit may be served (today, a later day:
  waitlisted) or None (turned away).
* ``assignment`` (strategy): the tier a customer is offered, or None to let it choose
  the tier with the largest surplus.
* ``requests`` (tier): which special requests are honoured.
* ``refunds`` (tier): which refund claims are paid.
* ``recovery`` (strategy): what the firm does after a failed service.
* ``adaptation`` (strategy): the service-level multiplier after each review period.

Policies decide; they keep no state and book nothing (the engine does). Policies that
need names resolved or the firm's remedies priced do it once per replication through
:meth:`Bindable.bind`. Third-party policies come from installed packages through the
``simrun.policies`` entry-point group (each entry point a class decorated with
:func:`policy`); a scenario names a registered kind, never an import path.

This module imports nothing from the rest of simrun: the scenario layer builds on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ROLES = ("admission", "assignment", "requests", "refunds", "recovery", "adaptation")
"""Every kind of strategy decision, in the order a visit meets them."""
TIER_ROLES = frozenset({"requests", "refunds"})
"""Roles set per tier (``[[strategy.tiers]]``); the others are set for the strategy."""
REGISTRY: dict[str, dict[str, type]] = {role: {} for role in ROLES}
DEFAULT_KIND = {"admission": "everyone", "assignment": "self_select", "requests": "reasonable",
                "refunds": "verified", "recovery": "fix", "adaptation": "none"}
_PLUGINS_LOADED = False


def policy(role: str, kind: str):  # type: ignore[no-untyped-def]
    """Class decorator: register a policy class under (role, kind)."""

    def register(cls: type) -> type:
        if kind in REGISTRY[role]:
            msg = f"duplicate {role} policy {kind!r}"
            raise ValueError(msg)
        REGISTRY[role][kind] = cls
        cls.kind = kind  # type: ignore[attr-defined]
        return cls

    return register


def registry(role: str, *, plugins: bool = True) -> dict[str, type]:
    """The policies of one role; with ``plugins``, those of installed packages too
    (entry points, read once: only when asked, since reading them costs start-up time
    and a scenario that names a built-in kind never needs them)."""
    global _PLUGINS_LOADED
    if plugins and not _PLUGINS_LOADED:
        _PLUGINS_LOADED = True
        from importlib import metadata

        for entry in metadata.entry_points(group="simrun.policies"):
            entry.load()
    return REGISTRY[role]


# ------------------------------------------------------------------- what binding sees
@dataclass(frozen=True, slots=True)
class Remedy:
    """One answer to a failed service: what it costs and what it does."""

    cost: float
    """Money spent on the remedy."""
    satisfaction_points: float
    """Satisfaction restored (the failure itself costs ``behaviour.failure_weight``)."""
    repairs: bool
    """The failure is repaired, so no genuine refund claim follows."""


NO_REMEDY = Remedy(0.0, 0.0, repairs=False)


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What a policy may resolve once per replication (names, the firm's remedies)."""

    segment_names: tuple[str, ...]
    tiers: tuple[Any, ...]
    """The strategy's tiers (``name``, ``price``, ``min_spend``, ...)."""
    fix: Remedy
    """Fixing a failure, priced from ``business.fix_cost`` and ``behaviour.fix_weight``."""
    apology: Remedy
    """Apologising, priced from ``business.apology_cost`` and ``behaviour.apology_weight``."""


@runtime_checkable
class Bindable(Protocol):
    """Optional capability: resolve names or prices once, before the run starts.

    The engine calls ``bind(context)`` once per replication if a policy has it and uses
    the returned copy; per-visit calls then read plain attributes."""

    def bind(self, context: PolicyContext) -> Any: ...


# --------------------------------------------------------------------------- protocols
class SlotBook(Protocol):
    """What admission may read and change: the firm's appointment book, per day the
    first slot still free (slots are taken in order: booked, or passed unbooked)."""

    def booked(self, day: int) -> int: ...
    def book(self, day: int, slot: int) -> None: ...


class Admission(Protocol):
    def admit(self, now_h: float, open_hour: float, close_hour: float,
              waitlist_patience_days: float, book: SlotBook) -> float | None:
        """Hours from ``now_h`` until the visit is served (0: on arrival; a later day:
        waitlisted) or None: turned away. ``open_hour`` and ``close_hour`` are the
        firm's hours of the day."""
        ...


class Assignment(Protocol):
    def assign(self, segment: int, past_spend: float) -> int | None:
        """Tier index offered to the customer, or None: it picks the best surplus."""
        ...


class Requests(Protocol):
    def honour(self, n_reasonable: int, n_unreasonable: int, screening_accuracy: float,
               u_reasonable: float, u_unreasonable: float) -> tuple[int, int]:
        """(reasonable, unreasonable) requests honoured, from the visit's uniforms."""
        ...


class Refunds(Protocol):
    def pays(self, genuine: bool, screening_accuracy: float, u_screen: float) -> bool:
        """Whether a claim (genuine, or abusive when not) is refunded."""
        ...


class Recovery(Protocol):
    def remedy(self, segment: int, past_spend: float) -> Remedy:
        """The firm's answer to a failed service for this customer."""
        ...


class Adaptation(Protocol):
    period_days: int
    """Days between reviews."""

    def review(self, level: float, satisfaction: float, margin: float) -> float:
        """New service-level multiplier from the period's mean satisfaction and margin."""
        ...

    def bounds(self) -> tuple[float, float]:
        """The lowest and highest multiplier it may set (equal: it does not adapt)."""
        ...


# --------------------------------------------------------------------------- admission
@policy("admission", "everyone")
@dataclass(frozen=True, slots=True)
class Everyone:
    """Admit every visit on arrival."""

    def admit(self, now_h: float, open_hour: float, close_hour: float,
              waitlist_patience_days: float, book: SlotBook) -> float | None:
        return 0.0


@policy("admission", "daily_slots")
@dataclass(frozen=True, slots=True)
class DailySlots:
    """A daily quota of visits by appointment. The opening hours are cut into the
    day's equal slots; a visit takes the first free slot of today that has
    not ended (the current one at once, a later one at its start), else the first free
    slot of the first later day within its waitlist patience. A slot that ends unbooked
    is lost. Appointments keep a booked day from piling its visits into one queue."""

    slots_per_day: int = field(default=30, metadata={"ge": 1})
    """Visits admitted per day."""
    waitlist: bool = True
    """Offer a later day when today is full (else turn away)."""

    def admit(self, now_h: float, open_hour: float, close_hour: float,
              waitlist_patience_days: float, book: SlotBook) -> float | None:
        slots = self.slots_per_day
        today = int(now_h // 24.0)
        slot_h = (close_hour - open_hour) / slots
        current = math.floor((now_h - 24.0 * today - open_hour) / slot_h)
        last = today + (int(waitlist_patience_days) if self.waitlist else 0)
        for day in range(today, last + 1):
            slot = book.booked(day)
            if day == today and current > slot:
                slot = current  # the slots before the current one have ended
            if slot < slots:
                book.book(day, slot)
                starts_h = 24.0 * day + open_hour + slot * slot_h
                return starts_h - now_h if starts_h > now_h else 0.0
        return None


# -------------------------------------------------------------------------- assignment
@policy("assignment", "self_select")
@dataclass(frozen=True, slots=True)
class SelfSelect:
    """Every tier is offered; the customer picks the largest surplus net of waiting."""

    def assign(self, segment: int, past_spend: float) -> int | None:
        return None


@policy("assignment", "by_segment")
@dataclass(frozen=True, slots=True)
class BySegment:
    """Each segment is offered one tier, named in ``tiers`` (segment -> tier)."""

    tiers: dict[str, str] = field(default_factory=dict)
    """Segment name -> tier name; every segment must be listed."""
    _index: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def bind(self, context: PolicyContext) -> BySegment:
        """A copy resolved to indices (the loader checks the names first)."""
        tier_names = [t.name for t in context.tiers]
        index = tuple(tier_names.index(self.tiers[name]) for name in context.segment_names)
        return BySegment(self.tiers, index)

    def assign(self, segment: int, past_spend: float) -> int | None:
        return self._index[segment]


@policy("assignment", "by_spend")
@dataclass(frozen=True, slots=True)
class BySpend:
    """The highest tier whose ``min_spend`` the customer's past spend reaches."""

    _thresholds: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def bind(self, context: PolicyContext) -> BySpend:
        return BySpend(tuple(t.min_spend for t in context.tiers))

    def assign(self, segment: int, past_spend: float) -> int | None:
        best, best_spend = 0, -1.0
        for i, needed in enumerate(self._thresholds):
            if past_spend >= needed > best_spend:
                best, best_spend = i, needed
        return best


# ---------------------------------------------------------------------------- requests
@policy("requests", "all")
@dataclass(frozen=True, slots=True)
class HonourAll:
    """Every special request is honoured, reasonable or not ("the customer is God")."""

    def honour(self, n_reasonable: int, n_unreasonable: int, screening_accuracy: float,
               u_reasonable: float, u_unreasonable: float) -> tuple[int, int]:
        return n_reasonable, n_unreasonable


@policy("requests", "reasonable")
@dataclass(frozen=True, slots=True)
class HonourReasonable:
    """Requests are screened: each is misjudged with probability 1 - screening_accuracy,
    so a reasonable request may be refused and an unreasonable one honoured."""

    def honour(self, n_reasonable: int, n_unreasonable: int, screening_accuracy: float,
               u_reasonable: float, u_unreasonable: float) -> tuple[int, int]:
        miss = 1 - screening_accuracy
        refused = binomial_from_uniform(n_reasonable, miss, u_reasonable)
        return n_reasonable - refused, binomial_from_uniform(n_unreasonable, miss, u_unreasonable)


@policy("requests", "none")
@dataclass(frozen=True, slots=True)
class HonourNone:
    """No special request is honoured: the service is the service."""

    def honour(self, n_reasonable: int, n_unreasonable: int, screening_accuracy: float,
               u_reasonable: float, u_unreasonable: float) -> tuple[int, int]:
        return 0, 0


# ----------------------------------------------------------------------------- refunds
@policy("refunds", "always")
@dataclass(frozen=True, slots=True)
class RefundAlways:
    """Every claim is refunded, deserved or not (lenient returns invite abuse)."""

    def pays(self, genuine: bool, screening_accuracy: float, u_screen: float) -> bool:
        return True


@policy("refunds", "verified")
@dataclass(frozen=True, slots=True)
class RefundVerified:
    """Genuine claims are refunded; an abusive claim is caught with probability
    screening_accuracy and refunded otherwise."""

    def pays(self, genuine: bool, screening_accuracy: float, u_screen: float) -> bool:
        return genuine or u_screen >= screening_accuracy


@policy("refunds", "never")
@dataclass(frozen=True, slots=True)
class RefundNever:
    """No claim is refunded, genuine or not."""

    def pays(self, genuine: bool, screening_accuracy: float, u_screen: float) -> bool:
        return False


# ---------------------------------------------------------------------------- recovery
@policy("recovery", "fix")
@dataclass(frozen=True, slots=True)
class Fix:
    """Own the problem and bring a solution: the failure is repaired (no genuine refund
    claim follows) at ``business.fix_cost``, restoring ``behaviour.fix_weight`` points."""

    _remedy: Remedy = field(default=NO_REMEDY, repr=False, compare=False)

    def bind(self, context: PolicyContext) -> Fix:
        return Fix(context.fix)

    def remedy(self, segment: int, past_spend: float) -> Remedy:
        return self._remedy


@policy("recovery", "apologize")
@dataclass(frozen=True, slots=True)
class Apologize:
    """Apologise with a token gesture (``business.apology_cost``, restoring
    ``behaviour.apology_weight`` points); the failure stays, and may bring a claim."""

    _remedy: Remedy = field(default=NO_REMEDY, repr=False, compare=False)

    def bind(self, context: PolicyContext) -> Apologize:
        return Apologize(context.apology)

    def remedy(self, segment: int, past_spend: float) -> Remedy:
        return self._remedy


@policy("recovery", "none")
@dataclass(frozen=True, slots=True)
class NoRecovery:
    """Nothing is done about a failed service."""

    def remedy(self, segment: int, past_spend: float) -> Remedy:
        return NO_REMEDY


# -------------------------------------------------------------------------- adaptation
@policy("adaptation", "none")
@dataclass(frozen=True, slots=True)
class NoAdaptation:
    """The service level stays as set."""

    period_days: int = field(default=7, metadata={"ge": 1})
    """Days between reviews (kept for a uniform protocol; nothing changes)."""

    def review(self, level: float, satisfaction: float, margin: float) -> float:
        return level

    def bounds(self) -> tuple[float, float]:
        return 1.0, 1.0


@policy("adaptation", "satisfaction_target")
@dataclass(frozen=True, slots=True)
class SatisfactionTarget:
    """The partner's loop: raise service while satisfaction is below target and the
    margin allows; lower it when satisfaction is comfortably above target or the margin
    falls short (seed 003: exceed expectations within scope, own the result)."""

    target: float = field(default=8.5, metadata={"ge": 0, "le": 10})
    """Mean satisfaction the partner aims at."""
    band: float = field(default=0.5, metadata={"ge": 0})
    """Satisfaction above target + band counts as over-serving."""
    min_margin: float = field(default=0.2, metadata={"le": 1})
    """Profit / revenue below which service is not raised (and is lowered)."""
    step: float = field(default=0.05, metadata={"gt": 0})
    """Change of the service-level multiplier per review."""
    min_level: float = field(default=0.8, metadata={"gt": 0})
    """Lowest multiplier."""
    max_level: float = field(default=1.5, metadata={"gt": 0})
    """Highest multiplier."""
    period_days: int = field(default=7, metadata={"ge": 1})
    """Days between reviews."""

    def bounds(self) -> tuple[float, float]:
        return self.min_level, self.max_level

    def review(self, level: float, satisfaction: float, margin: float) -> float:
        if margin < self.min_margin or satisfaction > self.target + self.band:
            return max(self.min_level, level - self.step)
        if satisfaction < self.target:
            return min(self.max_level, level + self.step)
        return level


def binomial_from_uniform(n: int, p: float, u: float) -> int:
    """Inverse-CDF binomial draw for small n (one uniform per screening decision)."""
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

