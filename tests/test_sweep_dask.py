"""Sweeps on a real dask.distributed LocalCluster: worker processes on loopback.

One cluster serves the module (started here, always closed). Results must equal local
execution byte for byte; a worker process killed with SIGKILL mid-sweep loses nothing
and doubles nothing; two sweeps sharing a cluster do not get each other's runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sweep_helpers import ALTERNATIVES, assert_each_run_once, exports, simrun, sweep_file

from sim.experiment.executors import Outcome, run_dask, run_local, start_local_cluster
from sim.experiment.sweep import Sweep, load_sweep
from sim.experiment.sweep_runner import run_sweep

distributed = pytest.importorskip("dask.distributed")

@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two single-threaded worker processes (under nannies) on 127.0.0.1."""
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=":0") as local:
        with distributed.Client(local.scheduler_address) as client:
            client.wait_for_workers(2, timeout=60)
        yield local


def test_the_scheduler_listens_on_loopback(cluster: Any) -> None:
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    with distributed.Client(cluster.scheduler_address) as client:
        workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers)


def test_results_are_identical_on_one_or_two_processes_and_on_dask(
        tmp_path: Path, cluster: Any) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES, days=40, warmup=10, replications=2, seed=17)
    sweep = load_sweep(path)
    one = run_sweep(sweep, tmp_path / "one", jobs=1)
    assert one.ran == 8
    code, out = simrun("sweep", path, "--out", tmp_path / "two", "-j", "2", "-q")
    assert code == 0, out
    code, out = simrun("sweep", path, "--out", tmp_path / "dask", "--dask",
                       cluster.scheduler_address, "-q")
    assert code == 0, out
    assert "8 runs (8 run now)" in out
    for folder in ("one", "two", "dask"):
        assert_each_run_once(tmp_path / folder, sweep.tasks())
    assert exports(tmp_path / "two") == exports(tmp_path / "one")
    assert exports(tmp_path / "dask") == exports(tmp_path / "one")


def _work(sweep: Sweep) -> list[tuple[tuple[int, str, int], Any]]:
    return [(task, sweep.scenarios[task[0], task[1]]) for task in sweep.tasks()]


def _by_task(outcomes: Any) -> dict[tuple[int, str, int], str]:
    return {o.task: repr(o.metrics) for o in outcomes}


def test_two_sweeps_sharing_a_cluster_get_their_own_runs(tmp_path: Path, cluster: Any) -> None:
    """The same (point, strategy, replication) of two sweeps in flight at once."""
    a = load_sweep(sweep_file(tmp_path, ALTERNATIVES, name="a", days=30, warmup=5, seed=1))
    b = load_sweep(sweep_file(tmp_path, ALTERNATIVES, name="b", days=30, warmup=5, seed=2))
    on_a = run_dask(_work(a), cluster.scheduler_address)
    first = next(on_a)  # every run of a is submitted now, most not finished
    got_b = _by_task(run_dask(_work(b), cluster.scheduler_address))
    got_a = _by_task([first, *on_a])
    assert got_a == _by_task(run_local(_work(a), 1))
    assert got_b == _by_task(run_local(_work(b), 1))
    assert got_a != got_b


def test_a_local_cluster_starts_when_the_dashboards_port_is_taken(tmp_path: Path) -> None:
    """--dask local serves its HTTP on a free port: 8787 held by another program (another
    cluster) must not stop it (Dask's 'port in use' is a warning the suite makes an error)."""
    sweep = load_sweep(sweep_file(tmp_path, ALTERNATIVES, days=30, warmup=5, seed=1))
    with socket.socket() as held:
        with contextlib.suppress(OSError):  # held by someone else already: held all the same
            held.bind(("", 8787))
            held.listen()
        got = _by_task(run_dask(_work(sweep), "local"))
    assert got == _by_task(run_local(_work(sweep), 1))


def test_a_local_cluster_is_warmed_up_and_its_services_spare_the_cores() -> None:
    """--dask local's workers have imported the model before the first run (so that it
    counts as start-up), and run without the profiler and the 20 ms event-loop checks
    (executors.LOCAL_CLUSTER_CONFIG) whose CPU the runs would lose."""
    cluster, client = start_local_cluster()
    workers = len(cluster.workers)
    try:
        # defined here, pickled by value: unpickling it imports nothing in the worker
        state = client.run(lambda: (
            [m for m in ("sim.model.engine", "scipy.special") if m in __import__("sys").modules],
            __import__("dask").config.get("distributed.worker.profile.enabled"),
            __import__("dask").config.get("distributed.admin.tick.interval")))
    finally:
        client.close()
        cluster.close()
    assert len(state) == workers >= 1
    assert all(tuple(v) == (["sim.model.engine", "scipy.special"], False, "1s")
               for v in state.values()), state


def test_a_worker_killed_mid_sweep_loses_nothing_and_doubles_nothing(
        tmp_path: Path, cluster: Any) -> None:
    # runs of about 0.3-0.5 s, 8 of them on 2 workers: the kill comes after the second
    path = sweep_file(tmp_path, ALTERNATIVES, days=150, warmup=10, replications=2, seed=23)
    sweep = load_sweep(path)
    tasks = sweep.tasks()
    assert len(tasks) == 8
    address = cluster.scheduler_address
    with distributed.Client(address) as client:
        client.wait_for_workers(2, timeout=60)
        pids: dict[str, int] = client.run(os.getpid)
        delivered: list[Outcome] = []
        killed: list[tuple[int, int]] = []  # (pid, outcomes delivered when killed)

        def progress(outcome: Outcome) -> None:
            delivered.append(outcome)
            if len(delivered) != 2:
                return
            # While this callback holds the sweep up, wait until a worker holds a
            # finished run nobody has fetched yet and is running the next: kill it, so
            # one result is lost before it was fetched and one run in flight.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                holding, running = client.has_what(), client.processing()
                done = tuple(f"-{p}-{s}-{r}" for p, s, r in (o.task for o in delivered))
                doomed = [w for w in pids if running.get(w) and any(
                    not key.endswith(done) for key in holding.get(w, ()))]
                if doomed:
                    os.kill(pids[doomed[0]], signal.SIGKILL)
                    killed.append((pids[doomed[0]], len(delivered)))
                    return
                time.sleep(0.02)

        started = time.monotonic()
        result = run_sweep(sweep, tmp_path / "dask", dask=address, progress=progress)
        elapsed = time.monotonic() - started
        assert killed, "the worker was not killed"
        pid, at = killed[0]
        assert at < len(tasks)
        client.wait_for_workers(2, timeout=60)  # the nanny brings up a new worker process
        assert pid not in client.run(os.getpid).values()

    # each run delivered once to the store, stored once, all ok
    assert sorted(o.task for o in delivered) == sorted(tasks)
    assert [o.error for o in delivered if o.metrics is None] == []
    assert result.ran == len(tasks)
    assert result.failures == []
    assert_each_run_once(tmp_path / "dask", tasks)
    # and the same bytes as an uninterrupted local run
    local = run_sweep(sweep, tmp_path / "local", jobs=1)
    assert local.ran == len(tasks)
    assert exports(tmp_path / "dask") == exports(tmp_path / "local")
    assert elapsed < 60
