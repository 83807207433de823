"""Charts of a fit checked on the holdout period: actual, simrun and BG/NBD side by side.

They read a :class:`~sim.fit.holdout.Holdout` and compute nothing: the tracking plot of
cumulative repeat purchases week by week, the distribution of purchases per customer in
the holdout, the conditional expectations, and spend, waits and ratings. Same look as
every simrun chart (:mod:`sim.charts.style`): actual in black, simrun in the first
strategy colour, BG/NBD in the second, dashed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from sim.charts import style
from sim.fit.holdout import BINS, Holdout
from sim.formats import format_short

LOOK = {"actual": {"color": style.OKABE_ITO["black"], "linestyle": "-", "marker": "o"},
        "simrun": {"color": style.STRATEGY_COLOURS[0], "linestyle": "-", "marker": "s"},
        "BG/NBD": {"color": style.STRATEGY_COLOURS[1], "linestyle": "--", "marker": "D"}}
COUNT_LABELS = [str(k) for k in range(BINS - 1)] + [f"{BINS - 1}+"]


def _figure(h: Holdout, title: str) -> Figure:
    fig = Figure(figsize=style.FIGSIZE_IN, layout=ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08))
    fig.suptitle(title, x=0.01, ha="left")
    cal = h.fitted.calibration
    fig.supxlabel("  ·  ".join([
        f"fit of {Path(cal.log.source).name}", (f"calibration to {cal.calibration_end:%Y-%m-%d}"
        f", holdout to {cal.end:%Y-%m-%d}"), (f"simrun: mean of {h.replications} replications, "
        f"seed {h.fitted.scenario.run.seed}"), "BG/NBD on the same calibration data"]),
        x=0.01, ha="left", fontsize=style.FOOTER_PT, color=style.NEUTRAL, fontweight="normal")
    return fig


def _error(h: Holdout, what: str) -> str:
    """The chart's error figure as its title: measure, simrun's and BG/NBD's."""
    e = next(e for e in h.errors if e.what == what)
    unit = "%" if e.unit == "%" else f" {e.unit}"
    parts = [f"simrun {e.simrun:.1f}{unit}"]
    if e.bgnbd is not None:
        parts.append(f"BG/NBD {e.bgnbd:.1f}{unit}")
    return f"{e.measure}: " + ", ".join(parts)


def tracking(h: Holdout) -> Figure:
    """Cumulative repeat purchases of the calibration customers, week by week: actual,
    simrun's mean over replications and BG/NBD's expectation; the calibration period is
    left of the line, the holdout right of it (the tracking plot of the buy-till-you-die
    literature)."""
    with style.styled():
        fig = _figure(h, "Cumulative repeat purchases, week by week")
        ax = fig.subplots()
        for name, series in h.tracking.items():
            ax.plot(h.weeks, series, label=name, color=LOOK[name]["color"],
                    linestyle=LOOK[name]["linestyle"])
        ax.axvline(h.calibration_weeks, color=style.NEUTRAL, linewidth=1.5)
        ax.text(h.calibration_weeks, 0.02, "  holdout →", transform=ax.get_xaxis_transform(),
                color=style.NEUTRAL, fontsize=style.TICK_PT)
        ax.set_xlabel("Week")
        ax.set_ylabel("Repeat purchases (cumulative)")
        ax.yaxis.set_major_formatter(style.short_ticks())
        ax.legend(loc="upper left")
        ax.set_title(_error(h, "cumulative repeat purchases, holdout weeks"))
    return fig


def counts(h: Holdout) -> Figure:
    """Share of the calibration customers by their number of purchases in the holdout
    period: actual, simrun (mean over replications) and BG/NBD (simulated from each
    customer's posterior)."""
    with style.styled():
        fig = _figure(h, "Purchases per customer in the holdout")
        ax = fig.subplots()
        x = np.arange(BINS)
        width = 0.27
        for i, (name, shares) in enumerate(h.counts.items()):
            ax.bar(x + (i - 1) * width, shares, width, label=name, color=LOOK[name]["color"],
                   alpha=0.9 if name != "BG/NBD" else 0.7)
        ax.set_xticks(x, COUNT_LABELS)
        ax.set_xlabel("Purchases in the holdout period")
        ax.set_ylabel("Customers (%)")
        ax.yaxis.set_major_formatter(style.percent_ticks())
        ax.legend(loc="upper right")
        ax.set_title(_error(h, "purchases per customer in the holdout"))
    return fig


def conditional(h: Holdout) -> Figure:
    """Mean purchases in the holdout by the number of repeat purchases in the calibration
    period (conditional expectations): actual, simrun (its simulated customers grouped
    by their own calibration history) and BG/NBD (its expectation for each real
    customer's history); the bars show how many real customers each group holds."""
    with style.styled():
        fig = _figure(h, "Holdout purchases by calibration repeat purchases")
        ax = fig.subplots()
        x = np.arange(BINS)
        sizes = ax.twinx()
        sizes.bar(x, h.group_sizes, 0.6, color="#DDDDDD", zorder=0)
        sizes.set_ylabel("Customers in the group", color=style.NEUTRAL)
        sizes.grid(False)
        ax.set_zorder(sizes.get_zorder() + 1)
        ax.patch.set_visible(False)
        for name, means in h.conditional.items():
            look = LOOK[name]
            ax.plot(x, means, label=name, color=look["color"], linestyle=look["linestyle"],
                    marker=look["marker"])
        ax.set_xticks(x, COUNT_LABELS)
        ax.set_xlabel("Repeat purchases in the calibration period")
        ax.set_ylabel("Mean purchases in the holdout")
        ax.legend(loc="upper left")
        ax.set_title(_error(h, "holdout purchases by calibration repeat purchases"))
    return fig


def spend(h: Holdout) -> Figure:
    """Spend per purchase and the calibration customers' revenue in the holdout, and,
    when the log has them, minutes waited and ratings per purchase: actual against
    simrun (BG/NBD says nothing about these)."""
    panels = [("Spend per purchase", h.spend), ("Revenue of the calibration customers",
                                                 h.revenue)]
    if h.waits is not None:
        panels.append(("Minutes waited per purchase", h.waits))
    if h.ratings is not None:
        panels.append(("Rating per purchase (0-10)", h.ratings))
    with style.styled():
        fig = _figure(h, "Spend, waits and ratings in the holdout")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (title, values) in zip(axes, panels, strict=True):
            names = list(values)
            ax.bar(names, [values[n] for n in names],
                   color=[LOOK[n]["color"] for n in names], width=0.6)
            for i, n in enumerate(names):
                ax.text(i, values[n], format_short(values[n]), ha="center", va="bottom",
                        fontsize=style.TICK_PT)
            ax.set_title(style.two_lines(title, 22))
            ax.yaxis.set_major_formatter(style.short_ticks())
    return fig


FIT_CHARTS: dict[str, Callable[[Holdout], Figure]] = {
    "tracking": tracking, "counts": counts, "conditional": conditional, "spend": spend}
