"""The engine reproduces queueing theory and the economics checks of MODEL.md.

Each case is one line of ``simrun validate``. sim/checks/validate.py states the rule: a
check passes when |mean - theory| <= t s/sqrt(n) + a, with t the Student-t quantile at
1% family-wise (Bonferroni over the statistical checks) and a a deterministic
allowance derived for that check (start-up, horizon edge, histogram binning, quantile
curvature); Naor's threshold is exact. Each check states the smallest relative bias it
detects with 90% probability.

The default suite runs 10 replications of half-length runs (about 10 s on 2 cores): it
catches gross errors (it detects a bias of about 4-10% on shares and numbers in system,
25-40% on waits).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from rich.console import Console

from sim.checks.validate import Check, render_checks, run_checks

EXPECTED = (
    "M/M/2 mean wait, h (Erlang C)",
    "M/M/2 mean number in system (Erlang C)",
    "M/M/2 90th percentile wait, h (Erlang C)",
    "Little's law: L - lambda W (M/M/2)",
    "M/M/3+M abandonment share (Erlang A)",
    "M/M/3+M mean number in system (Erlang A)",
    "M/M/2 priority wait, high class, h (Cobham)",
    "M/M/2 priority wait, low class, h (Cobham)",
    "Share who buy at price 60 = S_WTP(60)",
    "Revenue per arrival = 60 x S_WTP(60)",
    "Revenue per customer, return prob 0.7 (geometric series)",
    "Naor: longest queue joined (M/M/1, R=7, C=2, mu=1)",
    "Naor: shortest queue balked at",
)


@pytest.fixture(scope="module")
def checks() -> dict[str, Check]:
    return {check.name: check
            for check in run_checks(replications=10, jobs=2, seed=20240601, length=0.5)}


@pytest.mark.parametrize("name", EXPECTED)
def test_engine_matches_theory(checks: dict[str, Check], name: str) -> None:
    check = checks[name]
    assert check.passed, (f"{name}: theory {check.theory:.5g}, simulated {check.mean:.5g} "
                          f"± {check.tolerance:.3g}")


def test_the_tolerance_is_the_t_half_width_plus_the_allowance() -> None:
    """Five values 1..5: mean 3, standard error sqrt(2.5 / 5); t_4 at 99% two-sided is
    4.604 (tables)."""
    check = Check("x", 3.0, (1.0, 2.0, 3.0, 4.0, 5.0), allowance=0.1, level=0.01)
    assert check.tolerance == pytest.approx(4.604 * math.sqrt(0.5) + 0.1, rel=1e-3)
    assert dataclasses.replace(check, theory=3.0 + check.tolerance * 0.999).passed
    assert not dataclasses.replace(check, theory=3.0 + check.tolerance * 1.001).passed


def test_checks_share_a_one_percent_family_wise_level(checks: dict[str, Check]) -> None:
    statistical = [c for c in checks.values() if not c.exact]
    assert len(statistical) == 11
    assert all(c.level == pytest.approx(0.01 / 11) for c in statistical)


def test_a_theory_outside_the_tolerance_fails(checks: dict[str, Check]) -> None:
    """The verdict can fail: the same simulation against a theory just beyond the
    tolerance does, on either side."""
    for check in checks.values():
        if check.exact:
            continue
        for side in (-1, 1):
            wrong = dataclasses.replace(
                check, theory=check.mean + side * 1.001 * check.tolerance)
            assert not wrong.passed, check.name


def test_the_report_states_tolerance_and_detectable_bias(checks: dict[str, Check]) -> None:
    console = Console(width=200, record=True)
    console.print(render_checks(list(checks.values())))
    text = console.export_text()
    assert "Tolerance" in text
    assert "Detects" in text
    assert "1% family-wise over 11 checks" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    for check in checks.values():
        if not check.exact:
            assert 0 < check.detectable_bias < 0.5, check.name
            assert rows[check.name].split("│")[6].strip().endswith("%"), check.name

