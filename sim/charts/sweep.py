"""Charts of a parameter sweep, in the look of the workshop charts.

What is drawn depends on the design (:func:`sweep_charts` decides, :func:`notes` says
what was left out and why):

- a grid over one parameter: each metric against the parameter, the mean over
  replications with its 95% t-band, one line per strategy (``line_METRIC``);
- a grid over two parameters: a heatmap of each metric, one panel per strategy on one
  colour scale (``heatmap_METRIC``), and a map of which strategy has the best mean in
  each cell, hatched where the paired 95% CI of the winner's lead over the runner-up
  includes 0 (``winner_METRIC``);
- a grid over three or more parameters: no heatmaps (a heatmap has two axes); each
  parameter's main effect instead, the metric averaged over the other parameters
  (``main_effects_METRIC``);
- sampled designs (random, lhs, sobol, morris): the metric of every point against each
  parameter (``scatter_METRIC``); for sobol and morris also the sensitivity indices
  computed with SALib on the per-point means (``sensitivity_METRIC``).

The numbers drawn (means per point and cell, winners and their leads, main effects,
sensitivity indices) come from :mod:`sim.experiment.sweep_analysis`; this module only
draws them. A strategy keeps the colour and marker of its position in
``sweep.strategies``, the palette of :mod:`sim.charts.style`, and is named by its display
label; a metric by its text with the scenarios' retention period and currency. Like the
workshop charts these only read results, touch no global matplotlib state, and write the
same SVG bytes for the same result.

    from sim.charts.sweep import write_sweep_charts
    write_sweep_charts(result, Path("results/tiered-price/charts"))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import Formatter, FuncFormatter

from sim.charts import style
from sim.charts.data import Band
from sim.charts.draw import empty, end_labels, line_with_band
from sim.charts.files import write_figures
from sim.experiment.compare import ComparisonResult
from sim.experiment.runner import ScenarioResult
from sim.experiment.sweep import Parameter, Sweep
from sim.experiment.sweep_analysis import (
    SENSITIVITY_DESIGNS,
    axis_values,
    check_metric,
    estimates_along,
    grid_means,
    is_number,
    main_effects,
    point_means,
    sensitivity_with_confidence,
    value_key,
    winners,
)
from sim.experiment.sweep_runner import SweepResult
from sim.formats import (
    format_amount_tick,
    format_compact,
    format_parameter,
    format_wait_tick,
    in_sentence,
)
from sim.metrics import METRIC_BY_KEY
from sim.scenario.market import FirmOfMarket
from sim.scenario.model import Scenario

DEFAULT_METRICS = ("profit", "customer_retention", "cost_per_customer")
ANNOTATE_CELLS = 36
"""Write the value in every cell of a heatmap or winner map up to this many cells."""
PANELS_PER_ROW = 3
MAX_LABELS = 10
"""Parameter values labelled on an axis at most (every k-th beyond)."""
ROUGH_SOBOL_SAMPLES = 64
"""Below this many base samples the footer of a Sobol chart calls the indices rough."""
NO_DATA = "#DDDDDD"
"""Cells and panels without a value (no finished run, or an undefined metric)."""


# --- which charts ------------------------------------------------------------------------


def _grid_dims(sweep: Sweep) -> int:
    return len(sweep.parameters) if sweep.settings.design == "grid" else 0


def notes(result: SweepResult) -> list[str]:
    """What :func:`sweep_charts` leaves out for this sweep, and why (empty: nothing)."""
    sweep = result.sweep
    out = []
    if not sweep.parameters:
        out.append("no parameters: nothing to chart against")
    elif _grid_dims(sweep) > 2:
        out.append(f"no heatmaps or winner maps: the grid has {len(sweep.parameters)} "
                   "parameters and a heatmap shows two; main effects drawn instead "
                   "(each parameter, averaged over the others)")
    elif _grid_dims(sweep) == 2 and len(sweep.strategies) < 2:
        out.append("no winner maps: a single strategy")
    if sweep.parameters and sweep.settings.design not in SENSITIVITY_DESIGNS:
        out.append(f"no sensitivity indices: design {sweep.settings.design!r} "
                   "(they need sobol or morris)")
    return out


Builder = Callable[[], Figure]


def sweep_charts(result: SweepResult, metrics: Sequence[str] = DEFAULT_METRICS
                 ) -> dict[str, Builder]:
    """Every chart of this sweep by file-name stem, in the order a talk would show them."""
    for m in metrics:
        check_metric(m)
    sweep = result.sweep
    if not sweep.parameters:
        return {}
    kinds: list[tuple[str, Callable[[SweepResult, str], Figure]]] = []
    dims = _grid_dims(sweep)
    if dims == 1:
        kinds.append(("line", line_chart))
    elif dims == 2:
        kinds.append(("heatmap", heatmap_chart))
        if len(sweep.strategies) > 1:
            kinds.append(("winner", winner_chart))
    elif dims > 2:
        kinds.append(("main_effects", main_effects_chart))
    else:
        kinds.append(("scatter", scatter_chart))
        if sweep.settings.design in SENSITIVITY_DESIGNS:
            kinds.append(("sensitivity", sensitivity_chart))
    charts: dict[str, Builder] = {}
    for metric in metrics:
        for kind, chart in kinds:
            charts[f"{kind}_{metric}"] = _bind(chart, result, metric)
    return charts


def _bind(chart: Callable[[SweepResult, str], Figure], result: SweepResult,
          metric: str) -> Builder:
    return lambda: chart(result, metric)


def write_sweep_charts(result: SweepResult, folder: Path,
                       metrics: Sequence[str] = DEFAULT_METRICS) -> list[Path]:
    """Write NAME.png (150 dpi) and NAME.svg for every chart of the sweep into
    ``folder``, each atomically; returns the paths written. Same result, same SVG bytes."""
    return write_figures(sweep_charts(result, metrics), folder)


# --- the look: figure, footer, colours, labels --------------------------------------------


def colour(sweep: Sweep, strategy: str) -> str:
    """The strategy's colour: by its position in ``sweep.strategies``."""
    i = sweep.strategies.index(strategy)
    return style.STRATEGY_COLOURS[i % len(style.STRATEGY_COLOURS)]


def marker(sweep: Sweep, strategy: str) -> str:
    i = sweep.strategies.index(strategy)
    return style.STRATEGY_MARKERS[i % len(style.STRATEGY_MARKERS)]


def footer(result: SweepResult, note: str = "") -> str:
    """The sweep, its design and size, replications, seed, measured days, and ``note``
    (what the bands, cells or bars are)."""
    sweep = result.sweep
    n = sweep.settings.replications
    windows = {(s.run.warmup_days, s.run.days) for s in sweep.scenarios.values()}
    days = (f"days {next(iter(windows))[0]}-{next(iter(windows))[1]} measured"
            if len(windows) == 1 else "measured window varies")
    parts = [sweep.name, f"{sweep.settings.design} design, {len(sweep.points)} points",
             f"{n} replication{'s' if n != 1 else ''} per point",
             f"seed {sweep.settings.seed}", days]
    if result.failures:
        failed = len(result.failures)
        parts.append(f"{failed} failed run{'s' if failed != 1 else ''} left out")
    if note:
        parts.append(note)
    return "  \u00b7  ".join(parts)


def _figure(result: SweepResult, title: str, note: str = "") -> Figure:
    fig = Figure(figsize=style.FIGSIZE_IN,
                 layout=ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08))
    fig.suptitle(title, x=0.01, ha="left")
    fig.supxlabel(footer(result, note), x=0.01, ha="left", fontsize=style.FOOTER_PT,
                  color=style.NEUTRAL, fontweight="normal")
    return fig


def _ci_note(result: SweepResult) -> str:
    if result.sweep.settings.replications > 1:
        return "bands: 95% CI (Student t over replications)"
    return "one replication: no confidence interval"


def metric_label(result: SweepResult, metric: str) -> str:
    """A metric's name as the workshop charts write it, with the retention period and the
    currency of the sweep's scenarios: 'Profit (EUR)', 'Customer retention (per 90-day
    period)'; just 'per period' when the sweep varies the period's length."""
    scenarios = list(result.sweep.scenarios.values())
    if not scenarios:
        return METRIC_BY_KEY[metric].text()
    periods = {s.run.retention_period_days for s in scenarios}
    period = scenarios[0].run.retention_period_days if len(periods) == 1 else None
    return METRIC_BY_KEY[metric].text(period, scenarios[0].business.currency)


def labels(sweep: Sweep) -> dict[str, str]:
    """Each strategy's display label, as a comparison of the same strategies shows them
    (unique: a label two strategies share gets the name added)."""
    first: dict[str, Scenario] = {}
    for (_, name), scenario in sweep.scenarios.items():
        first.setdefault(name, scenario.scenario if isinstance(scenario, FirmOfMarket)
                         else scenario)
    if set(first) != set(sweep.strategies):
        return {name: name for name in sweep.strategies}
    runs = tuple(ScenarioResult(first[name], ()) for name in sweep.strategies)
    return ComparisonResult(sweep.name, runs, sweep.strategies[0], "profit").labels


def value_text(metric: str, value: float) -> str:
    """A value as written on a chart: 57.5%, 12k, 48.3, −1.2k."""
    return format_compact(value, METRIC_BY_KEY[metric].unit)


def tick_formatter(metric: str) -> Formatter | None:
    """Ticks in the metric's unit, so that an axis needs no unit word: 25%, 12k, 45 min."""
    unit = METRIC_BY_KEY[metric].unit
    if unit == "share":
        return style.percent_ticks()
    if unit in ("money", "count"):
        return FuncFormatter(lambda v, _pos=None: format_amount_tick(v))
    if unit == "hours":
        return FuncFormatter(lambda v, _pos=None: format_wait_tick(v))
    return None


def _format_axis(ax: Axes, metric: str, axis: str = "y") -> None:
    formatter = tick_formatter(metric)
    if formatter is not None:
        (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def _value_ticks(axis: Any, positions: np.ndarray, values: list[Any],
                 most: int = MAX_LABELS) -> None:
    """A tick at every value, labelled; only every k-th labelled beyond ``most``."""
    step = max(1, math.ceil(len(values) / most))
    axis.set_ticks(positions, [format_parameter(v) if k % step == 0 else ""
                               for k, v in enumerate(values)])


def _not_varied(sweep: Sweep, parameter: Parameter, strategy: str) -> bool:
    return bool(parameter.strategies) and strategy not in parameter.strategies


def _positions(values: list[Any]) -> tuple[np.ndarray, bool]:
    """Where values sit on an axis: at themselves when numbers, else 0, 1, 2..."""
    if all(is_number(v) for v in values):
        return np.asarray(values, dtype=float), True
    return np.arange(len(values), dtype=float), False


def _ink(rgb: Any) -> str:
    """Black or white text, whichever reads on this background."""
    r, g, b = to_rgb(rgb)
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "white"


def _panels(fig: Figure, n: int, *, key: bool = False, sharey: bool = False
            ) -> tuple[Axes | None, list[Axes]]:
    """``n`` panels, at most PANELS_PER_ROW a row, under a full-width row for the
    strategies' key when ``key`` (as in the segments chart: never over the title)."""
    cols = min(n, PANELS_PER_ROW)
    rows = math.ceil(n / cols)
    grid = fig.add_gridspec(rows + key, cols, height_ratios=[0.06] * key + [1.0] * rows)
    strip = None
    if key:
        strip = fig.add_subplot(grid[0, :])
        strip.axis("off")
    axes: list[Axes] = []
    for k in range(n):
        share = axes[0] if sharey and axes else None
        axes.append(fig.add_subplot(grid[key + k // cols, k % cols], sharey=share))
        if share is not None and k % cols:
            axes[-1].tick_params(axis="y", labelleft=False)
    return strip, axes


def _legend(strip: Axes | None, handles: list[Any]) -> None:
    if strip is not None:
        strip.legend(handles=handles, loc="center", ncols=len(handles),
                     fontsize=style.LABEL_PT, handlelength=2.2, handleheight=1.2,
                     columnspacing=2.0)


def _undefined(result: SweepResult, metric: str) -> str:
    """Why a metric has no value anywhere, and for the period metrics what to do."""
    text = f"No value of {in_sentence(metric_label(result, metric))} at any point"
    periods = {"customer_retention": 1, "repeat_rate": 2}.get(metric)
    lengths = {s.run.retention_period_days for s in result.sweep.scenarios.values()}
    if periods is None or not lengths:
        return text
    need = "a complete retention period" if periods == 1 else "two complete retention periods"
    return (f"{text}\n(it needs {need}: measure at least {periods * min(lengths)} days "
            "after the warm-up)")


# --- the charts ------------------------------------------------------------------------------


def line_chart(result: SweepResult, metric: str) -> Figure:
    """One grid parameter: the metric's mean over replications against the parameter,
    with its 95% t-band, one line per strategy, named at its end."""
    with style.styled():
        return _line_chart(result, metric)


def _line_chart(result: SweepResult, metric: str) -> Figure:
    sweep = result.sweep
    parameter = sweep.parameters[0]
    fig = _figure(result, f"{metric_label(result, metric)} against {parameter.path}, "
                          "by strategy", _ci_note(result))
    ax = fig.subplots()
    values = axis_values(sweep, parameter)
    x, numeric = _positions(values)
    ends = []
    shown = labels(sweep)
    for name in sweep.strategies:
        estimates = estimates_along(result, metric, name)
        series = Band(*(np.array([getattr(e, k) for e in estimates], dtype=float)
                        for k in ("mean", "low", "high")))
        c = colour(sweep, name)
        label = shown[name] + (" (not varied)" if _not_varied(sweep, parameter, name) else "")
        line_with_band(ax, x, series, c, label=label, marker=marker(sweep, name))
        finite = np.flatnonzero(~np.isnan(series.mean))
        if finite.size:
            last = float(series.mean[finite[-1]])
            ends.append((last, f"{label}  {value_text(metric, last)}", c))
    if not ends:
        empty(ax, _undefined(result, metric))
        ax.set_yticks([])
    ax.set_xlabel(parameter.path)
    ax.set_ylabel(metric_label(result, metric))
    _value_ticks(ax.xaxis, x, values)
    if not numeric:
        ax.set_xlim(-0.3, len(values) - 0.7)
    _format_axis(ax, metric)
    end_labels(ax, ends)
    return fig


def _grid_axes(ax: Axes, sweep: Sweep, xs: list[Any], ys: list[Any], *,
               ylabel: bool, columns: int = 1) -> None:
    px, py = sweep.parameters[0], sweep.parameters[1]
    _value_ticks(ax.xaxis, np.arange(len(xs)), xs, max(3, MAX_LABELS // columns))
    _value_ticks(ax.yaxis, np.arange(len(ys)), ys)
    ax.tick_params(axis="y", labelleft=ylabel)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.grid(False)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(px.path)
    if ylabel:
        ax.set_ylabel(py.path)


def _heat_scale(grids: list[np.ndarray]) -> tuple[Colormap, Normalize]:
    """One colour scale for every panel: diverging around 0 when values have both signs."""
    from matplotlib import colormaps

    finite = np.concatenate([g[np.isfinite(g)] for g in grids]) if grids else np.array([])
    if finite.size == 0:
        return colormaps["viridis"].with_extremes(bad=NO_DATA), Normalize(0, 1)
    low, high = float(finite.min()), float(finite.max())
    if low < 0 < high:
        reach = max(-low, high)
        return colormaps["RdBu"].with_extremes(bad=NO_DATA), Normalize(-reach, reach)
    if low == high:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    return colormaps["viridis"].with_extremes(bad=NO_DATA), Normalize(low, high)


def heatmap_chart(result: SweepResult, metric: str) -> Figure:
    """Two grid parameters: the metric's mean over replications in each cell, one panel
    per strategy, one colour scale for all (values written in the cells when few)."""
    with style.styled():
        return _heatmap_chart(result, metric)


def _heatmap_chart(result: SweepResult, metric: str) -> Figure:
    sweep = result.sweep
    px, py = sweep.parameters[0], sweep.parameters[1]
    xs, ys = axis_values(sweep, px), axis_values(sweep, py)
    fig = _figure(result, f"{metric_label(result, metric)} on the {len(xs)} \u00d7 {len(ys)} "
                          "grid, one panel per strategy", "cells: mean over replications")
    _, axes = _panels(fig, len(sweep.strategies))
    grids = [grid_means(result, metric, s) for s in sweep.strategies]
    cmap, norm = _heat_scale(grids)
    annotate = len(xs) * len(ys) <= ANNOTATE_CELLS
    image = None
    shown = labels(sweep)
    for k, (ax, name, grid) in enumerate(zip(axes, sweep.strategies, grids, strict=True)):
        image = ax.imshow(grid, cmap=cmap, norm=norm, origin="lower", aspect="auto",
                          interpolation="nearest")
        _grid_axes(ax, sweep, xs, ys, ylabel=k % PANELS_PER_ROW == 0,
                   columns=min(len(axes), PANELS_PER_ROW))
        unvaried = [p.path for p in (px, py) if _not_varied(sweep, p, name)]
        ax.set_title(shown[name] + (f" ({', '.join(unvaried)} not varied)" if unvaried else ""),
                     color=colour(sweep, name))
        if annotate:
            size = style.LABEL_PT if len(xs) <= 6 else style.TICK_PT - 2
            for j in range(len(ys)):
                for i in range(len(xs)):
                    v = grid[j, i]
                    ink = style.NEUTRAL if math.isnan(v) else _ink(cmap(norm(v)))
                    ax.text(i, j, value_text(metric, v), ha="center", va="center",
                            color=ink, fontsize=size, fontweight="bold")
    if image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.9, pad=0.02)
        bar.set_label(metric_label(result, metric))
        formatter = tick_formatter(metric)
        if formatter is not None:
            bar.ax.yaxis.set_major_formatter(formatter)
        bar.outline.set_visible(False)
    if not any(np.isfinite(g).any() for g in grids):
        fig.text(0.5, 0.5, _undefined(result, metric), ha="center", va="center",
                 color=style.NEUTRAL, fontsize=style.PANEL_TITLE_PT)
    return fig


def winner_chart(result: SweepResult, metric: str) -> Figure:
    """Two grid parameters: in each cell the colour of the strategy with the best mean,
    hatched where the paired 95% CI of its lead over the runner-up includes 0."""
    with style.styled():
        return _winner_chart(result, metric)


def _winner_chart(result: SweepResult, metric: str) -> Figure:
    sweep = result.sweep
    px, py = sweep.parameters[0], sweep.parameters[1]
    xs, ys = axis_values(sweep, px), axis_values(sweep, py)
    better = "higher" if METRIC_BY_KEY[metric].higher_is_better else "lower"
    fig = _figure(result, f"Where each strategy wins on "
                          f"{in_sentence(metric_label(result, metric))} ({better} is better)",
                  "hatched: too close to call, the paired 95% CI of the lead includes 0"
                  if sweep.settings.replications > 1 else
                  "one replication: no CI, so every cell is hatched")
    strip, (ax,) = _panels(fig, 1, key=True)
    leads = winners(result, metric)
    shown = labels(sweep)
    annotate = len(xs) * len(ys) <= ANNOTATE_CELLS
    size = style.LABEL_PT if len(xs) <= 6 else style.TICK_PT - 2
    for j, yv in enumerate(ys):
        for i, xv in enumerate(xs):
            lead = leads.get((xv, yv))
            face = NO_DATA if lead is None or lead.winner is None else colour(sweep, lead.winner)
            ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, facecolor=face,
                                   edgecolor="white", linewidth=3))
            if lead is not None and lead.winner is not None and lead.close:
                ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, fill=False, hatch="//",
                                       edgecolor="white", linewidth=3, gid="too-close"))
            if not annotate:
                continue
            if lead is None or lead.winner is None:
                text = "n/a"
            else:
                lines = [shown[lead.winner]]
                if not math.isnan(lead.difference.mean):
                    lines.append(f"by {value_text(metric, lead.difference.mean)}")
                if lead.close:
                    lines.append("too close" if lead.difference.n > 1 else "no CI")
                text = "\n".join(lines)
            ax.text(i, j, text, ha="center", va="center", color=_ink(face),
                    fontsize=size, fontweight="bold", linespacing=1.3,
                    bbox={"boxstyle": "round,pad=0.25", "facecolor": face,
                          "edgecolor": "none"})
    _grid_axes(ax, sweep, xs, ys, ylabel=True)
    handles: list[Any] = [Patch(facecolor=colour(sweep, s), label=shown[s])
                          for s in sweep.strategies]
    handles.append(Patch(facecolor=style.NEUTRAL, hatch="//", edgecolor="white",
                         label="too close to call"))
    if any(lead.winner is None for lead in leads.values()):
        handles.append(Patch(facecolor=NO_DATA, label="no value"))
    _legend(strip, handles)
    return fig


def scatter_chart(result: SweepResult, metric: str) -> Figure:
    """Sampled designs: the metric's mean over replications at every point against each
    parameter, one panel per parameter, strategies by colour and marker."""
    with style.styled():
        return _effects_chart(result, metric, lines=False)


def main_effects_chart(result: SweepResult, metric: str) -> Figure:
    """Grids over three or more parameters: for each parameter, the metric averaged over
    every other parameter at each of its values, one line per strategy."""
    with style.styled():
        return _effects_chart(result, metric, lines=True)


def _effects_chart(result: SweepResult, metric: str, *, lines: bool) -> Figure:
    sweep = result.sweep
    what = metric_label(result, metric)
    if lines:
        title = f"{what}: main effect of each parameter, by strategy"
        note = "points: mean over the other parameters' values and the replications"
    else:
        title = f"{what} against each parameter, one point per design point"
        note = "points: mean over replications"
    fig = _figure(result, title, note)
    strip, axes = _panels(fig, len(sweep.parameters), key=True, sharey=True)
    means = {s: point_means(result, metric, s) for s in sweep.strategies}
    shown = labels(sweep)
    for k, (ax, parameter) in enumerate(zip(axes, sweep.parameters, strict=True)):
        values = axis_values(sweep, parameter)
        positions, numeric = _positions(values)
        where = {value_key(v): p for v, p in zip(values, positions, strict=True)}
        at = np.array([where[value_key(point[parameter.path])] for point in sweep.points])
        for name in sweep.strategies:
            c, mk = colour(sweep, name), marker(sweep, name)
            if lines:
                ax.plot(positions, main_effects(result, metric, name, parameter), color=c,
                        marker=mk, label=shown[name])
            else:
                ax.scatter(at, means[name], color=c, marker=mk, s=70, alpha=0.75,
                           linewidths=0, label=shown[name])
        ax.set_xlabel(parameter.path)
        if not numeric or lines:
            _value_ticks(ax.xaxis, positions, values)
        elif not (math.isnan(parameter.low) or math.isnan(parameter.high)):
            margin = 0.03 * (parameter.high - parameter.low) or 0.5
            ax.set_xlim(parameter.low - margin, parameter.high + margin)
        if k % PANELS_PER_ROW == 0:
            ax.set_ylabel(metric_label(result, metric))
        _format_axis(ax, metric)
    if not any(np.isfinite(y).any() for y in means.values()):
        fig.text(0.5, 0.5, _undefined(result, metric), ha="center", va="center",
                 color=style.NEUTRAL, fontsize=style.PANEL_TITLE_PT)
    handles = [Line2D([], [], color=colour(sweep, s), marker=marker(sweep, s),
                      linestyle="-" if lines else "none", markersize=11, label=shown[s])
               for s in sweep.strategies]
    _legend(strip, handles)
    return fig


SENSITIVITY_PANELS = {
    "sobol": (("S1", "S1, first order: the parameter alone"),
              ("ST", "ST, total: alone and with the others")),
    "morris": (("mu_star", "\u03bc*: mean |effect| over its range"),
               ("sigma", "\u03c3: spread of the effects")),
}


def sensitivity_chart(result: SweepResult, metric: str) -> Figure:
    """Sobol (S1, ST) or Morris (mu*, sigma) indices of the metric's per-point mean,
    one bar group per parameter, one bar per strategy, with 95% bootstrap CIs."""
    with style.styled():
        return _sensitivity_chart(result, metric)


def _sensitivity_chart(result: SweepResult, metric: str) -> Figure:
    sweep = result.sweep
    design = sweep.settings.design
    n = sweep.settings.samples
    driven = in_sentence(metric_label(result, metric))
    shown = labels(sweep)
    if design == "sobol":
        title = f"Which parameters drive {driven}? Sobol indices"
        note = f"{n} base samples, per-point means  \u00b7  bars: 95% bootstrap CI"
        if n < ROUGH_SOBOL_SAMPLES:
            note += f" (under {ROUGH_SOBOL_SAMPLES} samples: rough)"
    else:
        title = f"Which parameters drive {driven}? Morris screening"
        note = f"{n} trajectories, per-point means  \u00b7  bars: 95% bootstrap CI"
    fig = _figure(result, title, note)
    strip, axes = _panels(fig, 2, key=True, sharey=True)
    indices = {s: sensitivity_with_confidence(result, metric, s) for s in sweep.strategies}
    groups = [p.path for p in sweep.parameters]
    centres = np.arange(len(groups))
    height = 0.8 / len(sweep.strategies)
    undefined = [s for s in sweep.strategies
                 if all(math.isnan(v) for idx in indices[s].values() for v in idx.values())]
    gaps = [s for s in undefined if not np.isfinite(point_means(result, metric, s)).all()]
    for k, (ax, (key, panel)) in enumerate(zip(axes, SENSITIVITY_PANELS[design],
                                              strict=True)):
        conf = f"{key}_conf"
        reach = 0.0
        for i, name in enumerate(sweep.strategies):
            ys = centres - 0.4 + height * (i + 0.5)
            vals = np.array([indices[name][g][key] for g in groups])
            errs = np.array([indices[name][g].get(conf, math.nan) for g in groups])
            ax.barh(ys, np.nan_to_num(vals), height=height * 0.92, color=colour(sweep, name),
                    label=shown[name])
            if np.isfinite(errs).any():
                ax.errorbar(vals, ys, xerr=np.nan_to_num(errs), fmt="none", ecolor="black",
                            elinewidth=1.8, capsize=4, capthick=1.8)
            finite = np.concatenate([vals, vals + np.nan_to_num(errs)])
            finite = finite[np.isfinite(finite)]
            if finite.size:
                reach = max(reach, float(np.abs(finite).max()))
        ax.set_yticks(centres, groups)
        ax.tick_params(axis="y", labelleft=k == 0, length=0)
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.grid(False, axis="y")
        ax.axvline(0, color="black", linewidth=1.2)
        ax.set_title(panel)
        ax.xaxis.set_major_locator(style.few_ticks())
        if design == "morris":
            _format_axis(ax, metric, axis="x")
            ax.set_xlabel(metric_label(result, metric))
        else:
            ax.set_xlabel("share of the variance of the per-point means")
            if reach <= 1.2:
                left = min(0.0, ax.get_xlim()[0])
                ax.set_xlim(left, 1.05)
    if undefined:
        whose = ("" if len(undefined) == len(sweep.strategies)
                 else f" ({', '.join(shown[s] for s in undefined)})")
        why = ("no value at some point (no finished run, or the metric is undefined there)"
               if gaps else "the metric does not vary")
        fig.text(0.5, 0.5, f"Indices not computable{whose}:\n{why}", ha="center",
                 va="center", color=style.NEUTRAL, fontsize=style.PANEL_TITLE_PT)
    handles = [Patch(facecolor=colour(sweep, s), label=shown[s]) for s in sweep.strategies]
    _legend(strip, handles)
    return fig


__all__ = ["DEFAULT_METRICS", "footer", "heatmap_chart", "line_chart", "main_effects_chart",
           "notes", "scatter_chart", "sensitivity_chart", "sweep_charts", "winner_chart",
           "write_sweep_charts"]
