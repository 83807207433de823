"""Drawing pieces shared by the charts: bars with error bars and values, grouped bars,
mean lines with confidence bands, labels at the ends of lines, the strategies' key and
the text of an empty panel."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from sim.charts import style
from sim.charts.data import Band, errors
from sim.charts.style import colour
from sim.experiment.compare import ComparisonResult
from sim.formats import format_value, with_minus

SHARE_TEXT = functools.partial(format_value, unit="share")
"""A share written on a bar: '57.5%'."""
from sim.metrics import Estimate


def bars(ax: Axes, result: ComparisonResult, estimates: Sequence[Estimate], *,
         text: Callable[[float], str], labels: bool = True, scale: float = 1.0) -> None:
    """One horizontal bar per strategy (top to bottom in comparison order) with its 95%
    CI, and its value written just beyond the interval."""
    means = np.array([e.mean for e in estimates], dtype=float) * scale
    err = errors(estimates, scale)
    ys = np.arange(len(estimates))
    ax.barh(ys, np.nan_to_num(means), height=0.65,
            color=[colour(result, n) for n in result.names])
    if err is not None:
        ax.errorbar(means, ys, xerr=err, fmt="none", ecolor="black", elinewidth=2.5,
                    capsize=7, capthick=2.5)
    style.strategy_axis(ax, result, labels=labels)
    ax.axvline(0, color="black", linewidth=1.2)
    below = means < 0
    reach = np.zeros_like(means) if err is None else np.where(below, err[0], err[1])
    ends = np.nan_to_num(np.where(below, means - reach, means + reach))
    low, high = min(0.0, float(ends.min())), max(0.0, float(ends.max()))
    span = high - low or 1.0
    for y, value, end in zip(ys, means, ends, strict=True):
        if math.isnan(value):
            continue
        ax.annotate(with_minus(text(value / scale)), xy=(end, float(y)),
                    xytext=(-8 if value < 0 else 8, 0), textcoords="offset points",
                    va="center", ha="right" if value < 0 else "left",
                    fontsize=style.LABEL_PT, fontweight="bold")
    pad = 0.32 * span
    ax.set_xlim(low - (pad if low < 0 else 0.0), high + (pad if high > 0 or low == 0 else 0.0))
    ax.xaxis.set_major_locator(style.few_ticks())


def grouped_bars(ax: Axes, result: ComparisonResult, groups: Sequence[str],
                 estimates: dict[str, list[Estimate]], *, labels: bool = True,
                 scale: float = 1.0) -> None:
    """Groups top to bottom, one bar per strategy inside each group, with 95% CIs."""
    n = len(result.names)
    height = 0.8 / n
    centres = np.arange(len(groups))
    for i, name in enumerate(result.names):
        ys = centres - 0.4 + height * (i + 0.5)
        means = np.array([e.mean for e in estimates[name]], dtype=float) * scale
        ax.barh(ys, np.nan_to_num(means), height=height * 0.92, color=colour(result, name),
                label=style.label(result, name))
        err = errors(estimates[name], scale)
        if err is not None:
            ax.errorbar(means, ys, xerr=err, fmt="none", ecolor="black", elinewidth=1.8,
                        capsize=3, capthick=1.8)
    ax.set_yticks(centres, groups)
    ax.tick_params(axis="y", labelleft=labels)
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.grid(False, axis="y")
    ax.tick_params(axis="y", length=0)
    ax.axvline(0, color="black", linewidth=1.2)
    ax.xaxis.set_major_locator(style.few_ticks())


def line_with_band(ax: Axes, x: np.ndarray, series: Band, colour_: str, *, label: str,
                   marker: str | None = None) -> None:
    """The mean as a line, the 95% CI as a translucent band of the same colour."""
    ax.fill_between(x, series.low, series.high, color=colour_, alpha=style.CI_ALPHA,
                    linewidth=0)
    ax.plot(x, series.mean, color=colour_, label=label, marker=marker)


def end_labels(ax: Axes, items: list[tuple[float, str, str]]) -> None:
    """Write each (y, text, colour) just right of the plot at height y, nudged apart so
    that labels never overlap: a legend the audience does not have to look up."""
    if not items:
        return
    ax.autoscale_view()
    bottom, top = ax.get_ylim()
    gap = 0.065 * (top - bottom)
    order = sorted(range(len(items)), key=lambda i: items[i][0])
    placed = [items[i][0] for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    overflow = placed[-1] - (top - gap / 2)
    if overflow > 0:
        placed = [y - overflow for y in placed]
    x = ax.get_xlim()[1]
    for k, i in enumerate(order):
        _, text, c = items[i]
        ax.annotate(text, xy=(x, placed[k]), xytext=(8, 0), textcoords="offset points",
                    va="center", ha="left", color=c, fontsize=style.LABEL_PT,
                    fontweight="bold", annotation_clip=False)


def strategy_key(ax: Axes, result: ComparisonResult) -> None:
    """A row of the strategies' colours and labels filling ``ax`` (a thin strip above the
    panels), for charts whose panels share one legend."""
    ax.axis("off")
    ax.legend(handles=[Patch(color=colour(result, n), label=style.label(result, n))
                       for n in result.names],
              loc="center", ncols=len(result.names), fontsize=style.LABEL_PT)


def empty(ax: Axes, text: str) -> None:
    """Say in the middle of an empty panel why it is empty (and what to do)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color=style.NEUTRAL, fontsize=style.PANEL_TITLE_PT)
