"""Where sweep runs execute: local worker processes, or a Dask cluster.

Both take picklable tasks and yield outcomes as runs finish; the caller stores each
outcome at once. A run that raises comes back as a failure with its traceback (the
rest goes on). Results do not depend on the executor: a run is a pure function of
its scenario and replication index.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sim.experiment.pool import run_parallel
from sim.model.engine import run_replication
from sim.scenario.model import Scenario

Task = tuple[int, str, int]
"""(point, strategy, replication)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    task: Task
    metrics: dict[str, float] | None
    error: str | None = None


def execute(task: Task, scenario: Scenario) -> Outcome:
    """Run one replication in a worker; an exception becomes a failed Outcome."""
    try:
        result = run_replication(scenario, task[2])
    except Exception:  # noqa: BLE001 -- a sweep records every failure and goes on
        return Outcome(task, None, traceback.format_exc())
    return Outcome(task, result.metrics)


def run_local(work: Sequence[tuple[Task, Scenario]], jobs: int,
              function: Callable[[Task, Scenario], Any] = execute) -> Iterator[Any]:
    """Runs over local worker processes (:mod:`sim.experiment.pool`); ``function(task,
    scenario)`` runs one (by default :func:`execute`)."""
    return run_parallel(function, work, jobs)


def run_dask(work: Sequence[tuple[Task, Scenario]], address: str,
             function: Callable[[Task, Scenario], Any] = execute) -> Iterator[Any]:
    """Runs on a Dask cluster: ``tcp://HOST:8786``, or ``local`` for a LocalCluster.

    Dask reschedules the runs of a worker that dies; the store's primary key makes a
    run delivered twice count once. Workers need simrun installed (same version).
    """
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None) \
        if address == "local" else None
    client = Client(cluster if cluster is not None else address)
    # Keys unique to this call: a shared cluster may hold another sweep's runs with the
    # same (point, strategy, replication), and Dask would hand back their results.
    token = uuid.uuid4().hex[:12]
    try:
        tasks: dict[str, Task] = {}
        futures = []
        for task, scenario in work:
            key = f"simrun-{token}-{task[0]}-{task[1]}-{task[2]}"
            tasks[key] = task
            futures.append(client.submit(function, task, scenario, key=key, pure=False))
        # Then as_completed holds the only references, and a future is released once
        # yielded: a worker dying later does not make Dask recompute runs already stored.
        # Its loop is this client's: by default it takes the caller's current client,
        # and a result lost with a worker is then awaited on the wrong event loop.
        pending = as_completed(futures, loop=client.loop)
        futures.clear()
        for future in pending:
            try:
                outcome = future.result()
            except Exception:  # noqa: BLE001 -- the task failed in Dask (workers kept dying)
                outcome = Outcome(tasks[future.key], None, traceback.format_exc())
            future.release()
            yield outcome
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
