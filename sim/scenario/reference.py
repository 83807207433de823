"""Texts generated from the typed model: the scenario reference (docs/scenario.md) and
the strategy catalogue (``simrun strategies``).

A test compares docs/scenario.md with :func:`render_reference`, so the reference cannot
drift from the loader. Regenerate with ``python -m sim.scenario.reference > docs/scenario.md``.
"""

from __future__ import annotations

from sim.scenario.model import Behaviour, Business, Market, Run, Segment, Strategy, Tier
from sim.scenario.schema import describe
from sim.strategies import preset, preset_names
from sim.strategies.policies import DEFAULT_KIND, ROLES, TIER_ROLES, registry

INTRO = """# Scenario reference

A scenario is a TOML file with the sections below. Every field has a default except
where marked *(required)*. Durations take a number of hours or a string with a unit
(`"45 min"`, `"2 h"`, `"3 d"`, `"2 w"`). Money is a plain number.

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

Fields marked *distribution* take a number (a constant) or a table:

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


def render_reference() -> str:
    parts = [INTRO]
    sections: tuple[tuple[str, type], ...] = (("[run]", Run), ("[business]", Business), ("[market]", Market),
                ("[[segments]] (one table per segment)", Segment), ("[behaviour]", Behaviour),
                ("[strategy]", Strategy), ("[[strategy.tiers]]", Tier))
    for title, cls in sections:
        parts.append(f"## {title}\n\n| field | default | meaning |\n| --- | --- | --- |")
        parts.extend(_row(name, default, doc) for name, default, doc in describe(cls))
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


def render_catalogue() -> str:
    """The text of ``simrun strategies``: presets, knobs and policies."""
    lines = ["Strategy presets (sim/strategies/presets.toml); pick one with",
             '  [strategy]', '  preset = "tiered"', "and override any knob below.", ""]
    for name in preset_names():
        raw = preset(name)
        tiers = ", ".join(f"{t['name']} {t['price']:g}" for t in raw["tiers"])
        lines.append(f"  {name:<9} tiers: {tiers}; admission: {_kind(raw, 'admission')}; "
                     f"recovery: {_kind(raw, 'recovery')}; "
                     f"adaptation: {_kind(raw, 'adaptation')}")
    lines += ["", "Strategy knobs ([strategy]):"]
    lines += _knob_rows(describe(Strategy))
    lines += ["", "Tier knobs ([[strategy.tiers]]):"]
    lines += _knob_rows(describe(Tier))
    for role in ROLES:
        where = "strategy.tiers[*]" if role in TIER_ROLES else "strategy"
        lines += ["", f"{role.capitalize()} policies ({where}.{role} = \"kind\" or a table):"]
        for kind, cls in registry(role).items():
            doc = (cls.__doc__ or "").strip().split("\n\n")[0]
            lines.append(f"  {kind}: {' '.join(doc.split())}")
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


def _kind(raw: dict[str, object], role: str) -> str:
    value = raw.get(role, DEFAULT_KIND[role])
    return str(value["kind"] if isinstance(value, dict) else value)


def _knob_rows(rows: list[tuple[str, str, str]], indent: int = 2) -> list[str]:
    pad = " " * indent
    return [f"{pad}{name} = {default}  # {doc}" if doc else f"{pad}{name} = {default}"
            for name, default, doc in rows]


def _row(name: str, default: str, doc: str) -> str:
    default = default.replace("|", "\\|")
    return f"| `{name}` | `{default}` | {doc} |"


if __name__ == "__main__":
    import sys

    print(render_presets() if sys.argv[1:] == ["presets"] else render_reference(), end="")
