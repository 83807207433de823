"""The terminal view of a tune: the search in one line, the finalists re-evaluated on
fresh seeds, the winner against the start with its paired interval, the tuned values.

It reads the tune's summary (tune.json's content, :func:`sim.experiment.tune_output.
tune_dict`), so it says the same as the report; it computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sim.formats import format_difference, format_value
from sim.metrics import METRIC_BY_KEY, Estimate, Metric


def estimate_of(raw: Mapping[str, Any]) -> Estimate:
    """An estimate as tune.json writes it (None for NaN)."""
    def num(x: Any) -> float:
        return math.nan if x is None else float(x)

    low, high = raw["ci95"]
    return Estimate(num(raw["mean"]), num(raw["sd"]), int(raw["n"]), num(low), num(high))


def metric_text(tuning: Mapping[str, Any]) -> str:
    return METRIC_BY_KEY[tuning["metric"]].text(tuning["retention_period_days"],
                                                tuning["currency"])


def search_line(tuning: Mapping[str, Any]) -> str:
    """'Profit of Tiered: 20 trials (TPE, batches of 4) x 4 replications on seed 2025.'"""
    done = sum(t["state"] == "complete" for t in tuning["trials_run"])
    failed = sum(t["state"] == "failed" for t in tuning["trials_run"])
    sampler = {"tpe": "TPE", "cmaes": "CMA-ES"}[tuning["sampler"]]
    text = (f"{metric_text(tuning)} of {tuning['label']}, "
            f"{'maximised' if tuning['maximise'] else 'minimised'}: {done} trials ({sampler}, "
            f"batches of {tuning['batch']}) x {tuning['replications']} replications on seed "
            f"{tuning['search_seed']}")
    if failed:
        text += f"; {failed} failed"
    if tuning["constraints"]:
        text += f"; subject to {' and '.join(tuning['constraints'])}"
    return text + "."


def verdict(tuning: Mapping[str, Any]) -> str:
    """The winner against the start in one sentence, or why there is none."""
    if tuning["winner"] is None:
        if not tuning["finalists"]:
            text = (f"No trial met {' and '.join(tuning['constraints']) or 'the constraints'}: "
                    "nothing tuned (tune.csv shows how close each trial came).")
            near = tuning.get("closest")
            if near:
                means = ", ".join(f"{m} {_mean(v)}" for m, v in near["means"].items())
                text += f" Closest: trial {near['number']} ({_params(near['params'])}): {means}."
            return text
        return ("No finalist met the constraints again on fresh seeds: nothing tuned (the "
                "trials that met them were lucky on the search's customers).")
    metric = METRIC_BY_KEY[tuning["metric"]]
    w = tuning["winner"]
    d = estimate_of(w["difference"])
    n = tuning["final_replications"]
    if w["params"] == tuning["start"]:
        return (f"The start ({_params(w['params'])}) is the best found: no other finalist "
                f"beat it on {n} replications of seed {tuning['final_seed']}, never used in "
                "the search; nothing to change.")
    return (f"Winner {_params(w['params'])}: {metric_text(tuning)} "
            f"{format_difference(d, metric)} against the start (paired 95% CI), re-evaluated "
            f"with {n} replications on seed {tuning['final_seed']}, never used in the search.")


def _mean(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def knob_value(value: Any) -> str:
    """A knob's value as a person reads it: 112.4, 7, "reasonable"."""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def knob_range(knob: Mapping[str, Any]) -> str:
    """What was searched: '80 to 140', '3 to 12, whole numbers', 'all, reasonable, none'."""
    if knob["choices"]:
        return ", ".join(knob_value(c) for c in knob["choices"])
    text = f"{knob_value(knob['low'])} to {knob_value(knob['high'])}"
    if knob["step"]:
        text += f", step {knob_value(knob['step'])}"
    elif knob["integer"]:
        text += ", whole numbers"
    return text


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{p} = {knob_value(v)}" for p, v in params.items())


def finalists_table(tuning: Mapping[str, Any]) -> Table:
    """Each finalist: its knobs, its mean in the search and on fresh seeds, its paired
    difference to the start there."""
    metric: Metric = METRIC_BY_KEY[tuning["metric"]]
    table = Table(box=box.SIMPLE_HEAD, title="Finalists on fresh seeds", title_justify="left")
    for k in tuning["knobs"]:
        table.add_column(k["path"], overflow="fold")
    table.add_column("search mean", justify="right")
    table.add_column("fresh mean", justify="right")
    table.add_column("vs start", justify="right")
    start = tuning["start"]
    table.add_row(*(knob_value(start[k["path"]]) for k in tuning["knobs"]), "",
                  "" if not tuning["finalists"] else "start", "", style="dim")
    winner = (tuning["winner"] or {}).get("name")
    for f in tuning["finalists"]:
        final = estimate_of(f["final"])
        style = "bold" if f["name"] == winner else None
        table.add_row(*(knob_value(f["params"][k["path"]]) for k in tuning["knobs"]),
                      format_value(f["search_mean"] if f["search_mean"] is not None else math.nan,
                                   metric.unit),
                      format_value(final.mean, metric.unit),
                      format_difference(estimate_of(f["difference"]), metric)
                      + ("" if f["feasible"] else " (fails a constraint)"), style=style)
    return table


def edge_cautions(tuning: Mapping[str, Any]) -> list[str]:
    """'strategy.tiers[2].price is at the low end of its range (80): ...'."""
    return [f"Caution: {e['path']} is at the {e['end']} end of its searched range "
            f"({knob_value(e['bound'])}); the best may lie beyond it: widen the range."
            for e in tuning.get("at_edge", [])]


def tune_view(tuning: Mapping[str, Any]) -> Group:
    """What ``simrun tune`` prints when done."""
    parts: list[Any] = [Text(search_line(tuning))]
    if tuning["finalists"]:
        parts.append(finalists_table(tuning))
    parts.append(Text(verdict(tuning), style="bold" if tuning["winner"] else "yellow"))
    parts += [Text(c, style="yellow") for c in edge_cautions(tuning)]
    return Group(*parts)
