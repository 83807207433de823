"""Charts of a market of rival firms, for the workshop: who holds the market over time,
who earns, who takes customers from whom, and where turned-away demand goes.

Each is a function of a :class:`~sim.experiment.market.MarketResult` returning a Figure;
they read the result's numbers and compute none. Firms keep one colour each, in the
market's order.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sim.charts import style
from sim.charts.data import Band
from sim.charts.draw import line_with_band
from sim.charts.files import write_figures
from sim.experiment.market import MarketResult
from sim.metrics import Estimate


def _colour(i: int) -> str:
    return style.STRATEGY_COLOURS[i % len(style.STRATEGY_COLOURS)]


def _figure(result: MarketResult, title: str) -> Figure:
    fig = Figure(figsize=(13.33, 7.5), layout="constrained")
    run = result.scenario.run
    fig.suptitle(title)
    fig.supxlabel(f"{result.scenario.name}: {len(result.runs)} replications, seed "
                  f"{run.seed}; bands and whiskers are 95% CIs over replications",
                  fontsize=style.TICK_PT, color=style.NEUTRAL, x=0.01, ha="left")
    return fig


def _band(estimates: list[Estimate]) -> Band:
    return Band(np.array([e.mean for e in estimates]), np.array([e.low for e in estimates]),
                np.array([e.high for e in estimates]))


def market_shares(result: MarketResult) -> Figure:
    """Market share over time: each firm's share of each week's served visits, with its
    95% band over replications."""
    with style.styled():
        fig = _figure(result, "Market share over time (share of each week's served visits)")
        ax = fig.add_subplot()
        for i, (name, series) in enumerate(zip(result.names, result.weekly_shares(),
                                               strict=True)):
            weeks = np.arange(len(series)) + 0.5
            line_with_band(ax, weeks, _band(series), _colour(i), label=name)
        warmup = result.scenario.run.warmup_days / 7
        ax.axvspan(0, warmup, color=style.NEUTRAL, alpha=0.08, linewidth=0)
        ax.text(warmup / 2, 1.0, "warm-up", ha="center", va="top", color=style.NEUTRAL,
                transform=ax.get_xaxis_transform())
        ax.set_xlabel("week")
        ax.set_ylabel("share of served visits")
        ax.yaxis.set_major_formatter(style.percent_ticks())
        ax.set_ylim(0, 1)
        ax.legend(loc="upper right")
        return fig


def market_profit(result: MarketResult) -> Figure:
    """Profit per firm over the measured days, with its 95% CI."""
    with style.styled():
        fig = _figure(result, "Profit per firm over the measured days")
        ax = fig.add_subplot()
        estimates = [result.firm(i).estimate("profit") for i in range(len(result.names))]
        x = np.arange(len(estimates))
        means = [e.mean for e in estimates]
        errors = [[e.mean - e.low if not math.isnan(e.low) else 0 for e in estimates],
                  [e.high - e.mean if not math.isnan(e.high) else 0 for e in estimates]]
        ax.bar(x, means, color=[_colour(i) for i in range(len(estimates))], yerr=errors,
               capsize=8)
        ax.axhline(0, color=style.NEUTRAL, linewidth=1)
        ax.set_xticks(x, result.names)
        currency = result.scenario.firms[0].business.currency
        ax.set_ylabel(f"profit ({currency})" if currency else "profit")
        ax.yaxis.set_major_formatter(style.short_ticks())
        return fig


def switching_flows(result: MarketResult) -> Figure:
    """Switching flows: served visits by the firm a customer was served at before (rows)
    and now (columns), per replication."""
    with style.styled():
        fig = _figure(result, "Switching: served visits by the firm a customer was served at "
                              "before (rows) and now (columns), per replication")
        ax = fig.add_subplot()
        matrix = np.array(result.switching())
        ax.imshow(matrix, cmap="Blues", aspect="auto")
        rows = [*result.names, "first purchase"]
        ax.set_xticks(range(len(result.names)), result.names)
        ax.set_yticks(range(len(rows)), rows)
        ax.grid(False)
        top = matrix.max() if matrix.size else 0
        for r in range(matrix.shape[0]):
            for c in range(matrix.shape[1]):
                ax.text(c, r, f"{matrix[r, c]:,.0f}", ha="center", va="center",
                        color="white" if matrix[r, c] > top / 2 else "black",
                        fontsize=style.LABEL_PT)
        ax.set_xlabel("served now at")
        ax.set_ylabel("served before at")
        return fig


def spillover(result: MarketResult) -> Figure:
    """Spillover: visits each firm turned away or saw balk and sent on, visits it received
    from rivals the same day, and how many of those it served."""
    with style.styled():
        fig = _figure(result, "Spillover: demand a firm turned away or saw balk, and where "
                              "it went the same day")
        ax = fig.add_subplot()
        groups = (("sent on", "spill_from"), ("received", "spill_to"),
                  ("received and served", "spill_served"))
        x = np.arange(len(result.names))
        width = 0.8 / len(groups)
        for g, (label, key) in enumerate(groups):
            estimates = result.per_firm(key)
            ax.bar(x + (g - 1) * width, [e.mean for e in estimates], width,
                   label=label, color=style.STRATEGY_COLOURS[g],
                   yerr=[[e.mean - e.low if not math.isnan(e.low) else 0 for e in estimates],
                         [e.high - e.mean if not math.isnan(e.high) else 0 for e in estimates]],
                   capsize=5)
        ax.set_xticks(x, result.names)
        ax.set_ylabel("visits over the measured days")
        ax.legend()
        return fig


MARKET_CHARTS: dict[str, Callable[[MarketResult], Figure]] = {
    "market_shares": market_shares,
    "market_profit": market_profit,
    "switching_flows": switching_flows,
    "spillover": spillover,
}


def write_market_charts(result: MarketResult, folder: Path) -> list[Path]:
    """NAME.png and NAME.svg of every market chart into ``folder``."""
    return write_figures({name: functools.partial(build, result)
                          for name, build in MARKET_CHARTS.items()}, folder)
