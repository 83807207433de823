"""The BG/NBD model of Fader, Hardie and Lee (2005), the buy-till-you-die benchmark.

While alive, a customer buys as a Poisson process with rate lambda ~ gamma(r, alpha);
after each purchase it drops out with probability p ~ beta(a, b). Fitted by maximum
likelihood on each calibration customer's (x, t_x, T): repeat purchases, time of the
last one and length of observation, all from its first purchase, in weeks here. The
closed forms below are the paper's equations (6) (likelihood), (9) (expected
purchases of a new customer in a period of length t) and (10) (expected purchases in
a period of length t of a customer with history x, t_x, T). No maintained package is
needed for four formulas: ``lifetimes`` is no longer maintained and ``btyd`` pulls in
a probabilistic programming stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def expected(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer within t of its first
        (equation 9)."""
        from scipy.special import hyp2f1

        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + t)
        value = (a + b - 1) / (a - 1) * (
            1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
        return np.asarray(np.where(t > 0, value, 0.0))

    def conditional(self, t: float, x: np.ndarray, t_x: np.ndarray,
                    big_t: np.ndarray) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the t after T of customers with
        these histories (equation 10)."""
        from scipy.special import hyp2f1

        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x = np.asarray(x, dtype=float)
        z = t / (alpha + big_t + t)
        head = (a + b + x - 1) / (a - 1) * (
            1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
            * hyp2f1(r + x, b + x, a + b + x - 1, z))
        alive = 1 + (x > 0) * a / np.maximum(b + x - 1, 1e-12) * (
            (alpha + big_t) / (alpha + t_x)) ** (r + x)
        return np.asarray(head / alive)


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                   big_t: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood (equation 6, in logs)."""
    from scipy.special import betaln, gammaln

    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * math.log(alpha)
    stays = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    left = np.where(x > 0, betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b)
                    - (r + x) * np.log(alpha + t_x), -np.inf)
    return np.asarray(common + np.logaddexp(stays, left))


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> BGNBD:
    """Maximum likelihood (scipy.optimize, on the logs of the four parameters)."""
    from scipy.optimize import minimize

    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))

    def nll(theta: np.ndarray) -> float:
        return float(-log_likelihood(np.exp(theta), x, t_x, big_t).sum())

    best = minimize(nll, np.zeros(4), method="L-BFGS-B", bounds=[(-10.0, 10.0)] * 4)
    r, alpha, a, b = np.exp(best.x)
    return BGNBD(float(r), float(alpha), float(a), float(b), -float(best.fun))
