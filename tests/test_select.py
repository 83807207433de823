"""Selecting the best with a stated confidence: the procedures on synthetic normal data.

KN (Kim and Nelson 2001) promises: if the best mean beats every other by at least delta,
it is selected with probability at least the confidence, for normal outputs with
unknown, unequal variances and any correlation between systems (common random numbers).
The screening subset promises that the best is in the subset with probability at least
the confidence, whatever the means. Each promise is checked where it is tightest (the
slippage configuration: the others all exactly delta behind; for screening, all means
equal) over 1,000 seeded macro-replications.

Tolerance: the empirical share of correct selections p over M = 1,000 macro-replications
has a binomial standard error sqrt(p (1 - p) / M), 0.0069 at p = 0.95. A share at least
0.95 - 3 x 0.0069 = 0.929 is what a procedure whose true probability is 0.95 shows with
probability 99.9%; KN is conservative (true PCS 0.95 to 0.98 here), so the margin is
for the tight cases (two systems, independent).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from select_helpers import (
    NormalProblem,
    Outputs,
    all_equal,
    kn_outcome,
    screen_outcome,
    slippage,
)

from sim.experiment.select import check_settings, difference_variances, kn, kn_eta, screen

MACRO = 1000
NOMINAL = 0.95
TOLERANCE = 3 * math.sqrt(NOMINAL * (1 - NOMINAL) / MACRO)
DELTA = 1 / math.sqrt(10)
"""delta = sigma / sqrt(n0), as in Kim and Nelson's own experiments."""

SLIPPAGE = [
    slippage("two systems, independent", 2, DELTA, [1, 1], 0.0),
    slippage("four systems, common variance, CRN", 4, DELTA, [1] * 4, 0.7),
    slippage("four systems, unequal variances, independent", 4, 1.0, [1, 1.5, 2, 2.5], 0.0),
    slippage("four systems, unequal variances, CRN", 4, 0.5, [2.5, 2, 1.5, 1], 0.6),
]


@pytest.mark.parametrize("problem", SLIPPAGE, ids=lambda p: p.name)
def test_kn_selects_the_best_with_at_least_the_nominal_probability(problem: NormalProblem
                                                                   ) -> None:
    outcome = kn_outcome(problem, MACRO, seed=1)
    assert outcome.share >= NOMINAL - TOLERANCE, (outcome.share, outcome.standard_error)


def test_kn_picks_any_of_equal_systems_as_often_as_the_others() -> None:
    """All means equal: every system is a correct choice; by symmetry each is picked a
    quarter of the time (within 4 binomial standard errors, 0.055)."""
    problem = all_equal("equal", 4, DELTA, [1] * 4, 0.5)
    rng = np.random.default_rng(2)
    picks = np.bincount([kn(Outputs(problem, rng).sample, 4, delta=DELTA).selected
                         for _ in range(MACRO)], minlength=4) / MACRO
    assert np.all(np.abs(picks - 0.25) <= 4 * math.sqrt(0.25 * 0.75 / MACRO)), picks


def test_kn_eta_is_kim_and_nelsons() -> None:
    """eta = ½ [(2 alpha / (k - 1))^(-2 / (n0 - 1)) - 1]: by hand, alpha = 0.05, k = 2,
    n0 = 10 gives ½ (10^(2/9) - 1) = 0.33405."""
    assert kn_eta(0.05, 2, 10) == pytest.approx(0.5 * (10 ** (2 / 9) - 1))
    assert kn_eta(0.05, 2, 10) == pytest.approx(0.33405, abs=1e-5)
    assert kn_eta(0.05, 4, 10) > kn_eta(0.05, 2, 10) > kn_eta(0.05, 2, 20)


def test_the_first_stage_variance_is_that_of_the_differences() -> None:
    """Under common random numbers the outputs move together: S²_il is the variance of
    X_i - X_l, far below S²_i + S²_l."""
    rng = np.random.default_rng(3)
    common = rng.normal(size=50)
    first = np.vstack([common + 0.1 * rng.normal(size=50), common + 0.1 * rng.normal(size=50)])
    variances = difference_variances(first)
    assert variances[0, 1] == pytest.approx(np.var(first[0] - first[1], ddof=1))
    assert variances[0, 1] < 0.1 * (np.var(first[0], ddof=1) + np.var(first[1], ddof=1))
    assert variances[0, 0] == 0


def test_kn_looks_in_the_metrics_direction() -> None:
    problem = NormalProblem("lower", (0.0, 0.0, -1.0), (1.0, 1.0, 1.0), 0.5, 0.5)
    found = kn(Outputs(problem, np.random.default_rng(4)).sample, 3, delta=0.5,
               higher_is_better=False)
    assert found.selected == 2
    assert found.means[2] < 0


def test_kn_stops_at_the_cap_with_the_contenders_left() -> None:
    """Two equal systems and a tiny delta: KN would need thousands of replications; the
    cap stops it with both in contention, and says so."""
    problem = all_equal("equal", 2, 0.001, [1, 1], 0.0)
    found = kn(Outputs(problem, np.random.default_rng(5)).sample, 2, delta=0.001,
               max_replications=30)
    assert found.capped
    assert found.contenders == (0, 1)
    assert found.replications == (30, 30)


def test_kn_asks_only_for_the_contenders_replications() -> None:
    """Stage r asks for replication r of the systems still in contention, once."""
    problem = NormalProblem("clear", (0.0, 0.0, 3.0), (1.0, 1.0, 1.0), 0.0, 0.5)
    outputs = Outputs(problem, np.random.default_rng(6))
    asked: list[tuple[tuple[int, ...], int]] = []

    def sample(systems: list[int], replication: int) -> list[float]:
        asked.append((tuple(systems), replication))
        return outputs.sample(systems, replication)

    found = kn(sample, 3, delta=0.5)
    assert [r for _, r in asked] == list(range(len(asked)))
    assert all(len(systems) == 3 for systems, r in asked if r < 10)
    assert found.selected == 2
    assert found.replications[2] == len(asked)


@pytest.mark.parametrize("correlation", [0.0, 0.7])
def test_screening_keeps_one_of_equal_systems_with_the_nominal_probability(correlation: float
                                                                           ) -> None:
    """All means equal is screening's least favourable configuration: any system is a
    best, and must stay in the subset with probability at least 95%."""
    problem = all_equal("equal", 4, 0.0, [1, 1.5, 2, 2.5], correlation)
    outcome = screen_outcome(problem, MACRO, seed=7, system=0)
    assert outcome.share >= NOMINAL - TOLERANCE, outcome


def test_screening_rules_out_the_clearly_worse() -> None:
    problem = NormalProblem("clear", (0.0, 0.0, 1.0, 1.0), (1.0,) * 4, 0.7, 0.0)
    outcome = screen_outcome(problem, 200, seed=8)
    assert outcome.share >= NOMINAL - 3 * math.sqrt(NOMINAL * (1 - NOMINAL) / 200)
    assert outcome.replications == pytest.approx(2.0, abs=0.1)  # the mean subset size


def test_screening_is_exact_on_a_small_case() -> None:
    """Differences without spread leave no margin: each system is ruled out by the
    first that beats it at all."""
    values = np.array([[1.0, 2.0, 3.0], [1.5, 2.5, 3.5], [10.0, 11.0, 12.0]])
    found = screen(values)
    assert found.contenders == (2,)
    assert found.selected == 2
    assert found.eliminated_by == (1, 2, None)


def test_selection_settings_are_checked_in_words() -> None:
    assert check_settings(delta=2000.0, confidence=0.95, k=4, subset=False) == []
    assert check_settings(delta=None, confidence=0.95, k=4, subset=True) == []
    assert any("--select needs --delta" in p
               for p in check_settings(delta=None, confidence=0.95, k=4, subset=False))
    assert any("--confidence must be above 0.5" in p
               for p in check_settings(delta=1.0, confidence=1.2, k=4, subset=False))
    assert any("--delta must be a positive number" in p
               for p in check_settings(delta=-5.0, confidence=0.9, k=4, subset=False))
    assert any("at least two strategies" in p
               for p in check_settings(delta=1.0, confidence=0.9, k=1, subset=False))


# --- slow: the full grid, and a simrun comparison (pytest -m slow) ---------------------

SLOW_MACRO = 2000
GRID = [
    slippage("ten systems, common variance, independent", 10, DELTA, [1] * 10, 0.0),
    slippage("ten systems, common variance, CRN", 10, DELTA, [1] * 10, 0.5),
    slippage("five systems, increasing variances, CRN", 5, 0.5, [1, 1.25, 1.5, 1.75, 2], 0.5),
    slippage("five systems, decreasing variances, independent", 5, 0.75,
             [2, 1.75, 1.5, 1.25, 1], 0.0),
    slippage("two systems, unequal variances, CRN", 2, 0.5, [1, 3], 0.8),
]


@pytest.mark.slow
@pytest.mark.parametrize("problem", GRID, ids=lambda p: p.name)
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_kn_keeps_its_promise_over_the_grid(problem: NormalProblem, confidence: float) -> None:
    outcome = kn_outcome(problem, SLOW_MACRO, seed=11, confidence=confidence)
    tolerance = 3 * math.sqrt(confidence * (1 - confidence) / SLOW_MACRO)
    assert outcome.share >= confidence - tolerance, outcome


@pytest.mark.long  # about 3 CPU-minutes: beyond CI's budget; bench_select.py --simrun
def test_kn_on_simrun_strategies_names_the_best_with_the_nominal_probability() -> None:
    """Four strategies on the tiny market; the truth from a long run of 300 replications
    on its own seed: tiered with its standard tier at 60 leads tiered as it is by about
    230 (95% CI 179 to 282), the others by more than 1,000. With delta = 150 the best
    leads every other by more than delta, so KN must name it with probability at least
    95%: over 50 macro-replications (seeds 1000 to 1049) the share must be at least
    0.95 - 3 x sqrt(0.95 x 0.05 / 50) = 0.857."""
    from select_helpers import simrun_outcome, simrun_truth

    truth = simrun_truth(300)
    assert max(truth, key=lambda n: truth[n].mean) == "tiered_60"
    assert all(e.high < -150 for name, e in truth.items() if name != "tiered_60")
    outcome = simrun_outcome(150.0, 50)
    assert outcome.share >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / 50), outcome
