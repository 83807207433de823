"""One row per visit: what happened, for an observer (tests, and the event log).

The engine keeps no record per visit; it builds a :class:`VisitEvent` only when an
observer asks for it, so the books (sim/model/tally.py) can be checked against an
independent count, and a run can be exported as the transaction log a firm keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVED, ABANDONED, BALKED, PRICED_OUT, TURNED_AWAY = range(5)
OUTCOMES = ("served", "abandoned", "balked", "priced out", "turned away")
"""How a visit ended, by code; a waitlisted visit ends in one of these later."""


@dataclass(frozen=True, slots=True)
class VisitEvent:
    """One visit of one customer (times in hours since the start, money per visit)."""

    key: tuple[int, ...]
    """The customer (see sim/model/rng.py: keys name people, not arrival order)."""
    visit: int
    """The customer's visit number, from 0."""
    segment: int
    arrived_h: float
    """When the visit arrived (a waitlisted visit: when it first asked)."""
    ended_h: float
    """When it ended: the customer left the queue or the chair, or was sent away."""
    outcome: int
    """SERVED, ABANDONED, BALKED, PRICED_OUT or TURNED_AWAY."""
    waitlisted: bool
    """Booked to a later day (its appointment fell on a later day than its arrival)."""
    appointment_h: float
    """Hours from arrival until the appointment a daily quota gave it (0: served on
    arrival, as every visit without a quota)."""
    tier: int
    """The tier bought, queued for or balked at; -1 when none was chosen."""
    price: float
    refund: float
    flow: float
    """Cash the visit left: price - refund - the visit's variable costs."""
    wait_h: float
    """Time in the queue (served or abandoned visits)."""
    service_h: float
    satisfaction: float
    """The visit's satisfaction (served visits); NaN otherwise."""
    requests_honoured: int
    requests_refused: int
    failed: bool
    claimed: bool
    """A refund was claimed (genuinely or not)."""
    returns: bool
    """The customer decided to come back after this visit."""

    @property
    def outcome_name(self) -> str:
        return OUTCOMES[self.outcome]


class VisitWatcher:
    """An engine observer that watches only the visits (the event log, the fit's pilot
    and holdout runs): its other hooks do nothing; a subclass defines :meth:`visited`."""

    def acquired(self, key: tuple[int, ...], now: float, customer: object) -> None:
        pass

    def referred(self, referrer: tuple[int, ...], key: tuple[int, ...]) -> None:
        pass

    def visit(self, key: tuple[int, ...], k: int, draws: list[float]) -> None:
        pass

    def visited(self, event: VisitEvent) -> None:
        raise NotImplementedError
