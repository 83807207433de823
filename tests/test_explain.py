"""simrun explain: the paired difference B - A split among knob groups, as Shapley values.

Efficiency (contributions add up to the paired difference) is checked per replication
to floating point, math.isclose with rel_tol 1e-9: the sums involve at most 32 terms of
similar size, so rounding stays many orders of magnitude below that.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import tiny_scenario

from sim.experiment.knob_groups import GROUP_NAMES, GROUPS, NOT_KNOBS, PRICES, combine
from sim.experiment.knob_groups import tier_sources as sources
from sim.experiment.shapley import ShapleyPlan, plan
from sim.scenario.model import Scenario, Strategy, Tier
from sim.strategies.policies import HonourAll, HonourReasonable

FAST = {"run.days": 40, "run.warmup_days": 5, "run.replications": 3}


def tiny(strategy: str, name: str, settings: dict[str, object] | None = None) -> Scenario:
    return tiny_scenario(strategy, {**FAST, "run.name": name, **(settings or {})})


# ------------------------------------------------------------------------ the Shapley math
def test_an_additive_game_gives_each_player_its_own_effect() -> None:
    """v(S) = sum of the members' effects, plus 6 when x and y are both in: each player
    gets its own effect and x and y split the interaction, exactly and when sampled."""
    effects = {"x": 1.0, "y": -2.0, "z": 5.0}

    def value(c: frozenset[str]) -> np.ndarray:
        return np.array([sum(effects[p] for p in c) + (6.0 if {"x", "y"} <= c else 0.0)])

    exact = ShapleyPlan(("x", "y", "z"))
    game = {c: value(c) for c in exact.coalitions}
    assert len(game) == 8
    shares = exact.values(game)
    assert {p: float(v[0]) for p, v in shares.items()} == pytest.approx(
        {"x": 4.0, "y": 1.0, "z": 5.0}, rel=1e-12)
    sampled = plan(("x", "y", "z"), seed=3, exact_max_players=2, permutations=6)
    values = sampled.values({c: value(c) for c in sampled.coalitions})
    assert float(values["z"][0]) == pytest.approx(5.0, rel=1e-12)
    assert float(sum(values.values())[0]) == pytest.approx(10.0, rel=1e-12)


def test_sampled_permutations_follow_the_seed() -> None:
    players = tuple("abcdefgh")
    first = plan(players, seed=7, permutations=8)
    assert first.permutations == plan(players, seed=7, permutations=8).permutations
    assert first.permutations != plan(players, seed=8, permutations=8).permutations
    assert first.permutations[1] == first.permutations[0][::-1]
    assert len(first.coalitions) < 2 ** len(players)


# ------------------------------------------------------------------------------ the groups
def test_every_strategy_knob_belongs_to_exactly_one_group() -> None:
    """A new knob on Strategy or Tier fails here until it is given a group."""
    owned = [f"strategy.{name}" for g in GROUPS for name in g.strategy_fields]
    owned += [f"tier.{name}" for g in GROUPS for name in g.tier_fields]
    knobs = [f"strategy.{f.name}" for f in dataclasses.fields(Strategy)
             if f.name not in NOT_KNOBS]
    knobs += [f"tier.{f.name}" for f in dataclasses.fields(Tier)]
    assert sorted(owned) == sorted(knobs)


def tier(name: str, price: float) -> Tier:
    return Tier(name=name, price=price)


def test_tier_settings_map_by_name_else_by_rank_in_price() -> None:
    three = [tier("premium", 95), tier("basic", 35), tier("standard", 55)]
    assert sources(three, [tier("solo", 60)]) == (0, 0, 0)
    assert sources([tier("solo", 60)], three) == (2,)  # the middle by price: standard
    assert sources([tier("standard", 60)], three) == (2,)
    assert sources([tier("cheap", 10)], [tier("a", 1), tier("b", 2)]) == (1,)
    targets = [tier("t0", 1), tier("t1", 2), tier("t2", 3)]
    assert sources(targets, [tier("low", 5), tier("high", 9)]) == (0, 1, 1)
    assert sources(targets, [tier("high", 9), tier("t1", 7), tier("low", 5)]) == (2, 1, 0)


def test_one_tier_takes_the_same_named_tier_of_the_other_side() -> None:
    god, tiered = tiny("god", "god").strategy, tiny("tiered", "tiered").strategy
    assert combine(god, tiered, {"requests"}).tiers[0].requests == HonourReasonable()
    mixed = combine(god, tiered, {PRICES})
    assert [t.name for t in mixed.tiers] == ["basic", "standard", "premium"]
    assert [t.requests for t in mixed.tiers] == [HonourAll()] * 3
    assert [t.price for t in mixed.tiers] == [35.0, 55.0, 95.0]


def test_coalitions_of_nothing_and_everything_are_a_and_b() -> None:
    a, b = tiny("god", "god").strategy, tiny("scarcity", "scarcity").strategy
    assert combine(a, b, ()) == a
    assert combine(a, b, GROUP_NAMES) == dataclasses.replace(b, preset=a.preset, label=a.label)
