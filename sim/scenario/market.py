"""A market file: the shared market, segments and behaviour, and ``[[firms]]``.

Each firm has a name, a strategy (a preset, knobs, or ``extends`` a strategy file) and
its own business (servers, hours, costs: the file's ``[business]`` with the firm's
knobs on top). Every firm becomes one complete single-firm :class:`Scenario` (the
shared sections, its business, its strategy), converted and checked by the
single-firm loader, so a market holds nothing the single-firm model does not know;
an issue found in a firm's part is reported at its place in the market file
(``firms[1].strategy.tiers[0].price``). A single-firm scenario is a market of one
firm (:func:`as_market`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import limits
from sim.scenario.errors import Issue, ScenarioError, suggest
from sim.scenario.loader import (
    apply_overrides,
    deep_merge,
    read_with_extends,
    resolved_raw,
    scenario_from_raw,
)
from sim.scenario.model import Behaviour, Market, Run, Scenario, Segment

MAX_FIRMS = 15
"""A visit occasion's choice block holds 16 uniforms: one for the outside option and
one per firm."""
FIRM_KEYS = ("name", "strategy", "business")
MARKET_KEYS = ("run", "business", "market", "behaviour", "segments", "firms", "extends",
               "tournament")
"""Top-level keys of a market file (``tournament`` is read by ``simrun tournament``)."""


@dataclass(frozen=True, slots=True)
class MarketScenario:
    """Rival firms on one market: each firm a complete single-firm scenario that shares
    run, market, segments and behaviour with the others."""

    names: tuple[str, ...]
    firms: tuple[Scenario, ...]
    source: str = field(default="", compare=False)

    @property
    def run(self) -> Run:
        return self.firms[0].run

    @property
    def market(self) -> Market:
        return self.firms[0].market

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.firms[0].segments

    @property
    def behaviour(self) -> Behaviour:
        return self.firms[0].behaviour

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def warmup_auto(self) -> bool:
        """``run.warmup_days = "auto"``: a pilot of the market finds the warm-up before a
        run (:func:`sim.experiment.warmup.resolve_market_auto`)."""
        return self.firms[0].warmup_auto

    def with_firms(self, firms: Iterable[Scenario]) -> MarketScenario:
        """The same market with each firm's scenario replaced (a found warm-up, the
        replications a precision target used)."""
        return MarketScenario(self.names, tuple(firms), self.source)


@dataclass(frozen=True, slots=True)
class FirmOfMarket:
    """One firm of a market, where a single scenario is expected (a sweep's strategy):
    it reads as the firm's own scenario, and runs as the whole market (its results are
    the firm's results in that market)."""

    market: MarketScenario
    index: int

    @property
    def scenario(self) -> Scenario:
        """The firm's own scenario, labelled with the firm's name."""
        firm = self.market.firms[self.index]
        return dataclasses.replace(firm, strategy=dataclasses.replace(firm.strategy,
                                                                     label=self.name))

    @property
    def name(self) -> str:
        return self.market.names[self.index]

    def __getattr__(self, attribute: str) -> Any:
        if attribute in ("market", "index") or attribute.startswith("__"):
            raise AttributeError(attribute)  # not set yet (unpickling): no recursion
        return getattr(self.market.firms[self.index], attribute)


def as_market(scenario: Scenario, name: str | None = None) -> MarketScenario:
    """A single-firm scenario as a market of that one firm (named after its label)."""
    return MarketScenario((name or scenario.label,), (scenario,), scenario.source)


def is_market_file(raw: dict[str, Any]) -> bool:
    return "firms" in raw


def load_any(path: str | Path, overrides: Iterable[str] = ()) -> Scenario | MarketScenario:
    """A scenario file or a market file (one with [[firms]]), whichever it is."""
    path = Path(path)
    raw = read_with_extends(path)
    if is_market_file(raw):
        return market_from_raw(raw, source=str(path), default_name=path.stem, base=path.parent,
                               overrides=overrides)
    return scenario_from_raw(raw, source=str(path), default_name=path.stem,
                             overrides=overrides)


def load_market(path: str | Path, overrides: Iterable[str] = ()) -> MarketScenario:
    """Parse a market file (with its ``extends`` chain and ``--set`` overrides, which
    may reach a firm: ``firms[1].business.servers=2``)."""
    path = Path(path)
    raw = read_with_extends(path)
    return market_from_raw(raw, source=str(path), default_name=path.stem, base=path.parent,
                           overrides=overrides)


def market_from_raw(raw: dict[str, Any], *, source: str = "<market>",
                    default_name: str = "market", base: Path | None = None,
                    overrides: Iterable[str] = ()) -> MarketScenario:
    """Build a MarketScenario from a merged raw table, collecting every issue."""
    raw = copy.deepcopy({key: value for key, value in raw.items() if key != "tournament"})
    apply_overrides(raw, list(overrides), source)
    issues: list[Issue] = []
    for key in raw:
        if key == "strategy":
            issues.append(Issue("strategy", "a market file gives each firm its own strategy: "
                                "move it under [[firms]] as firms[i].strategy"))
        elif key not in MARKET_KEYS:
            issues.append(Issue(key, "unknown section", None,
                                suggest(key, MARKET_KEYS) or f"known: {', '.join(MARKET_KEYS)}"))
    firms_raw = raw.get("firms")
    if not isinstance(firms_raw, list) or not firms_raw:
        issues.append(Issue("firms", "must be a non-empty list of [[firms]] tables",
                            firms_raw if not isinstance(firms_raw, list) else None))
        raise ScenarioError(source, issues)
    if len(firms_raw) > MAX_FIRMS:
        issues.append(Issue("firms", f"must hold at most {MAX_FIRMS} firms", len(firms_raw)))
        raise ScenarioError(source, issues)
    shared: dict[str, Any] = {key: raw[key] for key in ("run", "market", "behaviour", "segments")
                              if key in raw}
    names: list[str] = []
    firms: list[Scenario] = []
    seen: set[tuple[str, str]] = set()
    for i, firm in enumerate(firms_raw):
        at = f"firms[{i}]"
        name, scenario = _firm(firm, at, shared, raw.get("business", {}), source,
                               default_name, base, issues, seen)
        if name in names:
            issues.append(Issue(f"{at}.name", "must be unique", name))
        names.append(name)
        if scenario is not None:
            firms.append(scenario)
    if issues or len(firms) != len(firms_raw):
        raise ScenarioError(source, issues or [Issue("firms", "invalid firm")])
    visits, formula = limits.market_work(firms)
    issues = limits.visits_issues(visits, formula, firms[0].run.replications, "firms")
    if issues:
        raise ScenarioError(source, issues)
    return MarketScenario(tuple(names), tuple(firms), source)


def _firm(firm: object, at: str, shared: dict[str, Any], business: object, source: str,
          default_name: str, base: Path | None, issues: list[Issue],
          seen: set[tuple[str, str]]) -> tuple[str, Scenario | None]:
    """One firm's complete scenario, or None with its issues recorded."""
    if not isinstance(firm, dict):
        issues.append(Issue(at, "must be a table with name, strategy and business", firm))
        return "", None
    for key in firm:
        if key not in FIRM_KEYS:
            issues.append(Issue(f"{at}.{key}", "unknown key", None,
                                suggest(key, FIRM_KEYS) or f"known keys: {', '.join(FIRM_KEYS)}"))
    name = firm.get("name")
    if not isinstance(name, str) or not name.strip():
        issues.append(Issue(f"{at}.name", "is required: a non-empty string naming the firm",
                            name))
        name = ""
    strategy = _strategy(firm.get("strategy"), f"{at}.strategy", base, issues)
    own_business = firm.get("business", {})
    if not isinstance(own_business, dict) or not isinstance(business, dict):
        issues.append(Issue(f"{at}.business", "must be a table", own_business))
        return name, None
    if strategy is None:
        return name, None
    firm_raw = {**shared, "business": deep_merge(business, own_business), "strategy": strategy}
    try:
        scenario = scenario_from_raw(firm_raw, source=source, default_name=default_name)
    except ScenarioError as exc:
        for issue in exc.issues:
            moved = _at_firm(issue, at)
            key = (moved.where, moved.problem)
            if key not in seen:
                seen.add(key)
                issues.append(moved)
        return name, None
    return name, scenario


def _at_firm(issue: Issue, at: str) -> Issue:
    """An issue of a firm's own part (strategy, business) at its place in the market file;
    an issue of a shared section stays where it is."""
    head = issue.where.split(".", 1)[0].split("[", 1)[0]
    if head in ("strategy", "business"):
        return dataclasses.replace(issue, where=f"{at}.{issue.where}")
    return issue


def _strategy(raw: object, at: str, base: Path | None,
              issues: list[Issue]) -> dict[str, Any] | None:
    """The firm's strategy table; ``extends = "file.toml"`` takes that file's [strategy]
    (after its own extends chain) with the firm's knobs on top."""
    if raw is None:
        issues.append(Issue(at, "is required: a preset name or a table (preset, knobs, "
                            "or extends a strategy file)"))
        return None
    if isinstance(raw, str):
        return {"preset": raw}
    if not isinstance(raw, dict):
        issues.append(Issue(at, "must be a preset name or a table", raw))
        return None
    parent = raw.get("extends")
    own = {key: value for key, value in raw.items() if key != "extends"}
    if parent is None:
        return own
    if not isinstance(parent, str):
        issues.append(Issue(f"{at}.extends", "must be a file name (a string)", parent))
        return None
    path = (base or Path(".")) / parent
    if not path.is_file():
        issues.append(Issue(f"{at}.extends", f"no such file: {path}", parent))
        return None
    try:
        table = read_with_extends(path)
    except ScenarioError as exc:
        issues.extend(Issue(f"{at}.extends", f"{path}: {issue}") for issue in exc.issues)
        return None
    inherited = table.get("strategy")
    if not isinstance(inherited, dict):
        issues.append(Issue(f"{at}.extends", f"{path} has no [strategy] table", parent))
        return None
    return deep_merge(inherited, own)


def market_raw(market: MarketScenario) -> dict[str, Any]:
    """The resolved market as TOML-ready tables: every default filled in, each firm's
    whole business and strategy written out (loading it again gives an equal market)."""
    first = resolved_raw(market.firms[0])
    raw = {key: first[key] for key in ("run", "market", "behaviour", "segments")}
    raw["firms"] = [{"name": name, "business": resolved_raw(firm)["business"],
                     "strategy": resolved_raw(firm)["strategy"]}
                    for name, firm in zip(market.names, market.firms, strict=True)]
    return raw


def market_toml(market: MarketScenario) -> str:
    """The resolved market as a file (market.toml, and a results folder's identity)."""
    import tomli_w

    header = ("# Resolved market: every default filled in. Running this file reproduces\n"
              "# the run exactly: simrun <this file>\n")
    return header + tomli_w.dumps(market_raw(market))
