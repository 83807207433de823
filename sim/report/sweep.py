"""One self-contained HTML report of a parameter sweep (``simrun report`` on a sweep's
folder).

It is a view of a :class:`~sim.experiment.sweep_runner.SweepResult` read back from the
folder's store: the expectations with their verdicts and failing points, where each
strategy has the best mean, the points' headline metrics (mean and 95% CI), the sweep
charts of :mod:`sim.charts.sweep`, and how to reproduce it. Like the run report it
embeds everything (style and charts inline, no script), escapes every name that comes
from a user's file, holds no timestamp, and computes no statistic of its own beyond
picking the largest mean.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from sim import __version__
from sim.experiment.sweep_output import summary_rows
from sim.experiment.sweep_runner import SweepResult
from sim.formats import format_parameter, format_value
from sim.metrics import METRIC_BY_KEY, mean_of_defined
from sim.report.html import Html, el, esc
from sim.report.style import CSS

HEADLINE = ("profit", "customer_retention", "cost_per_customer")
SHORT = {"profit": "Profit", "customer_retention": "Retention", "cost_per_customer":
         "Cost per customer"}
MAX_ROWS = 120
"""Rows of the points table at most; summary.csv in the folder holds every point."""
MAX_FAILURES = 20


def render_sweep_report(result: SweepResult) -> str:
    """The sweep's report as one HTML document."""
    from sim.report.page import PAGE

    sweep = result.sweep
    title = f"Sweep {sweep.name}"
    sections = [
        el("header", el("h1", title), el("p", _subtitle(result), cls="subtitle")),
        el("section", el("h2", "Expectations"), _expectations(result), id="expectations"),
        _wins(result),
        el("section", el("h2", "Points"), _points_table(result), id="points"),
        _charts(result),
        el("section", el("h2", "Reproduce"), _reproduce(result), id="reproduce"),
        el("footer", el("p", f"simrun {__version__} · seed {sweep.settings.seed} · "
                        f"{sweep.name}. Intervals are Student t over replications. The same "
                        "runs always give this same file.")),
    ]
    return PAGE.substitute(title=esc(f"{title} · simrun report"), version=esc(__version__),
                           css=CSS, body=el("main", sections))


def _subtitle(result: SweepResult) -> str:
    sweep = result.sweep
    stored = sum(len(reps) for reps in result.values.values())
    parts = [f"{sweep.settings.design} design, {len(sweep.points)} points",
             f"strategies {', '.join(sweep.strategies)}",
             f"{sweep.settings.replications} replications per point",
             f"{stored} of {sweep.task_count} runs finished"]
    if result.failures:
        parts.append(f"{len(result.failures)} failed")
    return "; ".join(parts)


def _expectations(result: SweepResult) -> Html:
    if not result.verdicts:
        return el("p", "The sweep states no expectations.", cls="note")
    items = []
    for verdict in result.verdicts:
        mark = "PASS" if verdict.passed else "FAIL"
        points = "point" if verdict.checked == 1 else "points"
        lines = [el("li", line) for line in verdict.failures[:MAX_FAILURES]]
        if len(verdict.failures) > MAX_FAILURES:
            lines.append(el("li", f"... and {len(verdict.failures) - MAX_FAILURES} more"))
        items.append(el("li", el("strong", mark), f" {verdict.expectation.describe()} "
                        f"({verdict.checked} {points} checked)", el("ul", lines) if lines else None))
    return el("ul", items)


def _wins(result: SweepResult) -> Html | None:
    """At how many points each strategy has the best mean of each headline metric."""
    sweep = result.sweep
    if len(sweep.strategies) < 2:
        return None
    rows = []
    for key in HEADLINE:
        metric = METRIC_BY_KEY[key]
        wins = dict.fromkeys(sweep.strategies, 0)
        for point in range(len(sweep.points)):
            means = {s: mean_of_defined([m[key] for m in result.values.get((point, s), {})
                                         .values()]) for s in sweep.strategies}
            defined = {s: v for s, v in means.items() if not math.isnan(v)}
            if defined:
                pick = max if metric.higher_is_better else min
                wins[pick(defined, key=defined.__getitem__)] += 1
        rows.append(el("tr", el("th", metric.text(_period(result))),
                       [el("td", str(wins[s])) for s in sweep.strategies]))
    head = el("tr", el("th", "best mean at ... points"), [el("th", s) for s in sweep.strategies])
    return el("section", el("h2", "Where each strategy is best"),
              el("table", el("thead", head), el("tbody", rows)),
              el("p", "Counts of points where the strategy has the best mean; the charts "
                 "show where the paired differences are clear.", cls="note"), id="wins")


def _period(result: SweepResult) -> int:
    first = next(iter(result.sweep.scenarios.values()), None)
    return first.run.retention_period_days if first is not None else 90


def _points_table(result: SweepResult) -> Html:
    sweep = result.sweep
    rows = summary_rows(sweep, result.values)
    if not rows:
        return el("p", "No run has finished yet.", cls="note")
    period = _period(result)
    head = el("tr", el("th", "point"), [el("th", p.path) for p in sweep.parameters],
              el("th", "strategy"), el("th", "runs"),
              [el("th", SHORT[k]) for k in HEADLINE])
    body = [el("tr", el("td", str(row["point"])),
               [el("td", format_parameter(row[p.path])) for p in sweep.parameters],
               el("td", row["strategy"]), el("td", str(row["replications"])),
               [el("td", _estimate(row, key)) for key in HEADLINE])
            for row in rows[:MAX_ROWS]]
    retention = METRIC_BY_KEY["customer_retention"].text(period).lower()
    notes = [f"Means ± the half-width of the 95% CI; retention is {retention}."]
    if len(rows) > MAX_ROWS:
        notes.append(f"The first {MAX_ROWS} of {len(rows)} rows; summary.csv in the sweep's "
                     "folder holds them all.")
    return el("div", el("table", el("thead", head), el("tbody", body)),
              el("p", " ".join(notes), cls="note"))


def _estimate(row: dict[str, Any], key: str) -> str:
    unit = METRIC_BY_KEY[key].unit
    mean, low, high = row[f"{key}_mean"], row[f"{key}_ci_low"], row[f"{key}_ci_high"]
    if math.isnan(low):
        return format_value(mean, unit)
    return f"{format_value(mean, unit)} ±{format_value((high - low) / 2, unit)}"


def _charts(result: SweepResult) -> Html | None:
    if not result.values:
        return None
    from sim.charts.files import figure_svg, freeze_layout
    from sim.charts.sweep import notes, sweep_charts

    figures = []
    for number, (name, build) in enumerate(sweep_charts(result).items(), start=1):
        svg = figure_svg(freeze_layout(build()))
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        figures.append(el("figure", el("img", src=f"data:image/svg+xml;base64,{data}",
                                       alt=name.replace("_", " ")),
                          el("figcaption", el("strong", f"Figure {number}. "),
                             name.replace("_", " ")), id=f"chart-{name}"))
    left_out = [el("li", text) for text in notes(result)]
    return el("section", el("h2", "Charts"), el("div", figures, cls="charts"),
              el("ul", left_out, cls="note") if left_out else None, id="charts")


def _reproduce(result: SweepResult) -> Sequence[Html]:
    sweep = result.sweep
    settings = sweep.settings
    return [el("p", "Each point's scenarios come from these files with the sweep's settings "
               "applied; running the sweep again gives the same runs."),
            el("pre", "\n".join([f"sweep file: {sweep.source}",
                                 *(f"scenario:   {s}" for s in settings.scenarios),
                                 *(f"set:        {o}" for o in settings.set),
                                 f"seed:       {settings.seed}"]))]
