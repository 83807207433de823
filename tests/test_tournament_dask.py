"""A tournament on a real Dask cluster: a ``dask scheduler`` and a ``dask worker``
started as their own processes, talking TCP on loopback (not an in-process
LocalCluster). The payoffs must equal a local run's byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sweep_helpers import SCENARIOS, simrun

distributed = pytest.importorskip("dask.distributed")

pytestmark = pytest.mark.slow


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", *args], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The process and whatever it started (a worker's nanny starts one), by its group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a scheduler with one single-threaded worker, both on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    file = folder / "scheduler.json"
    started = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                       "--dashboard-address", ":0", "--scheduler-file", str(file)], folder / "s.log")]
    try:
        deadline = time.monotonic() + 60
        while not file.is_file() or not file.read_text().strip():
            assert started[0].poll() is None, (folder / "s.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        started.append(_start(["distributed.cli.dask_worker", "--scheduler-file", str(file),
                               "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                               "--host", "127.0.0.1"], folder / "w.log"))
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            _stop(process)


def test_a_tournament_on_a_dask_scheduler_and_worker_equals_the_local_run(
        tmp_path: Path, scheduler: str) -> None:
    assert scheduler.startswith("tcp://127.0.0.1:")
    args = ["tournament", SCENARIOS / "market-duel.toml", "--strategies", "god,tiered", "-n",
            "2", "--set", "run.days=60", "--set", "run.warmup_days=10", "-q"]
    code, out = simrun(*args, "--dask", scheduler, "--out", tmp_path / "dask")
    assert code == 0, out
    assert "4 pairings x 2 replications (8 run now)" in out
    code, out = simrun(*args, "-j", "1", "--out", tmp_path / "local")
    assert code == 0, out
    for name in ("tournament.json", "payoffs.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    with distributed.Client(scheduler, timeout=30) as client:
        assert len(client.scheduler_info()["workers"]) == 1  # the worker served it
