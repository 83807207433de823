"""Load a scenario: TOML files, ``extends``, strategy presets, ``--set`` overrides.

The pipeline works on raw tables until the very end, then converts once:

1. read the file and the chain of files it ``extends`` (deep merge, child wins);
2. expand ``strategy.preset`` into the preset's knobs, the file's knobs on top;
3. apply ``--set PATH=VALUE`` overrides (so they can reach preset knobs too);
4. convert into typed, frozen objects, collecting every issue;
5. check rules that span fields (shares sum to 1, names exist, ...).

Any problem raises one :class:`ScenarioError` listing all issues found.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from sim import limits
from sim.scenario.errors import Issue, ScenarioError, suggest
from sim.scenario.knob_groups import group_name_issues
from sim.scenario.model import Behaviour, Business, Market, Run, Scenario, Segment, Strategy
from sim.scenario.schema import from_raw, to_raw
from sim.strategies import preset, preset_names
from sim.strategies.policies import BySegment, SatisfactionTarget

SECTIONS = {"run": Run, "business": Business, "market": Market, "behaviour": Behaviour}
TOP_KEYS = (*SECTIONS, "segments", "strategy", "extends")
_PATH_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Parse, merge, override and validate a scenario file into a :class:`Scenario`."""
    path = Path(path)
    raw = read_with_extends(path)
    return scenario_from_raw(raw, source=str(path), default_name=path.stem, overrides=overrides)


def scenario_from_raw(raw: dict[str, Any], *, source: str = "<scenario>",
                      default_name: str = "scenario", overrides: Iterable[str] = ()) -> Scenario:
    """Build a Scenario from a merged raw table (the API's entry for dicts)."""
    overrides = list(overrides)
    # [tune] says how 'simrun tune' searches this scenario; running it ignores the table
    raw = {key: value for key, value in raw.items() if key != "tune"}
    # --set strategy.preset=NAME picks the preset to expand; every other override
    # applies after the expansion, so it can reach the preset's knobs.
    picks = [o for o in overrides if o.partition("=")[0].strip() == "strategy.preset"]
    apply_overrides(raw, picks, source)
    if "compare" in raw:
        raise ScenarioError(source, [Issue("compare", "this file compares strategies: run it "
                                           "with 'simrun compare FILE'")])
    if "firms" in raw:
        raise ScenarioError(source, [Issue("firms", "this file is a market of rival firms: run "
                                           "it with 'simrun FILE' (in Python, sim.load_market)")])
    raw = expand_preset(raw, source)
    apply_overrides(raw, [o for o in overrides if o not in picks], source)
    issues: list[Issue] = []
    raw, warmup_auto = _auto_warmup(raw, issues)
    for key in raw:
        if key not in TOP_KEYS:
            issues.append(Issue(key, "unknown section", None,
                                suggest(key, TOP_KEYS) or f"known: {', '.join(TOP_KEYS)}"))
    if _too_long(raw, issues):
        raise ScenarioError(source, issues)
    parts = {name: from_raw(cls, raw.get(name, {}), name, issues) for name, cls in SECTIONS.items()}
    segments = _segments(raw.get("segments"), issues)
    strategy = from_raw(Strategy, raw.get("strategy"), "strategy", issues) \
        if "strategy" in raw else _missing(issues, "strategy", "is required (a [strategy] table; a file "
                                                      "like base.toml that only describes the "
                                                      "market is meant to be extended)")
    if issues or None in parts.values() or segments is None or strategy is None:
        raise ScenarioError(source, issues or [Issue("", "invalid scenario")])
    run: Run = parts["run"]
    if not run.name:
        run = dataclasses.replace(run, name=default_name)
    scenario = Scenario(run=run, business=parts["business"], market=parts["market"],
                        segments=segments, behaviour=parts["behaviour"], strategy=strategy,
                        source=source, warmup_auto=warmup_auto)
    issues.extend(cross_checks(scenario))
    if not issues:
        issues.extend(limits.scenario_issues(scenario))
    if issues:
        raise ScenarioError(source, issues)
    return scenario


def _auto_warmup(raw: dict[str, Any], issues: list[Issue]) -> tuple[dict[str, Any], bool]:
    """``run.warmup_days = "auto"``: the raw table with warm-up 0 until a pilot finds it,
    and True; any other text is an error here (with a did-you-mean), not a number."""
    run = raw.get("run")
    value = run.get("warmup_days") if isinstance(run, dict) else None
    if not isinstance(value, str):
        return raw, False
    if value != "auto":
        issues.append(Issue("run.warmup_days", 'must be a whole number of days or "auto"',
                            value, suggest(value, ["auto"])))
    assert isinstance(run, dict)
    return {**raw, "run": {**run, "warmup_days": 0}}, value == "auto"


def _too_long(raw: dict[str, Any], issues: list[Issue]) -> bool:
    """Lists of segments or tiers beyond the limits, refused before they are converted."""
    strategy = raw.get("strategy")
    lists = (("segments", raw.get("segments"), limits.MAX_SEGMENTS, limits.CEILING_SEGMENTS),
             ("strategy.tiers", strategy.get("tiers") if isinstance(strategy, dict) else None,
              limits.MAX_TIERS, limits.CEILING_TIERS))
    found = [limits.too_many(where, len(items), limit, ceiling, "must hold")
             for where, items, limit, ceiling in lists if isinstance(items, list)]
    issues.extend(issue for issue in found if issue is not None)
    return any(found)


def _missing(issues: list[Issue], where: str, problem: str) -> Any:
    """Record a missing section; returns None so the caller can use it as the value."""
    issues.append(Issue(where, problem))
    return None


def _segments(raw: object, issues: list[Issue]) -> tuple[Segment, ...] | None:
    if raw is None:
        issues.append(Issue("segments", "is required: at least one [[segments]] table"))
        return None
    if not isinstance(raw, list) or not raw:
        issues.append(Issue("segments", "must be a non-empty list of [[segments]] tables", raw))
        return None
    parsed = [from_raw(Segment, item, f"segments[{i}]", issues) for i, item in enumerate(raw)]
    return None if None in parsed else tuple(parsed)


def cross_checks(s: Scenario) -> list[Issue]:
    """Rules that involve more than one field."""
    issues: list[Issue] = []
    if s.run.warmup_days >= s.run.days:
        issues.append(Issue("run.warmup_days", f"must be < run.days ({s.run.days})",
                            s.run.warmup_days))
    if s.business.close_hour <= s.business.open_hour:
        issues.append(Issue("business.close_hour",
                            f"must be > business.open_hour ({s.business.open_hour:g})",
                            s.business.close_hour))
    total = math.fsum(seg.share for seg in s.segments)
    if abs(total - 1) > 1e-9:
        issues.append(Issue("segments[*].share", "must sum to 1", round(total, 12)))
    issues.extend(_unique("segments", [seg.name for seg in s.segments]))
    tiers = s.strategy.tiers
    if not tiers:
        issues.append(Issue("strategy.tiers", "must hold at least one tier", []))
    issues.extend(_unique("strategy.tiers", [t.name for t in tiers]))
    segment_names = [seg.name for seg in s.segments]
    tier_names = [t.name for t in tiers]
    assignment = s.strategy.assignment
    if isinstance(assignment, BySegment):
        for name in segment_names:
            if name not in assignment.tiers:
                issues.append(Issue(f"strategy.assignment.tiers.{name}",
                                    "is required: every segment needs a tier"))
        for seg_name, tier_name in assignment.tiers.items():
            if seg_name not in segment_names:
                issues.append(Issue(f"strategy.assignment.tiers.{seg_name}", "unknown segment",
                                    None, suggest(seg_name, segment_names)))
            elif tier_name not in tier_names:
                issues.append(Issue(f"strategy.assignment.tiers.{seg_name}", "unknown tier",
                                    tier_name, suggest(tier_name, tier_names)))
    adaptation = s.strategy.adaptation
    if isinstance(adaptation, SatisfactionTarget) and adaptation.min_level > adaptation.max_level:
        issues.append(Issue("strategy.adaptation.min_level", "must be <= max_level",
                            adaptation.min_level))
    issues.extend(group_name_issues(s.market.imitation_groups, "market.imitation_groups"))
    if s.behaviour.detractor_threshold >= s.behaviour.promoter_threshold:
        issues.append(Issue("behaviour.detractor_threshold", "must be < promoter_threshold",
                            s.behaviour.detractor_threshold))
    return issues


def _unique(where: str, names: list[str]) -> list[Issue]:
    seen: set[str] = set()
    issues = []
    for i, name in enumerate(names):
        if name in seen:
            issues.append(Issue(f"{where}[{i}].name", "must be unique", name))
        seen.add(name)
    return issues


def read_with_extends(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's table deep-merged over the chain of files it extends."""
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, resolved))
        raise ScenarioError(path, [Issue("extends", f"cycle: {cycle}")])
    if len(_chain) >= limits.MAX_EXTENDS_DEPTH:
        raise ScenarioError(_chain[0], [Issue("extends", "the chain of files that extend one "
                                              f"another is longer than {limits.MAX_EXTENDS_DEPTH}"
                                              f" files (... -> {_chain[-1].name} -> {path.name})")])
    raw = read_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(path, [Issue("extends", "must be a file name (a string)", parent)])
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(path, [Issue("extends", f"no such file: {parent_path}", parent)])
    return deep_merge(read_with_extends(parent_path, (*_chain, resolved)), raw)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's table; anything that is not a small, valid TOML file is refused
    with a ScenarioError naming the file."""
    try:
        text = limits.read_bounded(path).decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, [Issue("", "no such file")]) from None
    except limits.UnreadableFile as exc:
        raise ScenarioError(path, [Issue("", str(exc))]) from None
    except UnicodeDecodeError:
        raise ScenarioError(path, [Issue("", "not valid TOML: not UTF-8 text")]) from None
    except OSError as exc:
        raise ScenarioError(path, [Issue("", f"cannot be read: {exc.strerror or exc}")]) from None
    try:
        return parse_toml(text)
    except ValueError as exc:
        raise ScenarioError(path, [Issue("", str(exc))]) from None


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text as a table; ValueError (with a message for people) when it is not
    valid TOML or nests deeper than the limit."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    except RecursionError:
        table = None
    if table is None or limits.depth(table) > limits.MAX_TOML_DEPTH:
        raise NestedTooDeep(f"tables and lists nest more than {limits.MAX_TOML_DEPTH} deep")
    return table


class NestedTooDeep(ValueError):
    """TOML whose tables and lists nest beyond :data:`sim.limits.MAX_TOML_DEPTH`."""


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (lists included) in ``top`` replaces.

    A policy or distribution table that names another ``kind`` or ``dist`` than the one
    it overrides replaces it whole: the old kind's settings do not apply to the new one.
    """
    merged = dict(base)
    for key, value in top.items():
        if (isinstance(value, dict) and isinstance(merged.get(key), dict)
                and not _switches_kind(merged[key], value)):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _switches_kind(base: Mapping[str, Any], top: Mapping[str, Any]) -> bool:
    return any(tag in base and tag in top and base[tag] != top[tag] for tag in ("kind", "dist"))


def expand_preset(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Replace ``strategy.preset = NAME`` by the preset's knobs with the file's on top."""
    strategy = raw.get("strategy")
    if not isinstance(strategy, dict) or "preset" not in strategy:
        return raw
    name = strategy["preset"]
    if name == "":
        return raw
    if not isinstance(name, str) or name not in preset_names():
        hint = suggest(name, preset_names()) if isinstance(name, str) else None
        raise ScenarioError(source, [Issue("strategy.preset", "unknown preset; known: "
                                           + ", ".join(preset_names()), name, hint)])
    expanded = dict(raw)
    expanded["strategy"] = deep_merge(preset(name), strategy)
    return expanded


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str], source: str = "") -> None:
    """Apply ``PATH=VALUE`` strings in place; VALUE is read as TOML, else as a string."""
    issues = []
    for override in overrides:
        path, sep, text = override.partition("=")
        path = path.strip()
        if not sep or not path:
            issues.append(Issue(override, "must look like PATH=VALUE, e.g. market.alternatives=0.2"))
            continue
        try:
            value: Any = parse_toml(f"v = {text.strip()}")["v"]
        except NestedTooDeep as exc:
            issues.append(Issue(path, str(exc)))
            continue
        except ValueError:
            value = text.strip()
        problem = set_path(raw, path, value)
        if problem:
            issues.append(Issue(path, problem, text.strip()))
    if issues:
        raise ScenarioError(f"{source} (--set)" if source else "--set", issues)


def run_overrides(overrides: Iterable[str], replications: int | None = None,
                  seed: int | None = None) -> list[str]:
    """Overrides plus ``run.replications`` and ``run.seed`` when given: options such as
    ``--replications`` become overrides so the resolved scenario records them."""
    extra = list(overrides)
    if replications is not None:
        extra.append(f"run.replications={replications}")
    if seed is not None:
        extra.append(f"run.seed={seed}")
    return extra


def set_path(raw: dict[str, Any], path: str, value: Any) -> str | None:
    """Set a dotted path such as ``strategy.tiers[0].price``; a problem or None."""
    tokens = [(name, int(index) if index else None) for name, index in _PATH_TOKEN.findall(path)]
    rebuilt = "".join(f".{n}" if n else f"[{i}]" for n, i in tokens).lstrip(".")
    if not tokens or rebuilt != path:
        return "is not a valid path (use names, dots and [index])"
    node: Any = raw
    for position, (name, index) in enumerate(tokens):
        last = position == len(tokens) - 1
        key: Any = name if name else index
        if name:
            if not isinstance(node, dict):
                return f"cannot set {name!r} on a non-table"
            if last:
                node[key] = value
                return None
            node = node.setdefault(key, {})
        else:
            if not isinstance(node, list):
                return f"[{index}] needs a list here"
            if not 0 <= index < len(node):  # type: ignore[operator]
                items = f"{len(node)} item{'s' if len(node) != 1 else ''}"
                return f"index {index} out of range (the list has {items})"
            if last:
                node[key] = value
                return None
            node = node[key]
    return None


def scenario_toml(scenario: Scenario) -> str:
    """The resolved scenario as a TOML file (results/<name>/scenario.toml, ``simrun
    check``): running it reproduces the run exactly."""
    header = ("# Resolved scenario: every default filled in. Running this file reproduces\n"
              "# the run exactly: simrun <this file>\n")
    return header + tomli_w.dumps(resolved_raw(scenario))


def resolved_raw(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, as TOML-ready tables.

    Loading this table again yields an equal Scenario, so results/<name>/scenario.toml
    reproduces a run exactly.
    """
    run = to_raw(scenario.run)
    if scenario.warmup_auto:
        run["warmup_days"] = "auto"
    return {
        "run": run,
        "business": to_raw(scenario.business),
        "market": to_raw(scenario.market),
        "behaviour": to_raw(scenario.behaviour),
        "strategy": to_raw(scenario.strategy),
        "segments": [to_raw(seg) for seg in scenario.segments],
    }
