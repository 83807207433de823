"""Files of a tournament: tournament.json (the payoff table with CIs, best responses
with their paired edge, pure Nash equilibria, the imitation survivor) and payoffs.csv
(every slot's profit in every replication of every profile), written all or none."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from sim.atomic import write_atomic_many
from sim.experiment.games import with_slot
from sim.experiment.output import _estimate_dict
from sim.experiment.tournament import TournamentResult

CAVEAT = ("Equilibria and best responses are found on mean payoffs. A best response whose "
          "paired 95% CI against the runner-up includes 0 is not clear: more replications "
          "could change it, and with it the equilibria.")


def tournament_dict(result: TournamentResult) -> dict[str, Any]:
    t = result.tournament
    names, strategies = t.market.names, t.strategies
    table = []
    for profile in t.profiles:
        table.append({"profile": {names[i]: strategies[s] for i, s in enumerate(profile)},
                      "payoff": {names[i]: _estimate_dict(result.payoff(profile, i))
                                 for i in range(t.slots)}})
    responses = []
    for (slot, others), best in sorted(result.best_responses().items()):
        edge = result.clear(slot, others, min(best))
        responses.append({
            "firm": names[slot],
            "others": {names[i]: strategies[s] for i, s in enumerate(others) if i != slot},
            "best": [strategies[s] for s in sorted(best)],
            "edge_over_runner_up": None if edge is None else _estimate_dict(edge),
            "clear": edge is not None and edge.low > 0})
    survivor, gone = result.survivor()
    return {
        "market": t.market.name, "seed": t.market.run.seed,
        "replications": t.market.run.replications, "payoff": "profit",
        "firms": list(names), "strategies": list(strategies),
        "table": table, "best_responses": responses,
        "pure_nash": [{names[i]: strategies[s] for i, s in enumerate(p)} for p in result.nash()],
        "imitation": {"survivor": strategies[survivor],
                      "abandoned_in_order": [strategies[s] for s in gone]},
        "caveat": CAVEAT,
    }


def payoffs_csv(result: TournamentResult) -> str:
    t = result.tournament
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["profile", *(f"strategy:{n}" for n in t.market.names), "firm",
                     "replication", "profit"])
    for index, profile in enumerate(t.profiles):
        for slot in range(t.slots):
            for rep, value in enumerate(result.values.get(index, {}).get(slot, [])):
                writer.writerow([index, *(t.strategies[s] for s in profile),
                                 t.market.names[slot], rep,
                                 "" if math.isnan(value) else repr(value)])
    return out.getvalue()


def write_tournament(result: TournamentResult, folder: Path) -> list[Path]:
    return write_atomic_many({
        folder / "tournament.json": json.dumps(tournament_dict(result), indent=2) + "\n",
        folder / "payoffs.csv": payoffs_csv(result)})


def matrix_rows(result: TournamentResult) -> tuple[list[str], list[str], list[list[float]],
                                                    list[list[bool]]]:
    """The first firm's payoff as a matrix: rows its strategy, columns the others'
    profile; and, per cell, whether the row is the first firm's best response there."""
    t = result.tournament
    k = len(t.strategies)
    others = [p for p in t.profiles if p[0] == 0]
    rows = list(t.strategies)
    columns = [" / ".join(t.strategies[s] for s in p[1:]) or "(alone)" for p in others]
    responses = result.best_responses()
    values = [[result.payoff(with_slot(o, 0, r), 0).mean for o in others] for r in range(k)]
    best = [[r in responses[0, o] for o in others] for r in range(k)]
    return rows, columns, values, best
