"""One small deterministic test per mechanism of the model: each fails when its
mechanism is switched off or bent (every test here was checked against a hand-made
mutant of the engine that breaks exactly that mechanism)."""

from __future__ import annotations

import math

import pytest
from helpers import tiny_scenario

from sim.model import engine
from sim.model.customer import Customer
from sim.model.engine import Replication, run_replication
from sim.scenario import Scenario

SHORT = {"run.days": 40, "run.warmup_days": 5}


def first(scenario: Scenario) -> dict[str, float]:
    return run_replication(scenario, 0).metrics


def a_customer(replication: Replication) -> Customer:
    """Candidate 0 of the replication's market, as the engine would build it."""
    s = replication.s
    return Customer((0, 0), replication.streams.customer((0, 0)).attributes(), s.segments,
                    replication.cumulative_shares, 0.0, True)


# --- word of mouth --------------------------------------------------------------------


def test_promoters_bring_referred_customers() -> None:
    assert first(tiny_scenario("god", SHORT))["prospects_referred"] >= 20


def test_no_referrals_at_referral_propensity_zero() -> None:
    silent = tiny_scenario("god", {**SHORT, "segments[*].referral_propensity": 0.0})
    assert first(silent)["prospects_referred"] == 0


@pytest.mark.parametrize("detractor_voice", [1.0, 2.0, 3.5])
def test_a_detractor_moves_reputation_detractor_voice_times_as_far_as_a_promoter(
        detractor_voice: float) -> None:
    """At the same distance from the current reputation, a detractor's score pulls it
    detractor_voice times as far as a promoter's (the asymmetric U of word of mouth)."""
    replication = Replication(tiny_scenario("god", {
        "behaviour.detractor_voice": detractor_voice}), 0, None)
    moves = []
    for score in (10.0, 0.0):  # a promoter and a detractor, both 5 points from 5
        replication.reputation = 5.0
        replication.voice(score)
        moves.append(abs(replication.reputation - 5.0))
    promoter_move, detractor_move = moves
    assert promoter_move == pytest.approx(5.0 / 300)  # reputation_memory_visits = 300
    assert detractor_move == pytest.approx(detractor_voice * promoter_move)


def test_passive_customers_speak_with_the_passive_voice() -> None:
    replication = Replication(tiny_scenario("god", {"behaviour.passive_voice": 0.25}), 0, None)
    replication.reputation = 5.0
    replication.voice(8.0)  # passive: 6 < 8 < 9
    assert replication.reputation - 5.0 == pytest.approx(0.25 * 3.0 / 300)


# --- entitlement ----------------------------------------------------------------------

GREEDY = {**SHORT, "segments[*].unreasonable_share": 0.5, "segments[*].abuse_propensity": 0.1}


def test_indulged_customers_grow_entitled() -> None:
    assert first(tiny_scenario("god", GREEDY))["mean_entitlement"] > 0.1


def test_customers_who_are_never_indulged_stay_unentitled() -> None:
    strict = tiny_scenario("god", {**GREEDY, "strategy.tiers[0].requests": "none",
                                   "strategy.tiers[0].refunds": "never"})
    metrics = first(strict)
    assert metrics["requests_refused_unreasonable"] > 0
    assert metrics["abuse_claims"] > 0
    assert metrics["mean_entitlement"] == 0


def test_entitlement_raises_the_unreasonable_share_of_requests() -> None:
    """The same customers ask for more out-of-scope service when they were indulged."""
    step = {"behaviour.entitlement_step": 1.0}
    indulged = first(tiny_scenario("god", {**GREEDY, **step}))
    unmoved = first(tiny_scenario("god", {**GREEDY, "behaviour.entitlement_step": 0.0}))

    def unreasonable_share(m: dict[str, float]) -> float:
        unreasonable = m["requests_honoured_unreasonable"] + m["requests_refused_unreasonable"]
        return unreasonable / (unreasonable + m["requests_honoured_reasonable"]
                               + m["requests_refused_reasonable"])

    assert unreasonable_share(indulged) > unreasonable_share(unmoved) + 0.05


# --- adaptation -----------------------------------------------------------------------


def run_to_the_horizon(scenario: Scenario) -> Replication:
    replication = Replication(scenario, 0, None)
    replication.run()
    return replication


def test_the_partner_moves_its_service_level_within_its_bounds() -> None:
    partner = run_to_the_horizon(tiny_scenario("partner", {"run.days": 60}))
    bounds = partner.s.strategy.adaptation
    assert partner.level != 1.0
    assert bounds.min_level <= partner.level <= bounds.max_level


def test_without_adaptation_the_service_level_stays_as_set() -> None:
    fixed = run_to_the_horizon(tiny_scenario("partner", {"run.days": 60,
                                                         "strategy.adaptation": "none"}))
    assert fixed.level == 1.0


# --- queue: Little's law and the time of those who gave up ---------------------------

# One server, constant one-hour services, constant half-hour patience, no requests: a
# queue where about a third of those who join give up.
IMPATIENT = {
    "run.days": 60, "run.warmup_days": 5, "business.servers": 1,
    "strategy.tiers[0].service_level": 1.0, "strategy.tiers[0].price": 0.0,
    "segments[*].service_time": "1 h", "segments[*].patience": "30 min",
    "segments[*].request_rate": 0.0, "segments[*].value_of_time_per_h": 0.0,
}


def test_the_time_of_visits_that_gave_up_counts_in_the_time_in_the_system() -> None:
    """Sojourn = wait + service for the served, the patience for those who gave up:
    with constant service S and patience P the sum is known exactly."""
    m = first(tiny_scenario("god", IMPATIENT))
    assert m["abandoned"] > 0.2 * (m["abandoned"] + m["served"])
    expected = m["served"] * (m["mean_wait_h"] + 1.0) + m["abandoned"] * 0.5
    assert m["mean_sojourn_h"] * (m["served"] + m["abandoned"]) == pytest.approx(expected, rel=1e-9)


def test_littles_law_holds_with_abandonment() -> None:
    """L = lambda W over the measured window. Little's law holds on every sample path
    up to the visits present at the window's two edges (at most a handful of one-hour
    visits over 55 days: well under 1%); leaving out the time of those who abandon
    would miss L by the abandoned share of W (over 10% here)."""
    m = first(tiny_scenario("god", IMPATIENT))
    assert m["abandoned"] > 0.2 * (m["abandoned"] + m["served"])
    little = m["join_rate_per_h"] * m["mean_sojourn_h"]
    assert math.isclose(m["mean_in_system"], little, rel_tol=0.01)


# --- the engine's processes -------------------------------------------------------------


def test_lean_processes_give_the_results_of_simpy_processes(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The engine drives its processes without ``simpy.Process`` (LeanProcess): every
    field of the result is what SimPy's own processes give, to the last bit."""
    scenario = tiny_scenario("tiered", {"run.days": 60, "run.warmup_days": 5,
                                        "business.servers": 1})
    lean = run_replication(scenario, 3)
    assert lean.metrics["abandoned"] > 0
    assert lean.metrics["prospects_referred"] > 0
    monkeypatch.setattr(engine, "LeanProcess", lambda env, process: env.process(process))
    assert repr(run_replication(scenario, 3)) == repr(lean)
