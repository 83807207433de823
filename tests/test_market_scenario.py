"""The market file: [[firms]] with a name, a strategy and a business, checked like a
scenario, every problem at its place in the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from market_helpers import tiny_market, tiny_market_raw
from paths import ROOT

from sim.scenario import ScenarioError, load_scenario
from sim.scenario.knob_groups import GROUP_NAMES
from sim.scenario.market import load_market, market_from_raw, market_raw
from sim.scenario.model import Market
from sim.scenario.schema import field_docs


def problems(raw: dict, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        market_from_raw(raw, source="m.toml", overrides=overrides)
    return [str(issue) for issue in info.value.issues]


def test_each_firm_is_a_whole_scenario_with_its_own_strategy_and_business() -> None:
    m = tiny_market([("A", "god"), ("B", {"preset": "scarcity"}, {"servers": 5})])
    assert m.names == ("A", "B")
    assert m.firms[0].strategy.preset == "god"
    assert m.firms[1].strategy.preset == "scarcity"
    assert m.firms[0].business.servers == 2  # the market file's [business]
    assert m.firms[1].business.servers == 5  # the firm's own on top
    assert m.firms[1].business.open_hour == 9  # the rest shared
    assert m.firms[0].segments == m.firms[1].segments


def test_a_firm_problem_is_reported_at_its_place_in_the_market_file() -> None:
    raw = tiny_market_raw([("A", "god"), ("B", {"preset": "tiered",
                                                "tiers": [{"name": "x", "price": -1}]})])
    assert problems(raw) == ["firms[1].strategy.tiers[0].price: must be >= 0, got -1"]


def test_every_problem_at_once_with_did_you_mean_and_shared_ones_once() -> None:
    raw = tiny_market_raw([("A", "god", {"servrs": 2}), ("A", "gdo")],
                          {"market.choice_scale": 0})
    found = problems(raw)
    assert "firms[0].business.servrs: unknown key (did you mean 'servers'?)" in found
    assert any(p.startswith("firms[1].strategy.preset: unknown preset") for p in found)
    assert "firms[1].name: must be unique, got \"A\"" in found
    assert found.count("market.choice_scale: must be > 0, got 0") == 1


def test_a_market_file_refuses_a_shared_strategy_and_unknown_firm_keys() -> None:
    raw = tiny_market_raw([("A", "god")])
    raw["strategy"] = {"preset": "god"}
    raw["firms"][0]["stratgy"] = "god"
    found = problems(raw)
    assert any(p.startswith("strategy: a market file gives each firm its own strategy")
               for p in found)
    assert "firms[0].stratgy: unknown key (did you mean 'strategy'?)" in found


def test_firms_must_be_a_non_empty_list_and_each_firm_named() -> None:
    raw = tiny_market_raw([("A", "god")])
    raw["firms"] = []
    assert problems(raw) == ["firms: must be a non-empty list of [[firms]] tables"]
    raw["firms"] = [{"strategy": "god"}]
    assert problems(raw) == ["firms[0].name: is required: a non-empty string naming the firm"]


def test_overrides_reach_a_firm() -> None:
    raw = tiny_market_raw([("A", "god"), ("B", "god")])
    m = market_from_raw(raw, overrides=["firms[1].business.servers=4"])
    assert [f.business.servers for f in m.firms] == [2, 4]
    assert problems(raw, ("firms[2].business.servers=4",)) == [
        'firms[2].business.servers: index 2 out of range (the list has 2 items), got "4"']


def test_the_example_market_loads_and_extends_a_strategy_file() -> None:
    m = load_market(ROOT / "scenarios" / "market.toml")
    assert m.names == ("Worship", "Tiers", "Velvet rope")
    assert m.firms[1].strategy.preset == "tiered"  # from tiered.toml
    assert m.firms[2].business.staff_cost_per_hour == 30.0
    assert m.firms[0].business.staff_cost_per_hour == 25.0


def test_a_missing_strategy_file_is_named(tmp_path: Path) -> None:
    raw = tiny_market_raw([("A", {"extends": "nope.toml"})])
    with pytest.raises(ScenarioError) as info:
        market_from_raw(raw, source="m.toml", base=tmp_path)
    assert str(info.value.issues[0]).startswith("firms[0].strategy.extends: no such file")


def test_the_resolved_market_loads_back_equal() -> None:
    m = tiny_market([("A", "god"), ("B", "partner", {"servers": 1})])
    assert market_from_raw(market_raw(m)) == m


def test_the_single_firm_loader_points_a_market_file_to_the_market_loader() -> None:
    with pytest.raises(ScenarioError, match="firms: this file is a market of rival firms"):
        load_scenario(ROOT / "scenarios" / "market.toml")


def test_imitation_groups_take_the_knob_groups_by_name_and_say_which() -> None:
    """Every group of simrun explain can be copied, "all" alone or a list of names; the
    knob's documentation (docs/scenario.md) names every group."""
    m = tiny_market([("A", "god")], {"market.imitation_groups": ["refunds", "delight"]})
    assert m.market.imitation_groups == ("refunds", "delight")
    assert tiny_market([("A", "god")]).market.imitation_groups == ("all",)
    doc = field_docs(Market)["imitation_groups"]
    assert all(f'"{name}"' in doc for name in GROUP_NAMES)
    raw = tiny_market_raw([("A", "god"), ("B", "god")])
    assert problems(raw, ('market.imitation_groups=["refund"]',)) == [
        'market.imitation_groups[0]: unknown knob group, got "refund" (did you mean '
        "'refunds'? known: " + ", ".join(("all", *GROUP_NAMES)) + ")"]
    assert problems(raw, ("market.imitation_groups=[]",)) == [
        'market.imitation_groups: must name at least one knob group, or be ["all"], got []']
    assert problems(raw, ('market.imitation_groups=["all", "refunds"]',)) == [
        ('market.imitation_groups: "all" already takes every group: list it alone, got '
        '["all", "refunds"]')]
