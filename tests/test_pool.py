"""The process pool hands out work lazily and stops at the first error."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

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
