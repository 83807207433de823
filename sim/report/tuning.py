"""The report's "Tuning" section: how the strategy was tuned, the winner against the
start on fresh seeds (paired 95% CI), the tuned values, and the tuning charts.

It reads a tune's summary (``ComparisonResult.tuning``, tune.json's content) and computes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sim.experiment.compare import ComparisonResult
from sim.formats import format_difference, format_value
from sim.metrics import METRIC_BY_KEY
from sim.report.html import Html, el
from sim.views_tune import (
    edge_cautions,
    estimate_of,
    knob_range,
    knob_value,
    search_line,
    verdict,
)

Figure = Callable[[str, Any, str], Html]


def tuning_section(result: ComparisonResult, figure: Figure) -> Html | None:
    """The section, or None when the comparison was not tuned. ``figure(name, fig,
    caption)`` embeds a chart as the rest of the report does."""
    tuning = result.tuning
    if not tuning:
        return None
    from sim.charts.tune import TUNE_CHARTS, tune_history

    if "strategies" in tuning:  # compare --tune: each strategy tuned with the same budget
        parts: list[Html | None] = [el("p", _each(tuning["strategies"], result.labels),
                                       cls="note")]
        for name, one in tuning["strategies"].items():
            if one is None:
                continue
            parts += [el("h3", result.labels.get(name, name)),
                      el("p", verdict(one), cls="verdict"),
                      *(el("p", c, cls="warning") for c in edge_cautions(one)),
                      el("p", search_line(one), cls="note"), _values(one), _finalists(one),
                      figure(f"tune_history-{name}", tune_history(one),
                             _caption(tune_history))]
        return el("section", el("h2", "Tuning"), parts, id="tuning")
    charts = [figure(name, make(tuning), _caption(make)) for name, make in TUNE_CHARTS.items()]
    return el("section", el("h2", "Tuning"),
              el("p", verdict(tuning), cls="verdict"),
              [el("p", c, cls="warning") for c in edge_cautions(tuning)],
              el("p", search_line(tuning), " ", _method(tuning), cls="note"),
              _values(tuning), _finalists(tuning),
              el("div", charts, cls="charts"), id="tuning")


def _each(strategies: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    tuned = [labels.get(n, n) for n, one in strategies.items() if one is not None]
    plain = [labels.get(n, n) for n, one in strategies.items() if one is None]
    text = (f"Each strategy was tuned on its own knobs with the same budget ({', '.join(tuned)})"
            ", then all were compared on the scenario's own seed, which neither the searches "
            "nor the re-evaluation of their finalists used.")
    if plain:
        text += f" Compared as written (no knobs declared): {', '.join(plain)}."
    return text


def _caption(make: Callable[..., Any]) -> str:
    doc = (make.__doc__ or "").split("\n\n")[0]
    return " ".join(doc.split())


def _method(tuning: Mapping[str, Any]) -> str:
    return (f"Every trial ran the same {tuning['replications']} replications (common random "
            "numbers), so trials differ only by their knobs. The best trials of a search are "
            "flattered by the luck of its customers (the optimiser's curse), so the best "
            f"{len(tuning['finalists'])} distinct trials and the start were run again with "
            f"{tuning['final_replications']} replications on seed {tuning['final_seed']}, never "
            "used in the search; the winner is the best of them there, and its difference to "
            "the start is paired on those fresh customers.")


def _values(tuning: Mapping[str, Any]) -> Html:
    winner = tuning["winner"]
    rows = [el("tr", el("th", k["path"], scope="row"), el("td", knob_range(k)),
               el("td", knob_value(tuning["start"].get(k["path"]))),
               el("td", knob_value(winner["params"][k["path"]]) if winner else "-"))
            for k in tuning["knobs"]]
    return el("table", el("caption", "The knobs: searched range, start and tuned value"),
              el("thead", el("tr", el("th", "Knob", scope="col"), el("th", "Searched", scope="col"),
                             el("th", "Start", scope="col"), el("th", "Tuned", scope="col"))),
              el("tbody", rows), cls="numbers")


def _finalists(tuning: Mapping[str, Any]) -> Html | None:
    if not tuning["finalists"]:
        return None
    metric = METRIC_BY_KEY[tuning["metric"]]
    winner = (tuning["winner"] or {}).get("name")
    rows = []
    for f in tuning["finalists"]:
        final = estimate_of(f["final"])
        rows.append(el("tr", el("th", ", ".join(knob_value(v) for v in f["params"].values()),
                                scope="row"),
                       el("td", format_value(f["search_mean"], metric.unit)),
                       el("td", format_value(final.mean, metric.unit)),
                       el("td", format_difference(estimate_of(f["difference"]), metric)
                          + ("" if f["feasible"] else " (breaks a constraint)")),
                       cls="headline" if f["name"] == winner else None))
    return el("table", el("caption", "Finalists: mean in the search, on fresh seeds, and the "
                                     "paired difference to the start there"),
              el("thead", el("tr", el("th", "Knob values", scope="col"),
                             el("th", "Search mean", scope="col"),
                             el("th", "Fresh mean", scope="col"),
                             el("th", "Against the start ±95% CI", scope="col"))),
              el("tbody", rows), cls="numbers")
