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

    def mean_return_probability(self) -> float:
        x, w = np.polynomial.hermite.hermgauss(QUADRATURE_NODES)
        p = _expit(self.mu.value + math.sqrt(2) * self.sigma.value * x)
        return float(np.sum(w * p) / math.sqrt(math.pi))


@dataclass
class Segment:
    name: str
    customers: np.ndarray
    """Indices of its calibration customers."""
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
    segment_of: np.ndarray
    """Segment index of each customer (-1: first seen in the holdout)."""
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
    segment_of, names, how = assign_segments(log, in_cal, known, cal_days, segments, seed)
    pooled = fit_returns(*_histories(log, in_cal, known, cal_days))
    fitted = []
    for k, name in enumerate(names):
        members = np.flatnonzero(segment_of == k)
        mask = known & (segment_of == k)
        n, gaps, censor = _histories(log, in_cal, mask, cal_days)
        returns = (fit_returns(n, gaps, censor) if len(gaps) >= MIN_GAPS else
                   fit_returns(n, gaps, censor, interval=pooled))
        rows = in_cal & mask[log.customer]
        amounts = log.amount[rows]
        fitted.append(Segment(
            name, members, len(members) / known.sum(), returns,
            Estimate(float(amounts.mean()), float(amounts.std(ddof=1) / math.sqrt(len(amounts)))
                     if len(amounts) > 1 else math.nan),
            int(rows.sum()), service_h=_service(log, rows), rating=_mean(log.rating, rows)))
    _patience(log, cal_days, in_cal, fitted, segment_of)
    rate = known.sum() / cal_days
    return Calibration(log, cal_end, end, Estimate(float(rate), math.sqrt(known.sum()) / cal_days),
                       fitted, segment_of, how, open_hours(log, in_cal), first)


def _histories(log: Log, in_cal: np.ndarray, customers: np.ndarray,
               cal_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer of ``customers`` (a mask): purchases in the calibration period, the
    gaps between them (all customers together) and the days from its last purchase to
    the end of the period."""
    rows = in_cal & customers[log.customer]
    who, day = log.customer[rows], log.day[rows]
    n = np.bincount(who, minlength=len(customers))[customers]
    last = np.full(len(customers), -np.inf)
    np.maximum.at(last, who, day)
    same = who[1:] == who[:-1]
    gaps = np.maximum((day[1:] - day[:-1])[same], 1e-3)
    return n, gaps, cal_days - last[customers]


def fit_returns(n: np.ndarray, gaps: np.ndarray, censor: np.ndarray,
                interval: Returns | None = None) -> Returns:
    """Maximum likelihood of the stopped renewal process (module docstring); with
    ``interval``, the visit interval is taken from it and only mu and sigma fitted."""
    from scipy.optimize import minimize
    from scipy.stats import gamma

    x, w = np.polynomial.hermite.hermgauss(QUADRATURE_NODES)
    w = w / math.sqrt(math.pi)
    repeats = n - 1
    fixed = None if interval is None else (math.log(interval.interval_days.value),
                                           math.log(interval.interval_cv.value))

    def nll(theta: np.ndarray) -> float:
        mu, log_sigma = theta[0], theta[1]
        log_mean, log_cv = fixed if fixed is not None else (theta[2], theta[3])
        mean, cv = math.exp(log_mean), math.exp(log_cv)
        shape, scale = 1 / (cv * cv), mean * cv * cv
        p = _expit(mu + math.sqrt(2) * math.exp(log_sigma) * x)
        survive = gamma.sf(censor, shape, scale=scale)
        terms = (repeats[:, None] * np.log(p)[None, :]
                 + np.log1p(-p[None, :] * (1 - survive[:, None])))
        people = np.log(np.exp(terms) @ w + 1e-300)
        total = people.sum()
        if fixed is None:
            total += gamma.logpdf(gaps, shape, scale=scale).sum()
        return float(-total)

    share = repeats.sum() / max(n.sum(), 1)
    start = [math.log(max(share, 0.01) / max(1 - share, 0.01)), math.log(0.5)]
    bounds = [(-10.0, 10.0), (math.log(0.01), math.log(5.0))]
    if fixed is None:
        m = float(gaps.mean())
        cv = float(gaps.std() / m) if len(gaps) > 1 and m > 0 else 1.0
        start += [math.log(m), math.log(min(max(cv, 0.1), 2.5))]
        bounds += [(math.log(0.01), math.log(1e4)), (math.log(0.05), math.log(3.0))]
    best = minimize(nll, np.array(start), method="L-BFGS-B", bounds=bounds)
    se = _standard_errors(nll, best.x)
    mu, sigma = best.x[0], math.exp(best.x[1])
    if interval is not None:
        return Returns(Estimate(mu, se[0]), Estimate(sigma, sigma * se[1]),
                       interval.interval_days, interval.interval_cv, pooled_interval=True)
    mean, cv = math.exp(best.x[2]), math.exp(best.x[3])
    return Returns(Estimate(mu, se[0]), Estimate(sigma, sigma * se[1]),
                   Estimate(mean, mean * se[2]), Estimate(cv, cv * se[3]))


def _standard_errors(f: Callable[[np.ndarray], float], x: np.ndarray,
                     step: float = 1e-3) -> np.ndarray:
    """Square roots of the diagonal of the inverse Hessian of ``f`` at ``x`` (central
    differences); NaN where the curvature says nothing."""
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
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return np.full(k, math.nan)
    diag = np.diag(cov)
    return np.where(diag > 0, np.sqrt(np.abs(diag)), math.nan)


def _expit(x: np.ndarray | float) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def assign_segments(log: Log, in_cal: np.ndarray, known: np.ndarray, cal_days: float,
                    segments: int | str, seed: int) -> tuple[np.ndarray, list[str], str]:
    """Each customer's segment index (-1 for customers first seen in the holdout), the
    names, and how they were found."""
    segment_of = np.full(len(log.customers), -1, dtype=np.int64)
    if isinstance(segments, str):
        if log.segment is None:
            raise TransactionsError(log.source, [Issue(
                "--segments", f"names a column the file does not have: {segments!r}")])
        labels: dict[int, dict[str, int]] = {}
        for i in np.flatnonzero(in_cal):
            counts = labels.setdefault(int(log.customer[i]), {})
            counts[log.segment[i]] = counts.get(log.segment[i], 0) + 1
        names = sorted({max(c, key=lambda s: (c[s], s)) for c in labels.values()})
        for who, counts in labels.items():
            segment_of[who] = names.index(max(counts, key=lambda s: (counts[s], s)))
        return segment_of, names, f"given (column {segments!r}: each customer's most frequent)"
    if segments == 1:
        segment_of[known] = 0
        return segment_of, ["customers"], "one segment"
    from scipy.cluster.vq import kmeans2

    rows = in_cal & known[log.customer]
    who = log.customer[rows]
    n = np.bincount(who, minlength=len(known)).astype(float)
    spend = np.bincount(who, weights=log.amount[rows], minlength=len(known))
    last = np.full(len(known), -np.inf)
    np.maximum.at(last, who, log.day[rows])
    idx = np.flatnonzero(known)
    features = np.column_stack([np.log1p(n[idx] - 1), np.log1p(spend[idx] / n[idx]),
                                (cal_days - last[idx]) / cal_days])
    sd = features.std(axis=0)
    z = (features - features.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if len(idx) < segments * MIN_CUSTOMERS:
        raise TransactionsError(log.source, [Issue(
            "--segments", f"{segments} segments need {segments * MIN_CUSTOMERS} calibration "
                          f"customers or more; the log has {len(idx)}")])
    _, label = kmeans2(z, segments, seed=seed, minit="++")
    order = np.argsort([features[label == k, 0].mean() if np.any(label == k) else np.inf
                        for k in range(segments)])
    rank = np.empty(segments, dtype=np.int64)
    rank[order] = np.arange(segments)
    segment_of[idx] = rank[label]
    used = sorted(set(segment_of[idx].tolist()))
    remap = {old: new for new, old in enumerate(used)}
    segment_of[idx] = [remap[s] for s in segment_of[idx].tolist()]
    names = [f"rfm {k + 1}" for k in range(len(used))]
    return segment_of, names, (f"found: k-means (scipy) on recency, frequency and monetary "
                               f"value of the calibration period, {len(used)} clusters, "
                               "numbered by frequency")


def _service(log: Log, rows: np.ndarray) -> tuple[float, float] | None:
    if log.service_min is None:
        return None
    values = log.service_min[rows]
    values = values[~np.isnan(values) & (values > 0)] / 60.0
    if len(values) < 2:
        return None
    return float(values.mean()), float(values.std(ddof=1) / values.mean())


def _mean(values: np.ndarray | None, rows: np.ndarray) -> float | None:
    if values is None:
        return None
    chosen = values[rows]
    chosen = chosen[~np.isnan(chosen)]
    return float(chosen.mean()) if len(chosen) else None


def _patience(log: Log, cal_days: float, in_cal: np.ndarray, segments: list[Segment],
              segment_of: np.ndarray) -> None:
    """Patience (exponential) with abandonment as its observed end and a wait that was
    served as censored: mean = total time queued / abandonments (all segments alike:
    an abandoned visit's row may carry no segment)."""
    if log.waited_min is None or not len(log.abandoned_day):
        return
    gave_up = log.abandoned_day < cal_days
    waited = log.waited_min[in_cal]
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
