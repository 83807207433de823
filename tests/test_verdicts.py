"""Verdicts that say why, and say when they are fragile (sim/experiment/diagnostics.py,
sim/report/findings.py): each caution appears when its condition holds and not when it
does not, and a trade-off is stated only when the paired interval is clear."""

from __future__ import annotations

import re

import pytest
from helpers import tiny_scenario

from sim.experiment.compare import ComparisonResult, compare
from sim.experiment.diagnostics import cautions, drift, too_close_to_call
from sim.experiment.runner import run_scenario
from sim.report.findings import paired, ranking, trade_offs

STEADY = {"run.days": 90, "run.warmup_days": 45, "run.replications": 4,
          "run.retention_period_days": 15}


def one(strategy: str | dict[str, object], settings: dict[str, object]) -> ComparisonResult:
    result = run_scenario(tiny_scenario(strategy, {**STEADY, **settings}), jobs=1)
    return ComparisonResult.of_one(result)


def kinds(result: ComparisonResult) -> set[str]:
    return {c.kind for c in cautions(result)}


def test_a_slot_limit_that_never_binds_is_a_caution() -> None:
    roomy = one("scarcity", {"strategy.admission.slots_per_day": 500})
    assert "limit never binds" in kinds(roomy)


def test_a_slot_limit_that_binds_is_no_caution() -> None:
    tight = one("scarcity", {"strategy.admission.slots_per_day": 3})
    assert "limit never binds" not in kinds(tight)


def test_an_adaptive_level_pinned_at_its_floor_is_a_caution() -> None:
    """A margin target nobody reaches pushes the partner's level to its floor and keeps it
    there."""
    greedy = one("partner", {"strategy.adaptation.min_margin": 0.99})
    assert "adaptation pinned" in kinds(greedy)


def test_an_adaptive_level_that_moves_is_no_caution() -> None:
    moving = one("partner", {"strategy.adaptation.min_margin": -1.0,
                             "strategy.adaptation.target": 8.6})
    levels = {x for r in moving.results[0].runs for x in r.daily["service_level"][45:]}
    assert len(levels) > 2
    assert "adaptation pinned" not in kinds(moving)


def test_a_customer_base_still_growing_is_not_steady() -> None:
    growing = one("god", {"run.days": 40, "run.warmup_days": 0})
    assert min(drift(growing.results[0])) > 0.1
    assert "not steady" in kinds(growing)


def test_strategies_that_cannot_be_told_apart_are_too_close_to_call() -> None:
    a = tiny_scenario("god", {**STEADY, "run.name": "a"})
    b = tiny_scenario("god", {**STEADY, "run.name": "b", "strategy.tiers[0].delight_chance": 0.32})
    close = compare([a, b], jobs=1)
    caution = too_close_to_call(close)
    assert caution is not None
    needed = int(re.search(r"about (\d+) replications", caution.text).group(1))  # type: ignore[union-attr]
    d = paired(close, "a", "b", "profit")
    assert needed == pytest.approx(4 * (d.half_width / d.mean) ** 2, rel=0.3)


@pytest.fixture(scope="module")
def god_vs_tiered() -> ComparisonResult:
    specs = [tiny_scenario(name, {**STEADY, "run.name": name}) for name in ("god", "tiered")]
    return compare(specs, jobs=1)


def test_a_clear_winner_is_not_too_close_to_call(god_vs_tiered: ComparisonResult) -> None:
    first, second = ranking(god_vs_tiered)
    d = paired(god_vs_tiered, first, second, "profit")
    assert not d.low <= 0 <= d.high
    assert too_close_to_call(god_vs_tiered) is None


def test_a_trade_off_is_stated_only_where_the_other_strategy_is_clearly_better(
        god_vs_tiered: ComparisonResult) -> None:
    winner, other = ranking(god_vs_tiered)
    said = " ".join(trade_offs(god_vs_tiered))
    labels = god_vs_tiered.labels
    for key, words in (("mean_wait_h", "keeps waits shorter"),
                       ("mean_satisfaction", "more satisfied"),
                       ("customer_retention", "larger share of its customers")):
        d = paired(god_vs_tiered, other, winner, key)
        better = d.high < 0 if key == "mean_wait_h" else d.low > 0
        assert (words in said) == better, (key, d)
    if "keeps waits shorter" in said:
        assert "staff busy" in said  # short waits are never said without how busy staff were
    if "larger share" in said:
        assert "customers served" in said  # a rate is said with its base
    assert f"<strong>{labels[other]}</strong>" in said or not said
