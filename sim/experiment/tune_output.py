"""Files of a tune: tune.csv (every trial), tune.json (what the report and charts read),
tuned.toml (the scenario at its best), and the winner against the start as a comparison
folder (start/, tuned/, comparison.json) that ``simrun report`` reads.

tuned.toml ``extends`` the original file and writes only what the tune chose (and the
``--set`` overrides it started from). A path through a list (``strategy.tiers[2].price``)
is written as the whole list, every field resolved, because ``extends`` replaces lists
whole; the header lists the chosen values as ``--set`` would take them.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import tomli_w

from sim.atomic import write_atomic
from sim.experiment.output import write_comparison
from sim.experiment.tune import Finalist, TuneResult, closest
from sim.experiment.tune_spec import TuneSpec, get_path
from sim.metrics import Estimate
from sim.scenario.errors import toml_literal
from sim.scenario.loader import resolved_raw

_LIST_PATH = re.compile(r"^(.*?)\[\d+\]")


def tune_csv(result: TuneResult) -> str:
    """One row per trial: number, slot, state, each knob, the metric's mean and sd, each
    constraint metric's mean, feasibility, replications, the earlier trial with the same
    knobs whose runs it reuses, and the error of a failed trial."""
    spec = result.spec
    metrics = list(dict.fromkeys(c.metric for c in spec.constraints))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial", "slot", "state", *(k.path for k in spec.knobs), spec.metric,
                     f"{spec.metric}_sd", *(f"{m}_mean" for m in metrics), "feasible",
                     "replications", "same_as", "error"])
    for t in result.trials:
        writer.writerow([t.number, t.slot, t.state,
                         *(_cell(t.params.get(k.path)) for k in spec.knobs),
                         _cell(t.value), _cell(t.sd), *(_cell(t.means.get(m)) for m in metrics),
                         int(t.feasible), t.replications, _cell(t.same_as), t.error])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _estimate(e: Estimate) -> dict[str, Any]:
    return {"mean": _num(e.mean), "sd": _num(e.sd), "n": e.n, "ci95": [_num(e.low), _num(e.high)]}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def tune_dict(result: TuneResult) -> dict[str, Any]:
    """Everything the terminal, the report and the charts say about a tune."""
    spec = result.spec
    s = spec.settings
    return {
        "name": spec.name,
        "scenario": spec.start.name,
        "label": spec.start.label,
        "source": str(spec.source),
        "metric": spec.metric,
        "maximise": spec.maximise,
        "currency": spec.start.business.currency,
        "retention_period_days": spec.start.run.retention_period_days,
        "sampler": s.sampler,
        "trials": s.trials,
        "batch": s.batch,
        "replications": s.replications,
        "search_seed": spec.search_seed,
        "final_seed": spec.final_seed,
        "final_replications": s.final_replications,
        "knobs": [{"path": k.path, "low": _num(k.low), "high": _num(k.high), "step": k.step,
                   "integer": k.integer, "choices": list(k.choices), "text": k.describe()}
                  for k in spec.knobs],
        "constraints": [str(c) for c in spec.constraints],
        "start": start_values(spec),
        "trials_run": [_trial(t) for t in result.trials],
        "importance": result.importance,
        "finalists": [_finalist(f) for f in result.finalists],
        "winner": None if result.winner is None else _finalist(result.winner),
        "feasible": result.winner is not None,
        "at_edge": at_edge(spec, result.winner.params) if result.winner else [],
        "closest": None if result.winner or not spec.constraints
        else _maybe(closest(result.trials, spec)),
    }


def _maybe(t: Any) -> dict[str, Any] | None:
    return None if t is None else _trial(t)


EDGE_SHARE = 0.05
"""A tuned value within this share of its range from an end is 'at the edge'."""


def at_edge(spec: TuneSpec, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The numeric knobs whose tuned value lies at an end of the searched range: the best
    may lie beyond it (widen the range)."""
    found = []
    for k in spec.knobs:
        value = params.get(k.path)
        if k.choices or not isinstance(value, int | float):
            continue
        room = max(EDGE_SHARE * (k.high - k.low), k.step)
        for end, bound in (("low", k.low), ("high", k.high)):
            if abs(value - bound) <= room:
                found.append({"path": k.path, "end": end, "bound": bound})
    return found


def start_values(spec: TuneSpec) -> dict[str, Any]:
    """Each knob's value in the starting scenario (a policy by its kind)."""
    raw = resolved_raw(spec.start)
    values = {}
    for k in spec.knobs:
        value = get_path(raw, k.path)
        values[k.path] = value.get("kind") if isinstance(value, dict) else value
    return values


def _trial(t: Any) -> dict[str, Any]:
    return {"number": t.number, "slot": t.slot, "state": t.state, "params": t.params,
            "value": _num(t.value), "sd": _num(t.sd), "replications": t.replications,
            "means": {k: _num(v) for k, v in t.means.items()}, "feasible": t.feasible,
            "same_as": t.same_as, "error": t.error}


def _finalist(f: Finalist) -> dict[str, Any]:
    return {"name": f.name, "trial": f.trial, "params": f.params,
            "search_mean": _num(f.search_mean), "final": _estimate(f.final),
            "difference": _estimate(f.difference),
            "means": {k: _num(v) for k, v in f.means.items()}, "feasible": f.feasible}


def tuned_raw(spec: TuneSpec, params: dict[str, Any]) -> dict[str, Any]:
    """What tuned.toml writes over the original: each chosen path (and each ``--set``
    path), a path through a list as the whole list, resolved from the winner."""
    winner = resolved_raw(spec.scenario(params, seed=spec.start.run.seed,
                                        replications=spec.start.run.replications))
    paths = [o.partition("=")[0].strip() for o in spec.overrides] + list(params)
    table: dict[str, Any] = {}
    for path in paths:
        if path.split(".")[0].split("[")[0] == "run":
            continue
        if path.startswith("strategy.preset"):
            path = "strategy"
        matched = _LIST_PATH.match(path)
        where = matched[1] if matched else path
        _put(table, where, copy.deepcopy(get_path(winner, where)))
    return table


def _put(table: dict[str, Any], dotted: str, value: Any) -> None:
    node = table
    *parents, last = dotted.split(".")
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value


def tuned_toml(result: TuneResult, folder: Path) -> str:
    """tuned.toml: extends the original, with the winner's values."""
    spec = result.spec
    winner = result.winner
    assert winner is not None
    metric = spec.metric
    d = winner.difference
    body: dict[str, Any] = {"extends": os.path.relpath(spec.source.resolve(), folder.resolve())}
    body.update(tuned_raw(spec, winner.params))
    body.setdefault("run", {})["name"] = f"{spec.start.name}-tuned"
    body.setdefault("strategy", {})["label"] = f"{spec.start.label} (tuned)"
    chosen = " ".join(f"--set '{p}={toml_literal(v)}'" for p, v in winner.params.items())
    header = (
        f"# {spec.start.label} at its best on {metric}: written by simrun tune.\n"
        f"# Chosen: {chosen}\n"
        f"# Search: {len(result.trials)} trials x {spec.settings.replications} replications on "
        f"seed {spec.search_seed} ({spec.settings.sampler}).\n"
        f"# Re-evaluated on seed {spec.final_seed} ({spec.settings.final_replications} "
        f"replications, never used in the search): {metric} {_signed(d.mean)} against the "
        f"start (95% CI {_signed(d.low)} to {_signed(d.high)}, paired).\n")
    return header + tomli_w.dumps(body)


def _signed(x: float) -> str:
    """'+41,004', '+0.0312'."""
    if math.isnan(x):
        return "n/a"
    return f"{x:+,.0f}" if abs(x) >= 100 else f"{x:+.3g}"


def write_tune(result: TuneResult, folder: Path, *, scenario_file: bool = True) -> list[Path]:
    """tune.csv and tune.json always; with a winner, tuned.toml (unless ``scenario_file``
    is false: a strategy of a [compare] file, which no scenario file can extend) and the
    comparison of the winner against the start (start/, tuned/, comparison.json, .csv)."""
    paths = [write_atomic(folder / "tune.csv", tune_csv(result)),
             write_atomic(folder / "tune.json", json.dumps(tune_dict(result), indent=2) + "\n")]
    if result.winner is None:
        return paths
    if scenario_file:
        paths.append(write_atomic(folder / "tuned.toml", tuned_toml(result, folder)))
    paths += write_comparison(result.comparison(), folder)
    return paths
