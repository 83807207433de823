"""Precise enough, then stop: how many replications a confidence interval needs.

The rule is sequential and looks at the data in batches: run ``min_replications``
(default 10), compute the Student-t 95% half-width of each quantity watched (a run: the
metric; a comparison: each strategy's paired difference to the baseline), and stop when
every one is within its target; otherwise run 10% more replications (at least one) and
look again; stop at ``max_replications`` whatever the width.

Looking at the data to decide when to stop costs a little coverage: a run stops when
its spread happens to come out small, and an interval reported because it came out
narrow misses a little more often than 5% of the time. The rule limits the cost by
starting at 10 replications, so the first look already has a fair estimate of the
spread, and by looking in batches of 10% rather than after every replication. On
normal data (tests/test_precision.py, docs/select.md) the intervals it stops with cover
the true mean 93-94% of the time against the nominal 95%; looking after every
replication from the second one covers 88-92%.

Pure functions of the values; nothing here simulates. The same values give the same
checkpoints, so the stopping point does not depend on the number of worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sim.metrics import Estimate, estimate

MIN_REPLICATIONS = 10
MAX_REPLICATIONS = 200
GROWTH = 0.1
"""Each batch adds this share of the replications run so far (at least one)."""


@dataclass(frozen=True, slots=True)
class Precision:
    """A target for the half-width of 95% confidence intervals."""

    metric: str
    relative: float | None = None
    """Half-width as a share of the scale (the mean; for a difference, the baseline's
    mean): 0.02 for ±2%."""
    half_width: float | None = None
    """Half-width in the metric's unit."""
    min_replications: int = MIN_REPLICATIONS
    max_replications: int = MAX_REPLICATIONS

    def target(self, scale: float) -> float:
        """The half-width to reach for a quantity whose scale is ``scale``."""
        if self.half_width is not None:
            return self.half_width
        assert self.relative is not None
        return self.relative * abs(scale)

    def describe(self, unit: Callable[[float], str] = "{:g}".format) -> str:
        """'±2% of the mean' or '±500' (``unit`` formats an amount of the metric)."""
        if self.half_width is not None:
            return f"±{unit(self.half_width)}"
        assert self.relative is not None
        return f"±{100 * self.relative:g}%"


@dataclass(frozen=True, slots=True)
class Look:
    """One checkpoint: the interval of each watched quantity after ``n`` replications."""

    n: int
    estimates: dict[str, Estimate]
    targets: dict[str, float]

    @property
    def precise(self) -> bool:
        return all(e.half_width <= self.targets[q] for q, e in self.estimates.items())

    def ratio(self) -> float:
        """The widest half-width over its target (inf when undefined or the target is 0)."""
        worst = 0.0
        for q, e in self.estimates.items():
            target = self.targets[q]
            if math.isnan(e.half_width) or target <= 0 or math.isnan(target):
                return math.inf
            worst = max(worst, e.half_width / target)
        return worst


def look(n: int, quantities: Mapping[str, Sequence[float]], scales: Mapping[str, float],
         precision: Precision) -> Look:
    """The estimates of every quantity (its first ``n`` values) against their targets."""
    return Look(n, {q: estimate(v[:n]) for q, v in quantities.items()},
                {q: precision.target(scales[q]) for q in quantities})


def next_look(current: Look, precision: Precision) -> int | None:
    """Replications at the next look, or None: stop (precise, or at the cap)."""
    n = current.n
    if current.precise or n >= precision.max_replications:
        return None
    return min(precision.max_replications, n + math.ceil(GROWTH * n))


def projected(current: Look, precision: Precision) -> int:
    """The replications the widest interval would need if the spread stayed as it is
    (the half-width falls as one over the square root of n): for progress bars only."""
    ratio = current.ratio()
    if current.precise:
        return current.n
    if not math.isfinite(ratio):
        return precision.max_replications
    return min(precision.max_replications, max(current.n + 1, math.ceil(current.n * ratio**2)))


def until_precise(values: Callable[[int], tuple[Mapping[str, Sequence[float]],
                                                Mapping[str, float]]],
                  precision: Precision) -> Look:
    """Look at ``min_replications``, then at each :func:`next_look`, until precise or at
    the cap; returns the last look. ``values(n)`` gives every watched quantity's first
    ``n`` values (it may fetch or simulate them) and each quantity's scale (what a
    relative target is a share of)."""
    n = precision.min_replications
    while True:
        quantities, scales = values(n)
        current = look(n, quantities, scales, precision)
        following = next_look(current, precision)
        if following is None:
            return current
        n = following


def check_precision(precision: Precision) -> list[str]:
    """Problems with a precision target, in words (empty: fine)."""
    problems = []
    if (precision.relative is None) == (precision.half_width is None):
        problems.append("give one of --precision and --half-width")
    if precision.relative is not None and not 0 < precision.relative < 1:
        problems.append(f"--precision must be above 0% and below 100%, got "
                        f"{100 * precision.relative:g}%")
    if precision.half_width is not None and not (precision.half_width > 0
                                                 and math.isfinite(precision.half_width)):
        problems.append(f"--half-width must be a positive number, got {precision.half_width:g}")
    if precision.min_replications < 2:
        problems.append("--min-replications must be at least 2 (an interval needs two)")
    if precision.max_replications < precision.min_replications:
        problems.append(f"--max-replications ({precision.max_replications}) must be at least "
                        f"--min-replications ({precision.min_replications})")
    return problems


def parse_relative(text: str) -> float:
    """'2%' or '0.02' as 0.02; ValueError otherwise."""
    text = text.strip()
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


__all__ = ["Look", "Precision", "check_precision", "look", "next_look", "parse_relative",
           "projected", "until_precise"]
