"""Run a sweep: skip what the store already holds, execute the rest, store each run as
it finishes, then export and judge the expectations.

Runs are stored by the main process only (one SQLite writer), in the order they
finish; every view of the results sorts them, so the files do not depend on that order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.experiment.executors import Outcome, execute_into
from sim.experiment.expect import Verdict, judge_all
from sim.experiment.lock import locked
from sim.experiment.market_output import market_toml
from sim.experiment.store import Store, open_for_run
from sim.experiment.sweep import Sweep
from sim.experiment.sweep_output import collect, import_for_exports, write_exports
from sim.scenario import Issue, ScenarioError, scenario_toml
from sim.scenario.market import FirmOfMarket


@dataclass(frozen=True)
class SweepResult:
    sweep: Sweep
    values: dict[tuple[int, str], dict[int, dict[str, float]]]
    failures: list[tuple[int, str, int, str]]
    verdicts: list[Verdict]
    files: list[Path]
    ran: int
    """Runs executed by this call (the rest came from the store)."""


def fingerprint(sweep: Sweep) -> str:
    """What the stored runs belong to: every point's resolved scenarios."""
    digest = hashlib.sha256()
    for (point, strategy), scenario in sorted(sweep.scenarios.items()):
        digest.update(f"{point}/{strategy}\n".encode())
        if isinstance(scenario, FirmOfMarket):
            digest.update(market_toml(scenario.market).encode())
        else:
            digest.update(scenario_toml(scenario).encode())
    return digest.hexdigest()


def run_sweep(sweep: Sweep, folder: Path, *, jobs: int = 1, dask: str | None = None,
              resume: bool = False, fresh: bool = False,
              progress: Callable[[Outcome], None] | None = None,
              on_start: Callable[[int, int], None] | None = None,
              origin: dict[str, Any] | None = None) -> SweepResult:
    """Execute the runs the store does not hold yet; returns the judged results.

    The folder is locked for the whole call (:mod:`sim.experiment.lock`): a second
    sweep into it, ``--fresh`` or not, is refused instead of deleting this one's store.
    ``on_start(total, already_done)`` is called once the work is known. ``origin``
    (how the sweep was loaded: its file, replications and overrides) is kept in the
    store, so that ``simrun report`` can load the sweep again.
    """
    with locked(folder):
        return _run_locked(sweep, folder, jobs=jobs, dask=dask, resume=resume, fresh=fresh,
                           progress=progress, on_start=on_start, origin=origin)


def _run_locked(sweep: Sweep, folder: Path, *, jobs: int, dask: str | None, resume: bool,
                fresh: bool, progress: Callable[[Outcome], None] | None,
                on_start: Callable[[int, int], None] | None,
                origin: dict[str, Any] | None) -> SweepResult:
    mark = fingerprint(sweep)
    store = open_for_run(folder / STORE_NAME, mark, fresh=fresh, resume=resume, what="sweep",
                         changed="a different version of this sweep (the file or a scenario "
                                 "changed)")
    try:
        store.start(mark, list(sweep.points), origin or default_origin(sweep))
        finished = store.finished()
        if on_start:
            on_start(sweep.task_count, len(finished))
        todo = ((task, sweep.scenarios[task[0], task[1]]) for task in sweep.iter_tasks()
                if task not in finished)
        # With the runs in other processes, this one mostly waits: it imports what the
        # exports need meanwhile, off the serial end of the sweep.
        ran = execute_into(store, todo, jobs=jobs, dask=dask, progress=progress,
                           meanwhile=import_for_exports)
        values = collect(store.runs())
        failures = store.failures()
    finally:
        store.close()
    files = write_exports(sweep, values, folder)
    return SweepResult(sweep, values, failures, judge_all(sweep, values), files, ran)


STORE_NAME = "runs.sqlite"


def default_origin(sweep: Sweep) -> dict[str, Any]:
    """How to load this sweep again: its file (absolute), replications and overrides."""
    return {"file": str(sweep.source.resolve()), "replications": sweep.settings.replications,
            "set": list(sweep.settings.set)}


def load_stored_sweep(folder: Path) -> SweepResult:
    """A finished (or interrupted) sweep read back from its folder, for reports: the
    sweep file it came from is loaded again, and must still give the same scenarios."""
    from sim import limits
    from sim.experiment.sweep import load_sweep

    path = folder / STORE_NAME
    store = Store.open_existing(path)
    try:
        origin, mark = store.origin(), store.fingerprint()
        if not isinstance(origin, dict) or not isinstance(origin.get("file"), str):
            raise ScenarioError(path, [Issue("", "does not say which sweep file it comes from "
                                             "(made by an earlier simrun): run the sweep again "
                                             "with --resume to record it")])
        source = Path(origin["file"])
        replications = origin.get("replications")
        overrides = origin.get("set") or []
        if not (replications is None or isinstance(replications, int)) or not (
                isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
            raise ScenarioError(path, [Issue("", "damaged: its record of the sweep is not "
                                             "what simrun writes")])
        try:
            with limits.lifted():
                sweep = load_sweep(source, replications=replications, overrides=overrides)
        except ScenarioError as error:
            raise ScenarioError(path, [Issue("", f"comes from {source}, which no longer loads: "
                                             f"{error.format()}")]) from None
        if fingerprint(sweep) != mark:
            raise ScenarioError(path, [Issue("", f"comes from {source}, which has changed since "
                                             "(or a scenario it names has): run the sweep again")])
        values = collect(store.runs())
        failures = store.failures()
    finally:
        store.close()
    files = [p for p in (folder / n for n in ("sweep.csv", "summary.csv")) if p.exists()]
    return SweepResult(sweep, values, failures, judge_all(sweep, values), files, 0)
