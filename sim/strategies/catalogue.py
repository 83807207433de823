"""The text of ``simrun strategies``: presets and knobs, generated from the code."""

from __future__ import annotations

from sim.scenario.model import Strategy, Tier
from sim.scenario.schema import describe
from sim.strategies import preset, preset_names
from sim.strategies.policies import registry


def render_catalogue() -> str:
    lines = ["Strategy presets (sim/strategies/presets.toml); pick one with",
             '  [strategy]', '  preset = "tiered"', "and override any knob below.", ""]
    for name in preset_names():
        raw = preset(name)
        tiers = ", ".join(f"{t['name']} {t['price']:g}" for t in raw["tiers"])
        admission = raw.get("admission", "everyone")
        admission = admission if isinstance(admission, str) else admission["kind"]
        adaptation = raw.get("adaptation", "none")
        adaptation = adaptation if isinstance(adaptation, str) else adaptation["kind"]
        lines.append(f"  {name:<9} tiers: {tiers}; admission: {admission}; "
                     f"recovery: {raw.get('recovery')}; adaptation: {adaptation}")
    lines += ["", "Strategy knobs ([strategy]):"]
    lines += _rows(describe(Strategy))
    lines += ["", "Tier knobs ([[strategy.tiers]]):"]
    lines += _rows(describe(Tier))
    for role in ("admission", "assignment", "adaptation"):
        lines += ["", f"{role.capitalize()} policies (strategy.{role} = \"kind\" or a table):"]
        for kind, cls in registry(role).items():
            doc = (cls.__doc__ or "").strip().split("\n\n")[0]
            lines.append(f"  {kind}: {' '.join(doc.split())}")
            lines += _rows(describe(cls), indent=4)
    return "\n".join(lines)


def _rows(rows: list[tuple[str, str, str]], indent: int = 2) -> list[str]:
    pad = " " * indent
    return [f"{pad}{name} = {default}  # {doc}" if doc else f"{pad}{name} = {default}"
            for name, default, doc in rows]
