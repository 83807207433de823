"""The report page: header, who wins, tables, charts, parameters, all in one HTML file.

Everything is inline (style, charts as data URIs), so the file opens offline and can be
mailed; nothing in it depends on the clock or the machine, so the same results give the
same bytes.
"""

from __future__ import annotations

import base64
import inspect
import math
import sys
from collections.abc import Callable, Sequence
from string import Template
from typing import Any

from sim.experiment.compare import ComparisonResult
from sim.experiment.diagnostics import cautions
from sim.experiment.explain_output import estimate_from_dict
from sim.formats import format_difference, format_half_width, format_plain
from sim.metrics import METRIC_BY_KEY, Metric, hidden_note, shown_metrics, verdict
from sim.report.findings import (
    finding,
    findings,
    probability_line,
    ranking,
    sentence,
    trade_offs,
    undefined,
)
from sim.report.html import Html, el, esc, join
from sim.report.parameters import market_differences, parameters_section
from sim.report.style import CSS
from sim.report.tuning import tuning_section
from sim.views import COMPARE_METRICS

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="simrun $version">
<title>$title</title>
<style>
$css</style>
</head>
<body>
$body
</body>
</html>
""")


def render_page(result: ComparisonResult) -> str:
    single = len(result.names) == 1
    title = _title(result)
    sections = [
        el("header", el("h1", title), el("p", _subtitle(result), cls="subtitle")),
        el("section", el("h2", "Summary" if single else "Who wins"), _summary(result),
           id="summary"),
        _selection(result),
        _why(result),
        tuning_section(result, _figure),
        el("section", el("h2", "Key numbers"), _key_table(result),
           el("details", el("summary", f"All {len(_every_metric(result))} metrics"),
              _full_table(result)),
           id="tables"),
        _charts(result),
        el("section", el("h2", "Scenario"), parameters_section(
            [r.scenario for r in result.results]), _resolved(result), id="parameters"),
        el("footer", _footer(result)),
    ]
    return PAGE.substitute(title=esc(f"{title} · simrun report"), version=esc(_version(result)),
                           css=CSS, body=el("main", sections))


def _title(result: ComparisonResult) -> str:
    labels = result.labels
    if len(result.names) == 1:
        return f"{labels[result.names[0]]}: strategy {_preset(result, result.names[0])}"
    return " vs ".join(labels[n] for n in result.names)


def _preset(result: ComparisonResult, name: str) -> str:
    return result.result(name).scenario.strategy.preset or "custom"


def _version(result: ComparisonResult) -> str:
    return ", ".join(dict.fromkeys(r.version for r in result.results))


def _subtitle(result: ComparisonResult) -> str:
    s = result.results[0].scenario.run
    n = len(result.results[0].runs)
    reps = f"{n} replication{'s' if n != 1 else ''}"
    window = f"days {s.warmup_days} to {s.days} measured ({s.days - s.warmup_days} days)"
    if len(result.names) == 1:
        what = f"One strategy, {reps}"
    else:
        what = (f"{len(result.names)} strategies on the same customers, {reps}, "
                f"baseline {result.labels[result.baseline]}")
    return f"{result.name} · {what} · {window} · seed {s.seed} · simrun {_version(result)}"


def _summary(result: ComparisonResult) -> Html:
    """The verdict on the comparison's metric, the ranking, the trade-offs, the cautions;
    for one strategy, its headline numbers."""
    labels = result.labels
    parts: list[Html | None] = []
    if len(result.names) > 1:
        order = ranking(result)
        parts.append(el("p", sentence(result, finding(result, result.metric)), cls="verdict"))
        if len(order) > 2:
            metric = METRIC_BY_KEY[result.metric]
            parts.append(el("ol", [el("li", el("strong", labels[n]), ": ", format_plain(
                result.result(n).estimates()[metric.key].mean, metric.unit)) for n in order],
                cls="ranking"))
        offs = trade_offs(result)
        if offs:
            parts.append(el("ul", [el("li", t) for t in offs], cls="findings"))
    else:
        parts.append(el("ul", [el("li", sentence(result, f)) for f in findings(result)],
                        cls="findings"))
    parts += [el("p", f"{m.text_for(result.results[0].scenario)}: no value in this run (not "
                 "defined here, e.g. too few measured days).", cls="missing")
              for m in undefined(result)]
    warnings = cautions(result)
    if warnings:
        parts.append(el("div", el("h3", "Cautions"), el("ul", [el("li", c.text)
                                                              for c in warnings]),
                        cls="cautions"))
    if len(result.names) > 1:
        parts.append(el("p", probability_line(result), cls="probability"))
        differences = market_differences([r.scenario for r in result.results])
        if differences:
            parts.append(el("p", "Caution: the strategies do not all meet the same market (",
                            "; ".join(differences), "), so they meet only partly the same "
                            "customers and the paired differences are less clean.",
                            cls="warning"))
        else:
            parts.append(el("p", "Every strategy met the same customers in each replication, "
                            "so differences are paired; a difference is clear when the 95% "
                            "confidence interval of the paired difference excludes zero.",
                            cls="note"))
    else:
        parts.append(el("p", "A single strategy: run 'simrun compare' to set it against "
                        "others on the same customers.", cls="note"))
    return join(parts)


def _selection(result: ComparisonResult) -> Html | None:
    """The best with a stated confidence (``--select``): the verdict, the guarantee in
    words, each strategy's replications and when it was ruled out; and the precision
    reached (``--precision``)."""
    parts: list[Html | None] = []
    selection = result.selection
    if selection is not None:
        labels = result.labels
        metric = METRIC_BY_KEY[selection["metric"]]
        rows = []
        for name, row in selection["strategies"].items():
            by = row["eliminated_by"]
            rows.append(el("tr", el("th", labels[name], scope="row"),
                           el("td", str(row["replications"])),
                           el("td", format_plain(row["mean"], metric.unit)),
                           el("td", "" if by is None else
                              f"after {row['eliminated_after']} replications, behind "
                              f"{labels[by]}")))
        procedure = ("Kim and Nelson's fully sequential procedure (KN): a first stage of "
                     f"{selection['first_stage']} replications of every strategy estimates "
                     "the variance of each paired difference, then every strategy still in "
                     "contention gets one more replication per stage until one is left"
                     if selection["procedure"] == "KN" else
                     f"Screening with common random numbers on {selection['first_stage']} "
                     "replications: a strategy is ruled out when another beats it by more "
                     "than a one-sided t margin on their paired difference (Bonferroni over "
                     "the rivals)")
        parts += [el("p", selection["verdict"] + ".", cls="verdict"),
                  el("p", el("strong", selection["guarantee"] + "."), cls="guarantee"),
                  el("table", el("caption", f"{selection['metric_label']}: replications "
                                            "each strategy received"),
                     el("thead", el("tr", el("th", "Strategy", scope="col"),
                                    el("th", "Replications", scope="col"),
                                    el("th", "Mean", scope="col"),
                                    el("th", "Ruled out", scope="col"))),
                     el("tbody", rows), cls="numbers"),
                  el("p", f"{procedure}; docs/select.md states the procedure and its "
                     "guarantee. The tables above show the first stage, the replications "
                     "every strategy shares.", cls="note")]
    precision = result.precision or (result.results[0].precision
                                     if len(result.names) == 1 else None)
    if precision is not None:
        parts.append(el("p", precision["statement"] + ".", cls="note"))
    if not parts:
        return None
    title = "The best, with a stated confidence" if selection is not None else "Precision"
    return el("section", el("h2", title), parts, id="selection")


def _why(result: ComparisonResult) -> Html | None:
    """Why the winner wins: its paired difference split among the knob groups in which
    the two strategies differ (Shapley values, each with its 95% CI), and the waterfall."""
    why = result.why
    if len(result.names) < 2 or (why is None and result.tuning is not None):
        return None
    if why is None:
        return el("section", el("h2", "Why"), el("p", (
            "Not explained in this run: 'simrun compare ... --report' (or --explain) splits "
            "the winner's lead among the knob groups that make it."), cls="note"), id="why")
    metric = METRIC_BY_KEY[why["metric"]]
    rows = []
    for group in why["groups"]:
        e = estimate_from_dict(group["contribution"])
        if group["differs"]:
            rows.append(el("tr", el("th", group["group"], scope="row"),
                           el("td", f"{group['a_setting']} \u2192 {group['b_setting']}",
                              cls="what"),
                           el("td", format_difference(e, metric),
                              cls=f"diff {verdict(e, metric)}")))
    total = estimate_from_dict(why["total"])
    rows.append(el("tr", el("th", f"Total ({why['b_label']} \u2212 {why['a_label']}, paired)",
                            scope="row"), el("td", ""),
                   el("td", format_difference(total, metric)), cls="total"))
    same = [g["group"] for g in why["groups"] if not g["differs"]]
    table = el("table", el("caption", f"{why['metric_label']}: what each knob group "
                                      "contributes"),
               el("thead", el("tr", el("th", "Knob group", scope="col"),
                              el("th", f"{why['a_label']} \u2192 {why['b_label']}", scope="col"),
                              el("th", "Contribution ±95% CI", scope="col"))),
               el("tbody", rows), cls="numbers why")
    method = ("exact over every mix of the groups" if why["method"] == "exact"
              else f"from {why['permutations']} sampled orders of the groups")
    note = el("p", f"Shapley values, {method} ({why['coalitions']} strategies run on the "
              f"same {why['replications_used']} replications); each replication's "
              "contributions add up to its paired difference. Set alike in both, so "
              f"contributing exactly 0: {', '.join(same) or 'none'}.", cls="note")
    return el("section", el("h2", "Why"), el("p", why["sentence"] + ".", cls="verdict"), table,
              note, _figure("why", _why_chart(why), "The lead, knob group by knob group: "
                            "each step is a group's Shapley contribution with its 95% CI."),
              id="why")


def _why_chart(why: dict[str, Any]) -> Any:
    from sim.charts.explain import explain_waterfall

    return explain_waterfall(why)


def _best(result: ComparisonResult, metric: Metric) -> str | None:
    means = {n: result.result(n).estimates()[metric.key].mean for n in result.names}
    if len(means) < 2 or any(math.isnan(v) for v in means.values()):
        return None
    sign = 1 if metric.higher_is_better else -1
    top = max(sign * v for v in means.values())
    winners = [n for n, v in means.items() if sign * v == top]
    return winners[0] if len(winners) == 1 else None


def _cell(result: ComparisonResult, name: str, metric: Metric, best: str | None) -> Html:
    e = result.result(name).estimates()[metric.key]
    mean = el("span", format_plain(e.mean, metric.unit),
              cls="mean best" if name == best else "mean")
    ci = None if math.isnan(e.low) else el("span", f" ±{format_half_width(e, metric)}", cls="ci")
    diff = None
    if name != result.baseline:
        d = result.paired_difference(name, metric.key)
        judged = verdict(d, metric)
        diff = el("span", format_difference(d, metric), cls=f"diff {judged}",
                  title=f"{judged} than {result.labels[result.baseline]}"
                  if judged != "unclear"
                  else f"not clearly different from {result.labels[result.baseline]}")
    return el("td", mean, ci, diff)


def _comparison_table(result: ComparisonResult, keys: Sequence[str], caption: str,
                      grouped: bool) -> Html:
    head = el("thead", el("tr", el("th", "Metric", scope="col"), [
        el("th", result.labels[name], el("span", " (baseline)", cls="baseline")
           if name == result.baseline
           and len(result.names) > 1 else None, scope="col") for name in result.names]))
    rows = []
    group = None
    for key in keys:
        metric = METRIC_BY_KEY[key]
        if grouped and metric.group != group:
            group = metric.group
            rows.append(el("tr", el("th", group, colspan=len(result.names) + 1, scope="colgroup"),
                           cls="group"))
        best = _best(result, metric)
        rows.append(el("tr", el("th", metric.text_for(result.results[0].scenario), scope="row"),
                       [_cell(result, n, metric, best) for n in result.names],
                       cls="headline" if metric.group == "Headline" else None))
    return el("table", el("caption", caption), head, el("tbody", rows), cls="numbers")


def _legend(result: ComparisonResult) -> Html:
    if len(result.names) == 1:
        return el("p", "Mean over replications ± half-width of the 95% confidence interval. "
                  "Money totals are over the measured days.", cls="note")
    return el("p", "Mean ± half-width of the 95% confidence interval; bold: the best mean. "
              f"Second line: paired difference to {result.labels[result.baseline]} on the same "
              "customers, ",
              el("span", "better", cls="diff better"), " or ", el("span", "worse", cls="diff worse"),
              " when its 95% CI excludes zero, ", el("span", "grey", cls="diff unclear"),
              " when it does not. Money totals are over the measured days.", cls="note")


def _key_table(result: ComparisonResult) -> Html:
    caption = "Key metrics per strategy" if len(result.names) > 1 else "Key metrics"
    return join([_comparison_table(result, COMPARE_METRICS, caption, grouped=False),
                 _legend(result)])


def _every_metric(result: ComparisonResult) -> list[str]:
    """The keys of the full table: every metric these scenarios can give
    (:func:`sim.metrics.shown_metrics`)."""
    return [m.key for m in shown_metrics(r.scenario for r in result.results)]


def _full_table(result: ComparisonResult) -> Html:
    table = _comparison_table(result, _every_metric(result), "Every metric, by section",
                              grouped=True)
    hidden = hidden_note(r.scenario for r in result.results)
    return join([table, el("p", hidden, cls="note")]) if hidden else table


def _charts(result: ComparisonResult) -> Html:
    from sim.charts import CHARTS

    figures = [_figure(name, make(result), _caption(name, make), number)
               for number, (name, make) in enumerate(CHARTS.items(), start=1)]
    return el("section", el("h2", "Charts"), el("div", figures, cls="charts"), id="charts")


def _figure(name: str, fig: Any, caption: str, number: int | None = None) -> Html:
    """A chart as an inline SVG image with its caption (the figure is released)."""
    from sim.charts import figure_svg

    try:
        svg = figure_svg(fig)
        alt = _alt_text(fig) or caption
    finally:
        _close(fig)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    label = el("strong", f"Figure {number}. ") if number is not None else None
    return el("figure", el("img", src=f"data:image/svg+xml;base64,{data}", alt=alt),
              el("figcaption", label, caption), id=f"chart-{name}")


def _caption(name: str, make: Callable[..., Any]) -> str:
    """The chart function's docstring (first paragraph), else its name in words."""
    doc = inspect.getdoc(make)
    if doc:
        return " ".join(doc.split("\n\n")[0].split())
    return name.replace("_", " ").replace("-", " ").capitalize()


def _alt_text(fig: Any) -> str:
    titles = [fig.get_suptitle()] if hasattr(fig, "get_suptitle") else []
    titles += [ax.get_title() for ax in fig.axes]
    return "; ".join(t for t in titles if t)


def _close(fig: Any) -> None:
    """Release a figure made through pyplot (figures made directly need nothing)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def _resolved(result: ComparisonResult) -> Html:
    from sim.scenario import scenario_toml

    blocks = [join([el("h4", r.scenario.label), el("pre", scenario_toml(r.scenario))])
              for r in result.results]
    return el("details", el("summary", "Every parameter (the resolved scenario files)"),
              el("p", "Running one of these files with 'simrun' reproduces that strategy's "
                 "results exactly; each is also scenario.toml in the strategy's results "
                 "folder.", cls="note"), blocks, cls="resolved")


def _footer(result: ComparisonResult) -> Html:
    s = result.results[0].scenario.run
    n = len(result.results[0].runs)
    return el("p", f"simrun {_version(result)} · seed {s.seed} · {n} replication"
              f"{'s' if n != 1 else ''} · {result.name}. Confidence intervals are Student t "
              "over replications; the probability of being best is a bootstrap over whole "
              "replications. The same results always give this same file.")
