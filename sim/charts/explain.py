"""The attribution waterfall: from A's value to B's, one step per knob group that
differs, each step with the 95% CI of its contribution.

Built in the house style (:mod:`sim.charts.style`): horizontal bars read top to bottom
like the profit waterfall, A and B in the first two strategy colours, the steps neutral,
the CI drawn where the running total stands after the step. The chart only reads an
explanation's summary (explain.json's content), so a report read back from disk
draws the same chart as one rendered from memory.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from sim.charts import style
from sim.charts.data import errors
from sim.charts.files import write_figures
from sim.experiment.explain_output import estimate_from_dict
from sim.formats import MINUS, format_difference, format_value, with_minus
from sim.metrics import METRIC_BY_KEY, Estimate


def explain_waterfall(why: Mapping[str, Any]) -> Figure:
    """The waterfall of an explanation, from its summary (explain.json's content:
    :func:`sim.experiment.explain_output.explain_dict`)."""
    with style.styled():
        return _waterfall(why)


def _waterfall(why: Mapping[str, Any]) -> Figure:
    metric = METRIC_BY_KEY[why["metric"]]
    a, b = why["a_label"], why["b_label"]
    fig = Figure(figsize=style.FIGSIZE_IN,
                 layout=ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08))
    fig.suptitle(textwrap.fill(f"{why['metric_label']}, from {a} to {b}: each knob group's "
                               "Shapley contribution", 70), x=0.01, ha="left")
    fig.supxlabel(_footer(why), x=0.01, ha="left", fontsize=style.FOOTER_PT,
                  color=style.NEUTRAL, fontweight="normal")
    ax = fig.subplots()
    steps = [(g["group"], estimate_from_dict(g["contribution"])) for g in why["groups"]
             if g["differs"]]
    ends = [estimate_from_dict(why["a_value"]), estimate_from_dict(why["b_value"])]
    total = estimate_from_dict(why["total"])
    names = [a, *(group for group, _ in steps), b]
    ys = np.arange(len(names))
    start = ends[0].mean
    totals = start + np.concatenate([[0.0], np.cumsum([e.mean for _, e in steps])])
    lefts = np.concatenate([[0.0], totals[:-1], [0.0]])
    rights = np.concatenate([totals, [ends[1].mean]])
    colours = [style.STRATEGY_COLOURS[0], *[style.NEUTRAL] * len(steps),
               style.STRATEGY_COLOURS[1]]
    ax.barh(ys, rights - lefts, left=lefts, height=0.7, color=colours)
    for y in ys[:-1]:
        ax.plot([rights[y]] * 2, [y + 0.35, y + 0.65], color=style.NEUTRAL, linewidth=1)
    estimates: list[Estimate] = [ends[0], *(e for _, e in steps), ends[1]]
    err = errors(estimates)
    if err is not None:
        ax.errorbar(rights, ys, xerr=err, fmt="none", ecolor="black", elinewidth=2,
                    capsize=5, capthick=2)
    texts = [format_value(ends[0].mean, metric.unit),
             *(format_difference(e, metric) for _, e in steps),
             f"{format_value(ends[1].mean, metric.unit)} ({format_difference(total, metric)})"]
    reach = np.maximum(np.maximum(lefts, rights), rights + (0 if err is None else err[1]))
    for y, text in zip(ys, texts, strict=True):
        ax.annotate(with_minus(text), xy=(float(reach[y]), float(y)), xytext=(6, 0),
                    textcoords="offset points", va="center", ha="left",
                    fontsize=style.TICK_PT)
    ax.set_yticks(ys, names)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.grid(False, axis="y")
    ax.axvline(0, color="black", linewidth=1.2)
    if metric.unit == "share":
        ax.xaxis.set_major_formatter(style.percent_ticks())
    elif metric.unit in ("money", "count"):
        ax.xaxis.set_major_formatter(style.short_ticks())
    floor = np.minimum(lefts, rights - (0 if err is None else err[0]))
    low, high = min(0.0, float(np.nanmin(floor))), max(0.0, float(np.nanmax(reach)))
    ax.set_xlim(low - 0.05 * (high - low or 1.0), high + 0.25 * (high - low or 1.0))
    return fig


def _footer(why: Mapping[str, Any]) -> str:
    n = why["replications_used"]
    ci = ("error bars: 95% CI (Student t over replications)" if n > 1
          else "one replication: no confidence interval")
    return "  ·  ".join([
        f"{n} replication{'s' if n != 1 else ''}", f"seed {why['seed']}",
        f"days {why['warmup_days']}-{why['days']} measured", ci]) + (
        f"\nthe steps add up to the paired difference {why['b_label']} {MINUS} "
        f"{why['a_label']}")


def write_explain_chart(why: Mapping[str, Any], folder: Path) -> list[Path]:
    """Write why.png and why.svg (the waterfall) into ``folder``; returns their paths."""
    return write_figures({"why": lambda: explain_waterfall(why)}, folder)
