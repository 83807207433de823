"""The scenario language: durations, distributions, extends, presets, overrides, round trip."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from paths import ROOT

from sim.scenario import ScenarioError, load_scenario, resolved_raw, scenario_from_raw
from sim.scenario.distributions import parse_distribution
from sim.scenario.reference import render_reference
from sim.scenario.units import parse_duration_h

SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.toml")
                   if p.name != "base.toml" and "[compare]" not in p.read_text()
                   and "[[firms]]" not in p.read_text())


@pytest.mark.parametrize(("text", "hours"), [
    (2, 2.0), (1.5, 1.5), ("45 min", 0.75), ("2 h", 2.0), ("3 d", 72.0), ("2 w", 336.0),
    ("90 s", 0.025), ("1.5 hours", 1.5), ("10min", 1 / 6),
])
def test_durations_are_hours_inside(text: object, hours: float) -> None:
    assert parse_duration_h(text) == pytest.approx(hours)


@pytest.mark.parametrize("bad", ["soon", "3 fortnights", "", True, [1]])
def test_a_non_duration_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration|unit"):
        parse_duration_h(bad)


@pytest.mark.parametrize(("raw", "mean"), [
    ({"dist": "exponential", "mean": 2.0}, 2.0),
    ({"dist": "gamma", "mean": 3.0, "cv": 0.5}, 3.0),
    ({"dist": "lognormal", "median": 60.0, "sigma": 0.3}, 60 * math.exp(0.045)),
    ({"dist": "lognormal", "mean": 50.0, "cv": 0.4}, 50.0),
    ({"dist": "normal", "mean": 10.0, "sd": 2.0}, 10.0),
    ({"dist": "uniform", "low": 1.0, "high": 3.0}, 2.0),
    ({"dist": "triangular", "low": 1.0, "mode": 2.0, "high": 6.0}, 3.0),
    ({"dist": "empirical", "values": [1, 2, 2, 5]}, 2.5),
    ({"dist": "constant", "value": 7}, 7.0),
])
def test_inversion_sampling_matches_the_mean(raw: dict[str, object], mean: float) -> None:
    """Mean of 40,000 inverse-CDF draws; 5 standard errors of the sample mean."""
    dist, issues = parse_distribution(raw, "x", duration=False)
    assert not issues
    assert dist is not None
    u = np.random.default_rng(1).random(40_000)
    draws = np.array([dist.sample(float(x)) for x in u])
    assert dist.mean == pytest.approx(mean, rel=1e-5)  # the normal is truncated at 0
    assert abs(draws.mean() - mean) <= 5 * draws.std() / math.sqrt(draws.size) + 1e-12


def test_normal_is_truncated_to_valid_values() -> None:
    dist, _ = parse_distribution({"dist": "normal", "mean": 0.1, "sd": 0.5}, "p", duration=False,
                                 low=0.0, high=1.0)
    assert dist is not None
    draws = [dist.sample(u) for u in np.linspace(0, 0.999999, 1001)]
    assert min(draws) >= 0.0
    assert max(draws) <= 1.0


def test_duration_distributions_take_units() -> None:
    dist, issues = parse_distribution({"dist": "gamma", "mean": "45 min", "cv": 0.5}, "x",
                                      duration=True)
    assert not issues
    assert dist is not None
    assert dist.mean == pytest.approx(0.75)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.strategy.tiers


def test_the_base_file_is_a_market_without_a_strategy() -> None:
    with pytest.raises(ScenarioError, match="strategy: is required"):
        load_scenario(ROOT / "scenarios/base.toml")


def test_strategy_files_share_one_market() -> None:
    files = ("god", "tiered", "scarcity", "partner")
    markets = {f: load_scenario(ROOT / "scenarios" / f"{f}.toml") for f in files}
    first = markets["god"]
    for scenario in markets.values():
        assert scenario.segments == first.segments
        assert scenario.market == first.market
        assert scenario.business == first.business


def test_monopoly_variants_lower_the_alternatives() -> None:
    monopoly = load_scenario(ROOT / "scenarios" / "scarcity-monopoly.toml")
    assert monopoly.market.alternatives < load_scenario(ROOT / "scenarios/scarcity.toml").market.alternatives
    assert monopoly.strategy.preset == "scarcity"


def test_extends_chains_and_child_wins(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text((ROOT / "scenarios/base.toml").read_text())
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n[market]\nalternatives = 0.9\n')
    (tmp_path / "c.toml").write_text('extends = "b.toml"\n[strategy]\npreset = "god"\n'
                                     '[business]\nservers = 5\n')
    scenario = load_scenario(tmp_path / "c.toml")
    assert scenario.market.alternatives == 0.9
    assert scenario.business.servers == 5
    assert scenario.market.new_customers_per_day == 8.0


def test_a_preset_knob_can_be_overridden_in_the_file_and_with_set() -> None:
    scenario = load_scenario(ROOT / "scenarios/tiered.toml",
                             ["strategy.tiers[0].price=41", "market.alternatives=0.2",
                              'segments[1].patience="2 h"'])
    assert scenario.strategy.tiers[0].price == 41
    assert scenario.strategy.tiers[1].price == 55
    assert scenario.market.alternatives == 0.2
    assert scenario.segments[1].patience.mean == pytest.approx(2.0)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_the_resolved_scenario_loads_back_equal(path: Path) -> None:
    scenario = load_scenario(path)
    again = scenario_from_raw(resolved_raw(scenario), default_name="other")
    assert again == scenario


def test_the_resolved_scenario_is_valid_toml(tmp_path: Path) -> None:
    from sim.scenario import scenario_toml

    text = scenario_toml(load_scenario(ROOT / "scenarios/partner.toml"))
    raw = tomllib.loads(text)
    assert raw["strategy"]["adaptation"]["kind"] == "satisfaction_target"
    assert len(raw["segments"]) == 3


def test_docs_scenario_reference_is_generated_from_the_model() -> None:
    """docs/scenario.md must be regenerated when a field changes:
    python -m sim.scenario.reference > docs/scenario.md"""
    assert (ROOT / "docs/scenario.md").read_text(encoding="utf-8") == render_reference()


def test_docs_presets_table_is_generated_from_the_presets() -> None:
    """docs/presets.md must be regenerated when a preset changes:
    python -m sim.scenario.reference presets > docs/presets.md"""
    from sim.scenario.reference import render_presets

    assert (ROOT / "docs/presets.md").read_text(encoding="utf-8") == render_presets()
