"""Specification tests for the analytical reference values in sim.checks.theory."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import numpy as np
import pytest

from sim.checks.theory import (
    ErlangA,
    cobham_mean_waits,
    erlang_a,
    erlang_c_mean_wait,
    erlang_c_wait_probability,
    erlang_c_wait_quantile,
    geometric_visits,
    geometric_visits_with_horizon,
    lognormal_survival,
    naor_threshold,
    purchase_share,
    window_means_from_empty,
)

# --- independent helpers -------------------------------------------------


def poisson_pmf(k: int, mean: float) -> float:
    return math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))


def erlang_c_textbook(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Direct textbook formula, evaluated in log space."""
    a, c = arrival_rate / service_rate, servers
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    log_top = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    shift = max([*log_terms, log_top])
    top = math.exp(log_top - shift)
    return top / (math.fsum(math.exp(t - shift) for t in log_terms) + top)


def brute_force_visits(r: float, interval: float, horizon: float, n: int) -> float:
    a = (np.arange(n) + 0.5) * horizon / n  # midpoints of a fine grid on [0, H)
    m = np.floor((horizon - a) / interval) + 1.0
    visits = m if r == 1.0 else (1.0 - r**m) / (1.0 - r)
    return float(np.mean(visits))


# --- Erlang C ------------------------------------------------------------


def test_mm1_wait_probability_is_rho_and_wq_is_rho_over_mu_minus_lambda() -> None:
    assert erlang_c_wait_probability(0.6, 1.0, 1) == pytest.approx(0.6, rel=1e-12)
    assert erlang_c_mean_wait(0.6, 1.0, 1) == pytest.approx(0.6 / 0.4, rel=1e-12)


def test_erlang_c_textbook_value_lambda2_mu1_c3() -> None:
    assert erlang_c_wait_probability(2.0, 1.0, 3) == pytest.approx(4 / 9, rel=1e-12)
    assert erlang_c_mean_wait(2.0, 1.0, 3) == pytest.approx(4 / 9, rel=1e-12)


@pytest.mark.parametrize(("lam", "mu", "c"), [(190.0, 1.0, 200), (7.5, 0.5, 17)])
def test_erlang_c_matches_direct_formula_for_large_c(
    lam: float, mu: float, c: int
) -> None:
    expected = erlang_c_textbook(lam, mu, c)
    assert erlang_c_wait_probability(lam, mu, c) == pytest.approx(expected, rel=1e-10)


def test_erlang_c_is_unit_agnostic() -> None:
    per_hour = erlang_c_mean_wait(2.0, 1.0, 3)
    per_minute = erlang_c_mean_wait(2.0 / 60, 1.0 / 60, 3)
    assert per_minute == pytest.approx(60 * per_hour, rel=1e-12)


@pytest.mark.parametrize(("lam", "c"), [(3.0, 3), (4.0, 3)])
def test_erlang_c_rejects_unstable_load(lam: float, c: int) -> None:
    with pytest.raises(ValueError, match="unstable"):
        erlang_c_wait_probability(lam, 1.0, c)


def test_wait_quantile_mm1_median() -> None:
    # P(Wq > t) = rho exp(-(mu - lambda) t) = 1/2.
    expected = math.log(2 * 0.8) / (1.0 - 0.8)
    assert erlang_c_wait_quantile(0.8, 1.0, 1, 0.5) == pytest.approx(
        expected, rel=1e-12
    )


def test_wait_quantile_is_zero_inside_the_atom_at_zero() -> None:
    assert erlang_c_wait_quantile(2.0, 1.0, 3, 0.55) == 0.0  # 1 - C = 5/9
    assert erlang_c_wait_quantile(2.0, 1.0, 3, 0.1) == 0.0


def test_wait_quantile_inverts_the_tail() -> None:
    c_prob = erlang_c_wait_probability(2.0, 1.0, 3)
    t = erlang_c_wait_quantile(2.0, 1.0, 3, 0.95)
    assert c_prob * math.exp(-(3.0 - 2.0) * t) == pytest.approx(0.05, rel=1e-12)


# --- Erlang A ------------------------------------------------------------


@pytest.mark.parametrize(("lam", "c"), [(4.0, 3), (10.0, 5), (150.0, 200)])
def test_erlang_a_with_theta_equal_mu_is_poisson(lam: float, c: int) -> None:
    # With theta == mu every customer leaves at rate mu: N ~ Poisson(lambda/mu).
    mu = 2.0
    a = lam / mu
    res = erlang_a(lam, mu, c, abandon_rate=mu)
    p_wait = math.fsum(poisson_pmf(k, a) for k in range(c, c + 1000))
    assert res.mean_in_system == pytest.approx(a, rel=1e-10)
    assert res.wait_probability == pytest.approx(p_wait, rel=1e-8)


def test_erlang_a_with_tiny_patience_rate_approaches_erlang_c() -> None:
    res = erlang_a(2.0, 1.0, 3, abandon_rate=1e-7)
    assert res.wait_probability == pytest.approx(4 / 9, rel=1e-5)
    assert res.mean_wait == pytest.approx(4 / 9, rel=1e-5)
    assert res.abandon_probability == pytest.approx(1e-7 * 4 / 9, rel=1e-4)


def test_erlang_a_with_zero_abandonment_equals_erlang_c() -> None:
    res = erlang_a(2.0, 1.0, 3, abandon_rate=0.0)
    expected = ErlangA(4 / 9, 4 / 9, 0.0, 8 / 9, 8 / 9 + 2)
    assert dataclasses.astuple(res) == pytest.approx(
        dataclasses.astuple(expected), rel=1e-12
    )
    with pytest.raises(ValueError, match="unstable"):
        erlang_a(3.0, 1.0, 3, abandon_rate=0.0)


@pytest.mark.parametrize(("lam", "c", "theta"), [(220.0, 200, 0.5), (3.0, 1, 0.2)])
def test_erlang_a_overloaded_flow_balance(lam: float, c: int, theta: float) -> None:
    # Served throughput lambda (1 - P(ab)) equals mu * E[busy servers] = mu (L - Lq).
    mu = 1.0
    res = erlang_a(lam, mu, c, theta)
    served = lam * (1.0 - res.abandon_probability)
    assert served == pytest.approx(
        mu * (res.mean_in_system - res.mean_queue_length), rel=1e-9
    )
    assert res.mean_wait == pytest.approx(res.mean_queue_length / lam, rel=1e-12)
    assert 0.0 < res.abandon_probability < res.wait_probability <= 1.0


def test_erlang_a_single_server_small_chain_by_hand() -> None:
    # c=1, lambda=mu=theta=1: pi_n = pi_0 / n!  =>  Poisson(1).
    res = erlang_a(1.0, 1.0, 1, 1.0)
    assert res.wait_probability == pytest.approx(1 - math.exp(-1), rel=1e-12)
    assert res.mean_queue_length == pytest.approx(math.exp(-1), rel=1e-12)  # E[(N-1)^+]
    assert res.abandon_probability == pytest.approx(math.exp(-1), rel=1e-12)


# --- start-up transient -------------------------------------------------


def window_means_by_quadrature(
    lam: float, mu: float, c: int, theta: float, start: float, end: float
) -> tuple[float, float]:
    """The truncated generator's matrix exponential, integrated by the trapezoid rule."""
    from scipy.linalg import expm

    size = 80
    q = np.zeros((size, size))
    for n in range(size):
        if n + 1 < size:
            q[n, n + 1] = lam
        if n > 0:
            q[n, n - 1] = min(n, c) * mu + max(n - c, 0) * theta
        q[n, n] = -q[n].sum()
    times = np.linspace(start, end, 2001)
    step = expm(q * (times[1] - times[0]))
    p = np.zeros(size)
    p[0] = 1.0
    p = p @ expm(q * start)
    states = np.arange(size)
    in_system, waiting = [], []
    for _ in times:
        in_system.append(p @ states)
        waiting.append(p @ np.maximum(states - c, 0))
        p = p @ step
    def average(values: list[float]) -> float:
        return float(np.mean((np.array(values[1:]) + np.array(values[:-1])) / 2))

    return average(in_system), average(waiting)


@pytest.mark.parametrize(
    ("lam", "c", "theta", "start", "end"),
    [(2.4, 3, 0.0, 0.0, 20.0), (2.4, 3, 0.0, 5.0, 60.0), (3.0, 3, 1.0, 1.0, 15.0),
     (0.5, 1, 0.0, 0.0, 4.0)],
)
def test_window_means_from_empty_match_the_matrix_exponential(
    lam: float, c: int, theta: float, start: float, end: float
) -> None:
    means = window_means_from_empty(lam, 1.0, c, theta, start, end)
    in_system, waiting = window_means_by_quadrature(lam, 1.0, c, theta, start, end)
    assert means.in_system == pytest.approx(in_system, rel=1e-5)
    assert means.waiting == pytest.approx(waiting, rel=1e-5)


def test_window_means_from_empty_approach_the_steady_state_from_below() -> None:
    steady = erlang_a(2.4, 1.0, 3, 0.0)
    early = window_means_from_empty(2.4, 1.0, 3, 0.0, 0.0, 24.0)
    late = window_means_from_empty(2.4, 1.0, 3, 0.0, 240.0, 5760.0)
    assert early.in_system < late.in_system < steady.mean_in_system
    assert late.waiting == pytest.approx(steady.mean_queue_length, rel=1e-6)


# --- Cobham --------------------------------------------------------------


def test_cobham_single_class_equals_erlang_c() -> None:
    (w,) = cobham_mean_waits([2.0], 1.0, 3)
    assert w == pytest.approx(erlang_c_mean_wait(2.0, 1.0, 3), rel=1e-12)


def test_cobham_mm1_two_classes_by_hand() -> None:
    # M/G/1 priority: W0 = sum lambda_i E[S^2]/2 = 0.6; W1 = W0/0.8; W2 = W0/(0.8*0.4).
    assert cobham_mean_waits([0.2, 0.4], 1.0, 1) == pytest.approx(
        (0.75, 1.875), rel=1e-12
    )


@pytest.mark.parametrize("rates", [[0.5, 1.5], [1.0, 0.3, 0.9], [0.0, 2.5]])
def test_cobham_conservation_law(rates: list[float]) -> None:
    waits = cobham_mean_waits(rates, 1.0, 3)
    fifo = erlang_c_mean_wait(sum(rates), 1.0, 3)
    weighted = sum(lam * w for lam, w in zip(rates, waits, strict=True)) / sum(rates)
    assert weighted == pytest.approx(fifo, rel=1e-12)
    assert list(waits) == sorted(waits)  # higher priority never waits longer


def test_cobham_rejects_unstable_total_load() -> None:
    with pytest.raises(ValueError, match="unstable"):
        cobham_mean_waits([1.5, 1.5], 1.0, 3)


# --- Naor ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reward", "cost", "mu", "expected"),
    [(10.0, 1.0, 0.5, 5), (10.0, 3.0, 1.0, 3), (0.5, 1.0, 1.0, 0), (0.3, 0.1, 1.0, 3)],
)
def test_naor_threshold(reward: float, cost: float, mu: float, expected: int) -> None:
    assert naor_threshold(reward, cost, mu) == expected


def test_naor_threshold_is_the_join_rule() -> None:
    reward, cost, mu = 7.0, 2.0, 1.5
    n_s = naor_threshold(reward, cost, mu)
    assert reward - cost * n_s / mu >= 0  # n = n_s - 1 joins
    assert reward - cost * (n_s + 1) / mu < 0  # n = n_s balks


# --- purchase share ------------------------------------------------------


def test_lognormal_survival_values() -> None:
    surv = lognormal_survival(median=20.0, sigma=0.5)
    normal = NormalDist(math.log(20.0), 0.5)
    assert surv(20.0) == pytest.approx(0.5, rel=1e-12)
    assert surv(0.0) == 1.0
    assert surv(35.0) == pytest.approx(1 - normal.cdf(math.log(35.0)), rel=1e-9)
    assert surv(8.0) == pytest.approx(1 - normal.cdf(math.log(8.0)), rel=1e-9)


def test_purchase_share_is_survival_at_price() -> None:
    assert purchase_share(lambda p: max(0.0, 1.0 - p / 50.0), 20.0) == pytest.approx(
        0.6
    )
    surv = lognormal_survival(20.0, 0.5)
    assert purchase_share(surv, 20.0) == pytest.approx(0.5, rel=1e-12)


# --- visits --------------------------------------------------------------


def test_geometric_visits() -> None:
    assert geometric_visits(0.0) == 1.0
    assert geometric_visits(0.75) == pytest.approx(4.0, rel=1e-12)


def test_visits_with_horizon_is_one_without_returns_or_room() -> None:
    assert geometric_visits_with_horizon(0.0, 1.0, 10.0) == pytest.approx(
        1.0, rel=1e-12
    )
    assert geometric_visits_with_horizon(0.9, 5.0, 4.0) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("r", [0.3, 0.8, 0.99])
def test_visits_with_horizon_tends_to_infinite_horizon(r: float) -> None:
    # For H = K d: E = 1/(1-r) - r (1 - r^K) / ((1-r)^2 K)  ->  1/(1-r).
    values = [geometric_visits_with_horizon(r, 1.0, h) for h in (10.0, 1e3, 1e6)]
    assert values == sorted(values)
    assert values[-1] == pytest.approx(geometric_visits(r), rel=1e-3)
    assert values[-1] == pytest.approx(
        1 / (1 - r) - r / ((1 - r) ** 2 * 1e6), rel=1e-12
    )


@pytest.mark.parametrize(
    ("r", "interval", "horizon"),
    [(0.6, 1.5, 10.3), (0.9, 24.0, 24.0 * 7), (0.5, 3.0, 2.0), (1.0, 2.0, 9.0)],
)
def test_visits_with_horizon_matches_brute_force(
    r: float, interval: float, horizon: float
) -> None:
    expected = brute_force_visits(r, interval, horizon, n=1_000_000)
    assert geometric_visits_with_horizon(r, interval, horizon) == pytest.approx(
        expected, rel=1e-5
    )
