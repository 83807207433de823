"""Charts about money: the headline metrics, cumulative profit, the profit waterfall and
profit against customer retention per replication. Money is in the scenario's currency."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from sim.charts import style
from sim.charts.data import band, errors, metric
from sim.charts.draw import SHARE_TEXT, bars, empty, end_labels, line_with_band
from sim.charts.style import chart, colour, marker, new_figure
from sim.experiment.compare import ComparisonResult
from sim.formats import format_short
from sim.metrics import METRIC_BY_KEY, Estimate

HEADLINE = ("profit", "customer_retention", "cost_per_customer")
COST_ITEMS = ("refunds", "staff_cost", "unit_cost", "request_cost", "recovery_cost",
              "delight_cost", "return_losses", "acquisition_cost")
"""Gross revenue minus these is profit (docs/model.md, Metrics)."""
WATERFALL = ("gross_revenue", *COST_ITEMS, "profit")


@chart
def headline(result: ComparisonResult) -> Figure:
    """Profit, customer retention (per retention period) and cost per customer served
    per strategy, mean and 95% CI."""
    fig = new_figure(result, "Headline: profit, customer retention and cost per customer "
                             "served")
    axes = fig.subplots(1, 3, sharey=True)
    for i, (ax, key) in enumerate(zip(axes, HEADLINE, strict=True)):
        share = METRIC_BY_KEY[key].unit == "share"
        estimates = [metric(result, name, key) for name in result.names]
        bars(ax, result, estimates, text=SHARE_TEXT if share else format_short, labels=i == 0)
        ax.set_title(style.two_lines(style.metric_text(result, key), 24))
        ax.xaxis.set_major_formatter(style.percent_ticks() if share else style.short_ticks())
        if key == "profit":
            ax.set_xlabel(f"over the {style.measured_days(result)} measured days")
        if all(math.isnan(e.mean) for e in estimates):
            empty(ax, style.no_period_yet(result))
            ax.set_xticks([])
    return fig


@chart
def cumulative_profit(result: ComparisonResult) -> Figure:
    """Profit summed day by day over the measured window (warm-up skipped), mean line and
    95% band over replications; the end of each line is the headline profit."""
    warmup = style.scenario(result).run.warmup_days
    fig = new_figure(result, style.in_currency(
        result, f"Cumulative profit after the {warmup}-day warm-up"))
    ax = fig.subplots()
    ends = []
    for one in result.results:
        name = one.scenario.name
        series = band([np.cumsum(run.daily["profit"][warmup:]) for run in one.runs])
        days = np.arange(1, len(series) + 1)
        line_with_band(ax, days, series, colour(result, name), label=style.label(result, name))
        if len(series):
            ends.append((float(series.mean[-1]),
                         f"{style.label(result, name)}  {format_short(series.mean[-1])}",
                         colour(result, name)))
    ax.axhline(0, color="black", linewidth=1.2)
    ax.set_xlabel("Day of the measured window")
    ax.set_ylabel(style.in_currency(result, "Cumulative profit"))
    ax.yaxis.set_major_formatter(style.short_ticks())
    ax.set_xlim(0, style.measured_days(result))
    end_labels(ax, ends)
    return fig


@chart
def waterfall(result: ComparisonResult) -> Figure:
    """Per strategy, from revenue before refunds to profit, one bar per cost item, each
    with its 95% CI at the end where the running total stands after it."""
    days = style.measured_days(result)
    fig = new_figure(result, style.in_currency(
        result, f"Profit waterfall: revenue to profit by cost item, {days} days"))
    axes = np.atleast_1d(fig.subplots(1, len(result.names), sharey=True, sharex=True))
    labels = [METRIC_BY_KEY["gross_revenue"].text(),
              *(f"\u2212 {METRIC_BY_KEY[k].text()}" for k in COST_ITEMS),
              f"= {METRIC_BY_KEY['profit'].text()}"]
    ys = np.arange(len(WATERFALL))
    for i, (ax, name) in enumerate(zip(axes, result.names, strict=True)):
        estimates = [metric(result, name, key) for key in WATERFALL]
        lefts, rights, totals = _steps([e.mean for e in estimates])
        c = colour(result, name)
        colours = [c] + [style.NEUTRAL] * len(COST_ITEMS) + [c]
        ax.barh(ys, rights - lefts, left=lefts, height=0.7, color=colours)
        for y in ys[:-1]:
            ax.plot([totals[y]] * 2, [y + 0.35, y + 0.65], color=style.NEUTRAL, linewidth=1)
        err = errors(estimates)
        if err is not None:
            shown = err.sum(axis=0) > 0
            ax.errorbar(totals[shown], ys[shown], xerr=err[:, shown], fmt="none",
                        ecolor="black", elinewidth=2, capsize=5, capthick=2)
            rights = np.maximum(rights, totals + err[1])
        for y, e in zip(ys, estimates, strict=True):
            ax.annotate(format_short(e.mean), xy=(max(rights[y], 0.0), float(y)), xytext=(6, 0),
                        textcoords="offset points", va="center", ha="left",
                        fontsize=style.TICK_PT)
        ax.set_title(style.two_lines(style.label(result, name), 72 // len(axes)), color=c)
        ax.set_yticks(ys, labels)
        ax.tick_params(axis="y", labelleft=i == 0, length=0)
        ax.set_ylim(len(WATERFALL) - 0.4, -0.6)
        ax.grid(False, axis="y")
        ax.axvline(0, color="black", linewidth=1.2)
        ax.xaxis.set_major_formatter(style.short_ticks())
        ax.xaxis.set_major_locator(style.few_ticks(3))
    top = max(_upper(metric(result, n, "gross_revenue")) for n in result.names)
    low = min(0.0, *(_lower(metric(result, n, "profit")) for n in result.names))
    span = (top - low) or 1.0
    axes[0].set_xlim(low - (0.2 * span if low < 0 else 0.0), top + 0.22 * span)
    return fig


def _steps(amounts: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bar extents of a waterfall (revenue, costs..., profit) and the running total
    after each step (where its CI is drawn)."""
    revenue, *costs, profit = amounts
    totals = revenue - np.concatenate([[0.0], np.cumsum(costs)])
    lefts = np.concatenate([[0.0], totals[1:], [min(0.0, profit)]])
    rights = np.concatenate([[revenue], totals[:-1], [max(0.0, profit)]])
    return lefts, rights, np.concatenate([totals, [profit]])


def _upper(e: Estimate) -> float:
    return e.mean if math.isnan(e.high) else e.high


def _lower(e: Estimate) -> float:
    return e.mean if math.isnan(e.low) else e.low


@chart
def profit_vs_retention(result: ComparisonResult) -> Figure:
    """One point per replication, strategy by colour and marker; the large marker is the
    strategy's mean with its 95% CI in both directions."""
    days = style.measured_days(result)
    fig = new_figure(result, f"Profit over {days} days against customer retention, "
                             "one point per replication")
    ax = fig.subplots()
    drawn = False
    for one in result.results:
        name = one.scenario.name
        c, m = colour(result, name), marker(result, name)
        x = [run.metrics["customer_retention"] for run in one.runs]
        y = [run.metrics["profit"] for run in one.runs]
        ax.scatter(x, y, color=c, marker=m, s=70, alpha=0.45, linewidths=0)
        ex, ey = metric(result, name, "customer_retention"), metric(result, name, "profit")
        drawn = drawn or not math.isnan(ex.mean)
        xerr, yerr = errors([ex]), errors([ey])
        ax.errorbar([ex.mean], [ey.mean], xerr=xerr, yerr=yerr, color=c, marker=m,
                    markersize=16, markeredgecolor="black", markeredgewidth=1.5,
                    elinewidth=3, capsize=8, capthick=3, label=style.label(result, name),
                    zorder=3)
    ax.set_xlabel(style.metric_text(result, "customer_retention"))
    ax.set_ylabel(style.metric_text(result, "profit"))
    if not drawn:
        empty(ax, style.no_period_yet(result))
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    ax.axhline(0, color="black", linewidth=1.2)
    ax.xaxis.set_major_formatter(style.percent_ticks())
    ax.yaxis.set_major_formatter(style.short_ticks())
    ax.legend(loc="best", markerscale=0.8)
    return fig
