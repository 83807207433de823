"""A tournament of strategies on one market: every firm slot takes every strategy.

``simrun tournament market.toml --strategies god,tiered,scarcity,partner`` (or the
file's ``[tournament]`` table) runs every profile (each slot of the market's firms
taking each strategy, self-pairings included; each firm keeps its own business) for
the same replications on the same seed, so every profile meets the same customers
(common random numbers) and payoffs are paired across profiles. Each run is stored
as it finishes (runs.sqlite, as a sweep's: ``--resume`` skips what is stored) and runs
over local processes or a Dask cluster. The payoff of a slot is its profit; the game
theory is :mod:`sim.experiment.games`.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.experiment.executors import Outcome, execute_into
from sim.experiment.games import Profile, best_responses, imitation_survivor, profiles, pure_nash
from sim.experiment.lock import locked
from sim.experiment.store import open_for_run
from sim.metrics import Estimate, estimate
from sim.model.market import run_market_replication
from sim.scenario.errors import Issue, ScenarioError, suggest
from sim.scenario.market import MarketScenario, market_from_raw, market_raw
from sim.strategies import preset_names

MAX_PROFILES = 256
STORE_NAME = "runs.sqlite"
PAYOFF = "profit"


@dataclass(frozen=True)
class Tournament:
    market: MarketScenario
    strategies: tuple[str, ...]
    markets: tuple[MarketScenario, ...]
    """One market per profile, in the order of :func:`profiles`."""

    @property
    def slots(self) -> int:
        return len(self.market.names)

    @property
    def profiles(self) -> list[Profile]:
        return profiles(len(self.strategies), self.slots)


def tournament_strategies(raw: Any, source: str, given: Sequence[str] | None) -> tuple[str, ...]:
    """The strategies: ``--strategies`` if given, else ``[tournament] strategies``."""
    where = "--strategies" if given else "tournament.strategies"
    names = list(given) if given else (raw.get("strategies") if isinstance(raw, dict) else None)
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise ScenarioError(source, [Issue(where, "must name at least two strategies (presets: "
                                           + ", ".join(preset_names()) + ")", names)])
    issues = [Issue(where, "unknown preset", name, suggest(name, preset_names()))
              for name in names if name not in preset_names()]
    issues += [Issue(where, "names a strategy twice", name)
               for i, name in enumerate(names) if name in names[:i]]
    if issues:
        raise ScenarioError(source, issues)
    return tuple(names)


def build_tournament(market: MarketScenario, strategies: Sequence[str]) -> Tournament:
    """Every profile's market: the file's market with each slot's strategy replaced by a
    preset (the firm's business, name and everything else kept)."""
    k, m = len(strategies), len(market.names)
    if market.warmup_auto:
        raise ScenarioError(market.source, [Issue(
            "run.warmup_days", '"auto" is for \'simrun FILE\': every pairing would need its '
            "own pilot and measure its own window; run 'simrun FILE' on the market once (it "
            "prints the warm-up found) and set that number", "auto")])
    if k ** m > MAX_PROFILES:
        raise ScenarioError(market.source, [Issue("firms", f"{k} strategies on {m} firms make "
                                                  f"{k ** m} profiles; at most {MAX_PROFILES}")])
    base = market_raw(market)
    markets = []
    for profile in profiles(k, m):
        raw = {**base, "firms": [{**firm, "strategy": {"preset": strategies[s]}}
                                 for firm, s in zip(base["firms"], profile, strict=True)]}
        markets.append(market_from_raw(raw, source=market.source))
    return Tournament(market, tuple(strategies), tuple(markets))


def execute_profile(task: tuple[int, str, int], market: MarketScenario) -> Outcome:
    """One replication of one profile in a worker: each slot's profit."""
    try:
        result = run_market_replication(market, task[2])
    except Exception:  # noqa: BLE001 -- a tournament records every failure and goes on
        return Outcome(task, None, traceback.format_exc())
    return Outcome(task, {f"{PAYOFF}:{i}": firm.metrics[PAYOFF]
                          for i, firm in enumerate(result.firms)})


def fingerprint(t: Tournament) -> str:
    from sim.experiment.market_output import market_toml

    digest = hashlib.sha256()
    for profile, market in zip(t.profiles, t.markets, strict=True):
        digest.update(repr(profile).encode())
        digest.update(market_toml(market).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class TournamentResult:
    tournament: Tournament
    values: dict[int, dict[int, list[float]]]
    """profile index -> slot -> payoff per replication (replication order)."""
    failures: list[tuple[int, str, int, str]]
    ran: int

    @property
    def k(self) -> int:
        return len(self.tournament.strategies)

    @property
    def m(self) -> int:
        return self.tournament.slots

    def complete(self) -> bool:
        n = self.tournament.market.run.replications
        return len(self.values) == len(self.tournament.profiles) and all(
            len(v) == n for slots in self.values.values() for v in slots.values())

    def payoff(self, profile: Profile, slot: int) -> Estimate:
        index = self.tournament.profiles.index(profile)
        return estimate(self.values[index][slot])

    def means(self) -> dict[Profile, tuple[float, ...]]:
        return {p: tuple(self.payoff(p, s).mean for s in range(self.m))
                for p in self.tournament.profiles}

    def paired(self, a: Profile, b: Profile, slot: int) -> Estimate:
        """Slot's payoff under profile a minus under b, replication by replication (the
        same customers: common random numbers)."""
        pa = self.values[self.tournament.profiles.index(a)][slot]
        pb = self.values[self.tournament.profiles.index(b)][slot]
        return estimate([x - y for x, y in zip(pa, pb, strict=True)])

    def best_responses(self) -> dict[tuple[int, Profile], set[int]]:
        return best_responses(self.means(), self.k, self.m)

    def clear(self, slot: int, others: Profile, best: int) -> Estimate | None:
        """The best response's paired edge over the runner-up (None with one strategy)."""
        from sim.experiment.games import with_slot

        means = [(self.payoff(with_slot(others, slot, s), slot).mean, s) for s in range(self.k)]
        runners = sorted((v, s) for v, s in means if s != best)
        if not runners:
            return None
        runner = runners[-1][1]
        return self.paired(with_slot(others, slot, best), with_slot(others, slot, runner), slot)

    def nash(self) -> list[Profile]:
        return pure_nash(self.means(), self.k, self.m)

    def survivor(self) -> tuple[int, list[int]]:
        return imitation_survivor(self.means(), self.k, self.m)


def run_tournament(t: Tournament, folder: Path, *, jobs: int = 1, dask: str | None = None,
                   resume: bool = False, fresh: bool = False,
                   progress: Callable[[Outcome], None] | None = None,
                   on_start: Callable[[int, int], None] | None = None) -> TournamentResult:
    """Run the profiles' replications the store does not hold yet (folder locked)."""
    with locked(folder):
        mark = fingerprint(t)
        store = open_for_run(folder / STORE_NAME, mark, fresh=fresh, resume=resume,
                             what="tournament", changed="a different tournament (the market "
                                                        "or the strategies changed)")
        try:
            store.start(mark, [{"profile": [t.strategies[s] for s in p]} for p in t.profiles])
            finished = store.finished()
            n = t.market.run.replications
            tasks = [(i, "", rep) for i in range(len(t.markets)) for rep in range(n)]
            if on_start:
                on_start(len(tasks), len(finished))
            todo = ((task, t.markets[task[0]]) for task in tasks if task not in finished)
            ran = execute_into(store, todo, jobs=jobs, dask=dask, function=execute_profile,
                               progress=progress)
            values: dict[int, dict[int, list[float]]] = {}
            for point, _, _, metrics in store.runs():
                slots = values.setdefault(point, {s: [] for s in range(t.slots)})
                for s in range(t.slots):
                    slots[s].append(metrics[f"{PAYOFF}:{s}"])
            failures = store.failures()
        finally:
            store.close()
    return TournamentResult(t, values, failures, ran)
