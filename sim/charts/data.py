"""What the charts plot, taken from result objects: means and 95% intervals over
replications, for single metrics, ratios and whole series.

Nothing here draws; everything here reads :class:`ComparisonResult` and returns numbers,
so the numbers behind a chart can be checked without looking at it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.experiment.compare import ComparisonResult
from sim.experiment.runner import ScenarioResult
from sim.metrics import Estimate, RunResult, estimate, t_quantile


@dataclass(frozen=True)
class Band:
    """A series' mean and 95% t-interval at each point (NaN where undefined)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def __len__(self) -> int:
        return int(self.mean.size)

    def select(self, keep: np.ndarray) -> Band:
        """The points where ``keep`` (a mask or indices) says."""
        return Band(self.mean[keep], self.low[keep], self.high[keep])


def band(rows: Sequence[Sequence[float] | np.ndarray], confidence: float = 0.95) -> Band:
    """Pointwise mean and t-interval of replication series, which may differ in length
    (shorter ones count as missing beyond their end)."""
    length = max((len(r) for r in rows), default=0)
    data = np.full((len(rows), length), np.nan)
    for i, row in enumerate(rows):
        data[i, :len(row)] = row
    defined = ~np.isnan(data)
    n = defined.sum(axis=0)
    values = np.where(defined, data, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, values.sum(axis=0) / n, np.nan)
        deviations = np.where(defined, data - mean, 0.0)
        sd = np.sqrt((deviations**2).sum(axis=0) / (n - 1))
        t = t_quantile(0.5 + confidence / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, t * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    return Band(mean, mean - half, mean + half)


def metric(result: ComparisonResult, name: str, key: str) -> Estimate:
    return result.result(name).estimates()[key]


def per_run(one: ScenarioResult, value: Callable[[RunResult], float]) -> Estimate:
    """Mean and CI of a quantity computed from each replication."""
    return estimate([value(run) for run in one.runs])


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def shares(counts: Sequence[float]) -> list[float]:
    """Counts as shares of their total (NaN if there are none)."""
    total = float(sum(counts))
    return [c / total if total else math.nan for c in counts]


def errors(estimates: Sequence[Estimate], scale: float = 1.0) -> np.ndarray | None:
    """Error-bar extents (2 x n) around the means, or None when no interval is defined
    (a single replication)."""
    low = np.array([(e.mean - e.low) * scale for e in estimates])
    high = np.array([(e.high - e.mean) * scale for e in estimates])
    if np.isnan(low).all():
        return None
    return np.nan_to_num(np.vstack([low, high]), nan=0.0)
