"""What a sweep's results say, as plain numbers: the grid, means per point and cell,
winners with their paired leads, main effects, and sensitivity indices.

The sweep charts (:mod:`sim.charts.sweep`) draw these and compute nothing of their own;
anyone can check the numbers behind a chart, or use them without matplotlib. All
intervals are Student-t 95% over replications (:func:`sim.metrics.estimate`); a
difference between two strategies is paired over the replications both finished (the
same customers, common random numbers).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.experiment.sweep import MORRIS_LEVELS, Parameter, Sweep
from sim.experiment.sweep_runner import SweepResult
from sim.metrics import METRIC_BY_KEY, Estimate, Metric, estimate

SENSITIVITY_DESIGNS = ("sobol", "morris")
"""Designs whose points SALib can analyse into sensitivity indices."""

Values = dict[tuple[int, str], dict[int, dict[str, float]]]
"""(point, strategy) -> replication -> metrics."""


def check_metric(metric: str) -> Metric:
    """The metric of this key; ValueError for an unknown key."""
    if metric not in METRIC_BY_KEY:
        raise ValueError(f"unknown metric {metric!r}")
    return METRIC_BY_KEY[metric]


def is_number(value: Any) -> bool:
    """A parameter value that sits on a numeric axis (booleans do not)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_)


def value_key(value: Any) -> Any:
    """The value as it is compared across points: numbers as floats (1 and 1.0 alike)."""
    return float(value) if is_number(value) else value


def axis_values(sweep: Sweep, parameter: Parameter) -> list[Any]:
    """The distinct values a parameter takes over the points: ascending when they are
    numbers, else in the order they first appear."""
    seen: list[Any] = []
    for point in sweep.points:
        value = point[parameter.path]
        if value not in seen:
            seen.append(value)
    return sorted(seen) if all(is_number(v) for v in seen) else seen


def grid_cells(sweep: Sweep) -> dict[tuple[Any, ...], list[int]]:
    """Points by their coordinates (a tuple of parameter values, in parameter order).
    Several points share a cell when rounding (``integer = true``) merges grid values;
    their replications are pooled."""
    cells: dict[tuple[Any, ...], list[int]] = {}
    for index, point in enumerate(sweep.points):
        cells.setdefault(tuple(point[p.path] for p in sweep.parameters), []).append(index)
    return cells


def replications(values: Values, points: Sequence[int], strategy: str,
                 metric: str) -> list[float]:
    """Every replication's value of a metric at these points (missing runs left out)."""
    out: list[float] = []
    for point in points:
        reps = values.get((point, strategy), {})
        out.extend(float(reps[r][metric]) for r in sorted(reps))
    return out


def point_means(result: SweepResult, metric: str, strategy: str) -> np.ndarray:
    """The mean over replications at each point, in point order (NaN: no value)."""
    means = []
    for index in range(len(result.sweep.points)):
        e = estimate(replications(result.values, [index], strategy, metric))
        means.append(e.mean)
    return np.asarray(means, dtype=float)


def estimates_along(result: SweepResult, metric: str, strategy: str) -> list[Estimate]:
    """A one-parameter grid: mean and 95% CI over replications at each of the
    parameter's values (:func:`axis_values`), pooling points that share a value."""
    sweep = result.sweep
    cells = grid_cells(sweep)
    return [estimate(replications(result.values, cells[(v,)], strategy, metric))
            for v in axis_values(sweep, sweep.parameters[0])]


def grid_means(result: SweepResult, metric: str, strategy: str) -> np.ndarray:
    """A two-parameter grid: the mean over replications in each cell, rows the second
    parameter's values and columns the first's (:func:`axis_values`); NaN: no value."""
    sweep = result.sweep
    xs, ys = (axis_values(sweep, p) for p in sweep.parameters[:2])
    cells = grid_cells(sweep)
    grid = np.full((len(ys), len(xs)), np.nan)
    for j, yv in enumerate(ys):
        for i, xv in enumerate(xs):
            points = cells.get((xv, yv), [])
            grid[j, i] = estimate(replications(result.values, points, strategy, metric)).mean
    return grid


def main_effects(result: SweepResult, metric: str, strategy: str,
                 parameter: Parameter) -> list[float]:
    """At each of the parameter's values, the mean of the per-point means over every
    point with that value (so over the other parameters' values); NaN: no value."""
    sweep = result.sweep
    means = point_means(result, metric, strategy)
    keys = [value_key(point[parameter.path]) for point in sweep.points]
    levels = []
    for value in axis_values(sweep, parameter):
        chosen = means[np.array([k == value_key(value) for k in keys], dtype=bool)]
        levels.append(float(np.nanmean(chosen)) if np.isfinite(chosen).any() else math.nan)
    return levels


@dataclass(frozen=True)
class Lead:
    """Who has the best mean in one cell, and by how much over the runner-up."""

    winner: str | None
    """None when fewer than two strategies have a value here."""
    runner_up: str | None
    difference: Estimate
    """Paired (same replications, same customers) difference winner − runner-up, signed
    so that a positive value favours the winner (lower-is-better metrics are flipped)."""

    @property
    def close(self) -> bool:
        """Too close to call: the 95% CI of the lead includes 0 (or is undefined)."""
        return self.winner is None or not self.difference.low > 0


def winners(result: SweepResult, metric: str) -> dict[tuple[Any, ...], Lead]:
    """For each grid cell (its parameter values, in parameter order) the strategy with
    the best mean replication value (``higher_is_better`` of the metric), and its
    paired lead over the runner-up."""
    check_metric(metric)
    sweep = result.sweep
    sign = 1.0 if METRIC_BY_KEY[metric].higher_is_better else -1.0
    leads = {}
    for cell, points in grid_cells(sweep).items():
        means = {s: estimate(replications(result.values, points, s, metric)).mean
                 for s in sweep.strategies}
        ranked = sorted((s for s in sweep.strategies if not math.isnan(means[s])),
                        key=lambda s: -sign * means[s])  # stable: ties go to the first
        nan = Estimate(math.nan, math.nan, 0, math.nan, math.nan)
        if len(ranked) < 2:
            leads[cell] = Lead(None, None, nan)
            continue
        best, second = ranked[0], ranked[1]
        diffs: list[float] = []
        for point in points:
            a = result.values.get((point, best), {})
            b = result.values.get((point, second), {})
            diffs.extend(sign * (a[r][metric] - b[r][metric]) for r in sorted(set(a) & set(b)))
        leads[cell] = Lead(best, second, estimate(diffs))
    return leads


def sensitivity(result: SweepResult, metric: str, strategy: str) -> dict[str, dict[str, float]]:
    """Sensitivity indices of a metric's per-point mean, by parameter path.

    Sobol design: first-order and total indices, ``{"S1": .., "ST": ..}``
    (``SALib.analyze.sobol``, no second order, as sampled). Morris design:
    ``{"mu_star": .., "sigma": ..}`` (``SALib.analyze.morris``; elementary effects per
    step in the unit cube, so mu_star is the metric's mean absolute change over a
    parameter's whole range). NaN everywhere when a point has no value (a failed point,
    or a metric undefined there). Raises ValueError for other designs.
    """
    indices = sensitivity_with_confidence(result, metric, strategy)
    keys = ("S1", "ST") if result.sweep.settings.design == "sobol" else ("mu_star", "sigma")
    return {name: {k: values[k] for k in keys} for name, values in indices.items()}


def sensitivity_with_confidence(result: SweepResult, metric: str,
                                strategy: str) -> dict[str, dict[str, float]]:
    """:func:`sensitivity` with the 95% bootstrap half-widths (``*_conf``)."""
    sweep = result.sweep
    design = sweep.settings.design
    if design not in SENSITIVITY_DESIGNS:
        raise ValueError(f"sensitivity indices need a sobol or morris design, not {design!r}")
    check_metric(metric)
    if strategy not in sweep.strategies:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(sweep.strategies)}")
    names = [p.path for p in sweep.parameters]
    keys = ("S1", "ST", "S1_conf", "ST_conf") if design == "sobol" else (
        "mu_star", "sigma", "mu_star_conf")
    y = point_means(result, metric, strategy)
    if not np.isfinite(y).all() or y.size == 0:
        return {name: dict.fromkeys(keys, math.nan) for name in names}
    problem = {"num_vars": len(names), "names": names,
               "bounds": [[float(p.low), float(p.high)] for p in sweep.parameters]}
    seed = sweep.settings.seed
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # a constant metric: 0/0, reported as NaN
        if design == "sobol":
            from SALib.analyze import sobol

            si = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        else:
            from SALib.analyze import morris

            x = np.array([[float(point[n]) for n in names] for point in sweep.points])
            si = morris.analyze(problem, x, y, num_levels=MORRIS_LEVELS, seed=seed)
    return {name: {k: float(si[k][i]) for k in keys} for i, name in enumerate(names)}


__all__ = ["SENSITIVITY_DESIGNS", "Lead", "axis_values", "check_metric", "estimates_along",
           "grid_cells", "grid_means", "is_number", "main_effects", "point_means",
           "replications", "sensitivity", "sensitivity_with_confidence", "value_key", "winners"]
