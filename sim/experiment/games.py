"""Pure-strategy game theory on a payoff table: best responses, pure Nash equilibria and
the strategy that survives repeated imitation (docs/model.md, "Tournament").

A game has ``k`` strategies and ``m`` players (a market's firm slots); a profile is a
tuple giving each slot's strategy index; ``payoff[profile][slot]`` is that slot's payoff.
Nothing here knows about simulation: the tournament hands in mean payoffs, and the
functions are tested on textbook games (tests/test_games.py) before they are trusted on
simulated ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

Profile = tuple[int, ...]
Payoffs = Mapping[Profile, Sequence[float]]


def profiles(k: int, m: int) -> list[Profile]:
    """Every assignment of k strategies to m slots, in lexicographic order."""
    return list(itertools.product(range(k), repeat=m))


def with_slot(profile: Profile, slot: int, strategy: int) -> Profile:
    return (*profile[:slot], strategy, *profile[slot + 1:])


def best_responses(payoff: Payoffs, k: int, m: int) -> dict[tuple[int, Profile], set[int]]:
    """For each slot and each profile of the others (the slot's own entry set to 0), the
    strategies that maximise the slot's payoff (ties: all of them)."""
    found: dict[tuple[int, Profile], set[int]] = {}
    for slot in range(m):
        for profile in profiles(k, m):
            if profile[slot] != 0:
                continue
            values = [payoff[with_slot(profile, slot, s)][slot] for s in range(k)]
            top = max(values)
            found[slot, profile] = {s for s, v in enumerate(values) if v == top}
    return found


def pure_nash(payoff: Payoffs, k: int, m: int) -> list[Profile]:
    """Profiles in which every slot plays a best response to the others."""
    responses = best_responses(payoff, k, m)
    return [profile for profile in profiles(k, m)
            if all(profile[slot] in responses[slot, with_slot(profile, slot, 0)]
                   for slot in range(m))]


def fitness(payoff: Payoffs, m: int, alive: Sequence[int], strategy: int) -> float:
    """Mean payoff of a firm playing ``strategy`` in any slot, its rivals' strategies
    drawn uniformly from ``alive``."""
    total, count = 0.0, 0
    for slot in range(m):
        for others in itertools.product(alive, repeat=m - 1):
            profile = (*others[:slot], strategy, *others[slot:])
            total += payoff[profile][slot]
            count += 1
    return total / count


def imitation_survivor(payoff: Payoffs, k: int, m: int) -> tuple[int, list[int]]:
    """Repeated imitation: while more than one strategy is played, the one with the lowest
    fitness among those still played (ties: the later one in the list) is abandoned, its
    firms imitating the others. Returns the survivor and the order of abandonment."""
    alive = list(range(k))
    gone: list[int] = []
    while len(alive) > 1:
        scores = [(fitness(payoff, m, alive, s), -s) for s in alive]
        worst = -min(scores)[1]
        alive.remove(worst)
        gone.append(worst)
    return alive[0], gone
