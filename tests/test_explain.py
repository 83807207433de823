"""simrun explain: the paired difference B - A split among knob groups, as Shapley values.

Efficiency (contributions add up to the paired difference) is checked per replication
to floating point, math.isclose with rel_tol 1e-9: the sums involve at most 32 terms of
similar size, so rounding stays many orders of magnitude below that.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from click.testing import CliRunner
from helpers import tiny_raw, tiny_scenario

import sim
from sim.cli import main
from sim.experiment.compare import compare
from sim.experiment.explain import Attribution, coalition_scenario, explain
from sim.experiment.knob_groups import players
from sim.experiment.shapley import ShapleyPlan, plan
from sim.scenario.knob_groups import GROUP_NAMES, GROUPS, NOT_KNOBS, PRICES, combine
from sim.scenario.knob_groups import tier_sources as sources
from sim.scenario.model import Scenario, Strategy, Tier
from sim.strategies.policies import BySegment, HonourAll, HonourReasonable

FAST = {"run.days": 40, "run.warmup_days": 5, "run.replications": 3}


def tiny(strategy: str, name: str, settings: dict[str, object] | None = None) -> Scenario:
    return tiny_scenario(strategy, {**FAST, "run.name": name, **(settings or {})})


def adds_up(result: Attribution) -> bool:
    """Every replication's contributions add up to its paired difference B - A."""
    return all(math.isclose(sum(result.shares[g][r] for g in GROUP_NAMES), difference,
                            rel_tol=1e-9)
               for r, difference in enumerate(result.differences))


@pytest.fixture(scope="module")
def god_vs_tiered() -> Attribution:
    return explain(tiny("god", "god"), tiny("tiered", "tiered"), jobs=1)


# ----------------------------------------------------------------------------- efficiency
def test_contributions_add_up_to_the_paired_difference_in_every_replication(
        god_vs_tiered: Attribution) -> None:
    assert god_vs_tiered.players == ("prices and tiers", "requests", "refunds",
                                     "service level", "delight")
    assert adds_up(god_vs_tiered)


def test_the_total_is_the_comparisons_paired_difference(god_vs_tiered: Attribution) -> None:
    """Same seed, same replications: the coalition of every group is B itself, and the
    mean of the contributions is compare's paired difference."""
    cmp = compare([god_vs_tiered.a, god_vs_tiered.b], jobs=1)
    profits = {name: [run.metrics["profit"] for run in cmp.result(name).runs]
               for name in ("god", "tiered")}
    assert god_vs_tiered.differences == tuple(
        b - a for a, b in zip(profits["god"], profits["tiered"], strict=True))
    paired = cmp.paired_difference("tiered", "profit").mean
    assert math.isclose(god_vs_tiered.total.mean, paired, rel_tol=1e-9)
    means = sum(e.mean for e in god_vs_tiered.contributions.values())
    assert math.isclose(means, paired, rel_tol=1e-9)


def test_sampled_permutations_still_add_up_exactly() -> None:
    a = tiny("god", "god")
    b = tiny("god", "lean", {"strategy.tiers[0].requests": "none",
                             "strategy.tiers[0].refunds": "verified",
                             "strategy.tiers[0].delight_chance": 0.0})
    result = explain(a, b, jobs=1, exact_max_players=2, permutations=2)
    assert not result.plan.exact
    assert len(result.players) == 3
    assert adds_up(result)


# ------------------------------------------------------------------------- null players
def test_a_group_set_alike_contributes_exactly_zero() -> None:
    """Strategies that differ only in refunds: refunds is the only player and takes the
    whole difference; every other group is 0, exactly, in every replication."""
    a = tiny("god", "god")
    b = tiny("god", "verified", {"strategy.tiers[0].refunds": "verified"})
    result = explain(a, b, jobs=1)
    assert result.players == ("refunds",)
    assert result.shares["refunds"] == result.differences
    for group in GROUP_NAMES:
        if group != "refunds":
            assert result.shares[group] == (0.0,) * 3
            e = result.contributions[group]
            assert (e.mean, e.low, e.high) == (0.0, 0.0, 0.0)


def test_a_group_that_changes_nothing_here_gets_exactly_zero_on_request_cost() -> None:
    """Under god's rules (every request honoured or none, every claim refunded) nothing
    is screened, so screening accuracy changes no draw and no decision: its Shapley value
    is exactly 0, and refusing every request takes the whole difference, which by hand
    is minus A's request cost (B honours no request)."""
    a = tiny("god", "god")
    b = tiny("god", "strict", {"strategy.tiers[0].requests": "none",
                               "strategy.screening_accuracy": 0.5})
    result = explain(a, b, metric="request_cost", jobs=1)
    assert result.players == ("requests", "screening")
    assert result.shares["screening"] == (0.0,) * 3
    assert result.shares["requests"] == tuple(-x for x in result.a_values)
    assert all(x > 0 for x in result.a_values)


def test_the_notebook_api_gives_a_table_and_a_waterfall() -> None:
    pytest.importorskip("pandas")
    a = tiny("god", "god")
    b = tiny("god", "verified", {"strategy.tiers[0].refunds": "verified"})
    why = sim.explain(a, b, jobs=1)
    rows = why.summary()
    assert list(rows["group"]) == [*GROUP_NAMES, "total"]
    assert rows.set_index("group").loc["refunds", "b_setting"] == "verified"
    assert why.total == why.contributions["refunds"]
    labels = [t.get_text() for t in why.chart().axes[0].get_yticklabels()]
    assert labels == ["Customer is God (god)", "refunds", "Customer is God (verified)"]


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


def test_an_assignment_by_segment_travels_with_its_tiers() -> None:
    a = tiny("tiered", "by-segment", {"strategy.assignment": {
        "kind": "by_segment", "tiers": {"regulars": "basic", "premium": "premium"}}})
    b = tiny("god", "god")
    assert isinstance(coalition_scenario(a, b, {"requests"}).strategy.assignment, BySegment)
    assert coalition_scenario(a, b, {PRICES}).strategy.assignment == b.strategy.assignment
    assert players(a.strategy, b.strategy)[0] == PRICES


def test_coalitions_of_nothing_and_everything_are_a_and_b() -> None:
    a, b = tiny("god", "god").strategy, tiny("scarcity", "scarcity").strategy
    assert combine(a, b, ()) == a
    assert combine(a, b, GROUP_NAMES) == dataclasses.replace(b, preset=a.preset, label=a.label)


# ------------------------------------------------------------------------------------ CLI
def simrun(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), prog_name="simrun")
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def write(path: Path, strategy: str, settings: dict[str, object] | None = None) -> str:
    raw = tiny_raw(strategy, {**FAST, "run.replications": 2, **(settings or {})})
    raw["run"].pop("name")
    path.write_text(tomli_w.dumps(raw))
    return str(path)


def test_simrun_explain_prints_the_table_and_writes_the_files(tmp_path: Path) -> None:
    a = write(tmp_path / "god.toml", "god")
    b = write(tmp_path / "strict.toml", "god", {"strategy.tiers[0].requests": "none",
                                                "strategy.tiers[0].refunds": "verified"})
    code, out = simrun("explain", a, b, "-j", "1", "--out", str(tmp_path / "why"), "--charts")
    assert code == 0
    words = " ".join(out.split())  # the table wraps at the terminal's width
    assert "Shapley contributions" in words
    assert "all -> none" in words
    assert "always -> verified" in words
    assert "Total (Customer is God" in words
    assert "from requests" in out
    assert "from refunds" in out
    summary = json.loads((tmp_path / "why/explain.json").read_text())
    assert summary["metric"] == "profit"
    assert summary["replications"] == 2
    assert [g["group"] for g in summary["groups"]] == list(GROUP_NAMES)
    total = sum(g["contribution"]["mean"] for g in summary["groups"])
    assert math.isclose(total, summary["total"]["mean"], rel_tol=1e-9)
    rows = (tmp_path / "why/explain.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * len(GROUP_NAMES)
    assert sorted(p.name for p in (tmp_path / "why/charts").iterdir()) == [
        "why.png", "why.svg"]


def test_simrun_explain_refuses_identical_strategies(tmp_path: Path) -> None:
    a = write(tmp_path / "god.toml", "god")
    code, out = simrun("explain", a, a, "-j", "1", "--out", str(tmp_path))
    assert code == 2
    assert "nothing to explain" in out


def test_simrun_explain_names_the_valid_metrics(tmp_path: Path) -> None:
    a = write(tmp_path / "god.toml", "god")
    b = write(tmp_path / "tiered.toml", "tiered")
    code, out = simrun("explain", a, b, "--metric", "profitt", "--out", str(tmp_path))
    assert code == 2
    assert "unknown metric" in out
    assert "did you mean 'profit'?" in out
    assert "cost_per_customer" in out


def test_simrun_explain_refuses_different_markets_and_missing_files(tmp_path: Path) -> None:
    a = write(tmp_path / "god.toml", "god")
    b = write(tmp_path / "tiered.toml", "tiered", {"market.alternatives": 0.9})
    code, out = simrun("explain", a, b, "--out", str(tmp_path))
    assert code == 2
    assert "market differs" in out
    code, out = simrun("explain", a, str(tmp_path / "nowhere.toml"))
    assert code == 2
    assert "no such file" in out
