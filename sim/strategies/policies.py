"""Strategy policies: small objects behind Protocols, registered by (role, kind).

A strategy is a bundle: per-tier knobs (price, priority, requests, refunds, delight) are
plain data in :class:`sim.scenario.model.Tier`; the decisions that need logic or state
are policies here. Each policy is a frozen dataclass whose fields are its settings, so
the loader parses and validates it like any other part of a scenario.

Three roles:

* ``admission``: called once per arriving visit; returns the day the visit may be
  served (today, a later day: waitlisted) or None (turned away).
* ``assignment``: returns the index of the tier a customer is offered, or None to let it
  choose the tier with the largest surplus itself.
* ``adaptation``: called at the end of each review period with what the firm measured;
  returns the new service-level multiplier for every tier.

Third-party policies come from installed packages through the ``simrun.policies``
entry-point group (each entry point a policy class decorated with :func:`policy`);
a scenario names a registered kind, never an import path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol, runtime_checkable

REGISTRY: dict[str, dict[str, type]] = {"admission": {}, "assignment": {}, "adaptation": {}}
DEFAULT_KIND = {"admission": "everyone", "assignment": "self_select", "adaptation": "none"}
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


def registry(role: str) -> dict[str, type]:
    """The policies of one role, plugins from entry points included (loaded once)."""
    global _PLUGINS_LOADED
    if not _PLUGINS_LOADED:
        _PLUGINS_LOADED = True
        for entry in metadata.entry_points(group="simrun.policies"):
            entry.load()
    return REGISTRY[role]


class SlotBook(Protocol):
    """What admission may read and change: the firm's bookings per day."""

    def booked(self, day: int) -> int: ...
    def book(self, day: int) -> None: ...


class Admission(Protocol):
    def admit(self, today: int, waitlist_patience_days: float, book: SlotBook) -> int | None:
        """The day the visit is served (today or later) or None: turned away."""
        ...


class Assignment(Protocol):
    def assign(self, segment: int, past_spend: float) -> int | None:
        """Tier index offered to the customer, or None: it picks the best surplus."""
        ...


@runtime_checkable
class Bindable(Protocol):
    """Optional capability: resolve names to indices once, before the run starts.

    The engine calls ``bind(segment names, tiers)`` once per replication if a policy
    has it and uses the returned copy; per-visit calls then index plain tuples."""

    def bind(self, segment_names: tuple[str, ...], tiers: tuple[Any, ...]) -> Any: ...


@runtime_checkable
class Adaptation(Protocol):
    def review(self, level: float, satisfaction: float, margin: float) -> float:
        """New service-level multiplier from the period's mean satisfaction and margin."""
        ...


@policy("admission", "everyone")
@dataclass(frozen=True, slots=True)
class Everyone:
    """Admit every visit on arrival."""

    def admit(self, today: int, waitlist_patience_days: float, book: SlotBook) -> int | None:
        return today


@policy("admission", "daily_slots")
@dataclass(frozen=True, slots=True)
class DailySlots:
    """A daily quota of visits; when today is full, offer the first free later day."""

    slots_per_day: int = field(default=30, metadata={"ge": 1})
    """Visits admitted per day."""
    waitlist: bool = True
    """Offer a later day when today is full (else turn away)."""

    def admit(self, today: int, waitlist_patience_days: float, book: SlotBook) -> int | None:
        last = today + (int(waitlist_patience_days) if self.waitlist else 0)
        for day in range(today, last + 1):
            if book.booked(day) < self.slots_per_day:
                book.book(day)
                return day
        return None


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

    def bind(self, segment_names: tuple[str, ...], tiers: tuple[Any, ...]) -> BySegment:
        """A copy resolved to indices (the loader checks the names first)."""
        tier_names = [t.name for t in tiers]
        index = tuple(tier_names.index(self.tiers[name]) for name in segment_names)
        return BySegment(self.tiers, index)

    def assign(self, segment: int, past_spend: float) -> int | None:
        return self._index[segment]


@policy("assignment", "by_spend")
@dataclass(frozen=True, slots=True)
class BySpend:
    """The highest tier whose ``min_spend`` the customer's past spend reaches."""

    _thresholds: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def bind(self, segment_names: tuple[str, ...], tiers: tuple[Any, ...]) -> BySpend:
        return BySpend(tuple(t.min_spend for t in tiers))

    def assign(self, segment: int, past_spend: float) -> int | None:
        best, best_spend = 0, -1.0
        for i, needed in enumerate(self._thresholds):
            if past_spend >= needed > best_spend:
                best, best_spend = i, needed
        return best


@policy("adaptation", "none")
@dataclass(frozen=True, slots=True)
class NoAdaptation:
    """The service level stays as set."""

    period_days: int = field(default=7, metadata={"ge": 1})
    """Days between reviews (kept for a uniform protocol; nothing changes)."""

    def review(self, level: float, satisfaction: float, margin: float) -> float:
        return level


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

    def review(self, level: float, satisfaction: float, margin: float) -> float:
        if margin < self.min_margin or satisfaction > self.target + self.band:
            return max(self.min_level, level - self.step)
        if satisfaction < self.target:
            return min(self.max_level, level + self.step)
        return level
