"""What a knob group changes between two strategies, for attribution
(:mod:`sim.experiment.explain`): the groups that change something, and each group's
knobs on either side in short words. The groups themselves and the mixing of two
strategies are :mod:`sim.scenario.knob_groups` (a firm on a market mixes strategies
too, when it imitates a rival's named groups).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sim.scenario.errors import toml_literal
from sim.scenario.knob_groups import GROUP_NAMES, GROUPS, PRICES, KnobGroup, by_price, combine
from sim.scenario.model import Strategy


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
