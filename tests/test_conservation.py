"""Conservation on every run (MODEL.md, "Checks the model must pass").

Hypothesis draws valid scenarios across the strategy space (servers, hours, prices,
tiers and priorities, request/refund/recovery policies, daily slots with and without a
waitlist, every assignment, abuse, requests, failures, alternatives, adaptation) and
every run must balance its visits and its books exactly.
"""

from __future__ import annotations

import math
from typing import Any

from helpers import runs, tiny_scenario
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from sim.metrics import METRICS, RunResult
from sim.model.engine import run_replication
from sim.scenario import Scenario, scenario_from_raw

# Books kept in floating point: profit is summed item by item, checks["cash"] visit by
# visit, in a different order. Each sum has at most ~1e4 terms of magnitude <= 1e6, so
# the rounding error is below 1e4 * 2.2e-16 * 1e6 ~ 2e-6, far inside half a cent:
# "to the cent" means an absolute difference of at most 0.005.
CENT = 0.005

VISIT_OUTCOMES = ("served", "abandoned", "balked", "priced_out", "turned_away")
COST_ITEMS = ("refunds", "staff_cost", "unit_cost", "request_cost", "recovery_cost",
              "delight_cost", "return_losses", "acquisition_cost", "imitation_cost")
SHARES = ("customer_retention", "repeat_rate", "visit_return_rate", "abandonment_rate",
          "abandonment_per_arrival", "wait_probability", "conversion_rate", "utilisation")
SCORES = ("mean_satisfaction", "reputation_end")


def num(low: float, high: float) -> st.SearchStrategy[float]:
    """Numbers at three decimals: what a scenario file holds (no subnormal floats)."""
    return st.floats(low, high).map(lambda x: round(x, 3))


money = st.floats(0, 200).map(lambda x: round(x, 2))
probability = num(0, 1)


@st.composite
def segment(draw: st.DrawFn, name: str, share: float) -> dict[str, Any]:
    return {
        "name": name, "share": share,
        "wtp": {"dist": "lognormal", "median": draw(num(30, 150)), "sigma": draw(num(0, 0.6))},
        "value_of_time_per_h": draw(num(0, 100)),
        "service_time": {"dist": "gamma", "mean": draw(num(0.2, 1.5)), "cv": draw(num(0, 1))},
        "patience": {"dist": "exponential", "mean": draw(num(0.05, 5))},
        "wait_tolerance": draw(num(0, 1)),
        "visit_interval": {"dist": "gamma", "mean": draw(num(24, 400)), "cv": 0.4},
        "request_rate": draw(num(0, 3)),
        "unreasonable_share": draw(probability),
        "abuse_propensity": draw(num(0, 0.5)),
        "referral_propensity": draw(probability),
        "loyalty": draw(num(-2, 2)),
        "waitlist_patience_days": draw(st.integers(0, 5)),
        "expected_service_level": draw(num(0.5, 1.5)),
    }


@st.composite
def tier(draw: st.DrawFn, name: str, typical_wtp: float) -> dict[str, Any]:
    """A tier priced around what customers will pay: some buy, some are priced out."""
    return {
        "name": name, "price": round(typical_wtp * draw(num(0, 1.5)), 2),
        "value": draw(num(0.5, 2)), "priority": draw(st.integers(0, 3)),
        "service_level": draw(num(0.5, 1.5)),
        "requests": draw(st.sampled_from(["all", "reasonable", "none"])),
        "refunds": draw(st.sampled_from(["always", "verified", "never"])),
        "delight_chance": draw(probability), "min_spend": draw(st.sampled_from([0.0, 50, 300])),
    }


@st.composite
def valid_scenarios(draw: st.DrawFn) -> Scenario:
    n_segments = draw(st.integers(1, 3))
    weights = [draw(st.integers(1, 5)) for _ in range(n_segments)]
    shares = [w / sum(weights) for w in weights[:-1]]
    shares.append(1 - math.fsum(shares))
    segments = [draw(segment(f"s{i}", share)) for i, share in enumerate(shares)]
    typical_wtp = segments[0]["wtp"]["median"]
    tiers = [draw(tier(f"t{j}", typical_wtp)) for j in range(draw(st.integers(1, 3)))]
    assignment: Any = draw(st.sampled_from(["self_select", "by_segment", "by_spend"]))
    if assignment == "by_segment":
        names = st.sampled_from([t["name"] for t in tiers])
        assignment = {"kind": "by_segment", "tiers": {s["name"]: draw(names) for s in segments}}
    admission: Any = "everyone"
    if draw(st.booleans()):
        admission = {"kind": "daily_slots", "slots_per_day": draw(st.integers(1, 30)),
                     "waitlist": draw(st.booleans())}
    adaptation: Any = draw(st.sampled_from(
        ["none", {"kind": "satisfaction_target", "target": 8.0, "step": 0.1, "period_days": 3}]))
    open_hour = draw(st.integers(0, 12))
    # closing at midnight leaves a queue at the horizon (checks["in_system"] > 0)
    close_hour = draw(st.one_of(st.just(24), st.integers(open_hour + 2, min(24, open_hour + 12))))
    raw = {
        "run": {"days": draw(st.integers(30, 50)), "warmup_days": draw(st.integers(0, 10)),
                "seed": draw(st.integers(0, 2**32)),
                "retention_period_days": draw(st.integers(3, 20))},
        "business": {
            "servers": draw(st.integers(1, 4)), "open_hour": open_hour, "close_hour": close_hour,
            "staff_cost_per_hour": draw(money), "unit_cost_per_visit": draw(money),
            "request_cost": draw(money), "unreasonable_request_cost": draw(money),
            "failure_rate": draw(probability), "fix_cost": draw(money),
            "apology_cost": draw(money), "delight_cost": draw(money),
            "return_loss": draw(money),
        },
        "market": {
            "new_customers_per_day": draw(num(0.5, 20)),
            "alternatives": draw(probability),
            "norm_reputation": draw(num(0, 10)),
            "lock_in": draw(num(0, 3)),
            "acquisition_cost": draw(money),
            "referral_delay": {"dist": "exponential", "mean": draw(num(1, 200))},
        },
        "segments": segments,
        "strategy": {
            "tiers": tiers, "assignment": assignment, "admission": admission,
            "adaptation": adaptation,
            "recovery": draw(st.sampled_from(["none", "apologize", "fix"])),
            "screening_accuracy": draw(probability),
            "exclusivity_boost": draw(num(0, 1)),
        },
    }
    return scenario_from_raw(raw, source="<hypothesis>")


# A fixed seed and no example database: every test below meets the same 25 scenarios,
# so each scenario is simulated once and its result shared (RESULTS).
conservation = settings(max_examples=25, deadline=None, database=None,
                        suppress_health_check=[HealthCheck.too_slow])
same_scenarios = seed(20240601)
RESULTS: dict[str, RunResult] = {}


def run(scenario: Scenario) -> RunResult:
    key = repr(scenario)
    if key not in RESULTS:
        RESULTS[key] = run_replication(scenario, 0)
    return RESULTS[key]


@conservation
@same_scenarios
@given(valid_scenarios())
def test_every_arriving_visit_ends_in_one_outcome_or_is_still_in_the_system(
        scenario: Scenario) -> None:
    r = run(scenario)
    outcomes = sum(r.metrics[k] for k in VISIT_OUTCOMES) + r.checks["in_system"]
    assert r.metrics["arrivals"] == outcomes


@conservation
@same_scenarios
@given(valid_scenarios())
def test_revenue_minus_every_cost_is_profit_and_the_cash_balance_to_the_cent(
        scenario: Scenario) -> None:
    r = run(scenario)
    m = r.metrics
    books = m["gross_revenue"] - math.fsum(m[k] for k in COST_ITEMS)
    assert abs(m["revenue"] - (m["gross_revenue"] - m["refunds"])) <= CENT
    assert abs(books - m["profit"]) <= CENT
    assert abs(r.checks["cash"] - m["profit"]) <= CENT


@conservation
@same_scenarios
@given(valid_scenarios())
def test_segments_add_up_to_the_totals(scenario: Scenario) -> None:
    r = run(scenario)
    for key in ("served", "abandoned", "balked", "priced_out", "turned_away"):
        assert sum(seg[key] for seg in r.segments.values()) == r.metrics[key], key
    assert sum(seg["prospects"] for seg in r.segments.values()) == (
        r.metrics["prospects_new"] + r.metrics["prospects_referred"])
    for seg_key, key in (("customers_won", "customers_won"), ("lost_prospects", "lost_prospects"),
                         ("churned", "customers_churned")):
        assert sum(seg[seg_key] for seg in r.segments.values()) == r.metrics[key], key
    assert abs(sum(seg["revenue"] for seg in r.segments.values()) - r.metrics["revenue"]) <= CENT


@conservation
@same_scenarios
@given(valid_scenarios())
def test_tiers_add_up_to_the_totals(scenario: Scenario) -> None:
    r = run(scenario)
    for key in ("served", "abandoned", "balked"):
        assert sum(tier[key] for tier in r.tiers.values()) == r.metrics[key], key
    assert abs(sum(tier["revenue"] for tier in r.tiers.values()) - r.metrics["revenue"]) <= CENT


@conservation
@same_scenarios
@given(valid_scenarios())
def test_every_prospect_of_the_window_is_won_lost_or_still_undecided(scenario: Scenario) -> None:
    r = run(scenario)
    m = r.metrics
    assert m["prospects_new"] + m["prospects_referred"] == (
        m["customers_won"] + m["lost_prospects"] + r.checks["prospects_pending"])


@conservation
@same_scenarios
@given(valid_scenarios())
def test_counts_are_non_negative_shares_are_shares_and_satisfaction_is_on_its_scale(
        scenario: Scenario) -> None:
    m = run(scenario).metrics
    for metric in METRICS:
        value = m[metric.key]
        if metric.unit == "count" or metric.key in COST_ITEMS or metric.key == "gross_revenue":
            assert value >= 0, metric.key
    for key in SHARES:
        assert math.isnan(m[key]) or 0 <= m[key] <= 1, (key, m[key])
    for key in SCORES:
        assert math.isnan(m[key]) or 0 <= m[key] <= 10, (key, m[key])
    assert math.isnan(m["nps"]) or -100 <= m["nps"] <= 100
    assert m["abuse_refunded"] <= m["abuse_claims"]


@conservation
@same_scenarios
@given(valid_scenarios())
def test_daily_satisfaction_and_reputation_stay_on_the_zero_to_ten_scale(
        scenario: Scenario) -> None:
    daily = run(scenario).daily
    assert len(daily["mean_satisfaction"]) == scenario.run.days
    for key in ("mean_satisfaction", "reputation"):
        assert all(math.isnan(x) or 0 <= x <= 10 for x in daily[key]), key


def test_visits_still_queued_or_waitlisted_at_the_horizon_count_as_in_the_system() -> None:
    open_till_midnight = {"business.close_hour": 24, "business.servers": 1,
                          "market.new_customers_per_day": 30,
                          "segments[*].patience": "5 h", "segments[*].value_of_time_per_h": 0.5}
    waitlist = {**open_till_midnight, "market.new_customers_per_day": 10,
                "strategy.admission": {"kind": "daily_slots", "slots_per_day": 12},
                "segments[*].waitlist_patience_days": 3}
    for scenario in (tiny_scenario("god", open_till_midnight),
                     tiny_scenario("scarcity", waitlist)):
        r = run_replication(scenario, 0)
        assert r.checks["in_system"] > 0
        outcomes = sum(r.metrics[k] for k in VISIT_OUTCOMES) + r.checks["in_system"]
        assert r.metrics["arrivals"] == outcomes


NO_WARM_UP = {"run.warmup_days": 0}


def test_daily_revenue_and_served_visits_add_up_to_the_totals_without_warm_up() -> None:
    r = run_replication(tiny_scenario("god", NO_WARM_UP), 0)
    assert sum(r.daily["served"]) == r.metrics["served"]
    assert sum(r.daily["prospects"]) == r.metrics["prospects_new"] + r.metrics["prospects_referred"]
    assert abs(math.fsum(r.daily["revenue"]) - r.metrics["revenue"]) <= CENT


def test_daily_profit_adds_up_to_profit_without_warm_up() -> None:
    r = run_replication(tiny_scenario("god", NO_WARM_UP), 0)
    assert abs(math.fsum(r.daily["profit"]) - r.metrics["profit"]) <= CENT


# A congested one-server shop: many visits end unserved (abandoned, balked, priced out).
CONGESTED = {"business.servers": 1, "market.new_customers_per_day": 20,
             "segments[*].value_of_time_per_h": 1, "segments[*].patience": "3 h",
             "segments[*].loyalty": 3, "run.warmup_days": 0}


def test_visit_return_rate_is_a_share_even_when_many_visits_go_unserved() -> None:
    for r in runs(tiny_scenario("god", CONGESTED), [0, 1]):
        assert 0 <= r.metrics["visit_return_rate"] <= 1, r.metrics["visit_return_rate"]


def test_utilisation_is_a_share_even_when_the_queue_runs_past_closing_time() -> None:
    """Staff stay (paid) until the queue is served, and utilisation counts those hours."""
    for r in runs(tiny_scenario("god", CONGESTED), [0, 1]):
        assert 0 <= r.metrics["utilisation"] <= 1, r.metrics["utilisation"]
