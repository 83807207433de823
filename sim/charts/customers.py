"""Charts about customers: customer retention and the repeat rate by period, survival of
the customers won, satisfaction of served visits and NPS per customer, waits and
abandonment, and outcomes by customer segment (prospects, customers won, churn)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.charts import style
from sim.charts.data import band, errors, metric, ratio, shares
from sim.charts.draw import (
    SHARE_TEXT,
    bars,
    empty,
    grouped_bars,
    line_with_band,
    strategy_key,
)
from sim.charts.style import chart, colour, marker, new_figure
from sim.experiment.compare import ComparisonResult
from sim.experiment.runner import ScenarioResult
from sim.formats import format_minutes, format_signed_whole
from sim.metrics import Estimate, RunResult, estimate

WAIT_BIN_MIN = 5
"""Width of the ``wait_minutes`` distribution's bins (the last one is open: 2 h+)."""
VISIBLE_SHARE = 0.002
"""The wait axis stops a little after the longest wait that at least this share of
served visits reach under some strategy (the tail beyond is flat at zero)."""
SCORES = np.arange(11)
DETRACTOR_MAX, PROMOTER_MIN = 6, 9


@chart
def retention(result: ComparisonResult) -> Figure:
    """Customer retention of each complete retention period (1 - customers who churned
    in it / customers alive and served at its start) and, beside it, the repeat rate a
    firm sees in its own data (a period's customers who buy again in the next); mean
    lines and 95% bands over replications."""
    fig = new_figure(result, "Customer retention by period")
    panels = fig.subplot_mosaic([["key", "key"], ["kept", "repeat"]], height_ratios=[0.08, 1])
    strategy_key(panels["key"], result)
    kept, repeat = panels["kept"], panels["repeat"]
    repeat.sharey(kept)
    repeat.sharex(kept)
    any_period = _by_period(kept, result, "retention_by_period", 1)
    kept.set_title(style.two_lines(style.metric_text(result, "customer_retention")))
    kept.set_ylabel("Customers (%)")
    if _by_period(repeat, result, "repeat_rate_by_period", 2):
        repeat.text(0.02, 0.03, "What a firm sees in its own data: the share of\n"
                    "a period's customers who buy again in the next one",
                    transform=repeat.transAxes, ha="left", va="bottom", color=style.NEUTRAL,
                    fontsize=style.TICK_PT)
    repeat.set_title(style.two_lines(style.metric_text(result, "repeat_rate")))
    repeat.tick_params(axis="y", labelleft=True)
    if not any_period:
        kept.set_xticks([])
        kept.set_yticks([])
    return fig


def _by_period(ax: Axes, result: ComparisonResult, distribution: str, periods: int) -> bool:
    """One mean line with its 95% band per strategy over the periods of ``distribution``,
    or the empty state when fewer than ``periods`` complete periods were measured;
    whether there was anything to draw."""
    drawn = False
    for one in result.results:
        name = one.scenario.name
        series = band([run.distributions[distribution] for run in one.runs])
        x = np.arange(1, len(series) + 1)
        line_with_band(ax, x, series, colour(result, name), label=style.label(result, name),
                       marker=marker(result, name))
        drawn = drawn or bool(np.isfinite(series.mean).any())
    if not drawn:
        empty(ax, style.no_period_yet(result, periods))
    ax.set_xlabel(f"{style.period_days(result)}-day period of the measured window")
    ax.yaxis.set_major_formatter(style.percent_ticks())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return drawn


@chart
def survival(result: ComparisonResult) -> Figure:
    """Cohort survival: the share of the customers won in the measured window who are
    still customers, by week since their first purchase (actuarial, censored at the
    horizon), up to the last week every replication reaches."""
    fig = new_figure(result, "Survival of customers won in the measured window, "
                             "by week since first purchase")
    ax = fig.subplots()
    for one in result.results:
        name = one.scenario.name
        curves = [run.distributions["survival_by_week"] for run in one.runs]
        weeks = min(len(c) for c in curves)
        series = band([c[:weeks] for c in curves])
        line_with_band(ax, np.arange(weeks), series, colour(result, name),
                       label=style.label(result, name))
    ax.set_xlabel("Weeks since first purchase")
    ax.set_ylabel("Still customers (%)")
    ax.yaxis.set_major_formatter(style.percent_ticks())
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.legend(loc="upper right")
    return fig


@chart
def satisfaction(result: ComparisonResult) -> Figure:
    """Served visits by satisfaction score (share of served visits, 95% CI per score)
    with the NPS zones marked; the net promoter score per customer (each customer's
    latest score) of each strategy with its CI, and per served visit as a secondary
    measure."""
    fig = new_figure(result, "Satisfaction of served visits (0-10) and net promoter score "
                             "per customer")
    panels = fig.subplot_mosaic([["scores", "nps"], ["scores", "nps_per_visit"]],
                                width_ratios=[2.1, 1], height_ratios=[1.25, 1])
    ax = panels["scores"]
    n = len(result.names)
    width = 0.8 / n
    zones = ((-0.5, DETRACTOR_MAX + 0.5, "Detractors\n0-6"),
             (DETRACTOR_MAX + 0.5, PROMOTER_MIN - 0.5, "Passives\n7-8"),
             (PROMOTER_MIN - 0.5, 10.5, "Promoters\n9-10"))
    for k, (left, right, label) in enumerate(zones):
        if k != 1:
            ax.axvspan(left, right, color="#F2F2F2", zorder=0)
        ax.text((left + right) / 2, 0.98, label, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=style.TICK_PT, color=style.NEUTRAL)
    for i, one in enumerate(result.results):
        name = one.scenario.name
        per_score = [shares(run.distributions["satisfaction"]) for run in one.runs]
        estimates = [estimate(column) for column in zip(*per_score, strict=True)]
        means = np.array([e.mean for e in estimates])
        xs = SCORES - 0.4 + width * (i + 0.5)
        ax.bar(xs, np.nan_to_num(means), width=width * 0.92, color=colour(result, name),
               label=style.label(result, name))
        err = errors(estimates)
        if err is not None:
            ax.errorbar(xs, means, yerr=err, fmt="none", ecolor="black", elinewidth=1.5,
                        capsize=2.5, capthick=1.5)
    ax.set_xticks(SCORES)
    ax.set_xlim(-0.5, 10.5)
    ax.grid(False, axis="x")
    ax.set_xlabel("Satisfaction score of a served visit")
    ax.set_ylabel("Served visits (%)")
    ax.set_title("Served visits by satisfaction score (% of served visits)")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.25)
    ax.yaxis.set_major_formatter(style.percent_ticks())
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.86))
    scores = (panels["nps"], panels["nps_per_visit"])
    for nps, key in zip(scores, ("nps", "nps_per_visit"), strict=True):
        bars(nps, result, [metric(result, name, key) for name in result.names],
             text=format_signed_whole)
        nps.set_title(style.two_lines(style.metric_text(result, key), 20))
    low = min(nps.get_xlim()[0] for nps in scores)
    high = max(nps.get_xlim()[1] for nps in scores)
    for nps in scores:
        nps.set_xlim(low, high)
    scores[1].set_xlabel("a secondary measure", color=style.NEUTRAL)
    return fig


@chart
def waits(result: ComparisonResult) -> Figure:
    """How long served visits waited (share waiting at least t minutes), the mean and
    90th percentile wait of served visits, and the share of visits that joined the queue
    but gave up."""
    fig = new_figure(result, "Waits of served visits (minutes) and abandonment")
    panels = fig.subplot_mosaic([["tail", "mean_wait_h"], ["tail", "p90_wait_h"],
                                 ["tail", "abandonment_rate"]], width_ratios=[1.2, 1])
    tail = panels["tail"]
    edges, longest = None, 30.0
    for one in result.results:
        name = one.scenario.name
        series = band([_at_least(run) for run in one.runs])
        edges = WAIT_BIN_MIN * np.arange(len(series))
        keep = edges >= WAIT_BIN_MIN
        line_with_band(tail, edges[keep], series.select(keep), colour(result, name),
                       label=style.label(result, name), marker=marker(result, name))
        visible = edges[np.nan_to_num(series.mean) >= VISIBLE_SHARE]
        if visible.size:
            longest = max(longest, float(visible[-1]) + 2 * WAIT_BIN_MIN)
    tail.set_title("Served visits that waited at least t minutes (%)")
    tail.set_xlabel("Wait t (minutes)")
    tail.yaxis.set_major_formatter(style.percent_ticks())
    tail.set_ylim(bottom=0)
    if edges is not None:
        tail.set_xlim(WAIT_BIN_MIN, min(longest, float(edges[-1])))
    tail.legend(loc="upper right")
    for key in ("mean_wait_h", "p90_wait_h"):
        bars(panels[key], result, [metric(result, n, key) for n in result.names],
             text=format_minutes, scale=60)
        panels[key].set_title(style.with_unit(style.metric_text(result, key), "min"))
    bars(panels["abandonment_rate"], result,
         [metric(result, n, "abandonment_rate") for n in result.names], text=SHARE_TEXT)
    panels["abandonment_rate"].xaxis.set_major_formatter(style.percent_ticks())
    panels["abandonment_rate"].set_title(
        style.two_lines(style.metric_text(result, "abandonment_rate")))
    return fig


def _at_least(run: RunResult) -> list[float]:
    """Share of served visits with a wait of at least each bin's lower edge."""
    counts = np.asarray(run.distributions["wait_minutes"], dtype=float)
    total = counts.sum()
    tail = counts[::-1].cumsum()[::-1]
    return list(tail / total) if total else [float("nan")] * len(counts)


@dataclass(frozen=True)
class SegmentPanel:
    """One panel of the segments chart: a quantity per segment, from its totals."""

    key: str
    title: str
    value: Callable[[dict[str, float]], float]
    unit: str
    """'count', 'share', 'money' or 'number' (ticks and the currency in the title)."""
    note: str = ""


SEGMENT_PANELS = (
    SegmentPanel("won", "Who buys: customers won\n(first purchase)",
                 lambda row: row["customers_won"], "count"),
    SegmentPanel("lost", "Lost prospects: % who\nleft without buying",
                 lambda row: ratio(row["lost_prospects"], row["prospects"]), "share",
                 "of the prospects reached in the window"),
    SegmentPanel("churn", "Who stays: customer\nretention per period",
                 lambda row: row["customer_retention"], "share",
                 "1 \u2212 churned / customers at a period's start"),
    SegmentPanel("profit", "Who is profitable:\ncontribution", lambda row: row["profit"],
                 "money", "revenue \u2212 costs of the visits"),
    SegmentPanel("clv", "Customer lifetime value\n(discounted)", lambda row: row["clv"],
                 "money", "per customer won"),
    SegmentPanel("abuse", "Who abuses: abusive\nclaims per 100 visits",
                 lambda row: 100 * ratio(row["abuse_claims"], row["served"]), "number",
                 "per 100 served visits"),
)
"""Prospects who never bought are lost prospects, never churn: retention counts only
customers who had bought, against those alive at a period's start."""


def _segment_estimate(one: ScenarioResult, group: str, panel: SegmentPanel) -> Estimate:
    return estimate([panel.value(run.segments[group]) for run in one.runs])


@chart
def segments(result: ComparisonResult) -> Figure:
    """Per customer segment, each with its 95% CI: customers won; lost prospects (left
    without buying) as a share of the segment's prospects; the segment's customer
    retention per period (prospects who never bought are not in it); contribution (revenue minus the visits' own costs, before staff and acquisition);
    customer lifetime value; abusive refund claims per 100 served visits."""
    fig = new_figure(result, "Outcomes by customer segment")
    groups = list(result.results[0].runs[0].segments)
    panels = fig.subplot_mosaic([["key", "key", "key"], ["won", "lost", "churn"],
                                 ["profit", "clv", "abuse"]], height_ratios=[0.08, 1, 1])
    strategy_key(panels["key"], result)
    for k, panel in enumerate(SEGMENT_PANELS):
        ax = panels[panel.key]
        estimates = {one.scenario.name: [_segment_estimate(one, group, panel)
                                         for group in groups] for one in result.results}
        grouped_bars(ax, result, groups, estimates, labels=k % 3 == 0)
        ax.set_title(style.in_currency(result, panel.title) if panel.unit == "money"
                     else panel.title)
        if panel.note:
            ax.set_xlabel(panel.note, fontsize=style.TICK_PT - 1, color=style.NEUTRAL)
        if panel.unit == "share":
            ax.xaxis.set_major_formatter(style.percent_ticks())
        elif panel.unit in ("money", "count"):
            ax.xaxis.set_major_formatter(style.short_ticks())
    return fig
