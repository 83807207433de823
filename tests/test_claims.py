"""The essays' claims, as paired directional tests in the default market, each through
the mechanism the model gives it (docs/model.md, "What the model is for").

Every arm runs the same replications of the same seed (common random numbers), so an
effect is a paired difference; it holds when its 95% Student-t interval excludes zero.
Arms run the default market (scenarios/base.toml) for 270 days after a 90-day warm-up,
4 replications unless stated, all arms over one pool of processes; measured effects sit
several half-widths from zero (each test's comment gives them).
"""

from __future__ import annotations

import pytest
from helpers import clearly_positive, run_many
from paths import ROOT

from sim.metrics import RunResult, estimate
from sim.scenario import Scenario, load_scenario

DEFAULT_MARKET = ["run.days=270", "run.warmup_days=90", "run.replications=4"]


def spec(preset: str, *settings: str, replications: int = 4) -> Scenario:
    return load_scenario(ROOT / f"scenarios/{preset}.toml",
                         [*DEFAULT_MARKET, f"run.replications={replications}", *settings])


def effect(metric: str, treated: list[RunResult], control: list[RunResult]) -> list[float]:
    return [t.metrics[metric] - c.metrics[metric] for t, c in zip(treated, control, strict=True)]


def minus(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


MORE_ABUSE = ("segments[0].abuse_propensity=0.06", "segments[2].abuse_propensity=0.09",
              'segments[1].abuse_propensity={ dist = "uniform", low = 0.06, high = 0.36 }')
"""Three times the default market's abuse propensities, segment by segment."""
SILENT = ("segments[0].referral_propensity=0.0", "segments[1].referral_propensity=0.0",
          "segments[2].referral_propensity=0.0")
SAME_STAFF = ("strategy.servers=1",)
"""Scarcity keeps one server; tiered is given the same one, so capacity is equal."""
NO_SCARCITY_POWER = ("strategy.exclusivity_boost=0.0", "strategy.scarcity_pricing=0.0")
MONOPOLY = ("market.alternatives=0.1",)
ROOMY = ("market.alternatives=0.1", "strategy.admission.slots_per_day=500")


def delight(chance: float) -> Scenario:
    return spec("partner", f"strategy.tiers[0].delight_chance={chance}",
                f"strategy.tiers[1].delight_chance={chance}", replications=8)


@pytest.fixture(scope="module")
def arms() -> dict[str, list[RunResult]]:
    """Every arm of every claim, run once."""
    return run_many({
        "god": spec("god"), "god, more abuse": spec("god", *MORE_ABUSE),
        "tiered": spec("tiered"), "tiered, more abuse": spec("tiered", *MORE_ABUSE),
        "god, screening": spec("god", 'strategy.tiers[0].requests="reasonable"'),
        "god, no referrals": spec("god", *SILENT),
        "delight 0": delight(0.0), "delight 0.25": delight(0.25), "delight 0.5": delight(0.5),
        **{f"{preset} at {alt}": spec(preset, f"market.alternatives={alt}", *SAME_STAFF)
           for preset in ("scarcity", "tiered") for alt in (0.1, 0.9)},
        "scarcity, monopoly": spec("scarcity", *MONOPOLY),
        "scarcity, monopoly, powerless": spec("scarcity", *MONOPOLY, *NO_SCARCITY_POWER),
        "scarcity, roomy": spec("scarcity", *ROOMY),
        "scarcity, roomy, powerless": spec("scarcity", *ROOMY, *NO_SCARCITY_POWER),
    })


def test_abuse_hurts_customer_is_god_more_than_tiered(arms: dict[str, list[RunResult]]) -> None:
    """Seed 002: blind worship breeds greed. God refunds every claim; tiered verifies.
    Measured (360 days): god loses 26,500 of profit, tiered 5,200; the gap 21,200
    (CI +-2,900)."""
    god_loss = effect("profit", arms["god"], arms["god, more abuse"])
    tiered_loss = effect("profit", arms["tiered"], arms["tiered, more abuse"])
    assert clearly_positive(estimate(minus(god_loss, tiered_loss)))


def test_refusing_unreasonable_requests_keeps_customers_from_growing_entitled(
        arms: dict[str, list[RunResult]]) -> None:
    """Seed 003: refuse what is out of scope. The same generous firm screening its
    requests instead of granting all of them. Measured: entitlement 0.053 lower (+-0.009)."""
    assert clearly_positive(estimate(effect("mean_entitlement", arms["god"],
                                            arms["god, screening"])))


def test_more_delight_helps_with_diminishing_returns(arms: dict[str, list[RunResult]]) -> None:
    """Seed 003: '1 = 100', within scope, and a gesture expected every time stops
    surprising. The partner with delight on 0, 25% and 50% of visits: satisfaction rises
    by about 0.17 from 0 to 25% and by about 0.01 from 25% to 50% (8 replications)."""
    first = effect("mean_satisfaction", arms["delight 0.25"], arms["delight 0"])
    second = effect("mean_satisfaction", arms["delight 0.5"], arms["delight 0.25"])
    assert clearly_positive(estimate(first))
    assert clearly_positive(estimate(minus(first, second)))


def test_word_of_mouth_brings_new_customers(arms: dict[str, list[RunResult]]) -> None:
    """Seeds 003-004: satisfied customers bring others. Switching referrals off loses
    about 200 customers won (+-35, 360 days)."""
    assert all(r.metrics["prospects_referred"] == 0 for r in arms["god, no referrals"])
    assert clearly_positive(estimate(effect("customers_won", arms["god"],
                                            arms["god, no referrals"])))


def test_scarcitys_edge_over_tiered_grows_as_alternatives_fall(
        arms: dict[str, list[RunResult]]) -> None:
    """Seeds 000-001: whoever is scarce is God; a monopoly keeps customers without
    worshipping them. With equal staff, scarcity's profit edge over tiered at 10%
    alternatives exceeds its edge at 90% (measured, 360 days: +32,700 against +13,500;
    difference +19,200, 95% CI +10,300 to +28,200)."""
    def edge(alternatives: float) -> list[float]:
        return effect("profit", arms[f"scarcity at {alternatives}"],
                      arms[f"tiered at {alternatives}"])

    assert clearly_positive(estimate(minus(edge(0.1), edge(0.9))))


def test_the_scarcity_mechanism_pays_where_capacity_binds_in_a_near_monopoly(
        arms: dict[str, list[RunResult]]) -> None:
    """What visible scarcity itself earns (prices and perceived value rising on booked-out
    days), against the same strategy without it: positive where its slots bind with few
    alternatives (measured: +22,000 over 360 days, 95% CI +21,800 to +22,300)."""
    assert clearly_positive(estimate(effect("profit", arms["scarcity, monopoly"],
                                            arms["scarcity, monopoly, powerless"])))


def test_the_scarcity_mechanism_is_worth_nothing_where_capacity_never_binds(
        arms: dict[str, list[RunResult]]) -> None:
    """Slots nobody fills show no scarcity: with and without its power the runs are the
    same, customer for customer."""
    with_power = arms["scarcity, roomy"]
    assert all(r.metrics["turned_away"] + r.metrics["waitlisted"] == 0 for r in with_power)
    assert effect("profit", with_power, arms["scarcity, roomy, powerless"]) == [0.0] * 4
