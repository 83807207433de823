"""Where sweep runs execute: local worker processes, or a Dask cluster.

Both take picklable tasks and yield outcomes as runs finish; the caller stores each
outcome at once. A run that raises comes back as a failure with its traceback (the
rest goes on). Results do not depend on the executor: a run is a pure function of
its scenario and replication index.
"""

from __future__ import annotations

import importlib
import itertools
import socket
import struct
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from sim.experiment.pool import PRELOAD, alongside, run_parallel
from sim.scenario.errors import SimrunError
from sim.scenario.market import FirmOfMarket
from sim.scenario.model import Scenario

Task = tuple[int, str, int]
"""(point, strategy, replication)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    task: Task
    metrics: dict[str, float] | None
    error: str | None = None


def execute(task: Task, scenario: Scenario | FirmOfMarket) -> Outcome:
    """Run one replication in a worker; an exception becomes a failed Outcome. A firm of
    a market runs the whole market and reports that firm's metrics. The model is
    imported here, where the runs are: the process that hands them out never needs it
    (:func:`sim.experiment.runner.replication`)."""
    from sim.model.engine import run_replication
    from sim.model.market import run_market_replication

    try:
        if isinstance(scenario, FirmOfMarket):
            result = run_market_replication(scenario.market, task[2]).firms[scenario.index]
        else:
            result = run_replication(scenario, task[2])
    except Exception:  # noqa: BLE001 -- a sweep records every failure and goes on
        return Outcome(task, None, traceback.format_exc())
    return Outcome(task, result.metrics)


def run_local(work: Iterable[tuple[Task, Any]], jobs: int,
              function: Callable[[Task, Any], Any] = execute,
              meanwhile: Callable[[], object] | None = None) -> Iterator[Any]:
    """Runs over local worker processes (:mod:`sim.experiment.pool`); ``function(task,
    scenario)`` runs one (by default :func:`execute`)."""
    return run_parallel(function, work, jobs, meanwhile)


LOCAL_CLUSTER_CONFIG = {
    # The workers' statistical profiler samples the running task every 10 ms for a
    # dashboard page simrun never shows: about 3.5% of a busy worker's CPU.
    "distributed.worker.profile.enabled": False,
    # Every process checks its event loop every 20 ms (to warn when it is blocked) and
    # samples its own CPU and memory every 0.5 s (for the dashboard): with the profiler,
    # an idle 2-worker cluster took about 150 ms of CPU a second, 7% of a 2-core machine
    # that the runs need (bench/README.md "Scaling"). Memory limits are still enforced.
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}
"""Dask settings of ``--dask local``'s cluster: its services' own CPU competes with the
runs on the same cores. A remote cluster keeps its own settings."""

DASK_IN_FLIGHT = 1000
"""Runs submitted to a Dask cluster ahead of the results: the client and the scheduler
hold at most this many, whatever the size of the sweep."""
CONNECT_TIMEOUT_S = 10.0
"""How long to wait for a Dask scheduler to answer."""
HANDSHAKE_MAX_BYTES = 1_000_000
"""A Dask scheduler's first message is a few hundred bytes; a server that announces more
is not one (and is not given the chance to make this process allocate it)."""


class DaskUnavailable(SimrunError):
    """The Dask cluster cannot be used: a bad address, nothing there, or not Dask."""


def run_dask(work: Iterable[tuple[Task, Any]], address: str,
             function: Callable[[Task, Any], Any] = execute) -> Iterator[Any]:
    """Runs on a Dask cluster: ``tcp://HOST:8786``, or ``local`` for a LocalCluster.

    Dask reschedules the runs of a worker that dies; the store's primary key makes a
    run delivered twice count once. Workers need simrun installed (same version). A
    scheduler that does not answer within seconds, or a server that is not Dask, is a
    :class:`DaskUnavailable` error before any run is submitted.
    """
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise DaskUnavailable("--dask needs dask.distributed: pip install 'simrun[dask]'") from None
    if address == "local":
        cluster, client = start_local_cluster()
    else:
        probe_scheduler(address)
        cluster = None
        try:
            client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise DaskUnavailable(f"--dask {address}: no Dask scheduler answered ({exc})") \
                from None
    # Keys unique to this call: a shared cluster may hold another sweep's runs with the
    # same (point, strategy, replication), and Dask would hand back their results.
    token = uuid.uuid4().hex[:12]
    try:
        tasks: dict[str, Task] = {}
        # Its loop is this client's: by default it takes the caller's current client,
        # and a result lost with a worker is then awaited on the wrong event loop.
        pending = as_completed(loop=client.loop)
        items = iter(work)

        def submit(count: int) -> None:
            for task, scenario in itertools.islice(items, count):
                key = f"simrun-{token}-{task[0]}-{task[1]}-{task[2]}"
                tasks[key] = task
                pending.add(client.submit(function, task, scenario, key=key, pure=False))

        submit(DASK_IN_FLIGHT)
        # as_completed holds the only references, and a future is released once yielded:
        # a worker dying later does not make Dask recompute runs already stored.
        for future in pending:
            try:
                outcome = future.result()
            except Exception:  # noqa: BLE001 -- the task failed in Dask (workers kept dying)
                outcome = Outcome(tasks[future.key], None, traceback.format_exc())
            del tasks[future.key]
            future.release()
            submit(1)
            yield outcome
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def start_local_cluster() -> tuple[Any, Any]:
    """``--dask local``'s start-up: a LocalCluster of one single-threaded worker process
    per core, each under a nanny that restarts it if it dies, and a client of it; every
    worker warmed up (:func:`warm_up`) before it returns. With the import of
    dask.distributed, everything ``--dask local`` pays before its first run: what
    bench/bench_sweep.py measures as the cluster's start-up."""
    from dask import config
    from dask.distributed import Client, LocalCluster

    # the scheduler's HTTP server (health, metrics; the dashboard) on a free port: on its
    # default, 8787, a second cluster on the machine would find it taken
    with config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=":0")
    try:
        client = Client(cluster, timeout=f"{CONNECT_TIMEOUT_S}s")
        client.wait_for_workers(len(cluster.workers))
        client.run(warm_up)
    except BaseException as exc:
        cluster.close()
        if isinstance(exc, (OSError, TimeoutError)):
            raise DaskUnavailable(f"--dask local: the cluster did not answer ({exc})") from None
        raise
    return cluster, client


def warm_up() -> None:
    """Import, in a worker, what every run needs (:data:`sim.experiment.pool.PRELOAD`:
    the model, SciPy's special functions). Otherwise each worker's first run pays it."""
    for module in PRELOAD:
        importlib.import_module(module)


def probe_scheduler(address: str) -> None:
    """Connect to ``address`` and read the first frame header a Dask scheduler sends;
    a DaskUnavailable error when the address is malformed, nothing listens, nothing
    answers within seconds, or what answers is not Dask."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as sock:
            sock.settimeout(CONNECT_TIMEOUT_S)
            header = b""
            while len(header) < 8:
                chunk = sock.recv(8 - len(header))
                if not chunk:
                    raise DaskUnavailable(f"--dask {address}: the server closed the connection; "
                                          "it is not a Dask scheduler")
                header += chunk
    except TimeoutError:
        raise DaskUnavailable(f"--dask {address}: no answer within {CONNECT_TIMEOUT_S:g} s; is "
                              "it a Dask scheduler?") from None
    except OSError as exc:
        raise DaskUnavailable(f"--dask {address}: cannot connect ({exc.strerror or exc})") from None
    (size,) = struct.unpack("Q", header)
    if not 0 < size <= HANDSHAKE_MAX_BYTES:
        raise DaskUnavailable(f"--dask {address}: the server there is not a Dask scheduler")


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of ``tcp://HOST:PORT`` or ``HOST:PORT``; DaskUnavailable otherwise."""
    text = address.removeprefix("tcp://")
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if "://" in text or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DaskUnavailable(f"--dask {address!r}: not a scheduler address; give "
                              "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786) or 'local'")
    return host, int(port)


def execute_into(store: Any, work: Iterable[tuple[Task, Any]], *, jobs: int,
                 dask: str | None, function: Callable[[Task, Any], Any] = execute,
                 progress: Callable[[Outcome], None] | None = None,
                 meanwhile: Callable[[], object] | None = None) -> int:
    """Run the work locally or on Dask, committing each outcome to ``store``
    (:class:`sim.experiment.store.Store`) as it arrives; returns how many ran.
    ``meanwhile()`` runs in a thread of this process while the runs execute elsewhere
    (on Dask, or in worker processes: :func:`sim.experiment.pool.run_parallel`), and is
    done when this returns."""
    if dask:
        with alongside(meanwhile) if meanwhile else nullcontext():
            return _store_all(store, run_dask(work, dask, function), progress)
    return _store_all(store, run_local(work, jobs, function, meanwhile), progress)


def _store_all(store: Any, outcomes: Iterable[Outcome],
               progress: Callable[[Outcome], None] | None) -> int:
    ran = 0
    for outcome in outcomes:
        store.put(outcome.task, outcome.metrics, outcome.error)
        ran += 1
        if progress:
            progress(outcome)
    return ran
