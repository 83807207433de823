"""Durations: every duration in a scenario is hours inside, a number or a unit string outside."""

from __future__ import annotations

import math
import re

HOURS_PER_UNIT: dict[str, float] = {
    "s": 1 / 3600, "sec": 1 / 3600, "second": 1 / 3600, "seconds": 1 / 3600,
    "min": 1 / 60, "mins": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60, "m": 1 / 60,
    "h": 1.0, "hr": 1.0, "hrs": 1.0, "hour": 1.0, "hours": 1.0,
    "d": 24.0, "day": 24.0, "days": 24.0,
    "w": 168.0, "wk": 168.0, "week": 168.0, "weeks": 168.0,
}
_DURATION = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+)\s*([a-zA-Z]+)\s*$")


def parse_duration_h(value: object) -> float:
    """Hours from a number (already hours) or a string such as ``"45 min"`` or ``"2 w"``.

    Raises ValueError with a message fit for an :class:`Issue` when the value is not a
    duration; bool is refused although Python counts it as an int.
    """
    if isinstance(value, bool):
        raise ValueError("must be a duration (hours, or a string like '45 min')")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError("must be a duration like '45 min', '2 h', '3 d' or '2 w'")
        number, unit = match.groups()
        factor = HOURS_PER_UNIT.get(unit.lower())
        if factor is None:
            raise ValueError(f"unknown unit {unit!r}: use s, min, h, d or w")
        return float(number) * factor
    raise ValueError("must be a duration (hours, or a string like '45 min')")


def parse_number(value: object, *, duration: bool = False, kind: str = "a number") -> float:
    """A finite number from a scenario's value: a number, or where ``duration`` a number
    of hours or a unit string too. ValueError with the rule it breaks otherwise:
    ``must be {kind}`` (bool is no number), a duration's message, or ``must be a finite
    number`` for NaN, infinity and integers beyond a float."""
    if duration and isinstance(value, str):
        number = parse_duration_h(value)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be {kind}")
    else:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number
