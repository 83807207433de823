"""Randomness (MODEL.md): common random numbers per decision, and same seed, same bytes.

The k-th visit of customer i must meet the same draws under every strategy, whatever
happened to other customers; one seed must give identical result files whatever runs
them; replications must be independent of each other and of which ones ran.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner
from helpers import tiny_raw, tiny_scenario

from sim.cli import main
from sim.experiment.runner import run_scenario
from sim.model import engine
from sim.model.rng import NEW
from sim.scenario import Scenario

FILES = ("summary.json", "replications.csv", "daily.csv", "scenario.toml")
MARKET = {"run.days": 60, "run.warmup_days": 0}
# Two strategies that treat early customers very differently: "god" admits everyone at
# 60; "scarcity" charges 85 and admits 3 visits a day, turning the rest away.
GOD = tiny_scenario("god", MARKET)
SCARCE = tiny_scenario("scarcity", {**MARKET, "strategy.admission": {
    "kind": "daily_slots", "slots_per_day": 3, "waitlist": False}})


class Witness:
    """What one replication showed the tests: draws per visit, attributes per customer."""

    def __init__(self, scenario: Scenario) -> None:
        self.draws: dict[tuple[tuple[int, ...], int], list[float]] = {}
        self.visits: dict[tuple[int, ...], int] = defaultdict(int)
        self.attributes: dict[tuple[int, ...], tuple[Any, ...]] = {}
        witness = self

        class RecordedCustomer(engine.Customer):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                witness.attributes[self.key] = (
                    self.segment, self.wtp, self.value_of_time_per_h, self.wait_tolerance_h,
                    self.request_rate, self.unreasonable_share, self.abuse_propensity,
                    self.referral_propensity, self.loyalty)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(engine, "Customer", RecordedCustomer)
            self.result = engine.run_replication(scenario, 0, observer=self.observe)

    def observe(self, key: tuple[int, ...], visit: int, draws: list[float]) -> None:
        self.draws[key, visit] = list(draws)
        self.visits[key] = max(self.visits[key], visit + 1)


@pytest.fixture(scope="module")
def god_and_scarce() -> tuple[Witness, Witness]:
    return Witness(GOD), Witness(SCARCE)


def test_the_two_strategies_really_lead_customers_to_different_fates(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    assert scarce.result.metrics["turned_away"] > 100
    assert god.result.metrics["served"] > 2 * scarce.result.metrics["served"]


def test_the_kth_visit_of_a_customer_meets_the_same_draws_under_every_strategy(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    shared = god.draws.keys() & scarce.draws.keys()
    assert all(god.draws[visit] == scarce.draws[visit] for visit in shared)
    assert len({key for key, _ in shared}) >= 100
    assert sum(1 for _, k in shared if k >= 1) >= 20


def test_a_customer_keeps_its_draws_when_its_predecessor_met_another_fate(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    shared = god.draws.keys() & scarce.draws.keys()
    after_a_different_neighbour = [
        (key, k) for key, k in shared
        if key[0] == NEW and god.visits.get((NEW, key[1] - 1)) != scarce.visits.get(
            (NEW, key[1] - 1))]
    assert len(after_a_different_neighbour) >= 20
    assert all(god.draws[v] == scarce.draws[v] for v in after_a_different_neighbour)


def test_candidate_i_gets_the_same_segment_and_attributes_under_every_strategy(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    shared = god.attributes.keys() & scarce.attributes.keys()
    assert sum(1 for key in shared if key[0] == NEW) >= 100
    assert all(god.attributes[key] == scarce.attributes[key] for key in shared)
    assert len({god.attributes[key][0] for key in shared}) == len(GOD.segments)


def test_different_replications_differ() -> None:
    first, second = run_scenario(GOD, replications=[0, 1], jobs=1).runs
    assert first.metrics["arrivals"] != second.metrics["arrivals"]
    assert first.metrics["profit"] != second.metrics["profit"]


def test_a_replication_does_not_depend_on_which_others_ran() -> None:
    scenario = tiny_scenario("tiered", {"run.days": 30})
    together = run_scenario(scenario, replications=[0, 1, 2], jobs=1).runs[2]
    alone = run_scenario(scenario, replications=[2], jobs=1).runs[0]
    assert together.replication == alone.replication == 2
    assert repr(together) == repr(alone)  # repr: NaN metrics compare equal as text


# --- the command line: same seed, same bytes -----------------------------------------


def simrun(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def read(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few days of the tiered strategy, named after its file (no run.name)."""
    raw = tiny_raw("tiered", {"run.days": 12, "run.warmup_days": 2})
    del raw["run"]["name"]
    path = tmp_path_factory.mktemp("scenario") / "small.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def one_job(small_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one_job")
    simrun("run", str(small_file), "--out", str(out), "-j", "1", "-n", "3", "-q")
    return out


def test_the_same_seed_gives_the_same_files_byte_for_byte_whatever_the_jobs(
        small_file: Path, one_job: Path, tmp_path: Path) -> None:
    simrun("run", str(small_file), "--out", str(tmp_path), "-j", "2", "-n", "3", "-q")
    assert read(tmp_path) == read(one_job)


def test_a_different_seed_gives_different_results(
        small_file: Path, one_job: Path, tmp_path: Path) -> None:
    simrun("run", str(small_file), "--out", str(tmp_path), "-j", "1", "-n", "3", "-q",
           "--seed", "12")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seed"] == 12
    assert summary["metrics"] != json.loads((one_job / "summary.json").read_text())["metrics"]
    assert (tmp_path / "replications.csv").read_bytes() != (one_job / "replications.csv").read_bytes()


def test_running_the_written_scenario_toml_reproduces_the_run(
        one_job: Path, tmp_path: Path) -> None:
    simrun(str(one_job / "scenario.toml"), "--out", str(tmp_path), "-q")
    assert read(tmp_path) == read(one_job)
    assert json.loads((tmp_path / "summary.json").read_text())["scenario"] == "small"
