"""Shapley values of a small game, computed for every replication at once.

A game gives each coalition (a set of players) a value; here a value is an array with
one entry per replication, so one pass of the formulas yields every replication's
Shapley values and the contributions add up replication by replication.

* Exact (up to ``exact_max_players`` players): over all 2^k coalitions, player i gets
  the sum over coalitions S without i of |S|! (k - |S| - 1)! / k! (v(S + i) - v(S)).
* Sampled (more players): the mean, over permutations of the players, of each player's
  marginal contribution v(players before it, and it) - v(players before it). Along
  one permutation the contributions telescope to v(all) - v(none), so efficiency still
  holds exactly, replication by replication. Permutations come in antithetic pairs (a
  permutation and its reverse) and are drawn from a generator seeded with the run's
  seed, so the same seed gives the same coalitions, runs and numbers.

Nothing here runs a simulation: :class:`ShapleyPlan` says which coalitions are needed
and turns their values into Shapley values.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Coalition = frozenset[str]
EXACT_MAX_PLAYERS = 6
"""Up to this many players every coalition is run (64); beyond, permutations are sampled."""
PERMUTATIONS = 24
"""Permutations sampled beyond EXACT_MAX_PLAYERS (12 antithetic pairs)."""
_STREAM = 0x5E4B
"""Keeps the permutation generator apart from any stream derived from the same seed."""


@dataclass(frozen=True)
class ShapleyPlan:
    """The players, and the permutations to sample (none: exact enumeration)."""

    players: tuple[str, ...]
    permutations: tuple[tuple[str, ...], ...] = ()

    @property
    def exact(self) -> bool:
        return not self.permutations

    @property
    def coalitions(self) -> tuple[Coalition, ...]:
        """Every coalition whose value is needed, smallest first, each once."""
        if self.exact:
            found = [frozenset(c) for size in range(len(self.players) + 1)
                     for c in itertools.combinations(self.players, size)]
        else:
            found = [frozenset(order[:size]) for order in self.permutations
                     for size in range(len(self.players) + 1)]
        return tuple(sorted(dict.fromkeys(found), key=lambda c: (len(c), self._rank(c))))

    def _rank(self, coalition: Coalition) -> list[int]:
        return sorted(self.players.index(p) for p in coalition)

    def values(self, game: Mapping[Coalition, np.ndarray]) -> dict[str, np.ndarray]:
        """Each player's Shapley value (per replication) from the coalitions' values."""
        if self.exact:
            return {p: self._exact(p, game) for p in self.players}
        total = {p: np.zeros_like(game[frozenset()]) for p in self.players}
        for order in self.permutations:
            for position, player in enumerate(order):
                before = frozenset(order[:position])
                total[player] = total[player] + game[before | {player}] - game[before]
        return {p: total[p] / len(self.permutations) for p in self.players}

    def _exact(self, player: str, game: Mapping[Coalition, np.ndarray]) -> np.ndarray:
        k = len(self.players)
        others = [p for p in self.players if p != player]
        value = np.zeros_like(game[frozenset()])
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for members in itertools.combinations(others, size):
                coalition = frozenset(members)
                value = value + weight * (game[coalition | {player}] - game[coalition])
        return value


def plan(players: Sequence[str], *, seed: int, exact_max_players: int = EXACT_MAX_PLAYERS,
         permutations: int = PERMUTATIONS) -> ShapleyPlan:
    """Exact enumeration for few players; else ``permutations`` sampled ones (rounded up
    to whole antithetic pairs)."""
    players = tuple(players)
    if len(players) <= exact_max_players:
        return ShapleyPlan(players)
    rng = np.random.default_rng((_STREAM, seed))
    orders: list[tuple[str, ...]] = []
    for _ in range(math.ceil(permutations / 2)):
        order = tuple(players[i] for i in rng.permutation(len(players)))
        orders.extend((order, order[::-1]))
    return ShapleyPlan(players, tuple(orders))
