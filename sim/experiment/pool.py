"""Work spread over local worker processes: the one process pool of simrun.

Replications of a run and runs of a sweep both come here. Workers are forked from a
fork server (``forkserver``; ``spawn`` where there is none, as on Windows), chosen here
for this pool and never set globally: a worker inherits no state from the process that
asked for it (no half-copied locks or threads), only what it is sent. The server is a
fresh interpreter that imports the model once (:data:`PRELOAD`), single-threaded so that
its forks are safe; every worker forked from it starts with the model imported, instead
of each importing it again (about 0.7 s of CPU a worker, SciPy's special functions
included). It lives as long as the
process that started it, so a second pool in the same command (a pilot, then the
replications; the batches of a sequential run) forks its workers at once, and a command
can start it ahead of its own start-up (:func:`start_ahead`).

Work is handed out lazily: at most a few tasks per worker are in flight, so a sweep
of a hundred thousand runs never pickles them all up front, and an interrupted run
(an error, Ctrl-C, SIGTERM) cancels what has not started yet and stops the workers at
once instead of waiting for them.

Workers never outlive the process that asked for them (their owner): each one leaves
Ctrl-C to its owner and ends with it, even when the owner is killed with SIGKILL (a
thread of the worker waits for the owner's end). The fork server ends once its owner
and the workers have, and at once (:mod:`sim.experiment.pool_server`).

Every worker runs the main script again (as ``__mp_main__``). A script that calls the
pool at its top level without ``if __name__ == "__main__":`` would start workers that
run the script again, and so on; :func:`unguarded_main` recognises such a script and
the pool then runs in this one process, with a warning that says why.

While its workers start and run, this process mostly waits: ``meanwhile``
(:func:`alongside`) gives it work of its own, in a thread, such as importing what the
caller needs once the results are in (SciPy for the intervals, the table's views), so
that those imports leave the serial end of the command. It starts before the first
worker is asked for, when the fork server may still be importing the model on one core
and the other is free.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sim import blas

T = TypeVar("T")

IN_FLIGHT_PER_WORKER = 4
"""Tasks submitted per worker ahead of the results: enough to keep every worker busy
while the parent stores a result, few enough to bound memory and cancellation."""
STOP_WORKERS_S = 5.0
"""How long an interrupted pool waits for its stopped workers to be gone."""
PRELOAD = ("sim.experiment.runner", "sim.experiment.executors", "sim.model.engine",
           "sim.model.market", "scipy.special")
"""What every worker needs: what the pool is handed (a run's replications, a sweep's
runs), the model they run, and SciPy's special functions, with which a scenario's
distributions build their quantile functions as a replication starts (about 0.3 s of
CPU to import). The fork server imports them once for all the workers it forks; a Dask
worker, as it warms up (:func:`sim.experiment.executors.warm_up`). (Not ``"__main__"``,
which Python 3.11 to 3.13 ignore there: each worker runs the main script again, and
what that imports is best preloaded too, :func:`start_ahead`.)"""
SERVER_ENDS_AT_ONCE = "sim.experiment.pool_server"
"""What the fork server imports last, so that it ends without tearing down its
interpreter, and a pipe that reads the command's output closes as the command ends."""
FORKS_WORKERS = "forkserver" in multiprocessing.get_all_start_methods()
"""Whether workers are forked from a fork server here (POSIX); where not (Windows), each
one is spawned and imports the model itself."""
def run_parallel(function: Callable[..., T], tasks: Iterable[tuple[Any, ...]],
                 jobs: int, meanwhile: Callable[[], object] | None = None) -> Iterator[T]:
    """``function(*task)`` for every task, over ``jobs`` worker processes (in this
    process when ``jobs`` <= 1); yields results as they finish, in no fixed order.

    ``function`` and the tasks must pickle. An exception in a task, or in the caller
    while it consumes the results (Ctrl-C included), cancels the tasks not yet started,
    stops the workers and propagates.

    ``meanwhile()``, when given, runs in a thread of this process (:func:`alongside`)
    only if the tasks run in worker processes: started as the pool starts, so that it
    uses the time this process waits for its first workers (the fork server may still be
    importing the model); joined before the results end or an error propagates (after
    the workers are stopped); never when the tasks run in this process.
    """
    script = unguarded_main() if jobs > 1 else None
    if script is not None:
        warnings.warn_explicit(
            f"{Path(script[0]).name} calls simrun at its top level without 'if __name__ == "
            "\"__main__\":', so worker processes would run it again from the start: running "
            f"in this one process instead. Put the calls under that line to use {jobs} "
            "processes.", RuntimeWarning, script[0], script[1])
        jobs = 1
    if jobs <= 1:
        for task in tasks:
            yield function(*task)
        return
    context = _context()
    with ExitStack() as side:
        if meanwhile is not None:  # the pool's own imports done (_context)
            side.enter_context(alongside(meanwhile))
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                   initializer=start_worker)
        pending: set[Future[T]] = set()
        try:
            for task in tasks:
                pending.add(pool.submit(function, *task))
                if len(pending) >= IN_FLIGHT_PER_WORKER * jobs:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
        except BaseException:
            stop(pool)
            raise
    # Every result is in: the workers exit while the caller goes on (writes its files)
    # instead of before; the interpreter joins them when it exits.
    pool.shutdown(wait=False)


def start_ahead(jobs: int | None, *also: str) -> None:
    """Start the fork server now if ``jobs`` (None: one per core) asks for worker
    processes, so that it imports the model while this process goes on with its own
    start-up (a command: loading the scenario, opening its folder); the first pool then
    forks workers that are ready. ``also``: more modules for it to import, such as those
    the main script imports (the command line's), which every worker runs again.
    Harmless when no pool follows: the server ends with this process. Nothing to do
    where workers are spawned, or once the server runs."""
    if (jobs or os.cpu_count() or 1) > 1 and FORKS_WORKERS:
        _context(also)


def _context(also: tuple[str, ...] = ()) -> multiprocessing.context.BaseContext:
    """The workers' start method, with the fork server running (started here the first
    time, with ``also``, :data:`PRELOAD` and :data:`SERVER_ENDS_AT_ONCE`, and one BLAS
    thread), and what starting a worker imports already imported, so that a pool imports
    nothing while ``meanwhile`` does (:func:`alongside`)."""
    import multiprocessing.synchronize

    if not FORKS_WORKERS:
        if sys.platform == "win32":
            import multiprocessing.popen_spawn_win32
        else:
            import multiprocessing.popen_spawn_posix
        return multiprocessing.get_context("spawn")
    import multiprocessing.popen_forkserver
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*also, *PRELOAD, SERVER_ENDS_AT_ONCE])
    # One BLAS thread (sim.blas) in the server, unless this process says otherwise: it
    # then forks single-threaded (a fork copies only the thread that forks, and a lock
    # another thread held stays held in the child; OpenBLAS stops its threads before a
    # fork, other builds may not). The workers inherit it.
    added = blas.unset()
    os.environ.update(added)  # read by the server as it starts, then taken back
    try:
        forkserver.ensure_running()
    finally:
        for name in added:
            os.environ.pop(name, None)
    return context


@contextmanager
def alongside(work: Callable[[], object]) -> Iterator[None]:
    """``work()`` in a daemon thread of this process for the time of the ``with`` block,
    joined when the block ends (an error in it included), so that nothing after the
    block runs alongside it. For a process that waits on others (its workers, a Dask
    cluster): the caller's own imports for after the wait, off the serial end of the
    command. Within the block the caller imports nothing ``work`` might, so that no
    module is ever imported by two threads at once."""
    thread = threading.Thread(target=work, daemon=True, name="simrun-meanwhile")
    thread.start()
    try:
        yield
    finally:
        thread.join()


def stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started, stop the workers (they hold nothing to save) and
    wait briefly until they are gone."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_WORKERS_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))


def start_worker() -> None:
    """Initializer of every worker: leave Ctrl-C to its owner (the process that asked
    for the pool), and die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_owner, daemon=True, name="simrun-watch-owner").start()


def _watch_owner() -> None:
    """Wait for this worker's owner to end, however it ends (SIGKILL included), then end
    this worker. The owner is what multiprocessing calls the parent process: the one
    that asked for the worker, whether it was spawned or forked by the fork server. Its
    sentinel is a pipe it holds open for as long as it lives, so an owner that ended
    before this thread started is seen at once."""
    owner = multiprocessing.parent_process()
    if owner is not None:
        owner.join()
        os._exit(1)


def unguarded_main() -> tuple[str, int] | None:
    """The main script and the line of its top-level code this call comes from, if
    that line is outside an ``if __name__ == "__main__":`` block (where new
    workers, which import the main script again, would run it again), else None.

    Interactive sessions and notebooks have no main script and are never unguarded.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or multiprocessing.parent_process() is not None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            break
        frame = frame.f_back  # type: ignore[assignment]
    else:
        return None
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    line = frame.f_lineno
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and _is_main_test(node.test)
                and node.body[0].lineno <= line <= (node.body[-1].end_lineno or line)):
            return None
    return path, line


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
    return sides == {"__name__", "'__main__'"}
