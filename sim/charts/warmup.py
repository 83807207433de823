"""The warm-up chart: each daily series of a pilot, and where MSER-5 cuts it.

One panel per series judged (profit and customers alive by default): every pilot
replication's daily values faint, their mean across replications, Welch's moving average
of that mean (the curve Welch's graphical method reads the warm-up from), and the
recommended warm-up as a vertical line, the series' own truncation dotted where it is
earlier. Built in the house style (:mod:`sim.charts.style`); it only reads a
:class:`~sim.experiment.warmup.Warmup`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from sim.charts import style
from sim.charts.files import write_figures
from sim.experiment.warmup import Warmup, welch_average, welch_window
from sim.metrics import DAILY_COLUMNS

SERIES_TITLES = {
    "revenue": "Revenue per day", "profit": "Profit per day", "served": "Visits served per day",
    "abandoned": "Visits abandoned per day", "turned_away": "Visits turned away per day",
    "waitlisted": "Visits waitlisted per day", "prospects": "New prospects per day",
    "mean_satisfaction": "Mean satisfaction of the day's served visits",
    "reputation": "Reputation", "image": "Image factor",
    "service_level": "Adaptive service level", "customers_alive": "Customers alive"}
"""A person's name for each daily series (sim.metrics.DAILY_COLUMNS)."""
assert set(SERIES_TITLES) == set(DAILY_COLUMNS)


def warmup_chart(found: Warmup) -> Figure:
    """The daily series of the pilot replications (faint), their mean, Welch's moving
    average and the recommended warm-up (MSER-5)."""
    with style.styled():
        return _chart(found)


def _chart(found: Warmup) -> Figure:
    s = found.scenario
    fig = Figure(figsize=style.FIGSIZE_IN,
                 layout=ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08))
    fig.suptitle(f"{s.label}: warm-up of {found.days} days (MSER-5)", x=0.01, ha="left")
    n = len(found.runs)
    window = welch_window(s.run.days)
    fig.supxlabel("  \u00b7  ".join([
        s.name, f"{n} pilot replication{'s' if n != 1 else ''}", f"seed {s.run.seed}",
        f"Welch's moving average over {2 * window + 1} days",
        "MSER-5: batch means of 5 days, truncation minimising the marginal standard error"]),
        x=0.01, ha="left", fontsize=style.FOOTER_PT, color=style.NEUTRAL, fontweight="normal")
    axes = fig.subplots(1, len(found.series), squeeze=False)[0]
    currency = s.business.currency
    for ax, series in zip(axes, found.series, strict=True):
        values = np.array([run.daily[series.column] for run in found.runs], dtype=float)
        days = np.arange(values.shape[1])
        for row in values:
            ax.plot(days, row, color=style.NEUTRAL, alpha=0.15, linewidth=0.8)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(values, axis=0)
        ax.plot(days, mean, color=style.STRATEGY_COLOURS[0], linewidth=1.5,
                label="mean of the replications")
        ax.plot(days, welch_average(mean, window), color=style.STRATEGY_COLOURS[1],
                linewidth=3.0, label="Welch's moving average")
        ax.axvline(found.days, color=style.OKABE_ITO["vermillion"], linewidth=2.5,
                   label=f"warm-up: {found.days} days")
        if series.recommended < found.days:
            ax.axvline(series.recommended, color=style.OKABE_ITO["vermillion"], linewidth=1.5,
                       linestyle=":", label=f"this series alone: {series.recommended} days")
        title = SERIES_TITLES[series.column]
        if series.column in ("profit", "revenue") and currency:
            title = style.with_unit(title, currency)
        if not series.settled:
            title += "\nnot settled within the first half"
        ax.set_title(style.two_lines(title, 34))
        ax.set_xlabel("Day")
        ax.yaxis.set_major_formatter(style.short_ticks())
        ax.legend(loc="lower right")
    return fig


def write_warmup_chart(found: Warmup, folder: Path, stem: str = "warmup") -> list[Path]:
    """Write STEM.png and STEM.svg into ``folder``; returns their paths."""
    return write_figures({stem: lambda: warmup_chart(found)}, folder)


__all__ = ["SERIES_TITLES", "warmup_chart", "write_warmup_chart"]
