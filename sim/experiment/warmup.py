"""Warm-up found, not guessed: MSER-5 on the daily series.

A run starts empty, so its first months describe a business filling up, not the one the
room asks about. MSER-5 (White, K. P., "An effective truncation heuristic for bias
reduction in simulation output", Simulation 69 (1997) 323-334; the batch size of five of
White, Cobb and Spratt, "A comparison of five steady-state truncation heuristics for
simulation", Proceedings of the 2000 Winter Simulation Conference, 755-760) picks the
truncation that minimises the marginal standard error of what is left: with the series cut
into batch means Z_1..Z_m of 5 days, truncating d batches scores

    MSER(d) = sum_{j > d} (Z_j - mean_{j > d} Z)² / (m - d)²

(the variance of the kept batches over the number kept: dropping biased early batches
lowers it; dropping good ones raises it through the shrinking denominator). The search
covers the first half of the series only: near the end a few batches that happen to
agree score spuriously low.

Per replication and per series (profit and customers alive by default), then combined:
the recommended warm-up is, for each series, the mean over replications of their
truncation points, rounded up to a whole batch; then the largest over the series, since
the measured window must have settled in every one of them. The mean, not the largest
replication's point: a single replication's MSER truncation is noisy, and the largest
of n grows with n, so the number of replications would decide the warm-up; the mean
estimates where a typical replication has settled, and is what a pilot's size only
makes more precise. A series whose recommended truncation sits at the end of the
search (half the horizon) has not settled within the horizon: simulate longer.

On a market of rival firms (:func:`resolve_market_auto`) the pilot is the whole market's
replications, and MSER-5 judges each firm's own daily series (profit and customers
alive by default): the warm-up is the largest over the firms and the series, since every
firm's measured window must have settled, and every firm measures the same window.

The pilot replications (:func:`pilot`) use replication indices from
:data:`PILOT_FIRST_REPLICATION` on, which no ordinary run reaches, so the warm-up chosen
does not depend on the replications that are then measured. The daily series do not
depend on ``run.warmup_days`` (every item is booked on the day it happens), so a pilot
simulates with no warm-up and reads the whole horizon.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim import __version__
from sim.atomic import write_atomic
from sim.experiment.pool import run_parallel
from sim.experiment.runner import default_jobs
from sim.metrics import DAILY_COLUMNS, MarketRunResult, RunResult
from sim.model.engine import run_replication
from sim.model.market import run_market_replication
from sim.scenario import Issue, Scenario, ScenarioError
from sim.scenario.errors import suggest
from sim.scenario.market import MarketScenario

BATCH_DAYS = 5
"""MSER-5: batch means of five days."""
SERIES = ("profit", "customers_alive")
"""The daily series judged by default: money and the customer base."""
PILOT_REPLICATIONS = 10
"""Replications a pilot simulates by default (``simrun warmup -n``, ``"auto"``)."""
PILOT_FIRST_REPLICATION = 1_000_000
"""Pilot replications are numbered from here: independent of the measured ones."""


def mser(series: Sequence[float], batch: int = BATCH_DAYS) -> int:
    """MSER-``batch`` truncation of one series, in observations (a multiple of
    ``batch``): the d minimising the marginal standard error of the batch means after
    the first d, for d in the first half of the batches. NaNs (a day without a value,
    e.g. no satisfaction score) are left out of their batch's mean."""
    values = np.asarray(series, dtype=float)
    m = len(values) // batch
    if m < 4:
        return 0
    blocks = values[: m * batch].reshape(m, batch)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(blocks, axis=1) if np.isnan(blocks).any() else blocks.mean(axis=1)
    means = means[~np.isnan(means)]
    m = len(means)
    if m < 4:
        return 0
    # sums over the kept batches j > d, for every d, from the end
    tail_sum = np.cumsum(means[::-1])[::-1]
    tail_sq = np.cumsum((means**2)[::-1])[::-1]
    kept = np.arange(m, 0, -1, dtype=float)
    scores = (tail_sq - tail_sum**2 / kept) / kept**2
    return int(np.argmin(scores[: m // 2 + 1])) * batch


@dataclass(frozen=True, slots=True)
class SeriesWarmup:
    """MSER-5 on one daily series over the pilot's replications."""

    column: str
    truncations: tuple[int, ...]
    """Each replication's truncation point, days."""
    recommended: int
    """Mean of the truncations, rounded up to a whole batch (days)."""
    search_days: int
    """The search covered days 0..search_days: at that point, the series has not settled."""

    @property
    def settled(self) -> bool:
        return self.recommended < self.search_days


@dataclass(frozen=True, slots=True)
class Warmup:
    """The recommended warm-up of a scenario, from its pilot replications."""

    scenario: Scenario
    runs: tuple[RunResult, ...]
    series: tuple[SeriesWarmup, ...]

    @property
    def days(self) -> int:
        """The recommended warm-up: the largest over the series."""
        return max(s.recommended for s in self.series)

    @property
    def settled(self) -> bool:
        return all(s.settled for s in self.series)


def check_columns(columns: Sequence[str]) -> None:
    """A ScenarioError naming each unknown daily series, with a did-you-mean."""
    unknown = [c for c in columns if c not in DAILY_COLUMNS]
    if unknown:
        raise ScenarioError("--metric", [
            Issue("--metric", f"unknown daily series; known: {', '.join(DAILY_COLUMNS)}", c,
                  suggest(c, DAILY_COLUMNS)) for c in unknown])


def analyse(scenario: Scenario, runs: Sequence[RunResult],
            columns: Sequence[str] = SERIES) -> Warmup:
    """MSER-5 on each replication's daily series, combined as the module says."""
    check_columns(columns)
    days = scenario.run.days
    search = (days // BATCH_DAYS) // 2 * BATCH_DAYS
    found = []
    for column in columns:
        cuts = tuple(mser(run.daily[column]) for run in runs)
        mean = sum(cuts) / len(cuts) if cuts else 0.0
        recommended = min(search, BATCH_DAYS * math.ceil(mean / BATCH_DAYS - 1e-9))
        found.append(SeriesWarmup(column, cuts, recommended, search))
    return Warmup(scenario, tuple(runs), tuple(found))


def pilot(scenarios: Sequence[Scenario], replications: int = PILOT_REPLICATIONS, *,
          jobs: int | None = None, progress: Callable[[RunResult], None] | None = None
          ) -> list[tuple[RunResult, ...]]:
    """The pilots of several scenarios on one pool: ``replications`` runs of each with no
    warm-up, numbered from :data:`PILOT_FIRST_REPLICATION`, in replication order."""
    specs = [replace(s, run=replace(s.run, warmup_days=0), warmup_auto=False)
             for s in scenarios]
    indices = range(PILOT_FIRST_REPLICATION, PILOT_FIRST_REPLICATION + replications)
    tasks = [(i, spec, r) for r in indices for i, spec in enumerate(specs)]
    found: dict[tuple[int, int], RunResult] = {}
    for i, run in run_parallel(_pilot_run, tasks, min(jobs or default_jobs(), len(tasks))):
        found[i, run.replication] = run
        if progress is not None:
            progress(run)
    return [tuple(found[i, r] for r in indices) for i in range(len(specs))]


def _pilot_run(index: int, scenario: Scenario, replication: int) -> tuple[int, RunResult]:
    return index, run_replication(scenario, replication)


def find_warmup(scenarios: Sequence[Scenario], replications: int = PILOT_REPLICATIONS, *,
                columns: Sequence[str] = SERIES, jobs: int | None = None,
                progress: Callable[[RunResult], None] | None = None) -> list[Warmup]:
    """Simulate the pilots and recommend a warm-up for each scenario (``simrun warmup``)."""
    check_columns(columns)
    runs = pilot(scenarios, replications, jobs=jobs, progress=progress)
    return [analyse(s, r, columns) for s, r in zip(scenarios, runs, strict=True)]


def resolve_auto(scenarios: Sequence[Scenario], *, jobs: int | None = None,
                 progress: Callable[[RunResult], None] | None = None
                 ) -> tuple[list[Scenario], list[Warmup]]:
    """Scenarios with ``run.warmup_days = "auto"`` given the warm-up their pilots find;
    strategies compared together (same market) all get the largest of theirs, so they
    still measure the same window. Scenarios without "auto" pass unchanged."""
    auto = [s for s in scenarios if s.warmup_auto]
    if not auto:
        return list(scenarios), []
    found = find_warmup(auto, jobs=jobs, progress=progress)
    days = max(w.days for w in found)
    return [replace(s, run=replace(s.run, warmup_days=days), warmup_auto=False)
            if s.warmup_auto else s for s in scenarios], found


def resolve_market_auto(market: MarketScenario, *, jobs: int | None = None,
                        progress: Callable[[MarketRunResult], None] | None = None,
                        replications: int = PILOT_REPLICATIONS
                        ) -> tuple[MarketScenario, list[Warmup]]:
    """A market with ``run.warmup_days = "auto"`` given the warm-up its pilot finds: the
    market's pilot replications with no warm-up, MSER-5 on each firm's daily series,
    the largest over the firms; one :class:`Warmup` per firm (its scenario labelled with
    the firm's name). A market without "auto" passes unchanged."""
    if not market.warmup_auto:
        return market, []
    pilot_market = market.with_firms(
        replace(f, run=replace(f.run, warmup_days=0), warmup_auto=False) for f in market.firms)
    indices = range(PILOT_FIRST_REPLICATION, PILOT_FIRST_REPLICATION + replications)
    runs: dict[int, MarketRunResult] = {}
    for run in run_parallel(run_market_replication, [(pilot_market, r) for r in indices],
                            min(jobs or default_jobs(), replications)):
        runs[run.replication] = run
        if progress is not None:
            progress(run)
    found = [analyse(replace(firm, strategy=replace(firm.strategy, label=name)),
                     [runs[r].firms[i] for r in indices])
             for i, (name, firm) in enumerate(zip(market.names, market.firms, strict=True))]
    days = max(w.days for w in found)
    return market.with_firms(replace(f, run=replace(f.run, warmup_days=days), warmup_auto=False)
                             for f in market.firms), found


def welch_average(series: Sequence[float], window: int) -> np.ndarray:
    """Welch's moving average of a (replication-averaged) series: day i averages days
    i - w..i + w, with the window shrunk to i days near the start (2i + 1 values) and
    ending where the series ends."""
    values = np.asarray(series, dtype=float)
    n = len(values)
    out = np.full(n, np.nan)
    cumulative = np.concatenate(([0.0], np.cumsum(values)))
    for i in range(n - window):
        half = min(i, window)
        out[i] = (cumulative[i + half + 1] - cumulative[i - half]) / (2 * half + 1)
    return out


def welch_window(days: int) -> int:
    """A moving-average half-window for the chart: about a twentieth of the horizon."""
    return max(1, days // 40)




def warmup_dict(found: Warmup) -> dict[str, Any]:
    """The recommendation as written to warmup.json."""
    s = found.scenario
    return {
        "scenario": s.name, "simrun_version": __version__, "seed": s.run.seed,
        "days": s.run.days, "pilot_replications": len(found.runs),
        "pilot_first_replication": PILOT_FIRST_REPLICATION,
        "method": f"MSER-{BATCH_DAYS}, per replication, mean over replications, largest "
                  "over the series",
        "warmup_days": found.days, "settled": found.settled,
        "series": {w.column: {"recommended": w.recommended, "settled": w.settled,
                              "search_days": w.search_days,
                              "per_replication": list(w.truncations)}
                   for w in found.series},
    }


def warmup_csv(found: Warmup) -> str:
    """Per day: each judged series' mean over the pilot and Welch's moving average."""
    window = welch_window(found.scenario.run.days)
    columns = {}
    for w in found.series:
        values = np.array([run.daily[w.column] for run in found.runs], dtype=float)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(values, axis=0)
        columns[f"{w.column}_mean"] = mean
        columns[f"{w.column}_welch"] = welch_average(mean, window)
    lines = ["day," + ",".join(columns)]
    for day in range(found.scenario.run.days):
        lines.append(f"{day}," + ",".join("" if math.isnan(v[day]) else repr(float(v[day]))
                                           for v in columns.values()))
    return "\n".join(lines) + "\n"


def write_warmup(found: Warmup, folder: Path, stem: str = "warmup") -> list[Path]:
    """STEM.json and STEM.csv into ``folder``; returns their paths."""
    return [write_atomic(folder / f"{stem}.json", json.dumps(warmup_dict(found), indent=2) + "\n"),
            write_atomic(folder / f"{stem}.csv", warmup_csv(found))]


__all__ = ["BATCH_DAYS", "PILOT_FIRST_REPLICATION", "PILOT_REPLICATIONS", "SERIES",
           "SeriesWarmup", "Warmup", "analyse", "check_columns", "find_warmup", "mser",
           "pilot", "resolve_auto", "resolve_market_auto", "warmup_csv", "warmup_dict", "welch_average",
           "welch_window", "write_warmup"]
