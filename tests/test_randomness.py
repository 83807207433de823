"""Randomness (MODEL.md): common random numbers per decision, and same seed, same bytes.

The k-th visit of customer i must meet the same draws under every strategy, whatever
happened to other customers; one seed must give identical result files whatever runs
them; replications must be independent of each other and of which ones ran.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from click.testing import CliRunner
from helpers import tiny_raw, tiny_scenario

from sim.cli import main
from sim.experiment.runner import run_scenario
from sim.model import engine
from sim.model.customer import Customer
from sim.model.engine import Key
from sim.model.events import VisitEvent
from sim.model.rng import (
    A_ABUSE,
    A_LOYALTY,
    A_REFERRAL,
    A_REQUEST_RATE,
    A_UNREASONABLE,
    Streams,
    poisson_from_uniform,
    uniforms,
)
from sim.scenario import Scenario

FILES = ("summary.json", "replications.csv", "daily.csv", "scenario.toml")
MARKET = {"run.days": 60, "run.warmup_days": 0}
# Two strategies that treat early customers very differently: "god" admits everyone;
# the same generous service rationed to 5 visits a day turns most of them away. Both
# make promoters, so both have referred customers to compare.
GOD = tiny_scenario("god", MARKET)
SCARCE = tiny_scenario("god", {**MARKET, "strategy.admission": {
    "kind": "daily_slots", "slots_per_day": 5, "waitlist": False}})


class Witness:
    """What one replication showed the tests, by *identity* rather than by key.

    A new customer is identified by the moment it first arrived (candidates arrive at
    continuous times, so no two share one); a referred customer by its referrer's
    identity and the ordinal of the referral among that referrer's referrals, counted
    here as they happen. Keys are the engine's business: comparing draws by key would
    hold by construction, whereas a key that stops naming the same person under two
    strategies shows up here as one person with two sets of draws.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.identity: dict[Key, tuple[Any, ...]] = {}
        self.attributes: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.draws: dict[tuple[tuple[Any, ...], int], list[float]] = {}
        self.visits: dict[tuple[Any, ...], int] = defaultdict(int)
        self.referral_origin: dict[Key, tuple[Any, ...]] = {}
        self.referrals_made: dict[tuple[Any, ...], int] = defaultdict(int)
        self.result = engine.run_replication(scenario, 0, observer=self)

    def acquired(self, key: Key, now: float, customer: Customer) -> None:
        who = self.referral_origin.get(key, ("new", now))
        self.identity[key] = who
        self.attributes[who] = (
            customer.segment, customer.wtp, customer.value_of_time_per_h,
            customer.wait_tolerance_h, customer.request_rate, customer.unreasonable_share,
            customer.abuse_propensity, customer.referral_propensity, customer.loyalty)

    def referred(self, referrer: Key, key: Key) -> None:
        source = self.identity[referrer]
        self.referral_origin[key] = ("referred", source, self.referrals_made[source])
        self.referrals_made[source] += 1

    def visit(self, key: Key, k: int, draws: list[float]) -> None:
        who = self.identity[key]
        self.draws[who, k] = list(draws)
        self.visits[who] = max(self.visits[who], k + 1)

    def visited(self, event: VisitEvent) -> None:
        pass

    def new_customers(self) -> set[tuple[Any, ...]]:
        return {who for who in self.attributes if who[0] == "new"}


@pytest.fixture(scope="module")
def god_and_scarce() -> tuple[Witness, Witness]:
    return Witness(GOD), Witness(SCARCE)


def test_the_two_strategies_really_lead_customers_to_different_fates(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    assert scarce.result.metrics["turned_away"] > 100
    assert god.result.metrics["served"] > 2 * scarce.result.metrics["served"]
    # reputations differ, so one strategy accepts candidates the other does not: the
    # i-th customer accepted is not the same candidate under both
    assert len(god.new_customers() ^ scarce.new_customers()) >= 20


def test_the_same_candidate_arrives_at_the_same_moment_as_the_same_person(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    shared = god.new_customers() & scarce.new_customers()
    assert len(shared) >= 100
    assert all(god.attributes[who] == scarce.attributes[who] for who in shared)
    assert len({god.attributes[who][0] for who in shared}) == len(GOD.segments)


def test_the_rth_referral_of_a_customer_is_the_same_person_under_every_strategy(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    referred = {who for who in god.attributes.keys() & scarce.attributes.keys()
                if who[0] == "referred"}
    assert len(referred) >= 10
    assert all(god.attributes[who] == scarce.attributes[who] for who in referred)


def test_the_kth_visit_of_a_customer_meets_the_same_draws_under_every_strategy(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    god, scarce = god_and_scarce
    shared = god.draws.keys() & scarce.draws.keys()
    assert all(god.draws[visit] == scarce.draws[visit] for visit in shared)
    assert len({who for who, _ in shared}) >= 100
    assert sum(1 for _, k in shared if k >= 1) >= 20
    assert any(who[0] == "referred" for who, _ in shared)


def test_a_customer_keeps_its_draws_when_another_customer_met_another_fate(
        god_and_scarce: tuple[Witness, Witness]) -> None:
    """Visits of people who lived through different histories (a different number of
    visits of someone else in between) still meet the same draws."""
    god, scarce = god_and_scarce
    differently_treated = {who for who in god.visits.keys() & scarce.visits.keys()
                           if god.visits[who] != scarce.visits[who]}
    assert len(differently_treated) >= 20
    shared = god.draws.keys() & scarce.draws.keys()
    later = [(who, k) for who, k in shared if who not in differently_treated]
    assert len(later) >= 20
    assert all(god.draws[v] == scarce.draws[v] for v in later)


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


# --- the draws themselves, as docs/model.md ("Randomness") defines them ---------------


def documented_block(seed: int, replication: int, key: tuple[int, ...], label: bytes
                     ) -> list[float]:
    """docs/model.md's recipe, written out independently of sim/model/rng.py."""
    root = np.random.SeedSequence(seed, spawn_key=(replication, 1)).generate_state(
        8, np.uint32).tobytes()
    digest = hashlib.blake2b(struct.pack(f"<{len(key) + 1}q", len(key), *key) + label,
                             digest_size=64, key=root, person=b"simrun.customer").digest()
    return [(w + 0.5) / 2**32 for w in struct.unpack("<16I", digest)]


@pytest.mark.parametrize("key", [(0, 0), (0, 41), (1, 0, 41, 2)])
def test_a_customers_draws_are_the_documented_keyed_hash(key: tuple[int, ...]) -> None:
    draws = Streams(seed=11, replication=3).customer(key)
    assert uniforms(draws.attributes()) == documented_block(11, 3, key, b"A")
    for k in (0, 1, 300, 1023, 1024, 5000):  # labels made once up to 1023, then per call
        assert uniforms(draws.visit(k)) == documented_block(11, 3, key, b"V" + k.to_bytes(4, "little"))


def test_candidates_come_from_the_documented_arrival_stream() -> None:
    expected = np.random.default_rng(np.random.SeedSequence(11, spawn_key=(3, 0))).random(8)
    assert list(Streams(seed=11, replication=3).arrivals().random(8)) == list(expected)


def test_words_become_uniforms_strictly_inside_zero_and_one() -> None:
    assert uniforms((0, 2**31, 2**32 - 1)) == [2**-33, 0.5 + 2**-33, 1 - 2**-33]


def poisson_cdf(mean: float, k: int) -> float:
    return math.fsum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k + 1))


@pytest.mark.parametrize("mean", [0.3, 1.0, 2.5])
def test_a_poisson_draw_inverts_the_poisson_cdf(mean: float) -> None:
    """The smallest k whose CDF exceeds u: u in [CDF(k-1), CDF(k)) gives k."""
    for k in range(8):
        low = poisson_cdf(mean, k - 1) if k else 0.0
        high = poisson_cdf(mean, k)
        for u in (low + 1e-9, (low + high) / 2, high - 1e-9):
            assert poisson_from_uniform(mean, u) == k, (mean, k, u)
    assert poisson_from_uniform(0.0, 0.999) == 0
    assert poisson_from_uniform(-1.0, 0.999) == 0


def test_a_customers_traits_are_its_segments_distributions_at_its_uniforms() -> None:
    """Traits drawn uniform on [0, 1] are the uniforms of their slots of the customer's
    attribute block themselves (a uniform one step of 2^-32 off would show)."""
    uniform = {"dist": "uniform", "low": 0.0, "high": 1.0}
    traits = ("request_rate", "unreasonable_share", "abuse_propensity",
              "referral_propensity", "loyalty")
    scenario = tiny_scenario("god", {f"segments[*].{name}": uniform for name in traits})
    streams = Streams(scenario.run.seed, 0)
    for key in [(0, 0), (0, 1), (1, 0, 0, 0)]:
        words = streams.customer(key).attributes()
        u = uniforms(words)
        c = Customer(key, words, scenario.segments, (0.6, 1.0), 0.0, measured=True)
        assert [getattr(c, name) for name in traits] == [
            u[slot] for slot in (A_REQUEST_RATE, A_UNREASONABLE, A_ABUSE, A_REFERRAL, A_LOYALTY)]
