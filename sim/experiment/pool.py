"""Work spread over local worker processes: the one process pool of simrun.

Replications of a run and runs of a sweep both come here. Workers are started with
``spawn``, chosen here for this pool and never set globally: a worker inherits no
state from the parent (no half-copied locks or threads), only what it is sent.

Work is handed out lazily: at most a few tasks per worker are in flight, so a sweep
of a hundred thousand runs never pickles them all up front, and an interrupted run
(an error, Ctrl-C, SIGTERM) cancels what has not started yet and stops the workers at
once instead of waiting for them.

Workers never outlive the process that started them: each one leaves Ctrl-C to its
parent and dies with it, even when the parent is killed with SIGKILL (Linux: the
kernel's parent-death signal; elsewhere a thread that watches the parent).

Spawned workers import the main script again. A script that calls the pool at its top
level without ``if __name__ == "__main__":`` would start workers that run the script
again, and so on; :func:`unguarded_main` recognises such a script and the pool then
runs in this one process, with a warning that says why.

While the workers run, this process mostly waits: ``meanwhile`` (:func:`alongside`)
gives it work of its own meanwhile, in a thread, such as importing what the caller
needs once the results are in (SciPy for the intervals, the table's views), so that
those imports leave the serial end of the command.
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

T = TypeVar("T")

IN_FLIGHT_PER_WORKER = 4
"""Tasks submitted per worker ahead of the results: enough to keep every worker busy
while the parent stores a result, few enough to bound memory and cancellation."""
WATCH_PARENT_S = 0.5
"""How often a worker without a parent-death signal checks that its parent lives."""
STOP_WORKERS_S = 5.0
"""How long an interrupted pool waits for its stopped workers to be gone."""


def run_parallel(function: Callable[..., T], tasks: Iterable[tuple[Any, ...]],
                 jobs: int, meanwhile: Callable[[], object] | None = None) -> Iterator[T]:
    """``function(*task)`` for every task, over ``jobs`` spawned processes (in this
    process when ``jobs`` <= 1); yields results as they finish, in no fixed order.

    ``function`` and the tasks must pickle. An exception in a task, or in the caller
    while it consumes the results (Ctrl-C included), cancels the tasks not yet started,
    stops the workers and propagates.

    ``meanwhile()``, when given, runs in a thread of this process (:func:`alongside`)
    only if the tasks run in worker processes: started once the workers are (the pool's
    own imports done), joined before the results end or an error propagates (after the
    workers are stopped); never when the tasks run in this process.
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
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                               initializer=start_worker, initargs=(os.getpid(),))
    pending: set[Future[T]] = set()
    with ExitStack() as side:
        try:
            for task in tasks:
                pending.add(pool.submit(function, *task))
                if len(pending) >= IN_FLIGHT_PER_WORKER * jobs:
                    if meanwhile is not None:  # the workers have been started
                        side.enter_context(alongside(meanwhile))
                        meanwhile = None
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
            if meanwhile is not None:
                side.enter_context(alongside(meanwhile))
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


def start_worker(parent: int) -> None:
    """Initializer of every worker: leave Ctrl-C to the parent, and die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _die_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                         name="simrun-watch-parent").start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _die_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent ends; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        return bool(libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_PARENT_S)
    os._exit(1)


def unguarded_main() -> tuple[str, int] | None:
    """The main script and the line of its top-level code this call comes from, if
    that line is outside an ``if __name__ == "__main__":`` block (where spawned
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
