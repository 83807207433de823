"""The knob groups of a strategy, and strategies mixed from two: some groups from B, the
rest from A. This is what attribution (:mod:`sim.experiment.explain`) runs.

Every field of :class:`~sim.scenario.model.Strategy` and of its
:class:`~sim.scenario.model.Tier` belongs to exactly one group (``preset`` and ``label``
are names, not knobs), so a new knob cannot be left out of an explanation without a
test failing. "prices and tiers" owns the tier list itself (names, prices, values,
priorities, minimum spends) together with the assignment policy, because a
``by_segment`` assignment names tiers and a ``by_spend`` one reads their minimum spends:
they only make sense with their own tiers.

Tier-level groups (requests, refunds, service level, delight) are set per tier. When A
and B offer different tier lists, the list comes from whichever side supplies "prices
and tiers", and a tier-level setting from the other side is mapped onto each of its
tiers by :func:`tier_sources`: the tier of the same name if there is one, else the tier
at the same relative rank by price.

Mixed strategies are built with ``dataclasses.replace`` on the typed, frozen objects;
this module never goes back to raw tables and never runs anything.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sim.scenario.errors import toml_literal
from sim.scenario.model import Strategy, Tier


@dataclass(frozen=True, slots=True)
class KnobGroup:
    """A named set of strategy knobs that an explanation moves together."""

    name: str
    strategy_fields: tuple[str, ...] = ()
    """Fields of :class:`Strategy` (``tiers`` stands for the tier list itself)."""
    tier_fields: tuple[str, ...] = ()
    """Fields of each :class:`Tier`."""


PRICES = "prices and tiers"
GROUPS: tuple[KnobGroup, ...] = (
    KnobGroup(PRICES, ("tiers", "assignment"), ("name", "price", "value", "priority",
                                                 "min_spend")),
    KnobGroup("requests", tier_fields=("requests",)),
    KnobGroup("refunds", tier_fields=("refunds",)),
    KnobGroup("screening", ("screening_accuracy",)),
    KnobGroup("service level", tier_fields=("service_level",)),
    KnobGroup("delight", tier_fields=("delight_chance",)),
    KnobGroup("recovery", ("recovery",)),
    KnobGroup("admission and capacity", ("admission", "servers")),
    KnobGroup("scarcity pricing and exclusivity", ("exclusivity_boost", "scarcity_pricing")),
    KnobGroup("adaptation", ("adaptation",)),
)
"""Every group, in the order tables and charts list them."""
GROUP_NAMES = tuple(g.name for g in GROUPS)
NOT_KNOBS = ("preset", "label")
"""Strategy fields that name a strategy and change nothing it does."""


# ------------------------------------------------------------------------ tier mapping
def by_price(tiers: Sequence[Tier]) -> list[int]:
    """Tier indices from the cheapest to the dearest (ties keep the list order)."""
    return sorted(range(len(tiers)), key=lambda i: (tiers[i].price, i))


def tier_sources(targets: Sequence[Tier], sources: Sequence[Tier]) -> tuple[int, ...]:
    """For each target tier, the index of the source tier whose settings it takes.

    The source tier of the same name when there is one; otherwise the target tier's
    rank by price, i (0 the cheapest, of n_target), picks the source tier at rank
    round(i (n_source - 1) / (n_target - 1)), halves rounded up. A lone target tier
    takes the middle source tier (the dearer of two middles)."""
    named = {tier.name: i for i, tier in enumerate(sources)}
    source_by_rank = by_price(sources)
    target_rank = {index: rank for rank, index in enumerate(by_price(targets))}
    picks = []
    for i, tier in enumerate(targets):
        if tier.name in named:
            picks.append(named[tier.name])
            continue
        position = target_rank[i] / (len(targets) - 1) if len(targets) > 1 else 0.5
        picks.append(source_by_rank[math.floor(position * (len(sources) - 1) + 0.5)])
    return tuple(picks)


# -------------------------------------------------------------------- mixed strategies
def combine(a: Strategy, b: Strategy, from_b: Collection[str]) -> Strategy:
    """A's strategy with the groups named in ``from_b`` taken from B (names stay A's).

    The tier list comes from the side that supplies "prices and tiers"; each tier-level
    group supplied by the other side is mapped onto it with :func:`tier_sources`."""
    unknown = set(from_b) - set(GROUP_NAMES)
    if unknown:
        raise ValueError(f"unknown knob groups {sorted(unknown)}; groups: {GROUP_NAMES}")
    layout_from_b = PRICES in from_b
    layout, other = (b, a) if layout_from_b else (a, b)
    moved = [name for g in GROUPS[1:] if (g.name in from_b) != layout_from_b
             for name in g.tier_fields]
    picks = tier_sources(layout.tiers, other.tiers)
    tiers = tuple(replace(tier, **{name: getattr(other.tiers[j], name) for name in moved})
                  for tier, j in zip(layout.tiers, picks, strict=True))
    changes = {name: getattr(b, name) for g in GROUPS if g.name in from_b
               for name in g.strategy_fields if name != "tiers"}
    return replace(a, tiers=tiers, **changes)


def players(a: Strategy, b: Strategy) -> tuple[str, ...]:
    """The groups that change something when taken from B instead of A.

    A group's settings in a mixed strategy depend only on which side supplies it and,
    for tier-level groups, which side supplies the tier list; so a group changes nothing
    anywhere if it changes nothing on A's strategy and nothing on B's."""
    everything = set(GROUP_NAMES)
    base, full = combine(a, b, ()), combine(a, b, everything)
    return tuple(name for name in GROUP_NAMES
                 if combine(a, b, {name}) != base or combine(a, b, everything - {name}) != full)


# ---------------------------------------------------------------- what differs, in words
@dataclass(frozen=True, slots=True)
class Aspect:
    """One knob (or the tier list) of a group, as each side sets it, in short words."""

    label: str
    """'' for a group's main aspect, else the knob's name ('servers', 'priority')."""
    a: str
    b: str

    @property
    def differs(self) -> bool:
        return self.a != self.b


def aspects(a: Strategy, b: Strategy, group: str) -> list[Aspect]:
    """The group's knobs on each side; those that differ, or the first if none does."""
    found = _aspects(a, b, next(g for g in GROUPS if g.name == group))
    return [x for x in found if x.differs] or found[:1]


def _aspects(a: Strategy, b: Strategy, group: KnobGroup) -> list[Aspect]:
    found = []
    if group.name == PRICES:
        found.append(Aspect("", _offer(a), _offer(b)))
        found.extend(Aspect(name, _per_tier(a, name), _per_tier(b, name))
                     for name in ("value", "priority", "min_spend"))
        found.append(Aspect("assignment", setting_text(a.assignment),
                            setting_text(b.assignment)))
        return found
    single = len(group.strategy_fields) + len(group.tier_fields) == 1
    for name in group.tier_fields:
        found.append(Aspect("" if single else name, _per_tier(a, name), _per_tier(b, name)))
    for name in group.strategy_fields:
        found.append(Aspect("" if single else name, setting_text(getattr(a, name)),
                            setting_text(getattr(b, name))))
    return found


def _offer(s: Strategy) -> str:
    return ", ".join(f"{s.tiers[i].name} {setting_text(s.tiers[i].price)}"
                     for i in by_price(s.tiers))


def _per_tier(s: Strategy, name: str) -> str:
    """One value when every tier shares it, else the tiers' values cheapest first."""
    texts = [setting_text(getattr(s.tiers[i], name)) for i in by_price(s.tiers)]
    return texts[0] if len(set(texts)) == 1 else "/".join(texts)


def setting_text(value: Any) -> str:
    """A knob's value, short: 0.8, 60, 'fix', 'daily_slots(slots_per_day=6)' (a policy
    shows its kind and the settings that are not its defaults)."""
    kind = getattr(type(value), "kind", None)
    if isinstance(kind, str):
        changed = [f"{f.name}={setting_text(getattr(value, f.name))}"
                   for f in dataclasses.fields(value)
                   if f.init and not f.name.startswith("_") and _is_changed(value, f)]
        return f"{kind}({', '.join(changed)})" if changed else kind
    return f"{value:g}" if isinstance(value, float) else toml_literal(value)


def _is_changed(policy: Any, f: dataclasses.Field[Any]) -> bool:
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        return True
    return bool(getattr(policy, f.name) != default)
