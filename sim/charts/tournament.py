"""The tournament's heat map: the first firm's profit for each of its strategies (rows)
against each profile of its rivals (columns), its best response in each column marked."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from sim.charts.style import styled
from sim.experiment.tournament import TournamentResult
from sim.experiment.tournament_output import matrix_rows


def payoff_heatmap(result: TournamentResult) -> Figure:
    with styled():
        rows, columns, values, best = matrix_rows(result)
        t = result.tournament
        fig = Figure(figsize=(max(6.0, 1.6 * len(columns) + 3), 1.0 * len(rows) + 2.5),
                     layout="constrained")
        ax = fig.add_subplot()
        finite = [v for row in values for v in row if not math.isnan(v)]
        top = max((abs(v) for v in finite), default=1.0) or 1.0
        image = ax.imshow(values, cmap="RdYlGn", vmin=-top, vmax=top, aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=20, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel(f"rivals' strategies ({', '.join(t.market.names[1:])})")
        ax.set_ylabel(f"{t.market.names[0]}'s strategy")
        ax.grid(False)
        for r, row in enumerate(values):
            for c, value in enumerate(row):
                text = "n/a" if math.isnan(value) else f"{value:,.0f}"
                ax.text(c, r, text + (" ★" if best[r][c] else ""), ha="center", va="center",
                        fontsize=12, fontweight="bold" if best[r][c] else "normal")
        fig.colorbar(image, ax=ax, label="profit")
        fig.suptitle(f"{t.market.names[0]}'s profit in every pairing\n"
                     f"{t.market.name}, ★ its best response to the rivals' strategies")
        return fig
