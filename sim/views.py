"""Terminal views of results: the table a person reads after ``simrun``.

Views only read result objects; they never compute a metric themselves.
"""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from sim.experiment.runner import ScenarioResult
from sim.metrics import METRICS, format_value


def results_table(result: ScenarioResult) -> Group:
    """Every metric with its mean and 95% CI, headline metrics first, by section."""
    s = result.scenario
    n = len(result.runs)
    measured = s.run.days - s.run.warmup_days
    title = (f"{s.name}: strategy {s.strategy.preset or 'custom'}, {n} replication"
             f"{'s' if n != 1 else ''}, days {s.run.warmup_days}-{s.run.days} "
             f"({measured} days measured), seed {s.run.seed}")
    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    table.add_column("Metric")
    table.add_column("Mean", justify="right")
    table.add_column("95% CI", justify="right")
    summary = result.summary()
    group = None
    for metric in METRICS:
        if metric.group != group:
            if group is not None:
                table.add_section()
            group = metric.group
        e = summary[metric.key]
        if math.isnan(e.low):
            ci = "n/a"
        else:
            ci = f"{format_value(e.low, metric.unit)} to {format_value(e.high, metric.unit)}"
        style = "bold" if metric.group == "Headline" else None
        table.add_row(Text(metric.label, style=style or ""),
                      Text(format_value(e.mean, metric.unit), style=style or ""), ci)
    note = Text("Money totals are over the measured days; CIs are Student t over replications.",
                style="dim")
    return Group(table, note)
