"""Texts generated from the typed model: the scenario reference (docs/scenario.md) and
the strategy catalogue (``simrun strategies``).

A test compares docs/scenario.md with :func:`render_reference`, so the reference cannot
drift from the loader. Regenerate with ``python -m sim.scenario.reference > docs/scenario.md``.
"""

from __future__ import annotations

import textwrap
import typing

from sim.scenario.distributions import Distribution
from sim.scenario.model import DURATION, Behaviour, Business, Market, Run, Segment, Strategy, Tier
from sim.scenario.schema import describe, hints
from sim.strategies import preset, preset_names
from sim.strategies.policies import DEFAULT_KIND, ROLES, TIER_ROLES, registry

INTRO = """# Scenario reference

A scenario is a TOML file with the sections below. Every field has a default except
where marked *(required)*. Durations take a number of hours or a string with a unit
(`"45 min"`, `"2 h"`, `"3 d"`, `"2 w"`). Money is a plain number. Every number must be
finite (no `nan` or `inf`) and at most 1e12 in size, and so must every value a
distribution can draw; the sizes of a run (days, replications, expected visits) have
limits too, each with its own message (`sim/limits.py`; `--force-limits` goes beyond
the size limits, up to a ceiling).

`extends = "base.toml"` (relative to the file) deep-merges another scenario under this
one: tables merge key by key, anything else (lists included) is replaced, and a table
that names a different policy `kind` or distribution `dist` replaces the old table whole.
Chains are allowed; a cycle is an error.

`[strategy] preset = "god" | "tiered" | "scarcity" | "partner"` starts from a preset
(`simrun strategies` lists them); every knob written next to it overrides the preset's.
Without a preset the strategy is built from scratch and needs `[[strategy.tiers]]`.

`simrun ... --set PATH=VALUE` overrides any field after presets are expanded, e.g.
`--set strategy.tiers[0].price=45`. VALUE is read as TOML (`0.2`, `"45 min"`, `true`).

A `[tune]` table says how `simrun tune` searches the scenario's knobs (docs/tune.md);
running the scenario ignores it.

## Distributions

Fields that take a *distribution* (the "takes" column of the tables below) take a
number (a constant) or a table:

| form | parameters |
| --- | --- |
| `{ dist = "constant", value = 7 }` | value |
| `{ dist = "exponential", mean = 2 }` | mean |
| `{ dist = "gamma", mean = "45 min", cv = 0.5 }` | mean, coefficient of variation |
| `{ dist = "lognormal", median = 60, sigma = 0.3 }` | median and log-sd, or `mean` and `cv` |
| `{ dist = "normal", mean = 10, sd = 2 }` | mean, sd; optional `low`, `high`; always truncated to the field's valid range |
| `{ dist = "uniform", low = 1, high = 3 }` | low, high |
| `{ dist = "triangular", low = 1, mode = 2, high = 4 }` | low, mode, high |
| `{ dist = "empirical", values = [1, 2, 2, 5] }` | values, drawn with equal weight |

Duration distributions take durations for their location parameters. Probabilities
(shares, propensities) must use a distribution bounded by 1.
"""


SECTIONS: tuple[tuple[str, str, type], ...] = (
    ("[run]", "run", Run), ("[business]", "business", Business),
    ("[market]", "market", Market),
    ("[[segments]] (one table per segment)", "segments[*]", Segment),
    ("[behaviour]", "behaviour", Behaviour), ("[strategy]", "strategy", Strategy),
    ("[[strategy.tiers]]", "strategy.tiers[*]", Tier))


def render_reference() -> str:
    parts = [INTRO, _distribution_fields(), ""]
    for title, _, cls in SECTIONS:
        parts.append(f"## {title}\n\n| field | takes | default | meaning |\n"
                     "| --- | --- | --- | --- |")
        parts.extend(_row(name, takes(cls, name), default, doc)
                     for name, default, doc in describe(cls))
        parts.append("")
    for role in ROLES:
        where = "strategy.tiers[*]" if role in TIER_ROLES else "strategy"
        parts.append(f"## {where}.{role}\n\nA kind name, or a table with `kind` and its "
                     "settings.\n")
        for kind, policy_cls in registry(role).items():
            doc = " ".join((policy_cls.__doc__ or "").split())
            parts.append(f"- `{kind}`: {doc}")
            parts.extend(f"  - `{name}` = `{default}`: {text}"
                         for name, default, text in describe(policy_cls))
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


WIDTH = 80
"""``simrun strategies`` fits an 80-column terminal."""


def render_catalogue() -> str:
    """The text of ``simrun strategies``: presets, knobs and policies, each knob as a
    TOML line under its meaning as a comment, at most 80 columns wide."""
    lines = ["Strategy presets (sim/strategies/presets.toml); pick one with",
             '  [strategy]', '  preset = "tiered"', "and override any knob below.", ""]
    for name in preset_names():
        raw = preset(name)
        tiers = ", ".join(f"{t['name']} {t['price']:g}" for t in raw["tiers"])
        items = [f"tiers: {tiers}", *(f"{role}: {_kind(raw, role)}"
                                       for role in ("admission", "recovery", "adaptation"))]
        lines += _pack(items, f"  {name:<9} ", " " * 12)
    lines += ["", "Strategy knobs ([strategy]):"]
    lines += _knob_rows(describe(Strategy))
    lines += ["", "Tier knobs ([[strategy.tiers]]):"]
    lines += _knob_rows(describe(Tier))
    for role in ROLES:
        where = "strategy.tiers[*]" if role in TIER_ROLES else "strategy"
        lines += ["", f"{role.capitalize()} policies ({where}.{role} = \"kind\" or a table):"]
        for kind, cls in registry(role).items():
            doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
            lines += textwrap.wrap(f"{kind}: {doc}", WIDTH, initial_indent="  ",
                                   subsequent_indent="      ", break_on_hyphens=False)
            lines += _knob_rows(describe(cls), indent=4)
    return "\n".join(lines)


def render_presets() -> str:
    """docs/presets.md: every knob of every preset side by side, defaults filled in."""
    from sim.scenario.errors import Issue
    from sim.scenario.schema import from_raw, to_raw

    issues: list[Issue] = []
    strategies = {name: from_raw(Strategy, preset(name), f"preset {name}", issues)
                  for name in preset_names()}
    assert not issues, issues
    names = list(strategies)
    lines = [
        "# The strategy presets, knob by knob",
        "",
        ("Generated from `sim/strategies/presets.toml` (`python -m sim.scenario.reference "
        "presets > docs/presets.md`; a test keeps it in sync). Why each preset is set as it "
        "is: docs/model.md, \"The presets in the default market\"."),
        "",
        "| knob | " + " | ".join(f"`{n}`" for n in names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for f in describe(Strategy):
        name = f[0]
        if name in ("preset", "tiers"):
            continue
        cells = [_cell(to_raw(getattr(strategies[n], name))) for n in names]
        if name == "servers":
            cells = [c if c != "0" else "the business's" for c in cells]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "## Tiers", ""]
    for n in names:
        tiers = strategies[n].tiers
        lines += [f"**{n}**", "", "| knob | " + " | ".join(t.name for t in tiers) + " |",
                  "| --- |" + " --- |" * len(tiers)]
        for f in describe(Tier):
            if f[0] == "name":
                continue
            cells = [_cell(to_raw(getattr(t, f[0]))) for t in tiers]
            lines.append(f"| `{f[0]}` | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items()).replace("|", "\\|")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|") if value != "" else "(none)"


def _pack(items: list[str], first: str, rest: str) -> list[str]:
    """Items joined by '; ' into lines of at most WIDTH columns, never split inside one."""
    lines, line = [], first
    for i, item in enumerate(items):
        text = item + (";" if i < len(items) - 1 else "")
        if line.strip() and len(line) + 1 + len(text) > WIDTH:
            lines.append(line.rstrip())
            line = rest
        line += ("" if line.isspace() or line == first else " ") + text
    return [*lines, line.rstrip()]


def _kind(raw: dict[str, object], role: str) -> str:
    value = raw.get(role, DEFAULT_KIND[role])
    return str(value["kind"] if isinstance(value, dict) else value)


def _knob_rows(rows: list[tuple[str, str, str]], indent: int = 2) -> list[str]:
    """Each knob as ``name = default`` under its meaning as a wrapped comment."""
    pad = " " * indent
    lines = []
    for name, default, doc in rows:
        if doc:
            lines += textwrap.wrap(doc, WIDTH, initial_indent=f"{pad}# ",
                                   subsequent_indent=f"{pad}# ", break_on_hyphens=False)
        lines += textwrap.wrap(f"{name} = {default}", WIDTH, initial_indent=pad,
                               subsequent_indent=pad + "    ", break_on_hyphens=False)
    return lines


def _row(name: str, kind: str, default: str, doc: str) -> str:
    default = default.replace("|", "\\|")
    return f"| `{name}` | {kind} | `{default}` | {doc} |"


def takes(cls: type, name: str) -> str:
    """What a field takes, in words: number, duration, distribution, policy, ..."""
    hint = hints(cls)[name]
    extras: tuple[object, ...] = ()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *rest = typing.get_args(hint)
        extras = tuple(rest)
    duration = DURATION in extras
    if "policy" in extras:
        return "policy"
    if hint is Distribution:
        return "duration *distribution*" if duration else "*distribution*"
    words = {float: "duration" if duration else "number", int: "whole number",
             bool: "true/false", str: "text"}
    if hint in words:
        return words[hint]
    if typing.get_origin(hint) is tuple:
        return "list of text" if typing.get_args(hint)[0] is str else "list of tables"
    return "table"


def distribution_fields() -> list[str]:
    """Every field that takes a distribution, as a dotted path."""
    return [f"{where}.{name}" for _, where, cls in SECTIONS for name, _, _ in describe(cls)
            if "distribution" in takes(cls, name)]


def _distribution_fields() -> str:
    fields = ", ".join(f"`{path}`" for path in distribution_fields())
    return f"The fields that take a distribution: {fields}. Every other number is a constant."


if __name__ == "__main__":
    import sys

    print(render_presets() if sys.argv[1:] == ["presets"] else render_reference(), end="")
