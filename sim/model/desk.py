"""The firm's servers and their waiting lines: a lean non-preemptive priority server.

SimPy stays the scheduler; this is only the bookkeeping of who holds a server and who
waits, built from SimPy's own events. It replaces ``simpy.PriorityResource`` with a
``request | timeout`` condition per visit, which cost each visit a sorted insertion, a
condition event, a release event and two extra scheduler steps (bench/README.md). The
rules are those of the resource it replaces:

* a visit that finds a server free takes it at once (no event at all);
* otherwise it waits in the line of its priority: higher priorities first, first come
  first served within one; the longest waiting visit of the highest priority takes the
  server the moment its holder releases it;
* a waiting visit whose patience runs out leaves its line.

A waiting visit yields its :class:`Turn`, an event that succeeds with ``True`` when a
server takes it and ``False`` when its patience ran out first.
"""

from __future__ import annotations

from collections import deque

import simpy
from simpy.events import PENDING

from sim.model.wake import Wake, wake_after


class Turn(simpy.Event):
    """A visit waiting in line: succeeds with True (served) or False (gave up)."""

    def __init__(self, desk: Desk, priority: int, measured: bool) -> None:
        self.env = desk.env
        self.callbacks = []
        self.desk = desk
        self.priority = priority
        self.measured = measured
        self.since_h = desk.env._now  # env.now without the property's call (engine.py)
        """When the visit joined the line."""

    def give_up(self, _patience: Wake) -> None:
        """The patience timeout's callback: leave the line unless already served."""
        if self._value is PENDING:
            self.desk.lines[self.priority].remove(self)
            self.desk.count_ahead(self.priority, -1)
            self.succeed(False)


class Desk:
    """``capacity`` servers and one waiting line per priority (0 is the lowest)."""

    __slots__ = ("ahead", "busy", "capacity", "env", "lines", "measured_in_service")

    def __init__(self, env: simpy.Environment, capacity: int, priorities: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        """Servers taken (a server handed from one visit to the next stays taken)."""
        self.lines: list[deque[Turn]] = [deque() for _ in range(priorities)]
        self.ahead = [0] * priorities
        """Visits waiting at each priority or above: what an arriving customer sees
        ahead of it at that priority (read for every tier of every visit)."""
        self.measured_in_service = 0
        """Visits of the measured window being served (the conservation check)."""

    def request(self, priority: int, measured: bool, patience_h: float) -> Turn | None:
        """A server now (None), or the visit's :class:`Turn` in its line, which gives up
        after ``patience_h`` hours."""
        if self.busy < self.capacity:  # then nobody waits: a release hands its server on
            self.busy += 1
            self.measured_in_service += measured
            return None
        turn = Turn(self, priority, measured)
        self.lines[priority].append(turn)
        self.count_ahead(priority, +1)
        wake_after(self.env, patience_h).callbacks.append(turn.give_up)
        return turn

    def release(self, measured: bool) -> None:
        """A visit's service ended: its server goes to the first visit of the highest
        priority waiting, or becomes free."""
        self.measured_in_service -= measured
        for line in reversed(self.lines):
            if line:
                turn = line.popleft()
                self.count_ahead(turn.priority, -1)
                self.measured_in_service += turn.measured
                turn.succeed(True)
                return
        self.busy -= 1

    def count_ahead(self, priority: int, change: int) -> None:
        ahead = self.ahead
        for p in range(priority + 1):
            ahead[p] += change

    def add_priorities(self, priorities: int) -> None:
        """Lines up to ``priorities`` (when tiers with higher priorities come in)."""
        while len(self.lines) < priorities:
            self.lines.append(deque())
            self.ahead.append(0)

    def measured_in_system(self) -> int:
        """Visits of the measured window in line or in service."""
        return self.measured_in_service + sum(turn.measured for line in self.lines
                                              for turn in line)
