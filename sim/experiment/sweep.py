"""Parameter sweeps: the sweep file, its design (the points), and the runs it implies.

A sweep file names one or more scenario files (several: strategies compared at each
point, on the same customers), the parameters as dotted paths with values or ranges, a
design, replications per point, a seed and expectations (:mod:`sim.experiment.expect`).
It is parsed once into frozen objects, with the same error messages as a scenario, and
every point's scenarios are built and validated before anything runs.

Seeds: each point's scenarios get ``run.seed`` derived from (sweep seed, point index)
with SeedSequence; replications are indices under it. Nothing depends on the order or
place in which runs execute; strategies at one point share the seed, hence the
customers (common random numbers).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np

from sim import limits
from sim.scenario import Issue, Scenario, ScenarioError
from sim.scenario.errors import toml_literal
from sim.scenario.loader import read_toml
from sim.scenario.market import FirmOfMarket, MarketScenario, load_any
from sim.scenario.model import knob
from sim.scenario.schema import from_raw

Scalar = Annotated[Any, "scalar"]
Design = Literal["grid", "random", "lhs", "sobol", "morris"]
Op = Literal["<", "<=", ">", ">=", "==", "!="]
MORRIS_LEVELS = 4
"""Grid levels of a Morris sample; its analysis (:mod:`sim.experiment.sweep_analysis`)
must use the same number."""


@dataclass(frozen=True, slots=True)
class Parameter:
    path: str = knob()
    """Dotted path into the scenario, e.g. ``strategy.tiers[2].price``."""
    values: tuple[Scalar, ...] = ()
    """Explicit values (grid: every one; random: drawn among them)."""
    low: float = math.nan
    """Lower end of a range (with ``high``)."""
    high: float = math.nan
    """Upper end of a range."""
    steps: int = knob(5, ge=2)
    """Grid points over [low, high] when no values are given."""
    integer: bool = False
    """Round sampled values to whole numbers (e.g. business.servers)."""
    strategies: tuple[str, ...] = ()
    """Apply only to these strategies (scenario names); default: every strategy."""

    @property
    def name(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class Condition:
    path: str = knob()
    """A swept parameter's path."""
    value: Scalar = knob()
    """The value the parameter is compared with: a number, or for parameters that take
    text or true/false, one of those (compared with == or != only)."""
    op: Op = ">="
    """How the point's value compares with ``value``: <, <=, >, >=, == or !=."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """``left.metric OP right.metric`` (or ``OP value``) at every point meeting ``where``."""

    metric: str = knob()
    """A metric key, e.g. profit, customer_retention."""
    left: str = knob()
    """A strategy (scenario name)."""
    op: Op = ">"
    """<, <=, >, >=, == or !=."""
    right: str = ""
    """Another strategy, compared on the same metric (paired, same customers)."""
    value: float = math.nan
    """Or a fixed number to compare with."""
    where: tuple[Condition, ...] = ()
    """Points the expectation applies to (all conditions hold); default: every point."""
    judge: Literal["mean", "ci"] = "mean"
    """'mean': compare means; 'ci': the 95% CI of the (paired) difference must lie
    entirely on the expected side."""
    name: str = ""
    """A label for reports (default: the expectation written out)."""

    def describe(self) -> str:
        if self.name:
            return self.name
        right = f"{self.right}.{self.metric}" if self.right else f"{self.value:g}"
        where = " and ".join(f"{c.path} {c.op} {toml_literal(c.value)}" for c in self.where)
        text = f"{self.left}.{self.metric} {self.op} {right}"
        text += f" wherever {where}" if where else " at every point"
        return text + (" (95% CI)" if self.judge == "ci" else "")


@dataclass(frozen=True, slots=True)
class SweepSettings:
    scenarios: tuple[str, ...] = knob()
    """Scenario files (relative to the sweep file); several = strategies compared."""
    name: str = ""
    """Results go to results/<name>/ (default: the sweep file's stem; a name that is not
    a safe folder name is mapped to one)."""
    design: Design = "grid"
    """grid (every combination of the parameters' values or steps), random (values drawn
    uniformly), lhs (Latin hypercube), sobol or morris (sensitivity designs, need SALib)."""
    samples: int = knob(16, ge=1)
    """Points for random and lhs; base samples N for sobol (N(D+2) points) and morris
    (trajectories, N(D+1) points)."""
    replications: int = knob(5, ge=1)
    """Replications per point and strategy (simrun sweep -n overrides it)."""
    seed: int = knob(1, ge=0)
    """Root seed of the design and of every point's run.seed."""
    set: tuple[str, ...] = ()
    """Fixed overrides for every point, e.g. "run.days=365" (simrun sweep --set adds to
    them); run.seed, run.replications and run.name are the sweep's own."""


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep: settings, parameters, points, and the scenarios of each point."""

    source: Path
    settings: SweepSettings
    parameters: tuple[Parameter, ...]
    expectations: tuple[Expectation, ...]
    points: tuple[dict[str, Any], ...]
    strategies: tuple[str, ...]
    scenarios: dict[tuple[int, str], Scenario | FirmOfMarket] = field(repr=False)
    """The scenario of each (point, strategy); a market's firm is a FirmOfMarket."""

    @property
    def name(self) -> str:
        return self.settings.name or self.source.stem

    @property
    def task_count(self) -> int:
        """How many runs the sweep has: points x strategies x replications."""
        return len(self.points) * len(self.strategies) * self.settings.replications

    def iter_tasks(self) -> Iterator[tuple[int, str, int]]:
        """Every run: (point, strategy, replication), in a fixed order, one at a time."""
        for p in range(len(self.points)):
            for s in self.strategies:
                for r in range(self.settings.replications):
                    yield p, s, r

    def tasks(self) -> list[tuple[int, str, int]]:
        """Every run: (point, strategy, replication), in a fixed order."""
        return list(self.iter_tasks())


SET_BY_THE_SWEEP = {
    "run.seed": "is set per point by the sweep, from sweep.seed",
    "run.replications": "is set by the sweep: use sweep.replications (or simrun sweep -n N)",
    "run.name": "names the strategy at every point: set it in the scenario file",
}
"""Scenario fields a sweep sets itself: sweeping or fixing them is refused, never ignored."""


def load_sweep(path: str | Path, *, replications: int | None = None,
               overrides: Sequence[str] = ()) -> Sweep:
    """Parse and validate a sweep file and build every point's scenarios.

    ``replications`` and ``overrides`` (``PATH=VALUE``, added to ``sweep.set``) come
    from the command line: ``simrun sweep -n 1 --set run.days=60`` for a quick smoke run.
    """
    path = Path(path)
    raw = read_toml(path)
    issues: list[Issue] = []
    for key in raw:
        if key not in ("sweep", "parameters", "expect"):
            from sim.scenario.errors import suggest

            issues.append(Issue(key, "unknown section", None,
                                suggest(key, ("sweep", "parameters", "expect"))
                                or "known: sweep, parameters, expect"))
    settings = from_raw(SweepSettings, raw.get("sweep", {}), "sweep", issues)
    parameters = _list(Parameter, raw.get("parameters"), "parameters", issues, required=True)
    expectations = _list(Expectation, raw.get("expect", []), "expect", issues, required=False)
    if issues or settings is None:
        raise ScenarioError(path, issues)
    if replications is not None or overrides:
        settings = dataclasses.replace(
            settings, set=(*settings.set, *overrides),
            replications=settings.replications if replications is None else replications)
    issues += _set_by_the_sweep(settings, parameters)
    if not settings.scenarios:
        issues.append(Issue("sweep.scenarios", "must name at least one scenario file", []))
    if not parameters and settings.design != "grid":
        issues.append(Issue("parameters", f"design {settings.design!r} needs at least one "
                            "[[parameters]] table with a range"))
    seen: dict[str, int] = {}
    for i, p in enumerate(parameters):
        if p.path in seen:
            issues.append(Issue(f"parameters[{i}].path", f"is swept twice (also parameters"
                                f"[{seen[p.path]}]): give each path one [[parameters]] table",
                                p.path))
        seen.setdefault(p.path, i)
    for i, p in enumerate(parameters):
        has_range = not (math.isnan(p.low) or math.isnan(p.high))
        if not p.values and not has_range:
            issues.append(Issue(f"parameters[{i}]", "needs values = [...] or low and high"))
        if has_range and p.high < p.low:
            issues.append(Issue(f"parameters[{i}].high", "must be >= low", p.high))
        if settings.design != "grid" and not has_range and settings.design != "random":
            issues.append(Issue(f"parameters[{i}]", f"design {settings.design!r} needs a range "
                                "(low and high)"))
    if issues:
        raise ScenarioError(path, issues)
    issues += _size_issues(settings, parameters)
    if issues:
        raise ScenarioError(path, issues)
    if settings.design in ("sobol", "morris"):
        try:
            import SALib  # noqa: F401
        except ImportError:
            raise ScenarioError(path, [Issue("sweep.design", "needs SALib: pip install "
                                             "'simrun[sensitivity]'", settings.design)]) from None
    points = design_points(settings, parameters)
    base = [path.parent / s for s in settings.scenarios]
    missing = [Issue(f"sweep.scenarios[{i}]", "no such file", str(p)) for i, p in enumerate(base)
               if not p.is_file()]
    if missing:
        raise ScenarioError(path, missing)
    names: list[str] = []
    firm_names: list[tuple[str, ...]] = []
    """Per file: its firms' names if it is a market (each firm a strategy of the sweep)."""
    for i, file in enumerate(base):
        try:
            loaded = load_any(file, settings.set)
        except ScenarioError as error:  # the scenario, or sweep.set applied to it
            raise ScenarioError(path, [Issue(f"sweep.scenarios[{i}] ({error.source}) with "
                                             "sweep.set", str(issue)) for issue in error.issues]
                                ) from None
        firm_names.append(loaded.names if isinstance(loaded, MarketScenario) else ())
        names.extend(loaded.names if isinstance(loaded, MarketScenario) else [loaded.name])
        if loaded.warmup_auto:
            issues.append(Issue(f"sweep.scenarios[{i}] ({file})", 'run.warmup_days = "auto" is '
                                "for 'simrun' and 'simrun compare': a sweep's points would each "
                                "need their own pilot; run 'simrun warmup' on the scenario and "
                                "set the number it finds"))
    if len(set(names)) != len(names):
        raise ScenarioError(path, [Issue("sweep.scenarios", "need distinct scenario names", names)])
    for i, p in enumerate(parameters):
        for s in p.strategies:
            if s not in names:
                issues.append(Issue(f"parameters[{i}].strategies", f"unknown strategy; known: "
                                    f"{', '.join(names)}", s))
    for i, e in enumerate(expectations):
        issues.extend(_check_expectation(e, i, names, parameters))
    runs = len(points) * len(names) * settings.replications
    issue = limits.too_many("sweep", runs, limits.MAX_SWEEP_RUNS, limits.CEILING_SWEEP_RUNS,
                            f"points ({len(points)}) x strategies ({len(names)}) x "
                            f"replications ({settings.replications}) must be")
    if issue:
        issues.append(issue)
    if issues:
        raise ScenarioError(path, issues)
    scenarios: dict[tuple[int, str], Scenario | FirmOfMarket] = {}
    owners: list[tuple[str, ...]] = []
    """Per file, the strategies it gives the sweep: a scenario its name, a market its firms."""
    for firms in firm_names:
        owners.append(firms or (names[sum(len(o) for o in owners)],))
    for index, point in enumerate(points):
        seed = point_seed(settings.seed, index)
        for file, owned, firms in zip(base, owners, firm_names, strict=True):
            name = ", ".join(owned)  # in messages
            overrides = [*settings.set]
            overrides += [f"{p.path}={toml_literal(point[p.path])}" for p in parameters
                          if not p.strategies or set(owned) & set(p.strategies)]
            overrides += [f"run.seed={seed}", f"run.replications={settings.replications}"]
            try:
                loaded = load_any(file, overrides)
                if isinstance(loaded, MarketScenario):
                    for f, firm in enumerate(firms):
                        scenarios[index, firm] = FirmOfMarket(loaded, f)
                else:
                    scenarios[index, owned[0]] = loaded
            except ScenarioError as error:
                raise ScenarioError(path, [Issue(f"point {index} {_show(point)}, strategy "
                                                 f"{name}", str(i)) for i in error.issues]) from None
    work = sum(limits.expected_visits(one.scenario if isinstance(one, FirmOfMarket) else one)[0]
               for one in scenarios.values())
    if limits.over(work * settings.replications, limits.MAX_VISITS, limits.CEILING_VISITS):
        raise ScenarioError(path, [Issue("sweep", "expected work too large: up to "
                                         f"{work * settings.replications:.2g} visits in all "
                                         "(the sum over points and strategies of days x new "
                                         "customers per day x reputation factor x visits per "
                                         "customer, times replications); the limit is "
                                         f"{limits.MAX_VISITS:.0e} ({limits.FORCE_HINT}, up to "
                                         f"{limits.CEILING_VISITS:.0e})")])
    return Sweep(path, settings, tuple(parameters), tuple(expectations), tuple(points),
                 tuple(names), scenarios)


def _set_by_the_sweep(settings: SweepSettings, parameters: list[Parameter]) -> list[Issue]:
    """Fields the sweep sets itself, swept or fixed in sweep.set: refused."""
    issues = [Issue(f"parameters[{i}].path", SET_BY_THE_SWEEP[p.path], p.path)
              for i, p in enumerate(parameters) if p.path in SET_BY_THE_SWEEP]
    for i, override in enumerate(settings.set):
        target = override.partition("=")[0].strip()
        if target in SET_BY_THE_SWEEP:
            issues.append(Issue(f"sweep.set[{i}]", SET_BY_THE_SWEEP[target], override))
    return issues


def point_count(settings: SweepSettings, parameters: Sequence[Parameter]) -> int:
    """How many points the design has, computed without making them."""
    if settings.design == "grid":
        return math.prod(len(p.values) if p.values else p.steps for p in parameters)
    if settings.design == "sobol":
        return settings.samples * (len(parameters) + 2)
    if settings.design == "morris":
        return settings.samples * (len(parameters) + 1)
    return settings.samples


def _size_issues(settings: SweepSettings, parameters: list[Parameter]) -> list[Issue]:
    points = point_count(settings, parameters)
    what = {"grid": "the grid's points (the product of the parameters' values or steps)",
            "sobol": "samples x (parameters + 2), the points of a sobol design,",
            "morris": "samples x (parameters + 1), the points of a morris design,"}
    issue = limits.too_many("sweep.samples" if settings.design != "grid" else "parameters",
                            points, limits.MAX_SWEEP_POINTS, limits.CEILING_SWEEP_POINTS,
                            f"{what.get(settings.design, 'the points')} must be")
    return [issue] if issue else []


def _show(point: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={toml_literal(v)}" for k, v in point.items()) + ")"


def _list(cls: type, raw: object, where: str, issues: list[Issue], required: bool) -> list[Any]:
    if raw is None and required:
        issues.append(Issue(where, f"is required: at least one [[{where}]] table"))
        return []
    if not isinstance(raw, list):
        issues.append(Issue(where, f"must be a list of [[{where}]] tables", raw))
        return []
    items = [from_raw(cls, item, f"{where}[{i}]", issues) for i, item in enumerate(raw)]
    return [item for item in items if item is not None]


def _check_expectation(e: Expectation, i: int, names: list[str],
                       parameters: list[Parameter]) -> list[Issue]:
    from sim.metrics import METRIC_BY_KEY
    from sim.scenario.errors import suggest

    issues = []
    at = f"expect[{i}]"
    if e.metric not in METRIC_BY_KEY:
        issues.append(Issue(f"{at}.metric", "unknown metric", e.metric, suggest(e.metric, METRIC_BY_KEY)))
    for side in ("left", "right"):
        name = getattr(e, side)
        if name and name not in names:
            issues.append(Issue(f"{at}.{side}", f"unknown strategy; known: {', '.join(names)}",
                                name, suggest(name, names)))
    if bool(e.right) == (not math.isnan(e.value)):
        issues.append(Issue(at, "needs exactly one of right (a strategy) or value (a number)"))
    swept = {p.path: p for p in parameters}
    for j, c in enumerate(e.where):
        if c.path not in swept:
            issues.append(Issue(f"{at}.where[{j}].path", "is not a swept parameter", c.path,
                                suggest(c.path, list(swept))))
            continue
        problem = _comparable(c, swept[c.path])
        if problem:
            issues.append(Issue(f"{at}.where[{j}].value", problem, c.value))
    return issues


def _comparable(c: Condition, p: Parameter) -> str | None:
    """Why ``c`` cannot be judged on the values ``p`` takes, or None."""
    has_range = not (math.isnan(p.low) or math.isnan(p.high))
    kinds = {_kind(v) for v in p.values} | ({"number"} if has_range else set())
    mine = _kind(c.value)
    if mine not in kinds:
        takes = " or ".join(sorted(kinds))
        return f"must be a {takes}, like the values of {p.path}"
    if mine != "number" and c.op not in ("==", "!="):
        return f"can only be compared with == or != ({c.op!r} orders numbers)"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    return "number" if isinstance(value, int | float) else "string"


def point_seed(sweep_seed: int, point: int) -> int:
    """The run.seed of a point: derived from (sweep seed, point), never from order."""
    state = np.random.SeedSequence(sweep_seed, spawn_key=(point,)).generate_state(1, np.uint32)
    return int(state[0])


def design_points(settings: SweepSettings, parameters: list[Parameter]) -> list[dict[str, Any]]:
    """The points of the design, each a {path: value} mapping, in a fixed order."""
    design = settings.design
    if design == "grid":
        axes = [list(p.values) if p.values else list(np.linspace(p.low, p.high, p.steps))
                for p in parameters]
        rows = [list(combo) for combo in itertools.product(*axes)]
    else:
        unit = unit_samples(design, len(parameters), settings.samples, settings.seed)
        rows = []
        for u in unit:
            row = []
            for p, x in zip(parameters, u, strict=True):
                if p.values and (math.isnan(p.low) or math.isnan(p.high)):
                    row.append(p.values[min(int(x * len(p.values)), len(p.values) - 1)])
                else:
                    row.append(p.low + float(x) * (p.high - p.low))
            rows.append(row)
    points = []
    for row in rows:
        point = {}
        for p, v in zip(parameters, row, strict=True):
            if isinstance(v, float | np.floating):
                v = round(float(v)) if p.integer else round(float(v), 10)
            point[p.path] = v
        points.append(point)
    return points


def unit_samples(design: str, dims: int, samples: int, seed: int) -> np.ndarray:
    """Points in the unit cube for the sampling designs (seeded, reproducible)."""
    from scipy.stats import qmc

    if design == "random":
        return np.random.default_rng(seed).random((samples, dims))
    if design == "lhs":
        return qmc.LatinHypercube(d=dims, seed=seed).random(samples)
    problem = {"num_vars": dims, "names": [f"x{i}" for i in range(dims)],
               "bounds": [[0.0, 1.0]] * dims}
    if design == "sobol":
        from SALib.sample import sobol

        return np.asarray(sobol.sample(problem, samples, calc_second_order=False, seed=seed))
    from SALib.sample import morris

    return np.asarray(morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed))
