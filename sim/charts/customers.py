"""Charts about customers: retention by period, cohort survival, satisfaction and NPS,
waits and abandonment, and outcomes by customer segment."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sim.charts import style
from sim.charts.data import band, errors, metric, ratio, shares
from sim.charts.draw import SHARE_TEXT, bars, end_labels, grouped_bars, line_with_band
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
    """Each 30-day period's retention (share of its customers served again in the next),
    mean line and 95% band over replications."""
    fig = new_figure(result, "30-day retention by period: % of a period's customers "
                             "served again in the next")
    ax = fig.subplots()
    ends = []
    for one in result.results:
        name = one.scenario.name
        series = band([run.distributions["retention_by_period"] for run in one.runs])
        periods = np.arange(1, len(series) + 1)
        line_with_band(ax, periods, series, colour(result, name), label=name,
                       marker=marker(result, name))
        if len(series) and not np.isnan(series.mean[-1]):
            ends.append((float(series.mean[-1]), name, colour(result, name)))
    if not ends:
        ax.text(0.5, 0.5, "No 30-day period with a successor yet:\nmeasure at least 60 days",
                transform=ax.transAxes, ha="center", va="center", color=style.NEUTRAL,
                fontsize=style.PANEL_TITLE_PT)
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("30-day period of the measured window (period n to n + 1)")
    ax.set_ylabel("Retention (% of customers)")
    ax.yaxis.set_major_formatter(style.percent_ticks())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    end_labels(ax, ends)
    return fig


@chart
def survival(result: ComparisonResult) -> Figure:
    """Cohort survival: the share of customers acquired in the measured window who are
    still active, by week since acquisition (actuarial, censored at the horizon), up to
    the last week every replication reaches."""
    fig = new_figure(result, "Cohort survival: % of new customers still active, "
                             "by week since acquisition")
    ax = fig.subplots()
    for one in result.results:
        name = one.scenario.name
        curves = [run.distributions["survival_by_week"] for run in one.runs]
        weeks = min(len(c) for c in curves)
        series = band([c[:weeks] for c in curves])
        line_with_band(ax, np.arange(weeks), series, colour(result, name), label=name)
    ax.set_xlabel("Weeks since acquisition")
    ax.set_ylabel("Customers still active (%)")
    ax.yaxis.set_major_formatter(style.percent_ticks())
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.legend(loc="upper right")
    return fig


@chart
def satisfaction(result: ComparisonResult) -> Figure:
    """Visits by satisfaction score (share of visits, 95% CI per score) with the NPS zones
    marked, and the net promoter score of each strategy with its CI."""
    fig = new_figure(result, "Satisfaction: visits by score (0-10) and net promoter score")
    ax, nps = fig.subplots(1, 2, width_ratios=[2.3, 1])
    n = len(result.names)
    width = 0.8 / n
    zones = ((-0.5, DETRACTOR_MAX + 0.5, "Detractors 0-6"),
             (DETRACTOR_MAX + 0.5, PROMOTER_MIN - 0.5, "Passives 7-8"),
             (PROMOTER_MIN - 0.5, 10.5, "Promoters 9-10"))
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
               label=name)
        err = errors(estimates)
        if err is not None:
            ax.errorbar(xs, means, yerr=err, fmt="none", ecolor="black", elinewidth=1.5,
                        capsize=2.5, capthick=1.5)
    ax.set_xticks(SCORES)
    ax.set_xlim(-0.5, 10.5)
    ax.grid(False, axis="x")
    ax.set_xlabel("Visit satisfaction score (0 includes abandoned visits)")
    ax.set_ylabel("Visits (%)")
    ax.set_title("Visits by satisfaction score (% of visits)")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
    ax.yaxis.set_major_formatter(style.percent_ticks())
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.93))
    bars(nps, result, [metric(result, name, "nps") for name in result.names],
         text=format_signed_whole)
    nps.set_title("NPS (\u2212100 to +100)")
    return fig


@chart
def waits(result: ComparisonResult) -> Figure:
    """How long served visits waited (share waiting at least t minutes), the mean wait,
    and the share of visits that joined the queue but gave up."""
    fig = new_figure(result, "Waits (minutes) and abandonment (% of visits that queued)")
    panels = fig.subplot_mosaic([["tail", "mean"], ["tail", "abandon"]],
                                width_ratios=[1.45, 1])
    tail = panels["tail"]
    edges, longest = None, 30.0
    for one in result.results:
        name = one.scenario.name
        series = band([_at_least(run) for run in one.runs])
        edges = WAIT_BIN_MIN * np.arange(len(series))
        keep = edges >= WAIT_BIN_MIN
        line_with_band(tail, edges[keep], series.select(keep), colour(result, name),
                       label=name, marker=marker(result, name))
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
    bars(panels["mean"], result, [metric(result, n, "mean_wait_h") for n in result.names],
         text=format_minutes, scale=60)
    panels["mean"].set_title("Mean wait, served visits (min)")
    bars(panels["abandon"], result,
         [metric(result, n, "abandonment_rate") for n in result.names],
         text=SHARE_TEXT)
    panels["abandon"].xaxis.set_major_formatter(style.percent_ticks())
    panels["abandon"].set_title("Abandonment (% of queued visits)")
    return fig


def _at_least(run: RunResult) -> list[float]:
    """Share of served visits with a wait of at least each bin's lower edge."""
    counts = np.asarray(run.distributions["wait_minutes"], dtype=float)
    total = counts.sum()
    tail = counts[::-1].cumsum()[::-1]
    return list(tail / total) if total else [float("nan")] * len(counts)


SEGMENT_PANELS = (
    ("served", "Who is served: visits served (count)"),
    ("churn", "Who churns: % of new arrivals lost"),
    ("profit", "Who is profitable: contribution (money)"),
    ("abuse", "Who abuses: abuse claims per 100 visits"),
)


def _segment_value(panel: str, row: dict[str, float]) -> float:
    if panel == "served":
        return row["served"]
    if panel == "churn":
        return ratio(row["churned"], row["customers_won"])
    if panel == "profit":
        return row["profit"]
    return 100 * ratio(row["abuse_claims"], row["served"])


def _segment_estimate(one: ScenarioResult, group: str, panel: str) -> Estimate:
    return estimate([_segment_value(panel, run.segments[group]) for run in one.runs])


@chart
def segments(result: ComparisonResult) -> Figure:
    """Per customer segment: visits served; churn (customers served and then lost, as a
    share of the segment's new arrivals in the window, prospects never served included);
    contribution (revenue minus the visits' own costs, before staff and acquisition);
    abusive refund claims per 100 served visits. Each with its 95% CI."""
    fig = new_figure(result, "Outcomes by customer segment")
    groups = list(result.results[0].runs[0].segments)
    panels = fig.subplot_mosaic([["key", "key"], ["served", "churn"], ["profit", "abuse"]],
                                height_ratios=[0.1, 1, 1], sharey=False)
    key = panels.pop("key")
    key.axis("off")
    key.legend(handles=[Patch(color=colour(result, n), label=n) for n in result.names],
               loc="center", ncols=len(result.names), fontsize=style.LABEL_PT)
    for k, (panel, title) in enumerate(SEGMENT_PANELS):
        ax = panels[panel]
        estimates = {one.scenario.name: [_segment_estimate(one, group, panel)
                                         for group in groups] for one in result.results}
        grouped_bars(ax, result, groups, estimates, labels=k % 2 == 0)
        ax.set_title(title)
        if panel == "profit":
            ax.set_xlabel("revenue \u2212 costs of the visits, before staff and acquisition",
                          fontsize=style.TICK_PT - 1, color=style.NEUTRAL)
        if panel == "churn":
            ax.xaxis.set_major_formatter(style.percent_ticks())
        elif panel != "abuse":
            ax.xaxis.set_major_formatter(style.short_ticks())
    return fig

