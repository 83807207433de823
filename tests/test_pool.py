"""The process pool hands out work lazily, stops at the first error, and its workers
never outlive the process that started them."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from paths import ROOT
from processes import descendants, gone, needs_proc, running, wait_until

from sim import blas
from sim.experiment import pool
from sim.experiment.pool import IN_FLIGHT_PER_WORKER, run_parallel


class Counted:
    """Tasks ``(x,)`` for x in ``values``, counting how many were taken."""

    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.taken = 0

    def __iter__(self) -> Iterator[tuple[float]]:
        for x in self.values:
            self.taken += 1
            yield (x,)


def test_workers_get_a_bounded_number_of_tasks_ahead() -> None:
    tasks = Counted([float(x) for x in range(200)])
    results = run_parallel(math.sqrt, tasks, jobs=2)
    next(results)
    assert tasks.taken <= IN_FLIGHT_PER_WORKER * 2 + 1
    assert len([next(results)]) == 1
    results.close()
    assert tasks.taken < 200


def test_results_are_those_of_every_task_in_or_out_of_process() -> None:
    values = [float(x) for x in range(30)]
    expected = sorted(math.sqrt(x) for x in values)
    assert sorted(run_parallel(math.sqrt, Counted(values), jobs=2)) == expected
    assert sorted(run_parallel(math.sqrt, Counted(values), jobs=1)) == expected


def test_an_error_in_a_task_stops_the_rest() -> None:
    tasks = Counted([4.0, -1.0, *([9.0] * 200)])
    with pytest.raises(ValueError, match="math domain error"):
        list(run_parallel(math.sqrt, tasks, jobs=2))
    assert tasks.taken < 200


class Meanwhile:
    """``meanwhile`` work that cannot end before ``gate`` opens, and then takes a while:
    a caller that got past the results' end without waiting for it finds it unfinished."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.done: list[tuple[str, int]] = []

    def __call__(self) -> None:
        assert self.gate.wait(timeout=60)
        time.sleep(0.2)
        self.done.append((threading.current_thread().name, os.getpid()))


def test_meanwhile_runs_in_this_process_while_workers_run_and_ends_with_the_results(
        ) -> None:
    """The pool's ``meanwhile`` runs once, in a thread of this process, while workers run
    the tasks; the results end only once it is done (the gate opens as the last result
    arrives, so a pool that did not wait for it would end first)."""
    values = [float(x) for x in range(30)]
    work = Meanwhile()
    results = []
    for result in run_parallel(math.sqrt, Counted(values), jobs=2, meanwhile=work):
        results.append(result)
        if len(results) == len(values):
            work.gate.set()
    assert work.done == [("simrun-meanwhile", os.getpid())]
    assert sorted(results) == sorted(math.sqrt(x) for x in values)


def test_meanwhile_is_done_before_an_error_propagates_and_never_runs_in_one_process(
        ) -> None:
    work = Meanwhile()
    work.gate.set()
    with pytest.raises(ValueError, match="math domain error"):
        list(run_parallel(math.sqrt, Counted([4.0, -1.0, *([9.0] * 50)]), jobs=2,
                          meanwhile=work))
    assert work.done == [("simrun-meanwhile", os.getpid())]
    alone = Meanwhile()
    alone.gate.set()
    assert list(run_parallel(math.sqrt, Counted([4.0, 9.0]), jobs=1, meanwhile=alone)) == [
        2.0, 3.0]
    assert alone.done == []


def test_meanwhile_starts_before_the_first_worker_is_asked_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting the first workers waits for the fork server, which may still be importing
    the model: ``meanwhile`` has that time. The pool asks for its first worker only once
    ``meanwhile`` runs (it waits up to 5 s for it; a pool that started it later would find
    it not yet running)."""
    running = threading.Event()
    seen: list[bool] = []

    class Watched(pool.ProcessPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            if not seen:
                seen.append(running.wait(timeout=5))
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(pool, "ProcessPoolExecutor", Watched)
    results = list(run_parallel(math.sqrt, Counted([4.0, 9.0]), jobs=2,
                                meanwhile=running.set))
    assert sorted(results) == [2.0, 3.0]
    assert seen == [True]


def exit_when_released(release: str) -> int:
    """In a worker: hold its exit until the file ``release`` exists (at most 20 s), with
    a thread that is not a daemon (a process joins such threads before it ends)."""
    def held() -> None:
        deadline = time.monotonic() + 20
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.02)

    threading.Thread(target=held, daemon=False).start()
    return os.getpid()


@needs_proc
def test_the_caller_goes_on_while_the_workers_exit(tmp_path: Path) -> None:
    """Once every result is in, the caller writes its files while the workers exit:
    the workers here cannot exit until the caller, after the last result, releases
    them; they exit then, and none is left behind."""
    release = tmp_path / "release"
    pids = set(run_parallel(exit_when_released, [(str(release),)] * 8, jobs=2))
    assert len(pids) >= 1
    assert all(running(pid) for pid in pids)  # the pool did not wait for them
    release.touch()
    assert gone(pids, timeout=30) == set()


SLEEPER = """
import os, sys, time
from sim.experiment.pool import run_parallel

def nap(seconds):
    with open(sys.argv[1], "a") as pids:
        pids.write(f"{os.getpid()}\\n")
    time.sleep(seconds)

if __name__ == "__main__":
    for _ in run_parallel(nap, [(60,)] * 8, 2):
        pass
"""


@needs_proc
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_parent_however_it_ends(tmp_path: Path, how: int) -> None:
    """Once both workers are in a task, the parent is killed: the workers, and whatever
    else it started (the fork server), are gone soon after."""
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    pids = tmp_path / "pids"
    pids.touch()
    parent = subprocess.Popen([sys.executable, str(script), str(pids)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: len(pids.read_text().split()) >= 2, timeout=30)
        workers = {int(pid) for pid in pids.read_text().split()}
        children = descendants(parent.pid)
        assert workers <= children
        parent.send_signal(how)
        parent.communicate(timeout=15)  # no process holds its pipes open any more
        assert gone(children, timeout=10) == set()
    finally:
        parent.kill()
        parent.wait()


def test_an_unguarded_script_runs_in_one_process_and_says_why(tmp_path: Path) -> None:
    unguarded = tmp_path / "unguarded.py"
    unguarded.write_text("import math\nfrom sim.experiment.pool import run_parallel\n"
                         "print(sorted(run_parallel(math.sqrt, [(4.0,), (9.0,)], 2)))\n")
    done = subprocess.run([sys.executable, str(unguarded)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[2.0, 3.0]\n"
    assert "unguarded.py:3: RuntimeWarning: unguarded.py calls simrun at its top level " \
           "without 'if __name__ == \"__main__\":'" in done.stderr
    guarded = tmp_path / "guarded.py"
    guarded.write_text("import math\nfrom sim.experiment.pool import run_parallel\n"
                       "if __name__ == '__main__':\n"
                       "    print(sorted(run_parallel(math.sqrt, [(4.0,), (9.0,)], 2)))\n")
    done = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[2.0, 3.0]\n", "")


class Enough(Exception):
    """Raised by the caller after its first result."""


def modules_loaded(*names: str) -> list[bool]:
    """In a worker, before it imports anything more: whether it holds these modules."""
    return [name in sys.modules for name in names]


def environment(*names: str) -> list[str | None]:
    """In a worker: these environment variables."""
    return [os.environ.get(name) for name in names]


fork_server = pytest.mark.skipif(not pool.FORKS_WORKERS, reason="workers are spawned here")


@fork_server
def test_workers_start_with_the_model_imported() -> None:
    """Workers are forked from a server that imported the model once: a task finds the
    model, SimPy, NumPy and SciPy's special functions there before it imports anything
    itself."""
    names = ("sim.model.engine", "simpy", "numpy", "scipy.special")
    assert list(run_parallel(modules_loaded, [names] * 4, jobs=2)) == [[True] * 4] * 4


@fork_server
def test_the_fork_server_starts_no_blas_threads() -> None:
    """The fork server starts with NumPy's BLAS told to use one thread (unless this
    process says otherwise), so that it forks single-threaded; the workers inherit that,
    and this process's own environment is as it was."""
    names = tuple(blas.ONE_THREAD)
    before = dict(os.environ)
    expected = [os.environ.get(name, blas.ONE_THREAD[name]) for name in names]
    assert list(run_parallel(environment, [names] * 4, jobs=2)) == [expected] * 4
    assert dict(os.environ) == before


FORK_SERVERS = """
for entry in Path("/proc").iterdir():
    if entry.name.isdigit():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_text().replace("\\0", " ")
        except OSError:
            continue
        if parent == os.getpid() and "multiprocessing.forkserver" in command:
            print(command)
"""
FORK_SERVERS_STARTED = """
import os, sys
from pathlib import Path
from sim import cli
runs = None if sys.argv[3] == "unknown" else int(sys.argv[3])
cli.check_jobs(int(sys.argv[1]), local=sys.argv[2] == "local", runs=runs)
""" + FORK_SERVERS
FORK_SERVERS_AFTER_A_COMMAND = """
import os, sys
from pathlib import Path
from sim import cli
cli.main(sys.argv[1:], standalone_mode=False)
""" + FORK_SERVERS


@fork_server
@needs_proc
def test_a_command_starts_its_fork_server_before_it_loads_its_input() -> None:
    """``check_jobs``, a command's first step, starts the fork server when the work goes
    to local worker processes, preloading the command line (which every worker's
    ``simrun`` script imports again) and the model; not for one job, nor for Dask, nor
    for a command that knows it makes one run (``-n 1``)."""
    def servers(jobs: int, where: str, runs: str = "unknown") -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", FORK_SERVERS_STARTED, str(jobs), where, runs],
            capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.splitlines()

    started = servers(2, "local")
    assert len(started) == 1
    assert "'sim.cli'" in started[0]
    assert "'sim.model.engine'" in started[0]
    assert len(servers(2, "local", runs="2")) == 1
    assert servers(1, "local") == []
    assert servers(2, "dask") == []
    assert servers(2, "local", runs="1") == []


@fork_server
@needs_proc
@pytest.mark.parametrize(("runs", "started"), [("1", 0), ("2", 1)])
def test_a_single_replication_starts_no_fork_server(tmp_path: Path, runs: str,
                                                    started: int) -> None:
    """``simrun run -n 1`` makes its one run in this process: a fork server would only
    import the model on a core the run could use."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_SERVERS_AFTER_A_COMMAND, "run",
         str(ROOT / "scenarios" / "tiered.toml"), "-n", runs, "-j", "2", "-q", "--set",
         "run.days=20", "--set", "run.warmup_days=2", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=True)
    assert len(done.stdout.splitlines()) == started


MARKS_ITS_END = """
import atexit, os
from pathlib import Path

marks = Path(os.environ["MARKS"])
(marks / f"imported by {os.getpid()}").touch()
atexit.register(lambda: (marks / f"torn down by {os.getpid()}").touch())
"""
OWNER = """
from sim.experiment import pool

if __name__ == "__main__":
    pool.start_ahead(2, "marks_its_end")
    print(sorted(pool.run_parallel(abs, [(-1,), (-2,)], 2)))
"""


@fork_server
def test_the_fork_server_ends_at_once_without_tearing_down_its_interpreter(
        tmp_path: Path) -> None:
    """The fork server holds the command's standard output and error: it ends as its
    owner ends, without running the exit handlers registered before its last preload
    nor tearing down NumPy and SciPy, so that a pipe reading the command closes with it.
    A module the server imports registers an exit handler that would mark its end; the
    owner's pipes close (``capture_output`` waits for that), and no mark is there."""
    (tmp_path / "marks_its_end.py").write_text(MARKS_ITS_END)
    marks = tmp_path / "marks"
    marks.mkdir()
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "MARKS": str(marks), "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", OWNER], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[1, 2]\n", "")
    # the server imported it, and nothing marked an end
    assert [mark.name.split(" by ")[0] for mark in marks.iterdir()] == ["imported"]


LOADED_AT_FORK_SERVER_START = """
import sys
from sim import cli
from sim.experiment import pool

def start_ahead(jobs, *also):
    loaders = ("sim.experiment.runner", "sim.experiment.sweep_runner", "sim.scenario.loader")
    print(sorted(name for name in loaders if name in sys.modules))
    raise SystemExit(0)

pool.start_ahead = start_ahead
cli.main(sys.argv[1:])
"""


@pytest.mark.parametrize("command", [
    ["run", "scenarios/tiered.toml", "-n", "2", "-j", "2"],
    ["sweep", "scenarios/sweeps/tiered-price.toml", "-j", "2"]])
def test_a_command_starts_its_fork_server_before_its_own_imports(command: list[str]) -> None:
    """The server imports the model while the command imports what it needs to read its
    input and run: not after."""
    done = subprocess.run([sys.executable, "-c", LOADED_AT_FORK_SERVER_START, *command],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_queued_replications_take_no_memory() -> None:
    """A million replications queued: only those in flight exist, so memory before the
    first result is what one replication needs, not a million task descriptions."""
    from helpers import tiny_scenario

    from sim import limits
    from sim.experiment.runner import run_scenario

    with limits.lifted():
        spec = tiny_scenario("god", {"run.replications": 1_000_000, "run.days": 10,
                                     "run.warmup_days": 2})

    def stop(_: object) -> None:
        raise Enough

    tracemalloc.start()
    try:
        with pytest.raises(Enough):
            run_scenario(spec, jobs=2, progress=stop)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
