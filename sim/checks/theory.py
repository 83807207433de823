"""Exact analytical reference values for validating simrun simulations.

``simrun validate`` and the test-suite run the simulator on configurations
that have a closed-form (or exactly computable) answer and compare the
simulated statistics with the values produced here:

* M/M/c (Erlang C): probability of waiting, mean wait, wait quantiles;
* M/M/c+M (Erlang A, exponential patience): exact birth-death solution;
* the same birth-death chain started empty: expected time averages over a
  finite window, which measure the start-up bias a warm-up leaves;
* M/M/c with non-preemptive priority classes (Cobham's formula);
* Naor's join/balk threshold for an observable M/M/1 queue;
* purchase shares from a willingness-to-pay survival function (lognormal);
* expected number of visits of a geometrically returning customer, with and
  without a finite simulation horizon.

All functions are pure and unit-agnostic: rates are "per unit time" and
times are in the same unit (simrun uses hours).  Invalid or unstable inputs
raise ``ValueError`` rather than returning a meaningless number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ErlangA",
    "WindowMeans",
    "cobham_mean_waits",
    "erlang_a",
    "erlang_c_mean_wait",
    "erlang_c_wait_probability",
    "erlang_c_wait_quantile",
    "geometric_visits",
    "geometric_visits_with_horizon",
    "lognormal_survival",
    "naor_threshold",
    "purchase_share",
    "window_means_from_empty",
]

# Relative tail mass below which the truncated Erlang A chain is accepted.
_TAIL_TOLERANCE = 1e-16
# Hard cap on the number of states of the truncated Erlang A chain.
_MAX_STATES = 20_000_000
# Above this many whole intervals in the horizon, use the closed-form sum.
_DIRECT_SUM_LIMIT = 100_000


def _check_mmc(arrival_rate: float, service_rate: float, servers: int) -> None:
    if not math.isfinite(arrival_rate) or arrival_rate < 0.0:
        raise ValueError(f"arrival_rate must be finite and >= 0, got {arrival_rate!r}")
    if not math.isfinite(service_rate) or service_rate <= 0.0:
        raise ValueError(f"service_rate must be finite and > 0, got {service_rate!r}")
    if isinstance(servers, bool) or int(servers) != servers or servers < 1:
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")


def _check_stable(arrival_rate: float, service_rate: float, servers: int) -> None:
    load = arrival_rate / service_rate
    if load >= servers:
        raise ValueError(
            f"unstable M/M/c queue: offered load {load:g} >= servers {servers}"
        )


def _erlang_b(load: float, servers: int) -> float:
    """Erlang B blocking probability via the stable recursion B_k = aB/(k + aB)."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c_wait_probability(
    arrival_rate: float, service_rate: float, servers: int
) -> float:
    """Erlang C probability that an arrival has to wait in an M/M/c queue.

    With offered load a = lambda/mu < c, the Erlang B recursion
    B_0 = 1, B_k = a B_{k-1} / (k + a B_{k-1}) gives B = B_c, and
    C(c, a) = c B / (c - a (1 - B)).  Numerically stable for large c.

    Reference: A. K. Erlang (1917); Gross, Shortle, Thompson & Harris,
    *Fundamentals of Queueing Theory*, 4th ed. (2008), M/M/c model; the
    recursion is in D. L. Jagerman, Bell Syst. Tech. J. 53 (1974) 525-551.

    Raises ValueError if a >= c (no steady state).
    """
    _check_mmc(arrival_rate, service_rate, servers)
    _check_stable(arrival_rate, service_rate, servers)
    load = arrival_rate / service_rate
    blocking = _erlang_b(load, servers)
    return servers * blocking / (servers - load * (1.0 - blocking))


def erlang_c_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean waiting time in queue of an M/M/c FIFO queue.

    Wq = C(c, a) / (c mu - lambda), with C the Erlang C probability.

    Reference: Gross et al., *Fundamentals of Queueing Theory* (2008), M/M/c.
    """
    wait_probability = erlang_c_wait_probability(arrival_rate, service_rate, servers)
    return wait_probability / (servers * service_rate - arrival_rate)


def erlang_c_wait_quantile(
    arrival_rate: float, service_rate: float, servers: int, q: float
) -> float:
    """q-quantile of the queueing delay of an M/M/c FIFO queue.

    P(Wq > t) = C exp(-(c mu - lambda) t) for t >= 0, with an atom
    P(Wq = 0) = 1 - C.  Hence the quantile is 0 when q <= 1 - C and
    t_q = ln(C / (1 - q)) / (c mu - lambda) otherwise.

    Reference: Gross et al., *Fundamentals of Queueing Theory* (2008),
    M/M/c waiting-time distribution.

    Requires 0 <= q < 1.
    """
    if not 0.0 <= q < 1.0:
        raise ValueError(f"q must satisfy 0 <= q < 1, got {q!r}")
    wait_probability = erlang_c_wait_probability(arrival_rate, service_rate, servers)
    if q <= 1.0 - wait_probability:
        return 0.0
    decay = servers * service_rate - arrival_rate
    return math.log(wait_probability / (1.0 - q)) / decay


@dataclass(frozen=True, slots=True)
class ErlangA:
    """Steady-state performance of an M/M/c+M (Erlang A) queue.

    wait_probability: P(an arrival finds all servers busy) (PASTA).
    mean_wait: mean time in queue over all arrivals, including those who
        abandon (= Lq / lambda by Little's law).
    abandon_probability: P(an arrival abandons before service).
    mean_queue_length: Lq, mean number waiting.
    mean_in_system: L, mean number waiting or in service.
    """

    wait_probability: float
    mean_wait: float
    abandon_probability: float
    mean_queue_length: float
    mean_in_system: float


def _erlang_a_log_weights(
    arrival_rate: float, service_rate: float, servers: int, abandon_rate: float
) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """Unnormalised log stationary weights log w_0..log w_N (w_0 = 1).

    The chain is truncated at N once the (geometric) bound on the remaining
    tail mass is below _TAIL_TOLERANCE times the largest weight.
    """

    def death(n: int) -> float:
        if n <= servers:
            return n * service_rate
        return servers * service_rate + (n - servers) * abandon_rate

    capacity = servers * service_rate
    if arrival_rate <= capacity:
        mode = math.ceil(arrival_rate / service_rate)
    else:
        mode = servers + math.ceil((arrival_rate - capacity) / abandon_rate)
    size = int(mode + 20.0 * math.sqrt(mode + 1.0) + 100)
    log_lambda = math.log(arrival_rate)
    while True:
        if size > _MAX_STATES:
            raise ValueError(
                "Erlang A chain needs more than "
                f"{_MAX_STATES} states; abandon_rate too small for this overload"
            )
        n = np.arange(1, size + 1, dtype=np.float64)
        deaths = np.where(
            n <= servers,
            n * service_rate,
            capacity + (n - servers) * abandon_rate,
        )
        log_w = np.concatenate(([0.0], np.cumsum(log_lambda - np.log(deaths))))
        ratio = arrival_rate / death(size + 1)
        if ratio < 1.0:
            # Death rates are non-decreasing, so the tail beyond N is bounded
            # by w_N * r / (1 - r) with r = lambda / death(N + 1).
            log_tail = float(log_w[-1]) + math.log(ratio / (1.0 - ratio))
            if log_tail < float(np.max(log_w)) + math.log(_TAIL_TOLERANCE):
                return log_w
        size *= 2


def erlang_a(
    arrival_rate: float, service_rate: float, servers: int, abandon_rate: float
) -> ErlangA:
    """Exact steady state of the M/M/c+M (Erlang A / Palm) queue.

    Birth-death chain with birth rate lambda and death rate
    mu_n = min(n, c) mu + (n - c)^+ theta.  Stationary weights
    pi_n proportional to prod_{k=1..n} lambda / mu_k are computed in log
    space and the chain is truncated adaptively where the remaining tail
    mass is < 1e-16 (relative).  Then, by PASTA and Little's law,
    P(wait) = sum_{n>=c} pi_n, Lq = sum (n - c)^+ pi_n,
    P(abandon) = theta Lq / lambda, mean wait (all arrivals) = Lq / lambda.

    abandon_rate = 0 is allowed only for a stable system and reduces to the
    Erlang C values.

    Reference: C. Palm (1943/1957); Garnett, Mandelbaum & Reiman, "Designing a
    call center with impatient customers", M&SOM 4(3) (2002) 208-227.
    """
    _check_mmc(arrival_rate, service_rate, servers)
    if not math.isfinite(abandon_rate) or abandon_rate < 0.0:
        raise ValueError(f"abandon_rate must be finite and >= 0, got {abandon_rate!r}")
    if arrival_rate == 0.0:
        return ErlangA(0.0, 0.0, 0.0, 0.0, 0.0)
    if abandon_rate == 0.0:
        # Pure M/M/c: closed form (raises ValueError if unstable).
        wait_probability = erlang_c_wait_probability(
            arrival_rate, service_rate, servers
        )
        mean_wait = erlang_c_mean_wait(arrival_rate, service_rate, servers)
        queue_length = arrival_rate * mean_wait
        return ErlangA(
            wait_probability=wait_probability,
            mean_wait=mean_wait,
            abandon_probability=0.0,
            mean_queue_length=queue_length,
            mean_in_system=queue_length + arrival_rate / service_rate,
        )

    log_w = _erlang_a_log_weights(arrival_rate, service_rate, servers, abandon_rate)
    pi = np.exp(log_w - np.max(log_w))
    pi /= np.sum(pi)
    states = np.arange(pi.size, dtype=np.float64)
    excess = np.maximum(states - servers, 0.0)
    queue_length = float(np.dot(pi, excess))
    return ErlangA(
        wait_probability=min(1.0, float(np.sum(pi[servers:]))),
        mean_wait=queue_length / arrival_rate,
        abandon_probability=abandon_rate * queue_length / arrival_rate,
        mean_queue_length=queue_length,
        mean_in_system=float(np.dot(pi, states)),
    )


@dataclass(frozen=True, slots=True)
class WindowMeans:
    """Expected time averages over a window of a queue started empty.

    in_system, waiting: E[(1/(t1 - t0)) integral of N(t) (resp. (N(t) - c)^+) dt].
    """

    in_system: float
    waiting: float


def window_means_from_empty(
    arrival_rate: float,
    service_rate: float,
    servers: int,
    abandon_rate: float,
    start: float,
    end: float,
    capacity: int | None = None,
) -> WindowMeans:
    """Expected time averages over [start, end] of an M/M/c(+M) queue empty at time 0
    (with ``capacity``: at most that many in the system, M/M/c/K, arrivals beyond lost).

    A simulation that starts empty and measures from ``start`` (its warm-up) to
    ``end`` (its horizon) estimates these, not the steady-state values of
    :func:`erlang_a`; the difference is its start-up bias.  The birth-death chain is
    the one of :func:`erlang_a` (abandon_rate = 0: M/M/c, which must be stable),
    truncated where the stationary tail is below 1e-16; starting from 0 the chain
    stays stochastically below its stationary law, so the truncation holds for the
    transient too.  The chain is reversible: with D = diag(pi), S = D^(1/2) Q D^(-1/2)
    is symmetric tridiagonal, S = V diag(s_k) V^T, and
    E[f(N(t))] = sum_k exp(s_k t) V_0k sum_j V_jk sqrt(pi_j / pi_0) f(j),
    whose window average has the closed form
    (exp(s_k end) - exp(s_k start)) / (s_k (end - start)) per mode.

    Reference: spectral representation of birth-death processes, Karlin &
    McGregor, Trans. AMS 85 (1957) 489-546; W. J. Anderson, *Continuous-Time
    Markov Chains* (1991), ch. 8.
    """
    from scipy.linalg import eigh_tridiagonal

    _check_mmc(arrival_rate, service_rate, servers)
    if not math.isfinite(abandon_rate) or abandon_rate < 0.0:
        raise ValueError(f"abandon_rate must be finite and >= 0, got {abandon_rate!r}")
    if abandon_rate == 0.0 and capacity is None:
        _check_stable(arrival_rate, service_rate, servers)
    if not 0.0 <= start < end or not math.isfinite(end):
        raise ValueError(f"need 0 <= start < end < inf, got {start!r}, {end!r}")
    if arrival_rate == 0.0:
        return WindowMeans(0.0, 0.0)
    if capacity is None:
        log_w = _erlang_a_log_weights(arrival_rate, service_rate, servers, abandon_rate)
    else:
        log_w = _finite_log_weights(arrival_rate, service_rate, servers, capacity)
    states = np.arange(log_w.size, dtype=np.float64)
    births = np.full(states.size, arrival_rate)
    births[-1] = 0.0  # reflecting truncation: the chain stays reversible w.r.t. pi
    deaths = np.minimum(states, servers) * service_rate
    deaths += np.maximum(states - servers, 0.0) * abandon_rate
    eigenvalues, vectors = eigh_tridiagonal(
        -(births + deaths), np.sqrt(births[:-1] * deaths[1:])
    )
    root_w = np.exp(0.5 * (log_w - np.max(log_w)))
    weight_0 = root_w[0]
    span = end - start
    stationary = int(np.argmax(eigenvalues))  # the one mode with s = 0 (up to rounding)
    averages = []
    for f in (states, np.maximum(states - servers, 0.0)):
        coefficients = vectors[0] * (vectors.T @ (root_w * f)) / weight_0
        total = float(coefficients[stationary])
        for k, (s_k, a_k) in enumerate(zip(eigenvalues.tolist(), coefficients.tolist(),
                                           strict=True)):
            if k != stationary:
                total += a_k * math.exp(s_k * start) * -math.expm1(s_k * span) / (-s_k * span)
        averages.append(total)
    return WindowMeans(in_system=averages[0], waiting=averages[1])


@dataclass(frozen=True, slots=True)
class FiniteQueue:
    """Steady state of an M/M/c/K queue: at most K in the system, arrivals beyond lost.

    blocking_probability: P(an arrival finds K in the system and is lost) (PASTA).
    mean_in_system: L, over all time.
    mean_queue_length: Lq, the mean number waiting.
    """

    blocking_probability: float
    mean_in_system: float
    mean_queue_length: float


def _finite_log_weights(arrival_rate: float, service_rate: float, servers: int,
                        capacity: int) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """log of (lambda/mu)^n / n! for n <= c and (lambda/mu)^n / (c! c^(n - c)) beyond,
    n = 0..K: the unnormalised stationary law of the M/M/c/K birth-death chain."""
    n = np.arange(1, capacity + 1, dtype=np.float64)
    deaths = np.minimum(n, servers) * service_rate
    return np.concatenate(([0.0], np.cumsum(math.log(arrival_rate) - np.log(deaths))))


def mmck(arrival_rate: float, service_rate: float, servers: int, capacity: int) -> FiniteQueue:
    """M/M/c/K (a waiting room of K - c places): blocking probability p_K and L, Lq from
    the truncated birth-death chain's stationary law (stable at any load).

    Reference: Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*,
    4th ed. (2008), section 2.5.
    """
    _check_mmc(arrival_rate, service_rate, servers)
    if capacity < servers:
        raise ValueError(f"capacity must be >= servers ({servers}), got {capacity!r}")
    log_w = _finite_log_weights(arrival_rate, service_rate, servers, capacity)
    p = np.exp(log_w - np.max(log_w))
    p /= p.sum()
    states = np.arange(capacity + 1, dtype=np.float64)
    return FiniteQueue(float(p[-1]), float(p @ states),
                       float(p @ np.maximum(states - servers, 0.0)))


def observable_join_limit(reward: float, cost_per_time: float, service_rate: float, *,
                          counts_own_service: bool) -> int:
    """The largest number in an observable M/M/1 system (the one in service included)
    at which an arriving customer still joins, found from the definition: it expects to
    spend n / mu waiting (the one in service has an exponential remainder too), plus its
    own 1 / mu when it counts its service (Naor), and joins while reward - cost x that
    time >= 0. Naor's threshold n_s = floor(R mu / C) is this limit + 1 when the
    service counts (joins iff n < n_s), and the limit itself when only the wait does.
    """
    if reward < 0 or cost_per_time <= 0 or service_rate <= 0:
        raise ValueError("need reward >= 0, cost_per_time > 0 and service_rate > 0")
    own = 1.0 if counts_own_service else 0.0
    n = -1
    while reward - cost_per_time * (n + 1 + own) / service_rate >= -1e-12:
        n += 1
    return n


def cobham_mean_waits(
    arrival_rates: Sequence[float], service_rate: float, servers: int
) -> tuple[float, ...]:
    """Mean queueing delay per class, M/M/c with non-preemptive priorities.

    All classes share the exponential service rate mu; classes are listed
    highest priority first.  With sigma_k = sum_{i<=k} lambda_i / (c mu)
    (sigma_0 = 0) and C = C(c, sum lambda_i / mu) the Erlang C probability,
    W_k = C / (c mu (1 - sigma_{k-1}) (1 - sigma_k)).

    Reference: A. Cobham, "Priority assignment in waiting line problems",
    Operations Research 2(1) (1954) 70-76; Gross et al., *Fundamentals of
    Queueing Theory* (2008), priority disciplines.

    Raises ValueError if the total load is >= c or no class is given.
    """
    rates = [float(rate) for rate in arrival_rates]
    if not rates:
        raise ValueError("at least one priority class is required")
    for rate in rates:
        if not math.isfinite(rate) or rate < 0.0:
            raise ValueError(f"arrival rates must be finite and >= 0, got {rate!r}")
    total = math.fsum(rates)
    wait_probability = erlang_c_wait_probability(total, service_rate, servers)
    capacity = servers * service_rate
    waits: list[float] = []
    sigma_prev = 0.0
    cumulative = 0.0
    for rate in rates:
        cumulative += rate
        sigma = cumulative / capacity
        waits.append(wait_probability / (capacity * (1.0 - sigma_prev) * (1.0 - sigma)))
        sigma_prev = sigma
    return tuple(waits)


def naor_threshold(
    reward: float, waiting_cost_per_time: float, service_rate: float
) -> int:
    """Naor's individually optimal joining threshold for an observable M/M/1.

    n_s = floor(R mu / C).  An arriving customer who sees n customers in the
    system (including the one in service) expects a sojourn of (n + 1) / mu
    and joins iff R - C (n + 1) / mu >= 0, i.e. iff n < n_s (ties join).
    Values of R mu / C within 1e-9 (relative) of an integer are snapped to
    that integer so that decimal inputs such as R=0.3, C=0.1, mu=1 give 3.

    Reference: P. Naor, "The regulation of queue size by levying tolls",
    Econometrica 37(1) (1969) 15-24; Hassin & Haviv, *To Queue or Not to
    Queue* (2003), ch. 2.
    """
    if not math.isfinite(reward) or reward < 0.0:
        raise ValueError(f"reward must be finite and >= 0, got {reward!r}")
    if not math.isfinite(waiting_cost_per_time) or waiting_cost_per_time <= 0.0:
        raise ValueError(
            "waiting_cost_per_time must be finite and > 0, "
            f"got {waiting_cost_per_time!r}"
        )
    if not math.isfinite(service_rate) or service_rate <= 0.0:
        raise ValueError(f"service_rate must be finite and > 0, got {service_rate!r}")
    ratio = reward * service_rate / waiting_cost_per_time
    nearest = round(ratio)
    if math.isclose(ratio, nearest, rel_tol=1e-9, abs_tol=0.0):
        return int(nearest)
    return math.floor(ratio)


def purchase_share(wtp_survival: Callable[[float], float], price: float) -> float:
    """Share of customers who buy at a given price: S(p) = P(WTP >= p).

    A customer with willingness to pay W buys iff W >= p, so the expected
    purchase share is the WTP survival function evaluated at the price.

    Reference: reservation-price demand model, e.g. Talluri & van Ryzin,
    *The Theory and Practice of Revenue Management* (2004), ch. 7.
    """
    return float(wtp_survival(price))


def lognormal_survival(median: float, sigma: float) -> Callable[[float], float]:
    """Survival function x -> P(X >= x) of a lognormal with given median.

    For ln X ~ Normal(ln median, sigma^2):
    P(X >= x) = erfc((ln x - ln median) / (sigma sqrt 2)) / 2 for x > 0, and
    1 for x <= 0.  sigma = 0 gives the point mass at the median.

    Reference: Johnson, Kotz & Balakrishnan, *Continuous Univariate
    Distributions*, vol. 1, 2nd ed. (1994), ch. 14.
    """
    if not math.isfinite(median) or median <= 0.0:
        raise ValueError(f"median must be finite and > 0, got {median!r}")
    if not math.isfinite(sigma) or sigma < 0.0:
        raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
    log_median = math.log(median)
    scale = sigma * math.sqrt(2.0)

    def survival(x: float) -> float:
        if x <= 0.0:
            return 1.0
        if scale == 0.0:
            return 1.0 if x <= median else 0.0
        return 0.5 * math.erfc((math.log(x) - log_median) / scale)

    return survival


def geometric_visits(return_probability: float) -> float:
    """Return E[visits] when each visit is followed by another w.p. r.

    The number of visits is Geometric on {1, 2, ...}: E = 1 / (1 - r).

    Reference: any probability text, e.g. Feller, *An Introduction to
    Probability Theory and Its Applications*, vol. I, 3rd ed. (1968).
    """
    if not 0.0 <= return_probability < 1.0:
        raise ValueError(
            f"return_probability must be in [0, 1), got {return_probability!r}"
        )
    return 1.0 / (1.0 - return_probability)


def geometric_visits_with_horizon(
    return_probability: float, visit_interval: float, horizon: float
) -> float:
    """Return expected visits per customer within a finite horizon H.

    The first visit is at A ~ Uniform[0, H); after each visit the customer
    returns w.p. r exactly d = visit_interval later; only visits at times < H
    count.  At most M(a) = floor((H - a) / d) + 1 visits fit, and
    E[visits | A = a] = 1 + r + ... + r^{M-1} = (1 - r^M) / (1 - r)
    (= M if r = 1).  With u = H - a ~ Uniform(0, H], M = k + 1 on
    [k d, (k + 1) d); with K = floor(H / d) the pieces k < K have length d
    and the last has length H - K d, so
    E = (1/H) [ d sum_{k=0}^{K-1} g(k+1) + (H - K d) g(K+1) ] with
    g(m) = (1 - r^m)/(1 - r), and d sum_{k=1}^{K} g(k) =
    d (K - r (1 - r^K)/(1 - r)) / (1 - r).  Tends to 1/(1-r) as H -> inf.

    Reference: elementary truncated geometric series (derivation above);
    Feller, vol. I (1968), geometric distribution.
    """
    r = return_probability
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"return_probability must be in [0, 1], got {r!r}")
    if not math.isfinite(visit_interval) or visit_interval <= 0.0:
        raise ValueError(
            f"visit_interval must be finite and > 0, got {visit_interval!r}"
        )
    if not math.isfinite(horizon) or horizon <= 0.0:
        raise ValueError(f"horizon must be finite and > 0, got {horizon!r}")
    d = visit_interval
    full = math.floor(horizon / d)
    remainder = max(horizon - full * d, 0.0)
    if r == 1.0:
        total = d * full * (full + 1) / 2.0 + remainder * (full + 1)
        return total / horizon
    if r == 0.0:
        return 1.0
    s = 1.0 - r  # exact for r in [0.5, 1]
    log_r = math.log1p(-s)

    def g(m: float) -> float:
        # (1 - r^m) / (1 - r) without cancellation for r close to 1.
        return -math.expm1(m * log_r) / s

    if full <= _DIRECT_SUM_LIMIT:
        # Direct sum: avoids the cancellation in the closed form when r ~ 1.
        m = np.arange(1, full + 1, dtype=np.float64)
        terms = -np.expm1(m * log_r) / s
        sum_g = math.fsum(terms.tolist())
    else:
        sum_g = (full - r * g(full)) / s
    return (d * sum_g + remainder * g(full + 1)) / horizon
