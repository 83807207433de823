"""The equilibrium finder on textbook games, before it is trusted on simulated payoffs."""

from __future__ import annotations

from sim.experiment.games import best_responses, imitation_survivor, profiles, pure_nash

C, D = 0, 1
PRISONERS = {(C, C): (3, 3), (C, D): (0, 5), (D, C): (5, 0), (D, D): (1, 1)}
A, B = 0, 1
COORDINATION = {(A, A): (2, 2), (A, B): (0, 0), (B, A): (0, 0), (B, B): (1, 1)}
R, P, S = 0, 1, 2
BEATS = {(R, S), (S, P), (P, R)}
RPS = {(a, b): (1 if (a, b) in BEATS else -1 if (b, a) in BEATS else 0,
                1 if (b, a) in BEATS else -1 if (a, b) in BEATS else 0)
       for a in range(3) for b in range(3)}


def test_prisoners_dilemma_defection_is_the_best_response_and_the_only_equilibrium() -> None:
    responses = best_responses(PRISONERS, 2, 2)
    assert responses[0, (0, C)] == {D}  # slot 0 facing a cooperator
    assert responses[0, (0, D)] == {D}
    assert responses[1, (C, 0)] == {D}
    assert pure_nash(PRISONERS, 2, 2) == [(D, D)]
    assert imitation_survivor(PRISONERS, 2, 2) == (D, [C])


def test_a_coordination_game_has_both_equilibria_and_imitation_picks_the_better() -> None:
    assert pure_nash(COORDINATION, 2, 2) == [(A, A), (B, B)]
    assert best_responses(COORDINATION, 2, 2)[0, (0, B)] == {B}
    assert imitation_survivor(COORDINATION, 2, 2) == (A, [B])


def test_rock_paper_scissors_has_no_pure_equilibrium() -> None:
    assert pure_nash(RPS, 3, 2) == []
    assert best_responses(RPS, 3, 2)[0, (0, R)] == {P}


def test_three_firms_each_gain_from_defecting_alone() -> None:
    """A three-player dilemma: each slot earns 2 per cooperating rival, plus 1 if it
    defects; everyone defecting is the one equilibrium."""
    payoff = {p: tuple(2 * sum(1 for j, s in enumerate(p) if j != i and s == C)
                       + (p[i] == D) for i in range(3)) for p in profiles(2, 3)}
    assert pure_nash(payoff, 2, 3) == [(D, D, D)]
    assert imitation_survivor(payoff, 2, 3)[0] == D


def test_ties_are_all_best_responses_and_every_profile_is_an_equilibrium() -> None:
    flat = dict.fromkeys(profiles(2, 2), (1.0, 1.0))
    assert best_responses(flat, 2, 2)[0, (0, 1)] == {0, 1}
    assert pure_nash(flat, 2, 2) == profiles(2, 2)
    assert imitation_survivor(flat, 2, 2) == (0, [1])
