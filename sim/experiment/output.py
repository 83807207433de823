"""Files of a run: results/<name>/ with summary.json, replications.csv, daily.csv and
the resolved scenario.toml; plus a checkpoint so an interrupted run loses nothing.

Every file is written atomically (:mod:`sim.atomic`) and holds nothing that varies
between identical runs (no clock, no host), so the same scenario and seed give the
same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

from sim.atomic import write_atomic
from sim.experiment.compare import ComparisonResult, comparison_rows
from sim.experiment.runner import ScenarioResult
from sim.metrics import DAILY_COLUMNS, METRICS, TIER_COLUMNS, Estimate, RunResult, estimate
from sim.scenario import scenario_toml
from sim.scenario.model import Scenario


def summary_dict(result: ScenarioResult) -> dict[str, Any]:
    s = result.scenario
    metrics = {}
    for metric in METRICS:
        e = result.estimates()[metric.key]
        metrics[metric.key] = {"label": metric.text_for(s), "unit": metric.unit,
                               **_estimate_dict(e)}
    tiers = {tier.name: {column: _estimate_dict(estimate([r.tiers[tier.name][column]
                                                          for r in result.runs]))
                         for column in TIER_COLUMNS}
             for tier in s.strategy.tiers if all(tier.name in r.tiers for r in result.runs)}
    return {
        "scenario": s.name,
        "simrun_version": result.version,
        "seed": s.run.seed,
        "replications": len(result.runs),
        "days": s.run.days,
        "warmup_days": s.run.warmup_days,
        "strategy": s.strategy.preset or "custom",
        "label": s.label,
        "currency": s.business.currency,
        "retention_period_days": s.run.retention_period_days,
        "metrics": metrics,
        "tiers": tiers,
        **({"precision": result.precision} if result.precision is not None else {}),
    }


def _estimate_dict(e: Estimate) -> dict[str, Any]:
    return {"mean": _num(e.mean), "sd": _num(e.sd), "ci95": [_num(e.low), _num(e.high)],
            "n": e.n}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


DAILY_COUNTS = frozenset({"served", "abandoned", "turned_away", "waitlisted", "prospects",
                          "customers_alive"})
"""The daily series that count visits or people (whole numbers each day)."""


def _cell(value: float, count: bool) -> str:
    """A number as written in a CSV: a count as a whole number ('12'), anything else as
    ``repr`` so that it reads back exactly ('12.0' would too, but is not what it is)."""
    if count and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return repr(value)


def replications_csv(result: ScenarioResult) -> str:
    """One row per replication, one column per metric; counts as whole numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["replication", *(m.key for m in METRICS)])
    for run in result.runs:
        writer.writerow([run.replication, *(_cell(run.metrics[m.key], m.unit == "count")
                                            for m in METRICS)])
    return out.getvalue()


def daily_csv(result: ScenarioResult) -> str:
    """One row per replication and day (warm-up included, flagged); counts as whole
    numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    warmup = result.scenario.run.warmup_days
    counts = [c in DAILY_COUNTS for c in DAILY_COLUMNS]
    writer.writerow(["replication", "day", "measured", *DAILY_COLUMNS])
    for run in result.runs:
        for day, values in enumerate(zip(*(run.daily[c] for c in DAILY_COLUMNS), strict=True)):
            writer.writerow([run.replication, day, int(day >= warmup),
                             *map(_cell, values, counts)])
    return out.getvalue()


def write_results(result: ScenarioResult, out_dir: Path) -> list[Path]:
    """Write every result file of a run; returns the paths written."""
    files = {
        "summary.json": json.dumps(summary_dict(result), indent=2) + "\n",
        "replications.csv": replications_csv(result),
        "daily.csv": daily_csv(result),
        "details.json": details_json(result),
        "scenario.toml": scenario_toml(result.scenario),
    }
    return [write_atomic(out_dir / name, text) for name, text in files.items()]


def run_to_dict(run: RunResult, *, daily: bool = True) -> dict[str, Any]:
    """A replication as JSON-ready data (floats round-trip exactly through repr)."""
    raw: dict[str, Any] = {
        "replication": run.replication, "metrics": run.metrics,
        "distributions": run.distributions, "segments": run.segments, "tiers": run.tiers,
        "checks": run.checks, "visits_simulated": run.visits_simulated}
    if daily:
        raw["daily"] = run.daily
    return raw


def run_from_dict(raw: dict[str, Any], daily: dict[str, tuple[float, ...]] | None = None) -> RunResult:
    return RunResult(
        replication=raw["replication"], metrics=raw["metrics"],
        daily=daily if daily is not None else {k: tuple(v) for k, v in raw["daily"].items()},
        distributions={k: tuple(v) for k, v in raw["distributions"].items()},
        segments=raw["segments"], tiers=raw.get("tiers", {}), checks=raw["checks"],
        visits_simulated=raw["visits_simulated"])


def details_json(result: ScenarioResult) -> str:
    """Per-replication shapes (distributions, segments, checks) that the CSVs do not hold."""
    return json.dumps([run_to_dict(run, daily=False) for run in result.runs]) + "\n"


def load_results(folder: Path) -> ScenarioResult:
    """A finished run read back from its folder (for reports and charts)."""
    from sim.scenario import load_scenario

    scenario = load_scenario(folder / "scenario.toml")
    details = json.loads((folder / "details.json").read_text(encoding="utf-8"))
    series: dict[int, dict[str, list[float]]] = {}
    with (folder / "daily.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            columns = series.setdefault(int(row["replication"]), {c: [] for c in DAILY_COLUMNS})
            for c in DAILY_COLUMNS:
                columns[c].append(float(row[c]))
    runs = tuple(run_from_dict(raw, {c: tuple(v) for c, v in series[raw["replication"]].items()})
                 for raw in details)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return ScenarioResult(scenario, runs, version=summary["simrun_version"],
                          precision=summary.get("precision"))


class Checkpoint:
    """Finished replications of an unfinished run, kept until the run completes.

    Keyed by the resolved scenario's hash, so a changed scenario never reuses stale
    replications. Each replication is one small JSON file, written atomically.
    """

    def __init__(self, out_dir: Path, scenario: Scenario) -> None:
        digest = hashlib.sha256(scenario_toml(scenario).encode()).hexdigest()[:16]
        self.folder = out_dir / f".checkpoint-{digest}"

    def load(self) -> dict[int, RunResult]:
        runs: dict[int, RunResult] = {}
        if not self.folder.is_dir():
            return runs
        for path in sorted(self.folder.glob("rep-*.json")):
            run = run_from_dict(json.loads(path.read_text(encoding="utf-8")))
            runs[run.replication] = run
        return runs

    def save(self, run: RunResult) -> None:
        write_atomic(self.folder / f"rep-{run.replication:05d}.json", json.dumps(run_to_dict(run)))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def comparison_dict(result: ComparisonResult) -> dict[str, Any]:
    first = result.results[0].scenario
    strategies: dict[str, Any] = {}
    for name in result.names:
        estimates = result.result(name).estimates()
        metrics = {}
        for metric in METRICS:
            e = estimates[metric.key]
            d = result.paired_difference(name, metric.key)
            metrics[metric.key] = {"mean": _num(e.mean), "ci95": [_num(e.low), _num(e.high)],
                                   "diff_vs_baseline": _num(d.mean),
                                   "diff_ci95": [_num(d.low), _num(d.high)]}
        strategies[name] = {"preset": result.result(name).scenario.strategy.preset or "custom",
                            "metrics": metrics}
    return {
        "comparison": result.name,
        "simrun_version": result.results[0].version,
        "seed": first.run.seed,
        "replications": len(result.results[0].runs),
        "baseline": result.baseline,
        "metric": result.metric,
        "probability_best": result.probability_best(),
        "strategies": strategies,
        **({"selection": result.selection} if result.selection is not None else {}),
        **({"precision": result.precision} if result.precision is not None else {}),
    }


def comparison_csv(result: ComparisonResult) -> str:
    return rows_csv(comparison_rows(result))


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """Tidy rows as CSV, the columns of the first row; floats as ``repr`` so they read
    back exactly (empty text for no rows)."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})
    return out.getvalue()


def write_comparison(result: ComparisonResult, out_dir: Path) -> list[Path]:
    """Each strategy's files in <out>/<strategy>/, plus comparison.json and .csv."""
    paths = []
    for one in result.results:
        paths += write_results(one, out_dir / one.scenario.name)
    for name, text in (("comparison.json", json.dumps(comparison_dict(result), indent=2) + "\n"),
                       ("comparison.csv", comparison_csv(result))):
        paths.append(write_atomic(out_dir / name, text))
    return paths


def load_comparison_results(folder: Path) -> ComparisonResult:
    """A finished comparison read back from its folder."""
    meta = json.loads((folder / "comparison.json").read_text(encoding="utf-8"))
    results = tuple(load_results(folder / name) for name in meta["strategies"])
    explained = folder / "explain.json"  # why the winner wins, when it was explained
    why = json.loads(explained.read_text(encoding="utf-8")) if explained.is_file() else None
    return ComparisonResult(meta["comparison"], results, meta["baseline"], meta["metric"],
                            why=why, selection=meta.get("selection"),
                            precision=meta.get("precision"))


def load_any(folder: Path) -> ComparisonResult:
    """A comparison folder as it is, or a single run's folder as a one-strategy comparison
    (so charts and reports take one kind of object)."""
    if (folder / "comparison.json").is_file():
        return load_comparison_results(folder)
    return ComparisonResult.of_one(load_results(folder))
