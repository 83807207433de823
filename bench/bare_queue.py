"""Bare SimPy M/M/c queue with abandonment and two priority classes.

This is the *baseline* of simrun's speed benchmark. The full model in ``sim/``
is timed against it side by side, in one process, on the same scenario, and
its speed is reported as a ratio (full model customers/s divided by this
baseline's customers/s). Running both in one interpreter cancels out machine,
Python build and load differences, so the ratio measures only the overhead
that the full model adds on top of what SimPy itself costs.

For the ratio to mean anything the baseline must be the fastest *honest,
idiomatic* SimPy implementation of the same queueing logic -- not a strawman
that makes the full model look good, and not a hand-rolled event loop that
no longer measures SimPy. It is therefore built like this:

* Plain SimPy 4: one ``simpy.PriorityResource`` (non-preemptive) for the
  ``c`` servers, one source process generating arrivals, and one SimPy process
  per customer.
* Abandonment uses the SimPy ``bank_renege`` pattern: the customer yields
  ``request | env.timeout(patience)`` and leaves if the patience timeout wins.
* Two priority classes: high priority customers request with priority 0,
  normal ones with priority 1 (lower number is served first in SimPy).
* Randomness comes from a ``numpy.random.Generator`` seeded with ``seed``
  (no global ``random`` state). Inter-arrival, service and patience times and
  the class draws are pre-drawn in vectorised blocks and converted to Python
  floats/ints with ``tolist()``: numpy scalars are slow in arithmetic and in
  SimPy's event-heap comparisons, and per-draw Generator calls dominate
  otherwise.
* Statistics are running sums held in closure variables (no per-customer
  lists, no monitoring hooks), so memory stays flat however long the horizon.
* Small, behaviour-preserving speedups that any careful SimPy user would make:
  bound methods are hoisted into locals; a granted request is released
  explicitly and an abandoned one is cancelled explicitly (the ``with``
  statement form would schedule an extra no-op ``Release`` event for every
  abandoning customer); ``req.triggered`` is used instead of
  ``req in results`` (it also counts a request granted at the very instant
  the patience expires as served, rather than granting a server and
  immediately giving it back).

Definitions of the result fields:

* ``customers`` -- arrivals generated before the horizon.
* ``served`` -- customers who reached a server before the horizon (counted at
  service start; service may still be running at the horizon).
* ``abandoned`` -- customers whose patience ran out before being served.
* ``mean_wait_h`` -- mean queueing delay (arrival to service start) of the
  served customers, in hours; ``0.0`` if nobody was served.
* ``wall_seconds`` -- ``time.perf_counter()`` elapsed around ``env.run`` only
  (model construction is excluded).

Customers still queueing at the horizon are neither served nor abandoned.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

__all__ = ["BareQueueResult", "run_bare_queue"]

#: Number of random variates pre-drawn per block (per stream).
_BLOCK = 16_384

#: SimPy priorities: a lower number is served first.
_HIGH_PRIORITY = 0
_NORMAL_PRIORITY = 1


@dataclass(frozen=True)
class BareQueueResult:
    """Outcome of one :func:`run_bare_queue` run."""

    customers: int
    served: int
    abandoned: int
    mean_wait_h: float
    wall_seconds: float

    @property
    def customers_per_second(self) -> float:
        """Simulated arrivals per wall-clock second of ``env.run``."""
        return (
            self.customers / self.wall_seconds
            if self.wall_seconds > 0
            else float("inf")
        )


def run_bare_queue(
    *,
    arrival_rate_per_h: float,
    mean_service_h: float,
    servers: int,
    mean_patience_h: float,
    high_priority_share: float,
    horizon_h: float,
    seed: int,
) -> BareQueueResult:
    """Simulate an M/M/c+M queue with two non-preemptive priority classes.

    Arrivals are Poisson with rate ``arrival_rate_per_h``; service and patience
    times are exponential with means ``mean_service_h`` and
    ``mean_patience_h``; each arrival is high priority with probability
    ``high_priority_share``. Time unit is hours. See the module docstring for
    the exact meaning of the returned fields.
    """
    if arrival_rate_per_h <= 0:
        raise ValueError("arrival_rate_per_h must be > 0")
    if mean_service_h <= 0 or mean_patience_h <= 0:
        raise ValueError("mean_service_h and mean_patience_h must be > 0")
    if servers < 1:
        raise ValueError("servers must be >= 1")
    if not 0.0 <= high_priority_share <= 1.0:
        raise ValueError("high_priority_share must be in [0, 1]")
    if horizon_h <= 0:
        raise ValueError("horizon_h must be > 0")

    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    desk = simpy.PriorityResource(env, capacity=servers)

    # Hoisted bound methods (saves attribute lookups in the hot loops).
    timeout = env.timeout
    process = env.process
    request = desk.request
    release = desk.release

    mean_interarrival_h = 1.0 / arrival_rate_per_h

    # Running statistics (closure cells: no per-customer storage).
    customers = 0
    served = 0
    abandoned = 0
    wait_sum_h = 0.0

    def customer(
        priority: int, service_h: float, patience_h: float
    ) -> Generator[simpy.Event, object, None]:
        nonlocal served, abandoned, wait_sum_h
        arrived = env.now
        req = request(priority=priority)
        yield req | timeout(patience_h)
        if req.triggered:  # got a server before patience ran out
            wait_sum_h += env.now - arrived
            served += 1
            yield timeout(service_h)
            release(req)
        else:  # reneged: leave the queue
            req.cancel()
            abandoned += 1

    def source() -> Generator[simpy.Event, object, None]:
        nonlocal customers
        while True:
            gaps = rng.exponential(mean_interarrival_h, _BLOCK).tolist()
            services = rng.exponential(mean_service_h, _BLOCK).tolist()
            patiences = rng.exponential(mean_patience_h, _BLOCK).tolist()
            priorities = np.where(
                rng.random(_BLOCK) < high_priority_share,
                _HIGH_PRIORITY,
                _NORMAL_PRIORITY,
            ).tolist()
            for gap, service_h, patience_h, priority in zip(
                gaps, services, patiences, priorities, strict=True
            ):
                yield timeout(gap)
                customers += 1
                process(customer(priority, service_h, patience_h))

    process(source())

    start = time.perf_counter()
    env.run(until=horizon_h)
    wall_seconds = time.perf_counter() - start

    return BareQueueResult(
        customers=customers,
        served=served,
        abandoned=abandoned,
        mean_wait_h=wait_sum_h / served if served else 0.0,
        wall_seconds=wall_seconds,
    )


if __name__ == "__main__":
    result = run_bare_queue(
        arrival_rate_per_h=40.0,
        mean_service_h=0.07,
        servers=3,
        mean_patience_h=0.5,
        high_priority_share=0.3,
        horizon_h=5000.0,
        seed=12345,
    )
    print(
        f"customers={result.customers} served={result.served} "
        f"abandoned={result.abandoned} "
        f"abandon_rate={result.abandoned / result.customers:.2%} "
        f"mean_wait_h={result.mean_wait_h:.4f}"
    )
    print(
        f"wall={result.wall_seconds:.3f}s -> "
        f"{result.customers_per_second:,.0f} customers/s"
    )
