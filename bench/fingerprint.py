"""Fingerprints of every field of a set of results: the check that a speed change left
the model's results bit-identical.

Runs 34 replications, 0 and 1 of 17 scenarios: 14 small ones (every preset, with and
without abuse, every assignment, recovery and refund rule) and the scenario files
``tiered``, ``scarcity-monopoly`` and ``partner`` at 240 days and prints, per scenario,
a SHA-256 prefix of each replication's every ``RunResult`` field (numbers by ``repr``,
so to the last bit; arrays and tuples alike by their values). Then replications 0 and 1
of 3 small markets of rival firms (spillover and the outside option; imitation of whole
strategies; three firms imitating at rate 0.5), each replication's every
``MarketRunResult`` field, every firm's result included.

Usage::

    python bench/fingerprint.py > before.json      # on the old code
    python bench/fingerprint.py > after.json       # on the new code
    cmp before.json after.json                     # no output: bit-identical

``PYTHONPATH=/other/checkout python bench/fingerprint.py`` fingerprints another version
of ``sim`` with the same cases (the small scenarios come from ``tests/helpers.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted((key, plain(item)) for key, item in value.items())
    if hasattr(value, "tolist"):  # array('d') from the engine
        return ("array", value.tolist())
    return value


def fingerprint(run: Any) -> str:
    """A RunResult's every field; any other value by its plain form."""
    if not dataclasses.is_dataclass(run):
        return hashlib.sha256(repr(plain(run)).encode()).hexdigest()[:16]
    fields = [(f.name, plain(getattr(run, f.name))) for f in dataclasses.fields(run)]
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:16]


def cases() -> dict[str, Any]:
    from helpers import tiny_scenario

    from sim.scenario import load_scenario

    out: dict[str, Any] = {}
    for preset in ("god", "tiered", "scarcity", "partner"):
        out[f"tiny-{preset}"] = tiny_scenario(preset, {"run.days": 60, "run.warmup_days": 5})
        out[f"tiny-{preset}-abuse"] = tiny_scenario(preset, {
            "run.days": 50, "segments[*].abuse_propensity": 0.2,
            "segments[*].unreasonable_share": 0.5})
    out["tiny-by-segment"] = tiny_scenario(
        {"preset": "tiered", "assignment": {"kind": "by_segment", "tiers": {
            "regulars": "basic", "premium": "premium"}}}, {"run.days": 50})
    out["tiny-by-spend"] = tiny_scenario(
        {"preset": "tiered", "assignment": "by_spend"},
        {"run.days": 50, "strategy.tiers[1].min_spend": 100.0,
         "strategy.tiers[2].min_spend": 300.0})
    failing = {"run.days": 50, "business.failure_rate": 0.3}
    out["tiny-no-recovery"] = tiny_scenario({"preset": "god", "recovery": "none"}, failing)
    out["tiny-apology"] = tiny_scenario({"preset": "god", "recovery": "apologize"}, {
        **failing, "behaviour.recovery_restores_loyalty": True})
    out["tiny-never-refund"] = tiny_scenario({"preset": "god", "recovery": "none"}, {
        **failing, "strategy.tiers[0].refunds": "never"})
    out["tiny-verified"] = tiny_scenario({"preset": "god", "recovery": "apologize"}, {
        **failing, "strategy.tiers[0].refunds": "verified",
        "strategy.tiers[0].requests": "reasonable"})
    for name in ("tiered", "scarcity-monopoly", "partner"):
        out[f"file-{name}"] = load_scenario(ROOT / "scenarios" / f"{name}.toml",
                                            ["run.days=240", "run.warmup_days=60"])
    return out


def market_cases() -> dict[str, Any]:
    from market_helpers import tiny_market

    imitation = {"run.days": 90, "run.warmup_days": 10, "run.retention_period_days": 20,
                 "market.imitation_rate": 1.0, "market.imitation_period_days": 10,
                 "market.imitation_lag_days": 3, "market.imitation_cost": 200.0}
    return {
        "market-spillover-outside": tiny_market(
            [("A", "scarcity"), ("B", "partner", {"servers": 1}), ("C", "god")],
            {"market.search_limit": 3, "market.new_customers_per_day": 25.0,
             "market.outside_option": True, "market.outside_surplus": 10.0,
             "run.retention_period_days": 10}),
        "market-imitation": tiny_market([("L", "tiered"), ("C", "god")], imitation),
        "market-imitation-3": tiny_market(
            [("L", "tiered"), ("C", "god"), ("S", "scarcity")],
            {**imitation, "market.imitation_rate": 0.5}),
    }


def market_fingerprint(run: Any) -> str:
    fields = [(f.name, fingerprint(getattr(run, f.name)) if f.name != "firms"
               else [fingerprint(firm) for firm in run.firms])
              for f in dataclasses.fields(run)]
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:16]


def main() -> None:
    from sim.model.engine import run_replication
    from sim.model.market import run_market_replication

    prints = {name: [fingerprint(run_replication(scenario, r)) for r in range(2)]
              for name, scenario in cases().items()}
    prints |= {name: [market_fingerprint(run_market_replication(market, r)) for r in range(2)]
               for name, market in market_cases().items()}
    json.dump(prints, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
