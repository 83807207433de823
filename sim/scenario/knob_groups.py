"""The knob groups of a strategy, and strategies mixed from two: some groups from B, the
rest from A. Attribution (``simrun explain``, :mod:`sim.experiment.explain`) runs such
mixed strategies, and a firm on a market that imitates a rival's named groups puts one
in place (``market.imitation_groups``, :mod:`sim.model.market`).

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

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from sim.scenario.errors import Issue, suggest
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


# ------------------------------------------------------------------ groups by name
ALL = "all"
"""``market.imitation_groups = ["all"]``: every group (the whole strategy)."""


def named_groups(names: Sequence[str]) -> tuple[str, ...]:
    """The groups a list of names stands for, in :data:`GROUP_NAMES` order ("all":
    every group)."""
    return GROUP_NAMES if ALL in names else tuple(g for g in GROUP_NAMES if g in names)


def group_name_issues(names: Sequence[str], where: str) -> list[Issue]:
    """Problems with a list of group names (a scenario's ``market.imitation_groups``):
    an empty list, an unknown name (with a did-you-mean: "prices" suggests "prices and
    tiers"), "all" beside other names."""
    if not names:
        return [Issue(where, 'must name at least one knob group, or be ["all"]', [])]
    known = (ALL, *GROUP_NAMES)
    listed = f"known: {', '.join(known)}"
    issues = [Issue(f"{where}[{i}]", "unknown knob group", name,
                    " ".join(filter(None, (_suggest_group(name), listed))))
              for i, name in enumerate(names) if name not in known]
    if ALL in names and len(names) > 1:
        issues.append(Issue(where, '"all" already takes every group: list it alone',
                            list(names)))
    return issues


def _suggest_group(word: str) -> str | None:
    """A close spelling, else the one group whose name holds the word ('prices')."""
    close = suggest(word, (ALL, *GROUP_NAMES))
    if close is not None:
        return close
    holding = [g for g in GROUP_NAMES if word.strip().lower() in g.split()]
    return f"did you mean {holding[0]!r}?" if len(holding) == 1 else None
