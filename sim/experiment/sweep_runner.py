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

from sim.experiment.executors import Outcome, run_dask, run_local
from sim.experiment.expect import Verdict, judge_all
from sim.experiment.store import Store
from sim.experiment.sweep import Sweep
from sim.experiment.sweep_output import collect, write_exports
from sim.scenario import Issue, ScenarioError, scenario_toml


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
        digest.update(scenario_toml(scenario).encode())
    return digest.hexdigest()


def run_sweep(sweep: Sweep, folder: Path, *, jobs: int = 1, dask: str | None = None,
              resume: bool = False, fresh: bool = False,
              progress: Callable[[Outcome], None] | None = None,
              on_start: Callable[[int, int], None] | None = None) -> SweepResult:
    """Execute the runs the store does not hold yet; returns the judged results.

    ``on_start(total, already_done)`` is called once the work is known.
    """
    path = folder / "runs.sqlite"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store(path)
    try:
        mark = fingerprint(sweep)
        stored = store.fingerprint()
        if stored is not None and store.count() and not resume:
            raise ScenarioError(path, [Issue("", "holds runs of an earlier sweep: add --resume "
                                             "to continue it, or --fresh to start over")])
        if stored is not None and stored != mark:
            raise ScenarioError(path, [Issue("", "belongs to a different version of this sweep "
                                             "(the file or a scenario changed): use --fresh")])
        store.start(mark, list(sweep.points))
        finished = store.finished()
        todo = [(task, sweep.scenarios[task[0], task[1]]) for task in sweep.tasks()
                if task not in finished]
        if on_start:
            on_start(len(sweep.tasks()), len(sweep.tasks()) - len(todo))
        outcomes = run_dask(todo, dask) if dask else run_local(todo, jobs)
        ran = 0
        for outcome in outcomes:
            store.put(outcome.task, outcome.metrics, outcome.error)
            ran += 1
            if progress:
                progress(outcome)
        values = collect(store.runs())
        failures = store.failures()
    finally:
        store.close()
    files = write_exports(sweep, values, folder)
    return SweepResult(sweep, values, failures, judge_all(sweep, values), files, ran)
