"""Select the best strategy with a stated probability of being right.

Two procedures, both on common random numbers (replication r of every strategy meets
the same customers, so the strategies' outputs are correlated and only the variances of
their *differences* matter):

- :func:`kn`: Kim and Nelson's fully sequential indifference-zone procedure (KN; Kim,
  S.-H. and Nelson, B. L., "A fully sequential procedure for indifference-zone selection
  in simulation", ACM TOMACS 11 (2001) 251-273). A first stage of ``n0`` replications of
  every strategy estimates the variance of each pairwise difference; then one more
  replication of every strategy still in contention per stage, and a strategy leaves as
  soon as some other one is ahead of it by more than the continuation region allows.
  Guarantee: if the best mean exceeds every other by at least ``delta``, it is selected
  with probability at least ``confidence`` (normal outputs; unknown, unequal variances;
  any correlation between strategies, common random numbers included).
- :func:`screen`: subset selection by screening (Nelson, B. L., Swann, J., Goldsman, D.
  and Song, W., "Simple procedures for selecting the best simulated system when the
  number of alternatives is large", Operations Research 49 (2001) 950-963, their screening
  with common random numbers): after ``n`` replications of every strategy, keep those no
  other strategy beats by more than a one-sided Bonferroni t margin on the paired
  difference. Guarantee: the subset holds the best strategy with probability at least
  ``confidence``, whatever the differences (no indifference zone).

Both are pure functions of the outputs: :func:`kn` asks a callback for "replication r of
these strategies" and never simulates itself, so it runs on synthetic normal data in
tests (tests/test_select.py) as it runs on simrun replications
(:mod:`sim.experiment.sequential`). Strategies are numbered 0..k-1; means are taken in
the metric's direction (``higher_is_better``), so "best" is the largest mean or the
smallest. Everything here is deterministic given the outputs: the same replications give
the same selection, whatever the number of worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.metrics import t_quantile

Sample = Callable[[Sequence[int], int], Sequence[float]]
"""``sample(systems, r)``: replication ``r`` (0-based) of each listed system, in order."""

MIN_FIRST_STAGE = 10
"""Smallest first stage simrun accepts: with fewer replications the variances of the
differences are so poorly known that KN's constant h² (hence the work) balloons."""


@dataclass(frozen=True, slots=True)
class Selection:
    """What a selection procedure decided, and on what evidence."""

    procedure: str
    """'KN' (select one) or 'screening' (a subset)."""
    confidence: float
    delta: float
    """The indifference zone (0 for screening, which needs none)."""
    first_stage: int
    """Replications of every system before any decision (n0; screening: all it used)."""
    constant: float
    """KN: h² = 2 eta (n0 - 1); screening: the t quantile."""
    contenders: tuple[int, ...]
    """The systems never eliminated: one when KN finished, the subset for screening,
    several when KN stopped at its cap."""
    selected: int
    """KN: the system selected (the best mean among the contenders at the cap);
    screening: the best mean of the subset."""
    replications: tuple[int, ...]
    """Replications each system received."""
    eliminated_at: tuple[int | None, ...]
    """The number of replications after which each system was eliminated (None: never)."""
    eliminated_by: tuple[int | None, ...]
    """A system whose lead eliminated it (None: never eliminated)."""
    means: tuple[float, ...]
    """Each system's mean over its own replications."""
    capped: bool = False
    """KN stopped at the cap with more than one contender: its guarantee then covers the
    contenders as a set (see :func:`kn`), not the one with the best mean."""


def kn_eta(alpha: float, k: int, n0: int) -> float:
    """KN's eta: ½ [(2 alpha / (k - 1))^(-2 / (n0 - 1)) - 1] (Kim and Nelson 2001, eq. 2),
    from ½ (1 + 2 eta / (n0 - 1))^(-(n0 - 1) / 2) = alpha / (k - 1) with c = 1."""
    if not 0 < alpha < 1 or k < 2 or n0 < 2:
        raise ValueError(f"need 0 < alpha < 1, k >= 2, n0 >= 2; got {alpha}, {k}, {n0}")
    return 0.5 * ((2 * alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1)


def difference_variances(first: np.ndarray) -> np.ndarray:
    """S²_il: the sample variance of X_i - X_l over the first stage (``first`` is k x n0,
    one row per system). On common random numbers this is what must be estimated: the
    variance of a difference, not the sum of two variances."""
    diffs = first[:, None, :] - first[None, :, :]
    return np.var(diffs, axis=2, ddof=1)


def kn(sample: Sample, k: int, *, delta: float, confidence: float = 0.95, n0: int = 10,
       max_replications: int | None = None, higher_is_better: bool = True) -> Selection:
    """Kim and Nelson's KN procedure (c = 1) over ``sample``.

    1. Replications 0..n0-1 of every system; S²_il from them (:func:`difference_variances`);
       eta (:func:`kn_eta`, alpha = 1 - confidence) and h² = 2 eta (n0 - 1).
    2. After r replications, system i leaves when for some other contender l
       mean_i(r) < mean_l(r) - W_il(r), W_il(r) = max(0, delta / (2 r) (h² S²_il / delta² - r)):
       all contenders are judged against each other on the same r replications.
    3. One contender left: it is selected. Otherwise every contender gets replication r
       (r + 1 replications) and step 2 repeats. Once r exceeds h² S²_il / delta² for every
       pair of contenders, W is 0 and the best mean is selected (KN's own end, at most
       max ⌊h² S²_il / delta²⌋ + 1 replications).

    ``max_replications`` caps the replications per system. Stopping there with several
    contenders, the best mean among them is reported, ``capped``: the guarantee then holds
    for the set (if one system leads every other by ``delta``, it is among the contenders
    with probability at least ``confidence``: being eliminated only ever happens inside
    the region KN bounds), not for the one reported.
    """
    if delta <= 0 or not 0 < confidence < 1:
        raise ValueError(f"need delta > 0 and 0 < confidence < 1; got {delta}, {confidence}")
    sign = 1.0 if higher_is_better else -1.0
    first = np.array([np.asarray(sample(range(k), r), dtype=float) for r in range(n0)]).T
    h2 = 2 * kn_eta(1 - confidence, k, n0) * (n0 - 1)
    # W_il(r) is 0 from r >= horizon[i][l] = h² S²_il / delta² on
    horizon = (h2 * difference_variances(first) / delta**2).tolist()
    totals = (sign * first.sum(axis=1)).tolist()
    counts = [n0] * k
    eliminated_at: list[int | None] = [None] * k
    eliminated_by: list[int | None] = [None] * k
    contenders = list(range(k))
    r = n0
    capped = False
    end = max(map(max, horizon))
    while True:
        half = delta / (2 * r)
        means = [totals[i] / r for i in range(k)]
        out = {}
        for i in contenders:
            for rival in contenders:
                if rival != i and means[i] < means[rival] - max(0.0, half * (horizon[i][rival] - r)):
                    out[i] = rival
                    break
        for i, rival in out.items():
            eliminated_at[i], eliminated_by[i] = r, rival
        if out:
            contenders = [i for i in contenders if i not in out]
            end = max(horizon[i][j] for i in contenders for j in contenders)
        if len(contenders) == 1:
            break
        if r >= end:
            best = max(contenders, key=lambda i: means[i])  # KN's own end: every W is 0
            for i in contenders:
                if i != best:
                    eliminated_at[i], eliminated_by[i] = r, best
            contenders = [best]
            break
        if max_replications is not None and r >= max_replications:
            capped = True
            break
        for i, x in zip(contenders, sample(contenders, r), strict=True):
            totals[i] += sign * float(x)
            counts[i] += 1
        r += 1
    return Selection(
        procedure="KN", confidence=confidence, delta=delta, first_stage=n0, constant=h2,
        contenders=tuple(contenders),
        selected=max(contenders, key=lambda i: totals[i] / counts[i]),
        replications=tuple(counts), eliminated_at=tuple(eliminated_at),
        eliminated_by=tuple(eliminated_by),
        means=tuple(sign * t / c for t, c in zip(totals, counts, strict=True)), capped=capped)


def screen(values: np.ndarray, *, confidence: float = 0.95,
           higher_is_better: bool = True) -> Selection:
    """The subset of systems that cannot be ruled out as the best.

    ``values`` is k x n: replication j of system i, the same n (fixed in advance) for
    every system. System i stays when for every other l
    mean_i >= mean_l - t S_il / sqrt(n), with S²_il the sample variance of X_i - X_l and t
    the one-sided Student t quantile at 1 - alpha / (k - 1), n - 1 degrees of freedom
    (Bonferroni over the k - 1 rivals of the best: the best leaves only if one of k - 1
    one-sided t tests errs, each with probability at most alpha / (k - 1) whatever the
    correlation between the systems).
    """
    k, n = values.shape
    if k < 2 or n < 2 or not 0 < confidence < 1:
        raise ValueError(f"need k >= 2, n >= 2, 0 < confidence < 1; got {k}, {n}, {confidence}")
    sign = 1.0 if higher_is_better else -1.0
    data = sign * np.asarray(values, dtype=float)
    means = data.mean(axis=1)
    t = float(t_quantile(1 - (1 - confidence) / (k - 1), n - 1))
    margin = t * np.sqrt(difference_variances(data) / n)
    behind = means[:, None] < means[None, :] - margin
    out = behind.any(axis=1)
    kept = tuple(int(i) for i in np.flatnonzero(~out))
    return Selection(
        procedure="screening", confidence=confidence, delta=0.0, first_stage=n, constant=t,
        contenders=kept, selected=max(kept, key=lambda i: means[i]),
        replications=(n,) * k,
        eliminated_at=tuple(n if out[i] else None for i in range(k)),
        eliminated_by=tuple(int(np.argmax(behind[i])) if out[i] else None for i in range(k)),
        means=tuple(float(sign * m) for m in means))


def check_settings(*, delta: float | None, confidence: float, k: int, subset: bool
                   ) -> list[str]:
    """Problems with a selection's settings, in words (empty: fine)."""
    problems = []
    if k < 2:
        problems.append("needs at least two strategies to select from")
    if not 0.5 < confidence < 1 or math.isnan(confidence):
        problems.append(f"--confidence must be above 0.5 and below 1, got {confidence:g}")
    if subset and delta is not None:
        problems.append("--delta is for --select without --subset: the subset needs no "
                        "indifference zone")
    if not subset and delta is None:
        problems.append("--select needs --delta: the smallest difference in the metric worth "
                        "telling apart, in its unit (e.g. --delta 2000 for 2,000 of profit)")
    if delta is not None and not (delta > 0 and math.isfinite(delta)):
        problems.append(f"--delta must be a positive number, got {delta:g}")
    return problems


__all__ = ["MIN_FIRST_STAGE", "Selection", "check_settings", "difference_variances", "kn",
           "kn_eta", "screen"]
