"""Work spread over local worker processes: the one process pool of simrun.

Replications of a run and runs of a sweep both come here. Workers are started with
``spawn``, chosen here for this pool and never set globally: a worker inherits no
state from the parent (no half-copied locks or threads), only what it is sent.

Work is handed out lazily: at most a few tasks per worker are in flight, so a sweep
of a hundred thousand runs never pickles them all up front, and an interrupted run
(an error, Ctrl-C) cancels what has not started yet instead of waiting for it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

IN_FLIGHT_PER_WORKER = 4
"""Tasks submitted per worker ahead of the results: enough to keep every worker busy
while the parent stores a result, few enough to bound memory and cancellation."""


def run_parallel(function: Callable[..., T], tasks: Iterable[tuple[Any, ...]],
                 jobs: int) -> Iterator[T]:
    """``function(*task)`` for every task, over ``jobs`` spawned processes (in this
    process when ``jobs`` <= 1); yields results as they finish, in no fixed order.

    ``function`` and the tasks must pickle. An exception in a task, or in the caller
    while it consumes the results, cancels the tasks not yet started and propagates.
    """
    if jobs <= 1:
        for task in tasks:
            yield function(*task)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
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
            for future in pending:
                future.cancel()
            raise
