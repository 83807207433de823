"""The engine reproduces queueing theory and the economics checks of MODEL.md.

Each case is one line of ``simrun validate``. sim/checks/validate.py states the rule: a
check passes when |mean - theory| <= t s/sqrt(n) + a, with t the Student-t quantile at
1% family-wise (Bonferroni over the statistical checks) and a a deterministic
allowance derived for that check (start-up, horizon edge, histogram binning, quantile
curvature); the join-or-balk thresholds are exact. Each check states the smallest relative bias it
detects with 90% probability.

The default suite runs 10 replications of half-length runs (about 10 s on 2 cores): it
catches gross errors (it detects a bias of about 4-10% on shares and numbers in system,
25-40% on waits). ``pytest -m slow`` (CI's second step) runs enough to catch a 3% bias
on every queueing line (``test_slow_checks_detect_a_3_percent_bias``) and shows that an
engine 3% off in one parameter fails
(``test_a_3_percent_parameter_error_fails_its_checks``).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from rich.console import Console

from sim.checks.validate import Cases, Check, Runs, judge, render_checks, run_checks, simulate

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
    "M/M/2/4 share turned away (blocking)",
    "M/M/2/4 mean number in system",
    "Join or balk, wait only (the model): longest queue joined (M/M/1, R=7, C=2, mu=1)",
    "Join or balk, wait only (the model): shortest queue balked at",
    "Join or balk, Naor: wait and own service: longest queue joined (M/M/1, R=7, C=2, mu=1)",
    "Join or balk, Naor: wait and own service: shortest queue balked at",
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
    assert len(statistical) == 13
    assert all(c.level == pytest.approx(0.01 / 13) for c in statistical)


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
    assert "1% family-wise over 13 checks" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    for check in checks.values():
        if not check.exact:
            assert 0 < check.detectable_bias < 0.5, check.name
            assert rows[check.name].split("│")[6].strip().endswith("%"), check.name


# --- slow: enough to catch a 3% bias (pytest -m slow; CI runs it as its own step) ------

SLOW_REPLICATIONS = 64
SLOW_LENGTH = {"fifo": 5.5, "priority": 3.8, "abandon": 0.75, "buy": 0.5, "returns": 0.5,
               "naor": 0.5, "naor_classic": 0.5, "room": 0.75}
QUEUEING = EXPECTED[:8]


@pytest.fixture(scope="module")
def slow_runs() -> Runs:
    return simulate(replications=SLOW_REPLICATIONS, jobs=2, seed=20240601, length=SLOW_LENGTH)


@pytest.fixture(scope="module")
def slow_checks(slow_runs: Runs) -> dict[str, Check]:
    return {check.name: check for check in judge(slow_runs)}


@pytest.mark.slow
def test_slow_engine_matches_theory(slow_checks: dict[str, Check]) -> None:
    failed = [f"{c.name}: theory {c.theory:.5g}, simulated {c.mean:.5g} ± {c.tolerance:.3g}"
              for c in slow_checks.values() if not c.passed]
    assert not failed


@pytest.mark.slow
def test_slow_checks_detect_a_3_percent_bias(slow_checks: dict[str, Check]) -> None:
    """Every queueing line fails with probability >= 90% when the engine is 3% off.

    A check fails with probability 90% for a relative bias of at least
    a + (t + t_0.9) s_1 / sqrt(n length), with s_1 the relative sd of one replication at
    length 1 (230 measured days; 115 for Erlang A), t = 3.48 (t_63 at 1% over 11
    checks, two-sided) and t_0.9 = 1.30; catching 3% needs
    n length >= (4.78 s_1 / (3% - a))^2. Observed s_1 at seed 20240601: mean wait
    9.0%, p90 8.2%, number in system 3.7%, Cobham high 7.5% and low 8.2%, Erlang A
    abandonment 1.7% and number in system 1.4%; so n length >= 207, 182, 35, 145, 172,
    8 and 5 (for the mean wait the exact asymptotic variance of the chain gives
    s_1 = 10.3%, so 268). With n = 64: length 5.5 for the M/M/2 queue (352), 3.8 for the
    priority queue (243), 0.75 for Erlang A, which is set by a patience 3% longer
    (number in system +1.7%, see below). Detectable biases at these settings: 2.3%,
    2.2%, 0.9%, 2.3%, 2.5%, 1.3% and 1.0%. About 4.3 million visits: 6-7 CPU-minutes,
    3.5 minutes on 2 idle cores.
    """
    too_weak = {name: f"{slow_checks[name].detectable_bias:.2%}" for name in QUEUEING
                if slow_checks[name].detectable_bias > 0.03}
    assert not too_weak


def failed_with(runs: Runs, cases: Cases) -> set[str]:
    """The checks (named as for the correct parameters) the runs fail against the
    theory of ``cases``."""
    return {right.name for right, wrong in zip(judge(runs), judge(runs, cases), strict=True)
            if not wrong.passed}


PARAMETER_ERRORS = {
    "service_h": {EXPECTED[i] for i in (0, 1, 2, 4, 5, 6, 7, 11, 12)},
    "arrivals_per_h": {EXPECTED[i] for i in (0, 1, 2, 6, 7)},
    "patience_h": {"M/M/3+M mean number in system (Erlang A)"},
    "abandoning_arrivals_per_h": {EXPECTED[4], EXPECTED[5]},
    "wtp_median": {EXPECTED[8], EXPECTED[9]},
    "return_probability": {EXPECTED[10]},
    "room_arrivals_per_h": {EXPECTED[11], EXPECTED[12]},
}


@pytest.mark.slow
@pytest.mark.parametrize("factor", [1.03, 0.97])
@pytest.mark.parametrize(("parameter", "expected"), PARAMETER_ERRORS.items(),
                         ids=list(PARAMETER_ERRORS))
def test_a_3_percent_parameter_error_fails_its_checks(slow_runs: Runs, parameter: str,
                                                       expected: set[str],
                                                       factor: float) -> None:
    """An engine that got one parameter 3% wrong (services 3% longer, patience 3% longer,
    3% more arrivals, ...) fails exactly the checks whose theory depends on it.

    Judging the correct engine's runs against the theory of the parameter 3% larger (or
    smaller) is the same comparison, with no change to the engine. For 3% larger the
    theory moves (by
    sim.checks.theory): services 3% longer, mean wait +11.5%, number in system +5.1%,
    p90 +10.5%, abandonment +3.7%, Erlang A number in system +2.3%, Cobham +8.8% and
    +12.1%; 3% more arrivals, +8.3%, +5.1%, +7.3%, Cobham +5.6% and +8.9%; patience 3%
    longer, Erlang A number in system +1.7% (abandonment share -0.2%: below any
    affordable power, so it must pass); 3% more abandoning arrivals, abandonment +3.5%,
    number in system +4.1%; WTP median 3% higher, share who buy +4.8%; return
    probability 3% higher, revenue per customer +4.1%. Little's law holds whatever the
    parameters, and Naor's threshold floor(R mu / C) = floor(3.5) does not move by 3%.
    3% smaller moves each about as much the other way.
    """
    defaults = Cases()
    wrong = dataclasses.replace(defaults,
                                **{parameter: getattr(defaults, parameter) * factor})
    assert failed_with(slow_runs, wrong) == expected
