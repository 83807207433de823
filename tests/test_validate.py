"""The engine reproduces queueing theory and the economics checks of MODEL.md.

Each case is one line of ``simrun validate`` (sim/checks/validate.py states the
tolerance: the theory must lie within the 99.9% t-interval over replications, plus a
small stated allowance for start-up bias; Naor's threshold is exact).
"""

from __future__ import annotations

import pytest

from sim.checks.validate import Check, run_checks


@pytest.fixture(scope="module")
def checks() -> dict[str, Check]:
    return {check.name: check for check in run_checks(replications=16, jobs=2, seed=20240601)}


EXPECTED = (
    "M/M/3 mean wait, h (Erlang C)",
    "M/M/3 mean number in system (Erlang C)",
    "M/M/3 90th percentile wait, h (Erlang C)",
    "Little's law: L - lambda W (M/M/3)",
    "M/M/3+M abandonment share (Erlang A)",
    "M/M/3+M mean number in system (Erlang A)",
    "M/M/3 priority wait, high class, h (Cobham)",
    "M/M/3 priority wait, low class, h (Cobham)",
    "Share who buy at price 60 = S_WTP(60)",
    "Revenue per arrival = 60 x S_WTP(60)",
    "Revenue per customer, return prob 0.7 (geometric series)",
    "Naor: longest queue joined (M/M/1, R=7, C=2, mu=1)",
    "Naor: shortest queue balked at",
)


@pytest.mark.parametrize("name", EXPECTED)
def test_engine_matches_theory(checks: dict[str, Check], name: str) -> None:
    check = checks[name]
    e = check.simulated
    assert check.passed, f"{name}: theory {check.theory:.5g}, simulated {e.mean:.5g} [{e.low:.5g}, {e.high:.5g}]"


def test_a_wrong_theory_fails_the_check(checks: dict[str, Check]) -> None:
    """The verdict can fail: the same simulation against a theory 20% off does."""
    check = checks["M/M/3+M abandonment share (Erlang A)"]
    wrong = Check(check.name, check.theory * 1.2, check.simulated, check.allowance)
    assert not wrong.passed
