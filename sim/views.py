"""Terminal views of results: the table a person reads after ``simrun``.

Views only read result objects; they never compute a metric themselves. Strategies are
named by their display labels, metrics by their text with the retention period and the
scenario's currency, and every table stays readable in an 80-column terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sim.experiment.compare import ComparisonResult, comparison_name
from sim.experiment.diagnostics import cautions
from sim.experiment.explain import Attribution
from sim.experiment.market import MarketResult
from sim.experiment.runner import ScenarioResult
from sim.experiment.tournament import TournamentResult
from sim.experiment.warmup import Warmup
from sim.formats import (
    format_difference,
    format_half_width,
    format_probability,
    format_value,
    in_sentence,
)
from sim.metrics import METRIC_BY_KEY, Estimate, Metric, hidden_note, shown_metrics, verdict


def display_name(result: ComparisonResult) -> str:
    """What a person calls a comparison: its name, unless that is the default one made of
    the strategies' names (then their labels, 'Customer is God vs Tiered service'); a
    single run's label."""
    default = comparison_name([one.scenario for one in result.results])
    if len(result.names) == 1 or result.name == default:
        return " vs ".join(result.labels[name] for name in result.names)
    return result.name


def _replications(n: int) -> str:
    return f"{n} replication{'s' if n != 1 else ''}"


def results_table(result: ScenarioResult) -> Group:
    """Every metric with its mean and 95% CI, headline metrics first, by section."""
    s = result.scenario
    run = s.run
    measured = run.days - run.warmup_days
    title = (f"{s.label}: {_replications(len(result.runs))}, days {run.warmup_days}-{run.days} "
             f"({measured} measured), retention per {run.retention_period_days}-day period, "
             f"seed {run.seed}")
    table = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    table.add_column("Metric", ratio=1)
    table.add_column("Mean", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right")
    summary = result.estimates()
    group = None
    for metric in shown_metrics([s]):
        if metric.group != group:
            if group is not None:
                table.add_section()
            group = metric.group
        e = summary[metric.key]
        if math.isnan(e.low):
            ci = "n/a"
        else:
            ci = f"{format_value(e.low, metric.unit)} to {format_value(e.high, metric.unit)}"
        style = "bold" if metric.group == "Headline" else ""
        table.add_row(Text(metric.text_for(s), style=style),
                      Text(format_value(e.mean, metric.unit), style=style), ci)
    note = Text(f"Profit, revenue, costs and counts are totals over the {measured} measured "
                "days; CIs are Student t over replications.", style="dim")
    hidden = hidden_note([s])
    if hidden:
        note.append("\n" + hidden)
    warnings = [Text(f"Caution: {c.text}", style="yellow")
                for c in cautions(ComparisonResult.of_one(result))]
    return Group(table, note, *warnings)


COLOURS = {"better": "green", "worse": "red", "unclear": "dim"}
COMPARE_METRICS = ("profit", "customer_retention", "cost_per_customer", "revenue", "margin",
                   "customers_served", "customers_won", "cac", "clv", "repeat_rate",
                   "abandonment_rate", "mean_wait_h", "p90_wait_h", "mean_satisfaction", "nps",
                   "abuse_losses", "reputation_end")
"""The key numbers a manager needs, in the comparison table (``--all`` shows every one)."""


def comparison_table(result: ComparisonResult, all_metrics: bool = False) -> Group:
    """Each metric per strategy (mean and 95% CI) with the paired difference to the
    baseline, then the probability that each strategy is best on the chosen metric."""
    first = result.results[0].scenario
    run = first.run
    labels = result.labels
    title = (f"{display_name(result)}: {len(result.names)} strategies on the same customers, "
             f"{_replications(len(result.results[0].runs))}, days {run.warmup_days}-{run.days}, "
             f"retention per {run.retention_period_days}-day period, seed {run.seed}")
    table = Table(title=title, title_justify="left", header_style="bold", show_lines=True,
                  box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True)
    table.add_column("Metric", ratio=1, min_width=12)
    for name in result.names:
        table.add_column(labels[name] + (" (baseline)" if name == result.baseline else ""),
                         justify="right")
    keys = ([m.key for m in shown_metrics(r.scenario for r in result.results)] if all_metrics
            else list(COMPARE_METRICS))
    for key in keys:
        metric = METRIC_BY_KEY[key]
        cells = []
        for name in result.names:
            e = result.result(name).estimates()[key]
            cell = Text(format_value(e.mean, metric.unit),
                        style="bold" if metric.group == "Headline" else "")
            if not math.isnan(e.low):
                cell.append(f" ±{format_half_width(e, metric)}", style="dim")
            if name != result.baseline:
                d = result.paired_difference(name, key)
                cell.append("\n" + format_difference(d, metric), style=COLOURS[verdict(d, metric)])
            cells.append(cell)
        table.add_row(metric.text_for(first), *cells)
    best = result.probability_best()
    ranking = ", ".join(f"{labels[name]} {format_probability(share)}" for name, share in
                        sorted(best.items(), key=lambda kv: -kv[1]))
    note = Text.assemble(
        ((f"Second line: paired difference to {labels[result.baseline]} (same customers, "
          "same replications); ± is the 95% CI half-width.\n"), "dim"),
        (f"Probability of being best on {METRIC_BY_KEY[result.metric].text_for(first)}: ",
         "bold"), ranking)
    hidden = hidden_note(r.scenario for r in result.results) if all_metrics else ""
    if hidden:
        note.append("\n" + hidden, style="dim")
    parts: list[Text | Table] = [table, note]
    if result.why is not None:
        parts.append(Text(f"Why: {result.why['sentence']}.", style="bold"))
    parts += [Text(f"Caution: {c.text}", style="yellow") for c in cautions(result)]
    return Group(*parts)


def explain_table(result: Attribution) -> Group:
    """Each knob group, what A and B set it to, and its contribution to the paired
    difference (mean and 95% CI), then the total and the story in one sentence."""
    metric = result.metric_info
    a, b = result.labels
    label = metric.text_for(result.a)
    head = f"{b} against {a}" if result.verb == "is within noise of" else \
        f"Why {b} {result.verb} {a}"
    title = (f"{head} on {in_sentence(label)}: Shapley contributions of the "
             f"strategy's knob groups, {result.used} replications on the same customers, "
             f"seed {result.seed}")
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("Knob group")
    table.add_column(f"What differs ({a} -> {b})")
    table.add_column("Contribution ±95% CI", justify="right")
    for row in result.groups():
        group, e = row["group"], row["contribution"]
        if row["differs"]:
            what = "; ".join(f"{x.label} {x.a} -> {x.b}".strip() for x in result.aspects(group))
            cell = Text(format_difference(e, metric), style=COLOURS[verdict(e, metric)])
            table.add_row(group, what, cell)
        else:
            table.add_row(Text(group, style="dim"), Text(f"same: {row['a_setting']}", style="dim"),
                          Text("0", style="dim"))
    table.add_section()
    total = result.total
    table.add_row(Text(f"Total ({b} - {a}, paired)", style="bold"), "",
                  Text(format_difference(total, metric), style="bold"))
    method = ("exact over all coalitions" if result.plan.exact else
              f"from {len(result.plan.permutations)} sampled permutations of the groups")
    how = (f"{a}: {format_value(result.a_value.mean, metric.unit)}, {b}: "
           f"{format_value(result.b_value.mean, metric.unit)}. Shapley values {method} "
           f"({len(result.plan.coalitions)} strategies run); each replication's "
           "contributions add up to its paired difference.\n")
    return Group(table, Text.assemble((how, "dim"), (result.sentence(), "bold")))


def selection_view(result: ComparisonResult) -> Group:
    """What ``--select`` decided: the verdict, the guarantee in words, and each
    strategy's replications (and when and by whom it was ruled out)."""
    selection = result.selection
    assert selection is not None
    labels = result.labels
    metric = METRIC_BY_KEY[selection["metric"]]
    table = Table(title=f"The best on {metric.text_for(result.results[0].scenario)}, with a "
                        "stated confidence", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Strategy")
    table.add_column("Replications", justify="right")
    table.add_column("Mean", justify="right")
    table.add_column("Ruled out")
    for name, row in selection["strategies"].items():
        by = row["eliminated_by"]
        out = "" if by is None else f"after {row['eliminated_after']}, behind {labels[by]}"
        style = "bold" if name in selection["contenders"] else "dim"
        table.add_row(Text(labels[name], style=style), str(row["replications"]),
                      format_value(row["mean"], metric.unit), Text(out, style="dim"))
    colour = "yellow" if selection["capped"] else "bold green"
    return Group(table, Text(selection["verdict"] + ".", style=colour),
                 Text(selection["guarantee"] + ".", style="bold"))


def precision_view(precision: dict[str, object]) -> Text:
    """The target of ``--precision`` or ``--half-width`` and what was reached."""
    return Text(f"{precision['statement']}.",
                style="bold green" if precision["reached"] else "bold yellow")


def warmup_view(found: Sequence[Warmup]) -> Group:
    """Each strategy's and series' MSER-5 truncation, and the warm-up recommended."""
    table = Table(title="Warm-up by MSER-5 (batch means of 5 days, mean over the pilot "
                        "replications)", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, show_edge=False)
    several = len(found) > 1
    if several:
        table.add_column("Strategy")
    table.add_column("Daily series")
    table.add_column("Warm-up, days", justify="right")
    table.add_column("Replications' cuts", justify="right")
    table.add_column("Settled")
    for one in found:
        for series in one.series:
            cells = [series.column, str(series.recommended),
                     f"{min(series.truncations)} to {max(series.truncations)}",
                     "yes" if series.settled else
                     Text(f"no: still moving at day {series.search_days}", style="yellow")]
            table.add_row(*([one.scenario.label] if several else []), *cells)
    days = max(one.days for one in found)
    current = found[0].scenario.run
    parts: list[Text | Table] = [table, Text(
        f"Recommended warm-up: {days} days (run.warmup_days = {days}); the scenario "
        f"measures from day {'auto' if found[0].scenario.warmup_auto else current.warmup_days} "
        f"of {current.days}.", style="bold")]
    if not found[0].scenario.warmup_auto and current.warmup_days < days:
        parts.append(Text(f"Caution: a warm-up of {current.warmup_days} days is shorter than "
                          "recommended: the measured window starts before the series settle.",
                          style="yellow"))
    if not all(one.settled for one in found):
        parts.append(Text("Caution: a series has not settled within the first half of the "
                          "horizon: simulate longer (run.days).", style="yellow"))
    return Group(*parts)


MARKET_METRICS = ("profit", "customer_retention", "cost_per_customer", "revenue", "margin",
                  "served", "customers_served", "customers_won", "customers_churned",
                  "mean_wait_h",
                  "mean_satisfaction", "nps", "turned_away", "balked", "reputation_end")
"""A firm's key numbers in the market table, beside its share and spillover."""


def market_table(result: MarketResult) -> Group:
    """Firm by firm: share of served visits, spillover and the key single-firm metrics
    (mean ± 95% CI half-width), then the market: concentration and the outside option."""
    s = result.scenario
    run = s.run
    title = (f"{s.name}: {len(result.names)} firms on one market, "
             f"{_replications(len(result.runs))}, days {run.warmup_days}-{run.days}, "
             f"retention per {run.retention_period_days}-day period, seed {run.seed}")
    table = Table(title=title, title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True)
    table.add_column("Metric", ratio=1, min_width=12)
    for i, name in enumerate(result.names):
        strategy = result.firm(i).scenario.strategy.preset or "custom"
        table.add_column(f"{name}\n({strategy})", justify="right")
    rows: list[tuple[str, str, list[Estimate]]] = [
        ("Share of served visits", "share", result.shares()),
        ("Tried first (visit occasions)", "count", result.per_firm("first_choices")),
        ("Sent on by it (turned away, balked)", "count", result.per_firm("spill_from")),
        ("Spilled to it", "count", result.per_firm("spill_to")),
        ("... of which served", "count", result.per_firm("spill_served")),
        ("Customers lost to rivals (switches)", "count", result.switched_away()),
    ]
    for text, unit, estimates in rows:
        table.add_row(text, *(_cell(e, Metric(text, text, unit, "Market"),
                                    bold=unit == "share") for e in estimates))
    first = result.firm(0).scenario
    for key in MARKET_METRICS:
        metric = METRIC_BY_KEY[key]
        table.add_row(metric.text_for(first),
                      *(_cell(result.firm(i).estimates()[key], metric,
                              bold=metric.group == "Headline")
                        for i in range(len(result.names))))
    h, outside = result.hhi(), result.market("outside")
    occasions = result.market("occasions")
    note = Text.assemble(
        (("± is the 95% CI half-width over replications; counts and money are totals "
          f"over the {run.days - run.warmup_days} measured days.\n"), "dim"),
        ("Concentration (HHI of served shares, 0-10,000): ", "bold"),
        f"{h.mean:,.0f}" + (f" ±{(h.high - h.low) / 2:,.0f}" if not math.isnan(h.low) else ""),
        f"; visit occasions {occasions.mean:,.0f}, of which no firm tried {outside.mean:,.0f}.")
    return Group(table, note)


def _cell(e: Estimate, metric: Metric, bold: bool = False) -> Text:
    cell = Text(format_value(e.mean, metric.unit), style="bold" if bold else "")
    if not math.isnan(e.low):
        cell.append(f" ±{format_half_width(e, metric)}", style="dim")
    return cell


def tournament_table(result: TournamentResult) -> Group:
    """The first firm's payoff matrix (rows its strategy, columns its rivals'), best
    responses starred and their paired edge over the runner-up; equilibria, survivor."""
    from sim.experiment.games import with_slot
    from sim.experiment.tournament_output import CAVEAT, matrix_rows

    t = result.tournament
    rows, columns, _, best = matrix_rows(result)
    others = [p for p in t.profiles if p[0] == 0]
    profit = METRIC_BY_KEY["profit"]
    table = Table(title=f"{t.market.name}: {t.market.names[0]}'s profit (rows) against its "
                        f"rivals' strategies (columns), {_replications(t.market.run.replications)}"
                        " per pairing, same customers", title_justify="left",
                  header_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(f"{t.market.names[0]} plays", ratio=1)
    for column in columns:
        table.add_column(column, justify="right")
    for r, name in enumerate(rows):
        cells = []
        for c, o in enumerate(others):
            e = result.payoff(with_slot(o, 0, r), 0)
            cell = _cell(e, profit, bold=best[r][c])
            if best[r][c]:
                edge = result.clear(0, o, r)
                cell.append(" ★" if edge is None or edge.low > 0 else " ☆",
                            style="green" if edge is None or edge.low > 0 else "yellow")
            cells.append(cell)
        table.add_row(name, *cells)
    survivor, gone = result.survivor()
    nash = result.nash()
    names = t.market.names
    lines = Text.assemble(
        (("★ best response, clear (paired 95% CI of its edge over the runner-up above 0); "
          "☆ best on the means only.\n"), "dim"),
        ("Pure Nash equilibria: ", "bold"),
        ("; ".join(", ".join(f"{names[i]} {t.strategies[s]}" for i, s in enumerate(p))
                   for p in nash) or "none") + "\n",
        ("Survives repeated imitation: ", "bold"),
        f"{t.strategies[survivor]} (abandoned in turn: "
        f"{', '.join(t.strategies[s] for s in gone)})\n",
        (CAVEAT, "dim"))
    return Group(table, lines)
