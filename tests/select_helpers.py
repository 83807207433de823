"""Synthetic selection problems with known means, for the selection tests and the bench.

A problem is k normal systems with given means and standard deviations and a common
correlation between any two of them in the same replication: positive correlation is
what common random numbers give (the same customers meet every strategy). A
macro-replication draws fresh outputs and runs the procedure once; over many, the share
of correct selections estimates the probability of correct selection (PCS), with its
binomial standard error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.experiment.select import Selection, kn, screen
from sim.metrics import Estimate, estimate
from sim.scenario import Scenario


@dataclass(frozen=True)
class NormalProblem:
    name: str
    means: tuple[float, ...]
    sds: tuple[float, ...]
    correlation: float
    """Between any two systems in the same replication (0: independent)."""
    delta: float
    """The indifference zone given to KN."""

    @property
    def k(self) -> int:
        return len(self.means)

    @property
    def best(self) -> int:
        return int(np.argmax(self.means))

    def good(self, system: int) -> bool:
        """Within delta of the best (every system, when all means are equal)."""
        return self.means[system] > max(self.means) - self.delta


def slippage(name: str, k: int, delta: float, sds: Sequence[float], correlation: float
             ) -> NormalProblem:
    """The least favourable configuration of the indifference zone: the last system
    beats all the others, which are equal, by exactly delta."""
    return NormalProblem(name, (0.0,) * (k - 1) + (delta,), tuple(sds), correlation, delta)


def all_equal(name: str, k: int, delta: float, sds: Sequence[float], correlation: float
              ) -> NormalProblem:
    return NormalProblem(name, (0.0,) * k, tuple(sds), correlation, delta)


class Outputs:
    """One macro-replication's outputs, drawn replication by replication as asked."""

    def __init__(self, problem: NormalProblem, rng: np.random.Generator) -> None:
        sds = np.asarray(problem.sds, dtype=float)
        cov = np.outer(sds, sds) * problem.correlation
        np.fill_diagonal(cov, sds**2)
        self.factor = np.linalg.cholesky(cov).T
        self.means = np.asarray(problem.means, dtype=float)
        self.rng = rng
        self.rows: list[list[float]] = []

    def sample(self, systems: Sequence[int], replication: int) -> list[float]:
        while replication >= len(self.rows):
            block = self.rng.standard_normal((256, len(self.means))) @ self.factor + self.means
            self.rows.extend(block.tolist())
        row = self.rows[replication]
        return [row[i] for i in systems]

    def first(self, n: int) -> np.ndarray:
        """Replications 0..n-1 of every system, k x n."""
        return np.array([self.sample(range(len(self.means)), r) for r in range(n)]).T


@dataclass(frozen=True)
class Outcome:
    """Over the macro-replications: how often the procedure was right, and its cost."""

    problem: str
    macro: int
    correct: int
    replications: float
    """Mean total replications (all systems) per macro-replication."""

    @property
    def share(self) -> float:
        return self.correct / self.macro

    @property
    def standard_error(self) -> float:
        """Binomial standard error of the share."""
        p = self.share
        return math.sqrt(max(p * (1 - p), 0.0) / self.macro)


def kn_outcome(problem: NormalProblem, macro: int, seed: int, *, confidence: float = 0.95,
               n0: int = 10, good: bool = False) -> Outcome:
    """KN on ``macro`` macro-replications: correct selections (of the best; with
    ``good``, of any system within delta of the best)."""
    rng = np.random.default_rng(seed)
    correct, total = 0, 0
    for _ in range(macro):
        found: Selection = kn(Outputs(problem, rng).sample, problem.k, delta=problem.delta,
                              confidence=confidence, n0=n0)
        correct += problem.good(found.selected) if good else found.selected == problem.best
        total += sum(found.replications)
    return Outcome(problem.name, macro, correct, total / macro)


def screen_outcome(problem: NormalProblem, macro: int, seed: int, *, n: int = 20,
                   confidence: float = 0.95, system: int | None = None) -> Outcome:
    """Screening on ``n`` replications: how often the subset holds ``system`` (default:
    the best; with all means equal, any fixed system is a best)."""
    rng = np.random.default_rng(seed)
    target = problem.best if system is None else system
    kept, size = 0, 0
    for _ in range(macro):
        found = screen(Outputs(problem, rng).first(n), confidence=confidence)
        kept += target in found.contenders
        size += len(found.contenders)
    return Outcome(problem.name, macro, kept, size / macro)


# --- a small simrun comparison whose truth is known from a long run ---------------------

SIMRUN_DAYS = {"run.days": 25, "run.warmup_days": 5}
SIMRUN_STRATEGIES = (("god", "god", {}), ("partner", "partner", {}),
                     ("tiered", "tiered", {}),
                     ("tiered_60", "tiered", {"strategy.tiers[1].price": 60.0,
                                              "strategy.label": "Tiered, standard at 60"}))
"""Four strategies on the tiny market (tests/helpers.py): tiered with its standard tier
at 60 instead of 55 is the best, a little ahead of tiered as it is; partner and god
trail far behind."""


def simrun_strategies(seed: int, replications: int) -> list[Scenario]:
    from helpers import tiny_scenario

    return [tiny_scenario(preset, {**SIMRUN_DAYS, **settings, "run.name": name,
                                   "run.seed": seed, "run.replications": replications})
            for name, preset, settings in SIMRUN_STRATEGIES]


def simrun_truth(replications: int, seed: int = 7, jobs: int = 2) -> dict[str, Estimate]:
    """Each strategy's paired difference to the best, over a long run (its own seed)."""
    from helpers import run_many

    specs = simrun_strategies(seed, replications)
    runs = run_many({s.name: s for s in specs}, jobs=jobs)
    profit = {name: np.array([r.metrics["profit"] for r in found])
              for name, found in runs.items()}
    best = max(profit, key=lambda n: profit[n].mean())
    return {name: estimate(list(profit[name] - profit[best])) for name in profit}


def simrun_outcome(delta: float, macro: int, *, first_seed: int = 1000, n0: int = 10,
                   jobs: int = 2, best: str = "tiered_60") -> Outcome:
    """``compare --select`` (sim.experiment.sequential.select_best) on ``macro``
    macro-replications, each with its own seed, several at once on one pool (each
    selection runs in its worker process): how often it names ``best``."""
    from sim.experiment.pool import run_parallel

    correct, total = 0, 0
    tasks = [(delta, first_seed + m, n0) for m in range(macro)]
    for selected, used in run_parallel(_one_selection, tasks, jobs):
        correct += selected == best
        total += used
    return Outcome("simrun, four strategies", macro, correct, total / macro)


def _one_selection(delta: float, seed: int, n0: int) -> tuple[str, int]:
    from sim.experiment.sequential import select_best

    found = select_best(simrun_strategies(seed, n0), delta=delta, jobs=1).selection
    assert found is not None
    return found["selected"], found["replications_total"]
