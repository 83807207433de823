"""The essays' claim about scarcity, through its mechanism, on a market of rival firms
(MODEL.md: "whoever is scarce is God"; scarcity is endogenous when rivals compete).

The default market (scenarios/base.toml) at 12 new prospects a day and alternatives 0.1,
240 days (90 of warm-up), 8 replications; two firms: the focal firm F and a rival R
("customer is God"). F is either scarce and exclusive (the preset: one server, six
appointments a day, a waitlist, prices and perceived value that rise when it is booked
out) or tiered with the same one server. R either admits one visit a day (F has the
only capacity) or has six servers and admits everyone (capacity for the whole market).
Every arm runs on the same seeds: the same customers arrive with the same wishes
(common random numbers), so differences are paired.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from helpers import clearly_positive
from market_helpers import run_markets
from paths import ROOT

from sim.metrics import MarketRunResult, estimate
from sim.scenario.loader import read_with_extends
from sim.scenario.market import MarketScenario, market_from_raw

SCARCE = {"preset": "scarcity"}
POWERLESS = {"preset": "scarcity", "exclusivity_boost": 0.0, "scarcity_pricing": 0.0}
TIERED = {"preset": "tiered", "servers": 1}


SHORT_RIVAL = {"preset": "god", "admission": {
    "kind": "daily_slots", "slots_per_day": 1, "waitlist": False}}
"""A rival that admits one visit a day: the focal firm has the only capacity."""
BIG_RIVAL = {"preset": "god", "servers": 6}
"""A rival with six servers that admits everyone: capacity for the whole market."""


def market(focal: dict[str, Any], rival: dict[str, Any]) -> MarketScenario:
    raw = read_with_extends(ROOT / "scenarios" / "base.toml")
    raw["run"].update(days=240, warmup_days=90, replications=8)
    raw["market"].update(new_customers_per_day=12.0, alternatives=0.1)
    raw["firms"] = [{"name": "F", "strategy": copy.deepcopy(focal)},
                    {"name": "R", "strategy": copy.deepcopy(rival)}]
    return market_from_raw(raw)


@pytest.fixture(scope="module")
def arms() -> dict[str, list[MarketRunResult]]:
    return run_markets({
        "scarce, short rival": market(SCARCE, SHORT_RIVAL),
        "tiered, short rival": market(TIERED, SHORT_RIVAL),
        "powerless, short rival": market(POWERLESS, SHORT_RIVAL),
        "scarce, big rival": market(SCARCE, BIG_RIVAL),
        "tiered, big rival": market(TIERED, BIG_RIVAL)})


def edge(arms: dict[str, list[MarketRunResult]], focal: str, rival: str) -> list[float]:
    """F's profit under ``focal`` minus under tiered, replication by replication."""
    return [a.firms[0].metrics["profit"] - b.firms[0].metrics["profit"]
            for a, b in zip(arms[f"{focal}, {rival} rival"], arms[f"tiered, {rival} rival"],
                            strict=True)]


def booked_out(runs: list[MarketRunResult]) -> int:
    """Visits F waitlisted or turned away: the days it was seen to be full."""
    return sum(int(r.firms[0].metrics["waitlisted"] + r.firms[0].metrics["turned_away"])
               for r in runs)


def test_the_firm_with_the_only_capacity_earns_more_scarce_than_tiered(
        arms: dict[str, list[MarketRunResult]]) -> None:
    """Measured: with the rival admitting one visit a day, scarcity's edge over tiered is
    +31,000 (95% CI +29,700 to +32,400): the scarce salon earns 48,400, the tiered one
    17,400 (its one server's queue drives customers away; the scarce salon's
    appointments are booked out at a premium)."""
    assert clearly_positive(estimate(edge(arms, "scarce", "short")))


def test_the_edge_comes_from_scarcity_itself(arms: dict[str, list[MarketRunResult]]) -> None:
    """Without its power (no price or perceived-value rise when booked out) the same
    scarce firm earns 18,100 less (CI 17,700 to 18,600): the edge is the mechanism's."""
    with_power, without = edge(arms, "scarce", "short"), edge(arms, "powerless", "short")
    assert clearly_positive(estimate([a - b for a, b in zip(with_power, without, strict=True)]))


def test_scarcitys_edge_shrinks_when_rivals_have_capacity_for_the_market(
        arms: dict[str, list[MarketRunResult]]) -> None:
    """Measured: against a rival with six servers that admits everyone the edge is
    -15,700 (CI -19,900 to -11,600), and F waitlists or turns away 253 visits instead
    of 19,569: the customers it would book days ahead go to the rival, so it is no
    longer seen to be full and its prices and image no longer rise. (A rival limited to
    a daily quota keeps F full whatever its size: the visits it turns away spill to F.
    docs/market.md has the whole curve.)"""
    short, big = edge(arms, "scarce", "short"), edge(arms, "scarce", "big")
    assert clearly_positive(estimate([a - b for a, b in zip(short, big, strict=True)]))
    assert booked_out(arms["scarce, big rival"]) < booked_out(arms["scarce, short rival"])
