"""Each preset embodies its strategy in the default market (scenarios/base.toml): the
mechanism that names it is at work there, so a verdict on a preset is a verdict on that
strategy and not on a knob that happens to sit idle.

Runs: the default market over 360 days (120 of warm-up), 4 replications: a preset's
mechanism shows on every replication, so the thresholds below hold with a wide margin
(measured values in each test's comment).
"""

from __future__ import annotations

import pytest
from helpers import run_many
from paths import ROOT

from sim.experiment.compare import ComparisonResult
from sim.experiment.diagnostics import binding_share, cautions, measured_days
from sim.experiment.runner import ScenarioResult
from sim.scenario import Scenario, load_scenario

DEFAULT_MARKET = ["run.days=360", "run.warmup_days=120", "run.replications=4"]


ORDINARY = ("strategy.tiers[0].price=60", "strategy.tiers[0].service_level=1.0",
            'strategy.tiers[0].requests="reasonable"', 'strategy.tiers[0].refunds="verified"',
            "strategy.tiers[0].delight_chance=0.0")
"""The firm the market's norm describes: one standard tier at a middling price, service
level 1, reasonable requests, verified refunds, fixes, no delight."""


def spec(name: str, *extra: str) -> Scenario:
    return load_scenario(ROOT / f"scenarios/{name}.toml", [*DEFAULT_MARKET, *extra])


@pytest.fixture(scope="module")
def results() -> dict[str, ScenarioResult]:
    specs = {name: spec(name) for name in ("god", "tiered", "scarcity", "partner")}
    specs["ordinary"] = spec("god", *ORDINARY)
    return {name: ScenarioResult(specs[name], tuple(runs))
            for name, runs in run_many(specs).items()}


def total(result: ScenarioResult, key: str) -> float:
    return sum(r.metrics[key] for r in result.runs)


def test_god_honours_every_request_and_refunds_every_claim(
        results: dict[str, ScenarioResult]) -> None:
    god = results["god"]
    assert total(god, "requests_honoured_unreasonable") > 100
    assert total(god, "requests_refused_reasonable") == 0
    assert total(god, "requests_refused_unreasonable") == 0
    assert total(god, "abuse_claims") > 50
    assert total(god, "abuse_refunded") == total(god, "abuse_claims")


def test_tiered_customers_sort_themselves_into_every_tier(
        results: dict[str, ScenarioResult]) -> None:
    """Basic, standard and premium each carry a real share of the visits (measured:
    about 20%, 40% and 40%)."""
    served = {tier: sum(r.tiers[tier]["served"] for r in results["tiered"].runs)
              for tier in ("basic", "standard", "premium")}
    everyone = sum(served.values())
    assert all(count >= 0.1 * everyone for count in served.values()), served


def test_scarcitys_capacity_binds_and_its_scarcity_shows(
        results: dict[str, ScenarioResult]) -> None:
    """Its one server's six daily slots fill up on a substantial share of days (measured:
    about a third), and visible scarcity lifts what customers pay above the list price."""
    scarce = results["scarcity"]
    assert binding_share(scarce) >= 0.2
    list_price = scarce.scenario.strategy.tiers[0].price
    paid = total(scarce, "gross_revenue") / total(scarce, "served")
    assert paid > list_price * 1.01
    assert not [c for c in cautions(ComparisonResult.of_one(scarce))
                if c.kind == "limit never binds"]


def test_the_partners_service_level_moves_inside_its_bounds(
        results: dict[str, ScenarioResult]) -> None:
    partner = results["partner"]
    low, high = partner.scenario.strategy.adaptation.bounds()
    days = measured_days(partner)
    levels = [r.daily["service_level"][d] for r in partner.runs for d in days]
    at_bound = sum(1 for x in levels if x <= low + 1e-9 or x >= high - 1e-9)
    assert len(set(levels)) >= 3
    assert at_bound <= 0.5 * len(levels)


def test_an_ordinary_firm_keeps_a_reputation_near_the_market_norm(
        results: dict[str, ScenarioResult]) -> None:
    """The firm the norm describes keeps a reputation near it (measured: within 0.2)."""
    ordinary = results["ordinary"]
    norm = ordinary.scenario.market.norm_reputation
    days = measured_days(ordinary)
    mean = sum(r.daily["reputation"][d] for r in ordinary.runs for d in days) / (
        len(days) * len(ordinary.runs))
    assert abs(mean - norm) <= 0.4
