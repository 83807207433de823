"""Charts of a tune: the optimisation history, each knob's importance, and the metric
against each knob.

Like the explanation's waterfall, these read a tune's summary (tune.json's content,
:func:`sim.experiment.tune_output.tune_dict`), so a report rebuilt from disk draws the
same charts. Every point is a trial's mean over its replications of the search seed;
trials that break a constraint are drawn hollow and grey, the winner (re-evaluated on
fresh seeds) in the second strategy colour, the start in the first.

    from sim.charts.tune import write_tune_charts
    write_tune_charts(json.loads(Path("results/tiered-tune/tune.json").read_text()), folder)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import MaxNLocator

from sim.charts import style
from sim.charts.draw import empty
from sim.charts.files import write_figures
from sim.metrics import METRIC_BY_KEY
from sim.views_tune import knob_value, metric_text

Tuning = Mapping[str, Any]
START, WINNER = style.STRATEGY_COLOURS[0], style.STRATEGY_COLOURS[1]
PANELS_PER_ROW = 3


def _figure(tuning: Tuning, title: str) -> Figure:
    fig = Figure(figsize=style.FIGSIZE_IN, layout=ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08))
    fig.suptitle(title, x=0.01, ha="left")
    fig.supxlabel(_footer(tuning), x=0.01, ha="left", fontsize=style.FOOTER_PT,
                  color=style.NEUTRAL, fontweight="normal")
    return fig


def _footer(tuning: Tuning) -> str:
    sampler = {"tpe": "TPE", "cmaes": "CMA-ES"}[tuning["sampler"]]
    parts = [tuning["label"], f"{sampler}, {len(tuning['trials_run'])} trials",
             f"{tuning['replications']} replications each on seed {tuning['search_seed']}",
             "a point: a trial's mean"]
    if tuning["constraints"]:
        parts.append("hollow: breaks " + " and ".join(tuning["constraints"]))
    return "  ·  ".join(parts)


def _complete(tuning: Tuning) -> list[Mapping[str, Any]]:
    return [t for t in tuning["trials_run"] if t["state"] == "complete"]


def _ticks(ax: Axes, unit: str, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    if unit == "share":
        target.set_major_formatter(style.percent_ticks())
    elif unit in ("money", "count"):
        target.set_major_formatter(style.short_ticks())


def tune_history(tuning: Tuning) -> Figure:
    """Each trial's mean in the order the search ran them, and the best feasible mean so
    far: where the search found its best and whether it was still improving."""
    with style.styled():
        metric = METRIC_BY_KEY[tuning["metric"]]
        fig = _figure(tuning, f"{metric_text(tuning)}: the search, trial by trial")
        ax = fig.subplots()
        trials = _complete(tuning)
        if not trials:
            empty(ax, "No trial finished")
            return fig
        numbers = np.array([t["number"] for t in trials])
        values = np.array([t["value"] for t in trials], dtype=float)
        feasible = np.array([t["feasible"] for t in trials])
        ax.scatter(numbers[feasible], values[feasible], color=style.NEUTRAL, zorder=3,
                   label="trial")
        if (~feasible).any():
            ax.scatter(numbers[~feasible], values[~feasible], facecolors="none",
                       edgecolors=style.NEUTRAL, zorder=3, label="breaks a constraint")
        sign = 1.0 if tuning["maximise"] else -1.0
        best, xs, ys = -math.inf, [], []
        for number, value, ok in zip(numbers, values, feasible, strict=True):
            if ok and sign * value > best:
                best = sign * value
            if math.isfinite(best):
                xs.append(number)
                ys.append(sign * best)
        if xs:
            ax.step(xs, ys, where="post", color=WINNER, label="best so far")
        starts = [t for t in trials if all(t["params"].get(p) == v
                                           for p, v in tuning["start"].items())]
        if starts:
            ax.scatter([starts[0]["number"]], [starts[0]["value"]], color=START, s=160,
                       zorder=4, label="start")
        ax.set_xlabel("trial")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric_text(tuning))
        _ticks(ax, metric.unit)
        ax.legend(loc="best")
        return fig


def tune_importance(tuning: Tuning) -> Figure:
    """How much each knob matters for reaching the best trials (PED-ANOVA, shares summing
    to 100%): which knobs to tune with care and which hardly matter."""
    with style.styled():
        fig = _figure(tuning, f"{metric_text(tuning)}: importance of each knob")
        ax = fig.subplots()
        importance = tuning["importance"]
        if not importance:
            empty(ax, "Too few trials to judge importance\n(at least 10 complete trials)")
            return fig
        names = list(importance)
        shares = np.array([importance[n] for n in names], dtype=float)
        ys = np.arange(len(names))
        ax.barh(ys, shares, height=0.6, color=style.STRATEGY_COLOURS[2])
        for y, share in zip(ys, shares, strict=True):
            ax.annotate(f"{100 * share:.0f}%", xy=(float(share), float(y)), xytext=(8, 0),
                        textcoords="offset points", va="center", fontsize=style.LABEL_PT,
                        fontweight="bold")
        ax.set_yticks(ys, [style.two_lines(n, 34) for n in names])
        ax.set_ylim(len(names) - 0.4, -0.6)
        ax.set_xlim(0, 1.15)
        ax.xaxis.set_major_formatter(style.percent_ticks())
        ax.grid(False, axis="y")
        ax.tick_params(axis="y", length=0)
        return fig


def tune_knobs(tuning: Tuning) -> Figure:
    """The metric against each knob, one panel per knob: every trial's mean, the start
    and the winner; a flat cloud means the knob hardly matters."""
    with style.styled():
        metric = METRIC_BY_KEY[tuning["metric"]]
        knobs = tuning["knobs"]
        fig = _figure(tuning, f"{metric_text(tuning)} against each knob")
        columns = min(len(knobs), PANELS_PER_ROW)
        rows = math.ceil(len(knobs) / columns)
        axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
        trials = _complete(tuning)
        winner = tuning["winner"]
        for ax, knob in zip(axes, knobs, strict=False):
            path = knob["path"]
            position = _positions(knob)
            ok = [t for t in trials if t["feasible"]]
            bad = [t for t in trials if not t["feasible"]]
            ax.scatter([position(t["params"][path]) for t in ok], [t["value"] for t in ok],
                       color=style.NEUTRAL, zorder=3)
            if bad:
                ax.scatter([position(t["params"][path]) for t in bad], [t["value"] for t in bad],
                           facecolors="none", edgecolors=style.NEUTRAL, zorder=3)
            start = tuning["start"].get(path)
            if start is not None and _placeable(knob, start):
                ax.axvline(position(start), color=START, linewidth=2, label="start")
            if winner is not None:
                ax.axvline(position(winner["params"][path]), color=WINNER, linewidth=2,
                           linestyle="--", label="tuned")
            ax.set_title(style.two_lines(path, 40), fontsize=style.LABEL_PT)
            if knob["choices"]:
                ax.set_xticks(range(len(knob["choices"])),
                              [knob_value(c) for c in knob["choices"]])
            _ticks(ax, metric.unit)
        for ax in axes[len(knobs):]:
            ax.axis("off")
        axes[0].set_ylabel(metric_text(tuning))
        if tuning["start"] or winner is not None:
            axes[0].legend(loc="best")
        return fig


def _positions(knob: Mapping[str, Any]) -> Callable[[Any], float]:
    choices = knob["choices"]
    if choices:
        return lambda value: float(choices.index(value)) if value in choices else math.nan
    return lambda value: float(value)


def _placeable(knob: Mapping[str, Any], value: Any) -> bool:
    if knob["choices"]:
        return value in knob["choices"]
    return isinstance(value, int | float) and not isinstance(value, bool)


TUNE_CHARTS: dict[str, Callable[[Tuning], Figure]] = {
    "tune_history": tune_history,
    "tune_importance": tune_importance,
    "tune_knobs": tune_knobs,
}
"""The tuning charts by file-name stem."""


def write_tune_charts(tuning: Tuning, folder: Path) -> list[Path]:
    """Write tune_history, tune_importance and tune_knobs (PNG and SVG) into ``folder``."""
    return write_figures({name: functools.partial(make, tuning)
                          for name, make in TUNE_CHARTS.items()}, folder)
