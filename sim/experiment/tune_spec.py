"""What a tune searches: the knobs, the metric, the constraints and the budget.

A scenario file's ``[tune]`` table (or the options of ``simrun tune``) is parsed once into
frozen objects, with the scenario language's error messages: every problem is collected
as an :class:`~sim.scenario.Issue` naming the field, the value, the rule and a
did-you-mean, and one :class:`~sim.scenario.ScenarioError` reports them all. Each knob is
then tried on the scenario at its ends (or at each of its choices) before anything runs,
so an unknown path or a value the scenario refuses stops the command at once (exit 2).

Seeds: the search runs every trial on replications 0..n-1 of the *search seed*
(``tune.seed``, by default ``run.seed + 1``); the finalists and the starting point are
re-evaluated on the *final seed* (search seed + :data:`FINAL_SEED_OFFSET`), never used in
the search; the scenario's own ``run.seed`` is left to whatever runs the tuned scenario
later, so that no later run reuses the seeds that chose it.

This module runs nothing: :mod:`sim.experiment.tune` runs the study.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from sim.metrics import METRIC_BY_KEY
from sim.scenario import Issue, Scenario, ScenarioError, scenario_from_raw
from sim.scenario.errors import suggest, toml_literal
from sim.scenario.loader import read_with_extends, resolved_raw
from sim.scenario.model import knob
from sim.scenario.schema import from_raw

Scalar = Annotated[Any, "scalar"]
SEARCH_SEED_OFFSET = 1
"""The default search seed is ``run.seed + 1``."""
FINAL_SEED_OFFSET = 1
"""The finalists' re-evaluation seed is ``search seed + 1``."""
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<|==|=)\s*(\S+)\s*$")
_RANGE = re.compile(r"^\s*(-?[0-9.eE+-]+?)\s*\.\.\s*(-?[0-9.eE+-]+?)\s*(?::\s*([0-9.eE+]+)\s*)?$")
_BOUNDED = {"share": (0.0, 1.0), "nps": (-100.0, 100.0), "count": (0.0, math.inf),
            "hours": (0.0, math.inf)}
"""Values a metric of this unit can take (for constraints that could never hold)."""
_UNBOUNDED_SHARES = {"margin": (-math.inf, 1.0)}


@dataclass(frozen=True, slots=True)
class Knob:
    """One setting the search may change."""

    path: str = knob()
    """Dotted path into the scenario, as ``--set`` takes it, e.g. ``strategy.tiers[2].price``."""
    low: float = math.nan
    """Lower end of the range (with ``high``)."""
    high: float = math.nan
    """Upper end of the range."""
    step: float = knob(0.0, ge=0)
    """Resolution: only low, low + step, ... are tried (0: any value; whole numbers: 1)."""
    integer: bool = False
    """Try whole numbers only (automatic for whole-number fields such as servers)."""
    choices: tuple[Scalar, ...] = ()
    """Or the values to choose among, e.g. ["all", "reasonable", "none"]."""

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)

    def probes(self) -> list[Any]:
        """The values tried on the scenario before anything runs: the ends, or each choice."""
        if self.choices:
            return list(self.choices)
        return [self.cast(self.low), self.cast(self.high)]

    def cast(self, value: float) -> Any:
        """A value as the scenario takes it (a whole number for an integer knob)."""
        return round(value) if self.integer else float(value)

    def contains(self, value: Any) -> bool:
        """Whether the search could propose ``value`` (on the range and its step)."""
        if self.choices:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.integer and value != round(value):
            return False
        step = self.step
        if step > 0:
            count = (value - self.low) / step
            return abs(count - round(count)) < 1e-9
        return True

    def describe(self) -> str:
        if self.choices:
            return f"{self.path} in {toml_literal(list(self.choices))}"
        step = f" step {self.step:g}" if self.step else ""
        kind = " (whole numbers)" if self.integer else ""
        return f"{self.path} from {self.low:g} to {self.high:g}{step}{kind}"


@dataclass(frozen=True, slots=True)
class TuneSettings:
    """The ``[tune]`` table: what to search, towards what, with what budget."""

    knobs: tuple[Knob, ...] = ()
    """The settings the search may change: [[tune.knobs]] tables or inline tables."""
    metric: str = "profit"
    """The metric to optimise, in its direction (profit up, cost_per_customer down)."""
    constraints: tuple[str, ...] = ()
    """Conditions on the means of a trial, e.g. "customer_retention >= 0.6"."""
    trials: int = knob(30, ge=1)
    """Trials of the search; each is a batch of replications."""
    replications: int = knob(5, ge=2)
    """Replications per trial, 0..n-1 of the search seed (common random numbers)."""
    sampler: Literal["tpe", "cmaes"] = "tpe"
    """Optuna's sampler: 'tpe' (Tree-structured Parzen Estimator) or 'cmaes' (CMA-ES)."""
    seed: int = knob(-1, ge=-1)
    """Search seed (-1: run.seed + 1); the finalists are re-evaluated on seed + 1."""
    finalists: int = knob(3, ge=1)
    """The best trials re-evaluated on the final seed, against the starting point."""
    final_replications: int = knob(20, ge=2)
    """Replications of each finalist and of the starting point in the re-evaluation."""
    batch: int = knob(4, ge=1)
    """Trials asked at once and run in parallel; the study depends on it, never on --jobs."""
    name: str = ""
    """Results go to results/<name>/ (default: the scenario's name followed by -tune)."""


@dataclass(frozen=True, slots=True)
class Constraint:
    """``metric >= bound`` or ``metric <= bound`` on a trial's mean."""

    metric: str
    op: Literal[">=", "<="]
    bound: float

    def violation(self, mean: float) -> float:
        """How far the mean is from meeting the constraint (<= 0: met), as Optuna takes it."""
        return self.bound - mean if self.op == ">=" else mean - self.bound

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


@dataclass(frozen=True)
class TuneSpec:
    """One scenario to tune: its raw table, the start, the knobs and the budget."""

    source: Path
    """The scenario file (tuned.toml extends it)."""
    name: str
    """The results folder's name."""
    raw: dict[str, Any] = field(repr=False)
    """The file's merged table without [tune]: every trial's scenario is built from it."""
    overrides: tuple[str, ...]
    """``--set`` overrides, applied to the start and to every trial."""
    start: Scenario
    settings: TuneSettings
    knobs: tuple[Knob, ...]
    constraints: tuple[Constraint, ...]
    start_params: dict[str, Any] = field(default_factory=dict)
    """Each knob's value at the start, where the search could propose it."""

    @property
    def search_seed(self) -> int:
        seed = self.settings.seed
        return self.start.run.seed + SEARCH_SEED_OFFSET if seed < 0 else seed

    @property
    def final_seed(self) -> int:
        return self.search_seed + FINAL_SEED_OFFSET

    @property
    def metric(self) -> str:
        return self.settings.metric

    @property
    def maximise(self) -> bool:
        return METRIC_BY_KEY[self.metric].higher_is_better

    def knob_overrides(self, params: Mapping[str, Any]) -> list[str]:
        return [f"{path}={toml_literal(value)}" for path, value in params.items()]

    def scenario(self, params: Mapping[str, Any], *, seed: int, replications: int,
                 name: str | None = None, label: str | None = None) -> Scenario:
        """The start with the knobs at ``params``, run on ``seed`` with ``replications``."""
        overrides = [*self.overrides, *self.knob_overrides(params), f"run.seed={seed}",
                     f"run.replications={replications}"]
        scenario = scenario_from_raw(copy.deepcopy(self.raw), source=str(self.source),
                                     default_name=self.start.name, overrides=overrides)
        if name is not None:
            scenario = replace(scenario, run=replace(scenario.run, name=name))
        if label is not None:
            scenario = replace(scenario, strategy=replace(scenario.strategy, label=label))
        return scenario


def load_tune(path: str | Path, overrides: Iterable[str] = (), *,
              options: Mapping[str, Any] | None = None, knobs: Sequence[str] = (),
              constraints: Sequence[str] | None = None) -> TuneSpec:
    """Parse a scenario file's [tune] table, with the command line's choices on top, and
    try every knob on the scenario. ``options`` holds [tune] fields given as options
    (trials, replications, metric, ...); ``knobs`` (``PATH=LOW..HIGH``) and
    ``constraints`` replace the file's when given."""
    path = Path(path)
    raw = read_with_extends(path)
    if "compare" in raw:
        raise ScenarioError(path, [Issue("compare", "this file compares strategies: tune "
                                         "them with 'simrun compare FILE --tune'")])
    table = raw.pop("tune", {})
    return tune_spec(path, raw, table, list(overrides), options=options, knobs=knobs,
                     constraints=constraints)


def tune_spec(path: Path, raw: dict[str, Any], table: object, overrides: list[str], *,
              options: Mapping[str, Any] | None = None, knobs: Sequence[str] = (),
              constraints: Sequence[str] | None = None, where: str = "tune",
              name: str | None = None) -> TuneSpec:
    """A :class:`TuneSpec` from a scenario's raw table and its [tune] table (``where``
    names it in messages)."""
    issues: list[Issue] = []
    if not isinstance(table, dict):
        raise ScenarioError(path, [Issue(where, "must be a table", table)])
    table = {**table, **{k: v for k, v in (options or {}).items() if v is not None}}
    if knobs:
        table["knobs"] = [_knob_option(text, issues) for text in knobs]
    if constraints:
        table["constraints"] = list(constraints)
    settings = from_raw(TuneSettings, table, where, issues)
    if settings is None or issues:
        raise ScenarioError(path, issues or [Issue(where, "invalid")])
    start = scenario_from_raw(copy.deepcopy(raw), source=str(path), default_name=path.stem,
                              overrides=overrides)
    parsed = [_constraint(text, f"{where}.constraints[{i}]", issues)
              for i, text in enumerate(settings.constraints)]
    issues.extend(_check_settings(settings, start, where))
    start_values = resolved_raw(start)
    checked = []
    sound = []
    for i, k in enumerate(settings.knobs):
        at = f"{where}.knobs[{i}]"
        found = _check_knob(k, at)
        if not found and not k.choices and not k.integer:
            value = get_path(start_values, k.path)
            if isinstance(value, int) and not isinstance(value, bool):
                k = replace(k, integer=True)
                found = _check_knob(k, at)
        issues.extend(found)
        checked.append(k)
        sound.append(not found)
    seen: set[str] = set()
    for i, k in enumerate(checked):
        if k.path in seen:
            issues.append(Issue(f"{where}.knobs[{i}].path", "appears twice", k.path))
        seen.add(k.path)
    if settings.sampler == "cmaes":
        issues.extend(_check_cmaes(checked, parsed, where))
    for i, (k, ok) in enumerate(zip(checked, sound, strict=True)):
        if ok:
            issues.extend(_probe(raw, overrides, k, f"{where}.knobs[{i}]", path))
    if issues:
        raise ScenarioError(path, issues)
    start_params = {}
    for k in checked:
        value = get_path(start_values, k.path)
        if isinstance(value, dict) and k.choices:
            value = value.get("kind")
        if k.contains(value):
            start_params[k.path] = value
    return TuneSpec(path, name or settings.name or f"{start.name}-tune", raw, tuple(overrides),
                    start, settings, tuple(checked),
                    tuple(c for c in parsed if c is not None),
                    start_params if len(start_params) == len(checked) else {})


def _knob_option(text: str, issues: list[Issue]) -> dict[str, Any]:
    """``PATH=LOW..HIGH``, ``PATH=LOW..HIGH:STEP`` or ``PATH=A,B,C`` as a knob table."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path or not rest.strip():
        issues.append(Issue("--knob", "must look like PATH=LOW..HIGH, PATH=LOW..HIGH:STEP or "
                            "PATH=A,B,C", text))
        return {"path": path or text}
    matched = _RANGE.match(rest)
    if matched:
        try:
            low, high = float(matched[1]), float(matched[2])
            step = float(matched[3]) if matched[3] else 0.0
        except ValueError:
            issues.append(Issue("--knob", "LOW and HIGH must be numbers", text))
            return {"path": path}
        return {"path": path, "low": low, "high": high, "step": step}
    if "," not in rest:
        issues.append(Issue("--knob", "needs a range LOW..HIGH or at least two choices A,B",
                            text))
        return {"path": path}
    return {"path": path, "choices": [_scalar(part) for part in rest.split(",")]}


def _scalar(text: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def _constraint(text: str, at: str, issues: list[Issue]) -> Constraint | None:
    matched = _CONSTRAINT.match(text)
    if not matched:
        issues.append(Issue(at, "must look like METRIC >= NUMBER or METRIC <= NUMBER, e.g. "
                            "customer_retention >= 0.6", text))
        return None
    metric, op, number = matched[1], matched[2], matched[3]
    problems = len(issues)
    if metric not in METRIC_BY_KEY:
        issues.append(Issue(at, f"unknown metric {metric!r}", text, suggest(metric, METRIC_BY_KEY)))
    if op not in (">=", "<="):
        issues.append(Issue(at, f"{op!r} is not allowed: use >= or <= (a mean is never judged "
                            "strictly)", text))
    try:
        bound = float(number)
    except ValueError:
        issues.append(Issue(at, "the bound must be a number", text))
        return None
    if not math.isfinite(bound):
        issues.append(Issue(at, "the bound must be a finite number", text))
    if len(issues) > problems:
        return None
    constraint = Constraint(metric, ">=" if op == ">=" else "<=", bound)
    unit = METRIC_BY_KEY[metric].unit
    low, high = _UNBOUNDED_SHARES.get(metric) or _BOUNDED.get(unit, (-math.inf, math.inf))
    if (op == ">=" and bound > high) or (op == "<=" and bound < low):
        shown = f"{low:g} to {high:g}" if math.isfinite(high) else f"{low:g} or more"
        issues.append(Issue(at, f"can never hold: {metric} is a {unit} ({shown})", text))
        return None
    return constraint


def _check_settings(settings: TuneSettings, start: Scenario, where: str) -> list[Issue]:
    issues = []
    if settings.metric not in METRIC_BY_KEY:
        issues.append(Issue(f"{where}.metric", "unknown metric", settings.metric,
                            suggest(settings.metric, METRIC_BY_KEY)))
    if settings.final_replications < settings.replications:
        issues.append(Issue(f"{where}.final_replications", "must be >= replications "
                            f"({settings.replications}): the finalists are re-evaluated with "
                            "more replications, not fewer", settings.final_replications))
    seed = start.run.seed
    if settings.seed >= 0 and settings.seed in (seed, seed - FINAL_SEED_OFFSET):
        issues.append(Issue(f"{where}.seed", f"must differ from run.seed ({seed}) and run.seed "
                            f"- {FINAL_SEED_OFFSET}: the search (tune.seed) and the finalists' "
                            f"re-evaluation (tune.seed + {FINAL_SEED_OFFSET}) must not use the "
                            "seed that later runs of the tuned scenario use", settings.seed))
    if not settings.knobs:
        issues.append(Issue(f"{where}.knobs", "needs at least one knob: [[tune.knobs]] tables "
                            "or --knob PATH=LOW..HIGH"))
    return issues


def _check_knob(k: Knob, at: str) -> list[Issue]:
    """The knob's own rules: a range or choices, in order, on its step."""
    has_range = not (math.isnan(k.low) or math.isnan(k.high))
    issues = []
    if k.path.split(".")[0].split("[")[0] == "run":
        issues.append(Issue(f"{at}.path", "run settings are not knobs (days, seeds and "
                            "replications are how a scenario is measured)", k.path))
    if k.choices:
        if has_range or not (math.isnan(k.low) and math.isnan(k.high)):
            issues.append(Issue(at, "takes either choices or low and high, not both"))
        if len(set(map(toml_literal, k.choices))) < 2:
            issues.append(Issue(f"{at}.choices", "needs at least two different values",
                                list(k.choices)))
        if k.step or k.integer:
            issues.append(Issue(at, "step and integer apply to ranges, not to choices"))
        return issues
    if not has_range:
        issues.append(Issue(at, "needs low and high (a range) or choices"))
        return issues
    if k.high <= k.low:
        issues.append(Issue(f"{at}.high", f"must be > low ({k.low:g})", k.high))
    if k.integer:
        for end in ("low", "high"):
            value = getattr(k, end)
            if value != round(value):
                issues.append(Issue(f"{at}.{end}", "must be a whole number: the field takes "
                                    "whole numbers", value))
        if k.step and k.step != round(k.step):
            issues.append(Issue(f"{at}.step", "must be a whole number", k.step))
    if k.step and k.high > k.low:
        if k.step > k.high - k.low:
            issues.append(Issue(f"{at}.step", f"must be <= high - low ({k.high - k.low:g})",
                                k.step))
        else:
            count = (k.high - k.low) / k.step
            if abs(count - round(count)) > 1e-9:
                issues.append(Issue(f"{at}.step", "must divide high - low "
                                    f"({k.high - k.low:g}) into whole steps", k.step))
    return issues


def _check_cmaes(knobs: list[Knob], constraints: list[Constraint | None],
                 where: str) -> list[Issue]:
    issues = []
    if any(k.choices for k in knobs):
        issues.append(Issue(f"{where}.sampler", "'cmaes' cannot search choices (Optuna's "
                            "CmaEsSampler samples them at random): use 'tpe'", "cmaes"))
    if constraints:
        issues.append(Issue(f"{where}.sampler", "'cmaes' ignores constraints (Optuna's "
                            "CmaEsSampler does not use them): use 'tpe'", "cmaes"))
    if len(knobs) < 2:
        issues.append(Issue(f"{where}.sampler", "'cmaes' needs at least two knobs (CMA-ES "
                            "adapts a covariance): use 'tpe' for one", "cmaes"))
    return issues


def _probe(raw: dict[str, Any], overrides: list[str], k: Knob, at: str,
           path: Path) -> list[Issue]:
    """Build the scenario with the knob at each probe value; every refusal is an issue
    (once, without the value, when every value is refused alike: an unknown path)."""
    refused: list[tuple[Any, Issue]] = []
    probes = k.probes()
    for value in probes:
        setting = f"{k.path}={toml_literal(value)}"
        try:
            scenario_from_raw(copy.deepcopy(raw), source=str(path), overrides=[*overrides, setting])
        except ScenarioError as error:
            refused.extend((value, issue) for issue in error.issues)
    issues: list[Issue] = []
    for value, issue in refused:
        alike = sum(1 for _, other in refused if (other.where, other.problem, other.hint)
                    == (issue.where, issue.problem, issue.hint))
        if alike == len(probes):
            found = Issue(f"{at}.path", f"{issue.where}: {issue.problem}", None, issue.hint)
        else:
            found = Issue(f"{at}.path", f"{k.path} = {toml_literal(value)}: {issue}")
        if found not in issues:
            issues.append(found)
    return issues


_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def get_path(raw: Any, path: str) -> Any:
    """The value at a dotted path such as ``strategy.tiers[0].price`` (None: not there)."""
    node = raw
    for name, index in _TOKEN.findall(path):
        if name:
            if not isinstance(node, dict) or name not in node:
                return None
            node = node[name]
        else:
            if not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
    return node
