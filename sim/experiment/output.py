"""Files of a run: results/<name>/ with summary.json, replications.csv, daily.csv and
the resolved scenario.toml; plus a checkpoint so an interrupted run loses nothing.

The files of a run (or of a comparison) are written together (:func:`sim.atomic.
write_atomic_many`): a failure while writing them leaves the earlier results as they
were, never a folder that mixes two runs. They hold nothing that varies between
identical runs (no clock, no host), so the same scenario and seed give the same bytes.

Reading results back (:func:`load_any`, for reports and charts) trusts nothing in
the folder: a missing, damaged or crafted file is a :class:`ResultsError` naming the
file and what is wrong, and a strategy's name never becomes a path unchecked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import shutil
from array import array
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim import limits
from sim.atomic import Data, write_atomic, write_atomic_many
from sim.experiment.compare import ComparisonResult, comparison_rows
from sim.experiment.folders import strategy_folders
from sim.experiment.runner import ScenarioResult
from sim.metrics import (
    DAILY_COLUMNS,
    METRIC_BY_KEY,
    METRICS,
    SEGMENT_COLUMNS,
    TIER_COLUMNS,
    Estimate,
    RunResult,
    estimate,
    t_quantile,
)
from sim.scenario import ScenarioError, scenario_toml
from sim.scenario.errors import SimrunError
from sim.scenario.model import Scenario

MAX_RESULTS_FILE_BYTES = 4_000_000_000
"""Largest results file read back (a run's daily.csv at the limits is about 1 GB)."""


class ResultsError(SimrunError):
    """A results folder that cannot be read: not one, or with missing or damaged files."""


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


def import_for_results() -> None:
    """Import what a run's intervals need and its replications do not give a process
    that runs none of them: SciPy's special functions (:func:`sim.metrics.t_quantile`),
    about 0.3 s of CPU. A command whose replications run in worker processes does it
    while it waits for them (``meanwhile`` of :func:`sim.experiment.pool.run_parallel`),
    not after the last one."""
    t_quantile(0.975, 1)


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
    return _cells((value,), count)[0]


def _cells(values: Sequence[float], count: bool) -> list[str]:
    """:func:`_cell` of every value of a column, in one pass."""
    if not count:
        return list(map(repr, values))
    return [str(int(v)) if math.isfinite(v) and float(v).is_integer() else repr(v)
            for v in values]


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
    return "".join(daily_csv_pieces(result))


def daily_csv_pieces(result: ScenarioResult, piece_days: int = 1 << 10) -> Iterator[str]:
    """daily.csv in pieces of at most ``piece_days`` rows, for writing a long run's file
    without holding all of it (memory stays flat in the horizon). Each piece is made
    column by column (:func:`_cells`), then row by row; its cells are numbers, which the
    CSV format never quotes, so the text is what ``csv.writer`` writes."""
    warmup = result.scenario.run.warmup_days
    counts = [c in DAILY_COUNTS for c in DAILY_COLUMNS]
    yield ",".join(["replication", "day", "measured", *DAILY_COLUMNS]) + "\n"
    for run in result.runs:
        series = [run.daily[c] for c in DAILY_COLUMNS]
        days = len(series[0])
        if any(len(values) != days for values in series):
            raise ValueError(f"replication {run.replication}: daily series of different "
                             "lengths")
        for start in range(0, days, piece_days):
            stop = min(start + piece_days, days)
            cells = zip(*(_cells(values[start:stop], count)
                          for values, count in zip(series, counts, strict=True)), strict=True)
            yield "".join(f"{run.replication},{day},{int(day >= warmup)},{','.join(row)}\n"
                          for day, row in zip(range(start, stop), cells, strict=True))


def run_files(result: ScenarioResult) -> dict[str, Data]:
    """Every result file of a run: file name -> text (daily.csv piece by piece)."""
    return {
        "summary.json": json.dumps(summary_dict(result), indent=2) + "\n",
        "replications.csv": replications_csv(result),
        "daily.csv": daily_csv_pieces(result),
        "details.json": details_json(result),
        "scenario.toml": scenario_toml(result.scenario),
    }


def write_results(result: ScenarioResult, out_dir: Path) -> list[Path]:
    """Write every result file of a run, all or none; returns the paths written."""
    return write_atomic_many({out_dir / name: text for name, text in run_files(result).items()})


def run_to_dict(run: RunResult, *, daily: bool = True) -> dict[str, Any]:
    """A replication as JSON-ready data (floats round-trip exactly through repr)."""
    raw: dict[str, Any] = {
        "replication": run.replication, "metrics": run.metrics,
        "distributions": run.distributions, "segments": run.segments, "tiers": run.tiers,
        "checks": run.checks, "visits_simulated": run.visits_simulated}
    if daily:
        raw["daily"] = run.daily
    return raw


def run_from_dict(raw: dict[str, Any], daily: Mapping[str, Sequence[float]] | None = None
                  ) -> RunResult:
    return RunResult(
        replication=raw["replication"], metrics=raw["metrics"],
        daily=dict(daily) if daily is not None else {k: array("d", v) for k, v in raw["daily"].items()},
        distributions={k: tuple(v) for k, v in raw["distributions"].items()},
        segments=raw["segments"], tiers=raw.get("tiers", {}), checks=raw["checks"],
        visits_simulated=raw["visits_simulated"])


def _joined(pieces: Iterator[str], size: int = 4096) -> Iterator[str]:
    """Small pieces (a JSON encoder's tokens) joined ``size`` at a time."""
    while batch := list(itertools.islice(pieces, size)):
        yield "".join(batch)


def details_json(result: ScenarioResult) -> str:
    """Per-replication shapes (distributions, segments, checks) that the CSVs do not hold."""
    return json.dumps([run_to_dict(run, daily=False) for run in result.runs]) + "\n"


def load_results(folder: Path) -> ScenarioResult:
    """A finished run read back from its folder (for reports and charts); a
    ResultsError when a file is missing or does not hold what simrun writes."""
    from sim.scenario import load_scenario

    try:
        with limits.lifted():  # a run made with --force-limits reads back
            scenario = load_scenario(folder / "scenario.toml")
    except ScenarioError as error:
        if not (folder / "scenario.toml").exists():
            raise ResultsError(f"{folder}: not the results of a run (scenario.toml is "
                               "missing)") from None
        raise ResultsError(f"{folder}: damaged results: {error.format()}") from None
    details = _json(folder / "details.json")
    summary = _json(folder / "summary.json")
    daily_path = folder / "daily.csv"
    try:
        series: dict[int, dict[str, list[float]]] = {}
        reader = csv.DictReader(io.StringIO(_text(daily_path), newline=""))
        for row in reader:
            columns = series.setdefault(int(row["replication"]), {c: [] for c in DAILY_COLUMNS})
            for c in DAILY_COLUMNS:
                columns[c].append(float(row[c]))
        runs = []
        _need(isinstance(details, list) and details, "details.json: no replications")
        for raw in details:
            _need(isinstance(raw, dict) and raw.get("replication") in series,
                  "details.json and daily.csv hold different replications")
            daily = {c: array("d", v) for c, v in series[raw["replication"]].items()}
            runs.append(checked_run(raw, scenario, daily))
        _need(len({run.replication for run in runs}) == len(runs) == len(series),
              "details.json and daily.csv hold different replications")
        _need(isinstance(summary, dict) and isinstance(summary.get("simrun_version"), str),
              "summary.json: no simrun_version")
    except (ValueError, TypeError, KeyError, csv.Error) as exc:
        raise ResultsError(f"{folder}: damaged results: {_reason(exc)}") from None
    return ScenarioResult(scenario, tuple(runs), version=summary["simrun_version"],
                          precision=summary.get("precision"))


def checked_run(raw: Any, scenario: Scenario,
                daily: Mapping[str, Sequence[float]] | None = None) -> RunResult:
    """A replication from JSON-ready data, checked against what the engine makes for
    this scenario; ValueError (saying what is wrong) otherwise."""
    _need(isinstance(raw, dict), "a replication is not a table")
    replication = raw.get("replication")
    _need(_whole(replication) and 0 <= replication < scenario.run.replications,
          f"replication {replication!r} is not one of the run's")
    metrics = raw.get("metrics")
    _need(isinstance(metrics, dict) and all(_number(metrics.get(m.key)) for m in METRICS),
          f"replication {replication}: a metric is missing or not a number")
    distributions = raw.get("distributions")
    _need(isinstance(distributions, dict) and all(
        isinstance(distributions.get(k), list) and all(map(_number, distributions[k]))
        for k in DISTRIBUTIONS), f"replication {replication}: damaged distributions")
    _need(len(distributions["satisfaction"]) == 11 and distributions["wait_minutes"],
          f"replication {replication}: damaged distributions")
    segments = raw.get("segments")
    names = {seg.name for seg in scenario.segments}
    _need(isinstance(segments, dict) and set(segments) == names and all(
        isinstance(row, dict) and all(_number(row.get(c)) for c in SEGMENT_COLUMNS)
        for row in segments.values()), f"replication {replication}: damaged segments")
    checks = raw.get("checks")
    _need(isinstance(checks, dict) and all(map(_number, checks.values())),
          f"replication {replication}: damaged checks")
    _need(_whole(raw.get("visits_simulated")), f"replication {replication}: damaged counts")
    if daily is None:
        daily_raw = raw.get("daily")
        _need(isinstance(daily_raw, dict) and all(
            isinstance(daily_raw.get(c), list) and all(map(_number, daily_raw[c]))
            for c in DAILY_COLUMNS), f"replication {replication}: damaged daily series")
        daily = {c: array("d", daily_raw[c]) for c in DAILY_COLUMNS}
    _need(all(len(daily[c]) == scenario.run.days for c in DAILY_COLUMNS),
          f"replication {replication}: the daily series do not cover run.days")
    return run_from_dict(raw, daily)


DISTRIBUTIONS = ("satisfaction", "wait_minutes", "retention_by_period",
                 "repeat_rate_by_period", "survival_by_week")


def _need(condition: Any, reason: str) -> None:
    if not condition:
        raise ValueError(reason)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"a column or key is missing: {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _text(path: Path) -> str:
    """A results file's text; ResultsError when it is missing, not a regular file, too
    large or not UTF-8."""
    try:
        return limits.read_bounded(path, MAX_RESULTS_FILE_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path.parent}: damaged results: {path.name} is missing") from None
    except (limits.UnreadableFile, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def _json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except (ValueError, RecursionError) as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc})") from None


class Checkpoint:
    """Finished replications of an unfinished run, kept until the run completes.

    Keyed by the resolved scenario's hash, so a changed scenario never reuses stale
    replications. Each replication is one small JSON file, written atomically. A file
    that cannot be read back (damaged, or not this run's) is discarded and noted in
    :attr:`discarded`; its replication runs again. A market run keeps its replications
    the same way (:class:`sim.experiment.market_output.MarketCheckpoint`).
    """

    def __init__(self, out_dir: Path, scenario: Scenario) -> None:
        self.scenario = scenario
        self._keyed(out_dir, scenario_toml(scenario))

    def _keyed(self, out_dir: Path, identity: str) -> None:
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.folder = out_dir / f".checkpoint-{digest}"
        self.discarded: list[tuple[Path, str]] = []

    def encode(self, run: Any) -> dict[str, Any]:
        """A replication as JSON-ready data."""
        return run_to_dict(run)

    def decode(self, raw: Any) -> Any:
        """A replication read back, checked; ValueError (saying what is wrong) otherwise."""
        return checked_run(raw, self.scenario)

    def load(self) -> dict[int, Any]:
        runs: dict[int, Any] = {}
        if not self.folder.is_dir():
            return runs
        for path in sorted(self.folder.glob("rep-*.json")):
            try:
                run = self.decode(json.loads(limits.read_bounded(path, MAX_RESULTS_FILE_BYTES)))
                _need(path.name == self._name(run.replication), "holds another replication")
            except (ValueError, TypeError, KeyError, RecursionError, OSError) as exc:
                self.discarded.append((path, _reason(exc)))
                path.unlink(missing_ok=True)
                continue
            runs[run.replication] = run
        return runs

    def save(self, run: Any) -> None:
        """Written piece by piece, a daily series (an array) as a list one at a time, so
        a long run's checkpoint is never one text in memory."""
        pieces = json.JSONEncoder(default=list).iterencode(self.encode(run))
        write_atomic(self.folder / self._name(run.replication), _joined(pieces))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @staticmethod
    def _name(replication: int) -> str:
        return f"rep-{replication:05d}.json"


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


def comparison_files(result: ComparisonResult) -> dict[str, Data]:
    """Every file of a comparison, by path inside its folder: each strategy's files in
    its folder (:func:`~sim.experiment.folders.strategy_folders`), comparison.json and
    comparison.csv."""
    folders = strategy_folders(result.names)
    files = {f"{folders[one.scenario.name]}/{name}": text
             for one in result.results for name, text in run_files(one).items()}
    files["comparison.json"] = json.dumps(comparison_dict(result), indent=2) + "\n"
    files["comparison.csv"] = comparison_csv(result)
    return files


def write_comparison(result: ComparisonResult, out_dir: Path) -> list[Path]:
    """Write every file of the comparison, all or none; returns the paths written."""
    return write_atomic_many({out_dir / name: text
                              for name, text in comparison_files(result).items()})


def load_comparison_results(folder: Path) -> ComparisonResult:
    """A finished comparison read back from its folder."""
    meta = _json(folder / "comparison.json")
    try:
        _need(isinstance(meta, dict), "comparison.json is not a table")
        names = meta.get("strategies")
        _need(isinstance(names, dict) and names and all(isinstance(n, str) for n in names),
              "comparison.json: no strategies")
        for key in ("comparison", "baseline", "metric"):
            _need(isinstance(meta.get(key), str), f"comparison.json: no {key}")
        _need(meta["baseline"] in names, "comparison.json: the baseline is not a strategy")
        _need(meta["metric"] in METRIC_BY_KEY, "comparison.json: unknown metric")
        folders = strategy_folders(list(names))
    except (ValueError, ScenarioError) as exc:
        raise ResultsError(f"{folder}: damaged results: {exc}") from None
    results = tuple(load_results(folder / folders[name]) for name in names)
    for name, one in zip(names, results, strict=True):
        if one.scenario.name != name:
            raise ResultsError(f"{folder / folders[name]}: holds {one.scenario.name!r}, not "
                               f"strategy {name!r}")
    if len({tuple(run.replication for run in one.runs) for one in results}) != 1:
        raise ResultsError(f"{folder}: damaged results: the strategies hold different "
                           "replications")
    explained = folder / "explain.json"  # why the winner wins, when it was explained
    why = _json(explained) if explained.is_file() else None
    if why is not None and not isinstance(why, dict):
        raise ResultsError(f"{explained}: damaged results: not a table")
    tuned = folder / "tune.json"  # how the strategies were tuned, when they were
    tuning = _json(tuned) if tuned.is_file() else None
    return ComparisonResult(meta["comparison"], results, meta["baseline"], meta["metric"],
                            why=why, tuning=tuning, selection=meta.get("selection"),
                            precision=meta.get("precision"))


def load_any(folder: Path) -> ComparisonResult:
    """A comparison folder as it is, or a single run's folder as a one-strategy comparison
    (so charts and reports take one kind of object)."""
    if (folder / "comparison.json").exists():
        return load_comparison_results(folder)
    if not (folder / "scenario.toml").exists():
        raise ResultsError(f"{folder}: not a results folder (no scenario.toml or "
                           "comparison.json); run 'simrun' or 'simrun compare' first")
    return ComparisonResult.of_one(load_results(folder))

