"""What a transaction log says about the model's customers, from the calibration period
only (docs/calibrate.md, "What is fitted").

Per segment, the visits of a customer are a renewal process that stops: after each
purchase the customer comes back with its own probability p (the model's return
decision) and then waits an interval drawn from the segment's gamma law (the model's
``visit_interval``). The customers' p differ: logit p is normal with mean ``mu`` and
standard deviation ``sigma`` (the model's per-customer ``loyalty``). For a customer
with n purchases in the calibration period, gaps g_2..g_n between them and c days
from its last purchase to the end of the period, the likelihood is

    prod f(g_j) x E[ p^(n-1) ((1 - p) + p S(c)) ]

(f and S the gamma density and survival; the expectation over the normal, by
Gauss-Hermite quadrature): it came back n - 1 times, and after its last purchase it
either left or its next interval had not ended yet. The four parameters are found by
maximum likelihood (scipy.optimize), their standard errors from the curvature.

Segments are given by a column (each fitted on its own customers), or found as latent
classes: a mixture of k such processes, each customer's likelihood the share-weighted
sum of its likelihood under each class, all 5k - 1 parameters by maximum likelihood
(``--segments K``). A customer's class is never decided by its calibration behaviour,
only weighted by it (its posterior probability), so no class is made of the customers
who happened not to leave yet.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from sim.fit.log import Log, TransactionsError
from sim.scenario.errors import Issue

MIN_CALIBRATION_DAYS = 14
MIN_HOLDOUT_DAYS = 7
MIN_CUSTOMERS = 10
QUADRATURE_NODES = 24
MIN_GAPS = 10
"""A segment with fewer repeat gaps than this takes the visit interval of all segments."""


@dataclass(frozen=True)
class Estimate:
    """A fitted number and its standard error (NaN: none)."""

    value: float
    se: float = math.nan

    def text(self, digits: int = 4) -> str:
        if math.isnan(self.se):
            return f"{self.value:.{digits}g}"
        return f"{self.value:.{digits}g} (standard error {self.se:.2g})"


@dataclass(frozen=True)
class Returns:
    """The fitted return behaviour and visit interval of one group of customers."""

    mu: Estimate
    """Mean of logit p, p the chance of coming back after a purchase."""
    sigma: Estimate
    """Standard deviation of logit p across customers."""
    interval_days: Estimate
    """Mean visit interval of a customer who comes back, days."""
    interval_cv: Estimate
    pooled_interval: bool = False
    """The interval is that of all customers (too few gaps in this group)."""
    share_se: float = math.nan
    """Standard error of the class's share (latent classes; NaN otherwise)."""

    def mean_return_probability(self) -> float:
        p = _expit(self.mu.value + math.sqrt(2) * self.sigma.value * NODES)
        return float(np.sum(WEIGHTS * p))


@dataclass
class Segment:
    name: str
    share: float
    returns: Returns
    price: Estimate
    purchases: int
    service_h: tuple[float, float] | None = None
    """(mean, cv) of service time, hours; None: not in the data."""
    patience_h: Estimate | None = None
    rating: float | None = None
    """Mean rating of its calibration purchases."""


@dataclass
class Calibration:
    """The split of the log and everything fitted on the calibration period."""

    log: Log
    calibration_end: datetime
    end: datetime
    """The end of the holdout period (the end of the log's last day)."""
    new_customers_per_day: Estimate
    segments: list[Segment]
    segments_from: str
    open_hours: tuple[float, float] | None
    first_day: np.ndarray
    """Each customer's first purchase (days since the origin)."""
    notes: list[str] = field(default_factory=list)

    @property
    def calibration_days(self) -> float:
        return (self.calibration_end - self.log.origin).total_seconds() / 86400.0

    @property
    def days(self) -> float:
        return (self.end - self.log.origin).total_seconds() / 86400.0


def split(log: Log, calibration_end: datetime | None) -> tuple[datetime, datetime]:
    """(calibration end, holdout end); by default the calibration is the first half,
    to the day. A TransactionsError when either part is too short."""
    end = log.origin + timedelta(days=math.floor(log.last_day) + 1)
    span = (end - log.origin).days
    if calibration_end is None:
        calibration_end = log.origin + timedelta(days=span // 2)
    cal = (calibration_end - log.origin).total_seconds() / 86400.0
    hold = (end - calibration_end).total_seconds() / 86400.0
    if cal < MIN_CALIBRATION_DAYS or hold < MIN_HOLDOUT_DAYS:
        raise TransactionsError(log.source, [Issue(
            "", f"too short to split: the log runs {span} days from {log.origin:%Y-%m-%d}; "
                f"the calibration period needs {MIN_CALIBRATION_DAYS} days or more and the "
                f"holdout {MIN_HOLDOUT_DAYS}",
            hint=(f"--calibration-end {calibration_end:%Y-%m-%d} leaves {cal:.0f} and "
                  f"{hold:.0f} days"))])
    return calibration_end, end


def calibrate(log: Log, calibration_end: datetime | None = None, segments: int | str = 1,
              seed: int = 1) -> Calibration:
    """Everything :mod:`sim.fit` estimates from the calibration period of ``log``."""
    cal_end, end = split(log, calibration_end)
    cal_days = (cal_end - log.origin).total_seconds() / 86400.0
    in_cal = log.day < cal_days
    customers = len(log.customers)
    first = np.full(customers, np.inf)
    np.minimum.at(first, log.customer, log.day)
    known = first < cal_days
    if known.sum() < MIN_CUSTOMERS:
        raise TransactionsError(log.source, [Issue(
            "", f"too short to split: {int(known.sum())} customers bought in the calibration "
                f"period (before {cal_end:%Y-%m-%d}); at least {MIN_CUSTOMERS} are needed")])
    everyone = histories(log, in_cal, known, cal_days)
    if isinstance(segments, str):
        segment_of, names = given_segments(log, in_cal, segments)
        pooled = fit_classes(everyone, 1)[0][0]
        weights, classes = [], []
        for k in range(len(names)):
            mine = histories(log, in_cal, known & (segment_of == k), cal_days)
            fixed = pooled if len(mine.gaps) < MIN_GAPS else None
            classes.append(fit_classes(mine, 1, fixed=fixed)[0][0])
            weights.append((segment_of[known] == k).astype(float))
        how = f"given (column {segments!r}: each customer's most frequent)"
    else:
        if segments > 1 and known.sum() < segments * MIN_CUSTOMERS:
            raise TransactionsError(log.source, [Issue(
                "--segments", f"{segments} segments need {segments * MIN_CUSTOMERS} "
                              f"calibration customers or more; the log has {int(known.sum())}")])
        classes, weights = fit_classes(everyone, segments, seed=seed)
        names = ["customers"] if segments == 1 else [f"class {k + 1}" for k in range(segments)]
        how = ("one segment" if segments == 1 else
               f"found: {segments} latent classes fitted with the return behaviour by maximum "
               "likelihood (a finite mixture on the purchase histories; each customer belongs "
               "to each class with its posterior probability; spend does not enter it, each "
               "class's price is its customers' weighted mean spend), numbered by visit "
               "interval, shortest first")
    fitted = [_segment(log, in_cal, known, names[k], classes[k], weights[k])
              for k in range(len(names))]
    _patience(log, cal_days, fitted)
    rate = known.sum() / cal_days
    return Calibration(log, cal_end, end, Estimate(float(rate), math.sqrt(known.sum()) / cal_days),
                       fitted, how, open_hours(log, in_cal), first)


def _segment(log: Log, in_cal: np.ndarray, known: np.ndarray, name: str, returns: Returns,
             weight: np.ndarray) -> Segment:
    """A segment's share, price, service time and rating: its customers' calibration
    purchases, each customer counted with its weight (its probability of belonging)."""
    per_customer = np.zeros(len(known))
    per_customer[known] = weight
    rows = in_cal & known[log.customer]
    w = per_customer[log.customer[rows]]
    amounts = log.amount[rows]
    purchases = float(w.sum())
    price = float(np.average(amounts, weights=w))
    se = math.sqrt(float(np.average((amounts - price) ** 2, weights=w)) / purchases) \
        if purchases > 1 else math.nan
    return Segment(name, float(weight.sum() / known.sum()), returns, Estimate(price, se),
                   round(purchases),
                   service_h=_service(log, rows, w), rating=_mean(log.rating, rows, w))


@dataclass(frozen=True)
class Histories:
    """The calibration histories of a group of customers."""

    n: np.ndarray
    """Purchases of each customer in the calibration period."""
    censor: np.ndarray
    """Days from each customer's last purchase to the end of the period."""
    gaps: np.ndarray
    """Days between consecutive purchases, every customer's."""
    owner: np.ndarray
    """The customer (position in ``n``) of each gap."""
    distinct: np.ndarray
    """The distinct (n, censor) pairs (rows): customers alike in both have the same
    likelihood apart from their gaps, so it is computed once per pair."""
    pair_of: np.ndarray
    """Each customer's row in ``distinct``."""


def histories(log: Log, in_cal: np.ndarray, customers: np.ndarray,
              cal_days: float) -> Histories:
    """The histories of the customers in the mask ``customers``."""
    rows = in_cal & customers[log.customer]
    position = np.cumsum(customers) - 1
    who, day = position[log.customer[rows]], log.day[rows]
    count = int(customers.sum())
    n = np.bincount(who, minlength=count)
    last = np.full(count, -np.inf)
    np.maximum.at(last, who, day)
    same = who[1:] == who[:-1]
    gaps = np.maximum((day[1:] - day[:-1])[same], 1e-3)
    censor = cal_days - last
    distinct, pair_of = np.unique(np.column_stack([n, censor]), axis=0, return_inverse=True)
    return Histories(n, censor, gaps, who[1:][same], distinct, pair_of.reshape(-1))


def class_log_likelihood(theta: np.ndarray, h: Histories) -> np.ndarray:
    """Each customer's log-likelihood under one class, theta = (mu, log sigma, log mean
    interval, log cv) (module docstring)."""
    from scipy.special import gammaincc, gammaln

    mu, log_sigma, log_mean, log_cv = theta
    cv = math.exp(log_cv)
    shape, scale = 1 / (cv * cv), math.exp(log_mean) * cv * cv
    p = _expit(mu + math.sqrt(2) * math.exp(log_sigma) * NODES)
    n, censor = h.distinct[:, 0], h.distinct[:, 1]
    survive = gammaincc(shape, censor / scale)
    terms = ((n - 1)[:, None] * np.log(p)[None, :]
             + np.log1p(-p[None, :] * (1 - survive[:, None])))
    top = terms.max(axis=1)
    people = (np.log(np.exp(terms - top[:, None]) @ WEIGHTS) + top)[h.pair_of]
    log_density = ((shape - 1) * np.log(h.gaps) - h.gaps / scale - gammaln(shape)
                   - shape * math.log(scale))
    return np.asarray(people + np.bincount(h.owner, weights=log_density, minlength=len(h.n)))


NODES, _RAW_WEIGHTS = np.polynomial.hermite.hermgauss(QUADRATURE_NODES)
WEIGHTS = _RAW_WEIGHTS / math.sqrt(math.pi)
"""Gauss-Hermite nodes and weights for an expectation over a standard normal (x sqrt 2)."""


BOUNDS = [(-10.0, 10.0), (math.log(0.01), math.log(5.0)), (math.log(0.01), math.log(1e4)),
          (math.log(0.05), math.log(3.0))]
"""Of mu, log sigma, log mean interval (days) and log cv."""


def fit_classes(h: Histories, k: int, seed: int = 1,
                fixed: Returns | None = None) -> tuple[list[Returns], list[np.ndarray]]:
    """Maximum likelihood of a mixture of ``k`` classes of the stopped renewal process
    (k = 1: one class): the classes, by mean interval, and each customer's posterior
    probability of each. With ``fixed``, one class whose visit interval is taken from
    it (too few gaps to fit one)."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    tail = None if fixed is None else np.log([fixed.interval_days.value,
                                              fixed.interval_cv.value])

    def unpack(params: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        logits = np.concatenate([[0.0], params[:k - 1]])
        if tail is not None:
            return logits, [np.concatenate([params[k - 1:], tail])]
        return logits, [params[k - 1 + 4 * j:k - 1 + 4 * (j + 1)] for j in range(k)]

    def joint(params: np.ndarray) -> np.ndarray:
        logits, thetas = unpack(params)
        log_share = logits - logsumexp(logits)
        return np.column_stack([log_share[j] + class_log_likelihood(t, h)
                                for j, t in enumerate(thetas)])

    def nll(params: np.ndarray) -> float:
        return float(-logsumexp(joint(params), axis=1).sum())

    starts = _starts(h, k, seed)
    if tail is not None:
        starts = [starts[0][:2]]
    bounds = [(-8.0, 8.0)] * (k - 1) + (BOUNDS[:2] if tail is not None else BOUNDS * k)
    best = minimize(nll, np.concatenate([np.zeros(k - 1), *starts]), method="L-BFGS-B",
                    bounds=bounds)
    cov = _covariance(nll, best.x)
    se = _errors(cov)
    logits, thetas = unpack(best.x)
    share_se = _share_errors(logits, cov[:k - 1, :k - 1])
    ses = [se[k - 1:] if tail is not None else se[k - 1 + 4 * j:k - 1 + 4 * (j + 1)]
           for j in range(k)]
    joint_ll = joint(best.x)
    posterior = np.exp(joint_ll - logsumexp(joint_ll, axis=1)[:, None])
    order = np.argsort([t[2] for t in thetas], kind="stable")
    return ([_returns(thetas[j], ses[j], fixed, share_se[j]) for j in order],
            [posterior[:, j] for j in order])


def _returns(theta: np.ndarray, se: np.ndarray, fixed: Returns | None,
             share_se: float) -> Returns:
    mu, sigma = float(theta[0]), math.exp(theta[1])
    if fixed is not None:
        return Returns(Estimate(mu, se[0]), Estimate(sigma, sigma * se[1]),
                       fixed.interval_days, fixed.interval_cv, pooled_interval=True,
                       share_se=share_se)
    mean, cv = math.exp(theta[2]), math.exp(theta[3])
    return Returns(Estimate(mu, se[0]), Estimate(sigma, sigma * se[1]),
                   Estimate(mean, mean * se[2]), Estimate(cv, cv * se[3]), share_se=share_se)


def _starts(h: Histories, k: int, seed: int) -> list[np.ndarray]:
    """Starting values: the customers cut into k groups by purchase count (ties broken at
    random with ``seed``), each group's share of repeat purchases and its gaps' mean and
    cv."""
    rng = np.random.default_rng(seed)
    rank = np.argsort(h.n + rng.random(len(h.n)), kind="stable")
    group = np.empty(len(h.n), dtype=np.int64)
    group[rank] = np.arange(len(h.n)) * k // max(len(h.n), 1)
    out = []
    for j in range(k):
        n = h.n[group == j]
        gaps = h.gaps[group[h.owner] == j]
        if len(gaps) < 2:
            gaps = h.gaps if len(h.gaps) >= 2 else np.array([30.0, 60.0])
        share = (n - 1).sum() / max(n.sum(), 1)
        m = float(gaps.mean())
        cv = float(gaps.std() / m) if m > 0 else 1.0
        out.append(np.array([math.log(max(share, 0.02) / max(1 - share, 0.02)), math.log(0.5),
                             math.log(m), math.log(min(max(cv, 0.1), 2.5))]))
    return out


def _covariance(f: Callable[[np.ndarray], float], x: np.ndarray,
                step: float = 1e-3) -> np.ndarray:
    """The inverse Hessian of ``f`` at ``x`` (central differences): the estimates'
    covariance when ``f`` is a negative log-likelihood; NaN where it says nothing."""
    k = len(x)
    h = np.zeros((k, k))
    f0 = f(x)
    for i in range(k):
        for j in range(i, k):
            e_i, e_j = np.eye(k)[i] * step, np.eye(k)[j] * step
            if i == j:
                h[i, i] = (f(x + e_i) - 2 * f0 + f(x - e_i)) / step**2
            else:
                h[i, j] = h[j, i] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j)
                                     + f(x - e_i - e_j)) / (4 * step**2)
    try:
        return np.asarray(np.linalg.inv(h))
    except np.linalg.LinAlgError:
        return np.full((k, k), math.nan)


def _errors(cov: np.ndarray) -> np.ndarray:
    """Standard errors: square roots of the covariance's diagonal (NaN if not positive)."""
    diag = np.diag(cov)
    return np.where(diag > 0, np.sqrt(np.abs(diag)), math.nan)


def _share_errors(logits: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Standard errors of the shares softmax(0, l_1, ..., l_k-1) from the covariance of
    the l (delta method: d share_j / d l_i = share_j (1[i = j] - share_i))."""
    share = np.exp(logits - logits.max())
    share /= share.sum()
    jacobian = np.diag(share)[:, 1:] - np.outer(share, share[1:])
    return _errors(jacobian @ cov @ jacobian.T)


def _expit(x: np.ndarray | float) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def given_segments(log: Log, in_cal: np.ndarray, column: str) -> tuple[np.ndarray, list[str]]:
    """Each customer's segment from the column (the value of most of its calibration
    purchases; -1: first seen in the holdout) and the names."""
    if log.segment is None:
        raise TransactionsError(log.source, [Issue(
            "--segments", f"names a column the file does not have: {column!r}")])
    labels: dict[int, dict[str, int]] = {}
    for i in np.flatnonzero(in_cal):
        counts = labels.setdefault(int(log.customer[i]), {})
        counts[log.segment[i]] = counts.get(log.segment[i], 0) + 1
    chosen = {who: max(counts, key=lambda s: (counts[s], s)) for who, counts in labels.items()}
    names = sorted(set(chosen.values()))
    segment_of = np.full(len(log.customers), -1, dtype=np.int64)
    for who, name in chosen.items():
        segment_of[who] = names.index(name)
    return segment_of, names


def _service(log: Log, rows: np.ndarray, weight: np.ndarray) -> tuple[float, float] | None:
    """(mean, cv) of the service hours of these purchases, weighted."""
    if log.service_min is None:
        return None
    values = log.service_min[rows] / 60.0
    ok = ~np.isnan(values) & (values > 0) & (weight > 0)
    if ok.sum() < 2:
        return None
    mean = float(np.average(values[ok], weights=weight[ok]))
    sd = math.sqrt(float(np.average((values[ok] - mean) ** 2, weights=weight[ok])))
    return mean, sd / mean


def _mean(values: np.ndarray | None, rows: np.ndarray, weight: np.ndarray) -> float | None:
    if values is None:
        return None
    chosen = values[rows]
    ok = ~np.isnan(chosen) & (weight > 0)
    return float(np.average(chosen[ok], weights=weight[ok])) if ok.any() else None


def _patience(log: Log, cal_days: float, segments: list[Segment]) -> None:
    """Patience (exponential) with abandonment as its observed end and a wait that was
    served as censored: mean = total time queued / abandonments (all segments alike:
    an abandoned visit's row may carry no segment)."""
    if log.waited_min is None or not len(log.abandoned_day):
        return
    gave_up = log.abandoned_day < cal_days
    waited = log.waited_min[log.day < cal_days]
    total_h = (np.nansum(waited) + np.nansum(log.abandoned_waited_min[gave_up])) / 60.0
    count = int(gave_up.sum())
    if count == 0:
        return
    mean = total_h / count
    for segment in segments:
        segment.patience_h = Estimate(mean, mean / math.sqrt(count))


def open_hours(log: Log, in_cal: np.ndarray) -> tuple[float, float] | None:
    """Opening hours from the times of day of the calibration purchases (the 0.5% and
    99.5% quantiles, to whole hours), or None for a log of dates."""
    if not log.has_time:
        return None
    hours = np.round((log.day[in_cal] % 1.0) * 24.0, 6)  # 10:00 is 10, not 9.999
    low, high = np.quantile(hours, [0.005, 0.995])
    open_h = float(math.floor(low))
    close_h = float(min(24.0, math.ceil(high + 1e-9)))
    return (open_h, close_h) if close_h > open_h else None
