"""Files of an explanation: explain.json (groups, contributions with 95% CIs, the total,
metric, seed, replications, simrun version) and explain.csv (one row per group and
replication, so the numbers can be analysed again), both written atomically.

Like every results file they hold nothing that varies between identical runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from sim.experiment.explain import Attribution
from sim.experiment.output import write_atomic
from sim.metrics import Estimate

CSV_COLUMNS = ("replication", "group", "differs", "contribution", "difference", "a_value",
               "b_value")


def explain_folder_name(result: Attribution) -> str:
    """The default results folder: results/<A>-vs-<B>-explained (a safe folder name
    whatever the strategies are called)."""
    from sim.experiment.folders import folder_name

    return folder_name(f"{result.a.name}-vs-{result.b.name}-explained")


def explain_dict(result: Attribution) -> dict[str, Any]:
    metric = result.metric_info
    groups = [{**row, "contribution": estimate_dict(row["contribution"])}
              for row in result.groups()]
    run = result.a.run
    a_label, b_label = result.labels
    return {
        "a": result.a.name,
        "b": result.b.name,
        "a_label": a_label,
        "b_label": b_label,
        "metric": result.metric,
        "metric_label": metric.text_for(result.a),
        "unit": metric.unit,
        "simrun_version": result.version,
        "seed": result.seed,
        "replications": result.replications,
        "replications_used": result.used,
        "days": run.days,
        "warmup_days": run.warmup_days,
        "method": "exact" if result.plan.exact else "sampled permutations",
        "permutations": len(result.plan.permutations),
        "coalitions": len(result.plan.coalitions),
        "a_value": estimate_dict(result.a_value),
        "b_value": estimate_dict(result.b_value),
        "total": estimate_dict(result.total),
        "groups": groups,
        "sentence": result.sentence(),
    }


def as_written(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as explain.json holds it (a JSON round trip: what a report read back
    from disk sees, so it renders the same bytes as one rendered from memory)."""
    return json.loads(json.dumps(summary))


def estimate_from_dict(raw: dict[str, Any]) -> Estimate:
    def num(x: float | None) -> float:
        return math.nan if x is None else float(x)

    low, high = raw["ci95"]
    return Estimate(num(raw["mean"]), num(raw["sd"]), int(raw["n"]), num(low), num(high))


def estimate_dict(e: Estimate) -> dict[str, Any]:
    return {"mean": _num(e.mean), "sd": _num(e.sd), "ci95": [_num(e.low), _num(e.high)],
            "n": e.n}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def explain_csv(result: Attribution) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    differences = result.differences
    for r in range(result.replications):
        for group, values in result.shares.items():
            writer.writerow([r, group, group in result.players, repr(values[r]),
                             repr(differences[r]), repr(result.a_values[r]),
                             repr(result.b_values[r])])
    return buffer.getvalue()


def write_explanation(result: Attribution, folder: Path) -> list[Path]:
    """Write explain.json and explain.csv into ``folder``; returns their paths."""
    paths = [folder / "explain.json", folder / "explain.csv"]
    write_atomic(paths[0], json.dumps(explain_dict(result), indent=2) + "\n")
    write_atomic(paths[1], explain_csv(result))
    return paths
