"""Replications of a market of rival firms, and what the market adds to each firm's own
results: shares, concentration, spillover and switching, each with its CI.

Each firm's replications make an ordinary :class:`ScenarioResult` (every single-firm
metric, with CIs), so every view of a run works on a firm. The market's own numbers are
defined in docs/model.md ("Market of rival firms", Metrics) and computed here from the
replications' counts; views only show them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sim import __version__
from sim.experiment.runner import ScenarioResult, replications_of
from sim.metrics import Estimate, MarketRunResult, estimate
from sim.scenario.market import MarketScenario

MarketProgress = Callable[[MarketRunResult], None]


def served_shares(run: MarketRunResult) -> list[float]:
    """Each firm's share of the served visits of the measured window (NaN if none)."""
    served = [firm.metrics["served"] for firm in run.firms]
    total = sum(served)
    return [s / total if total else math.nan for s in served]


def hhi(shares: Iterable[float]) -> float:
    """Herfindahl-Hirschman index of shares (0-1) on its usual 0-10,000 scale."""
    return sum((100.0 * s) ** 2 for s in shares)


@dataclass(frozen=True)
class MarketResult:
    """All replications of a market, in replication order."""

    scenario: MarketScenario
    runs: tuple[MarketRunResult, ...]
    version: str = __version__
    precision: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """Replications run until every firm's interval of the metric was narrow enough
    (``--precision``, ``--half-width``): the target and what was reached; None for a
    fixed number."""
    _firms: dict[int, ScenarioResult] = field(default_factory=dict, repr=False, compare=False)
    """Each firm's results as a run, made on first use."""

    @property
    def names(self) -> tuple[str, ...]:
        return self.scenario.names

    def firm(self, which: int | str) -> ScenarioResult:
        """One firm's results as a run of its own (every single-firm metric)."""
        i = which if isinstance(which, int) else self.names.index(which)
        if i not in self._firms:
            firm = self.scenario.firms[i]
            labelled = dataclasses.replace(
                firm, strategy=dataclasses.replace(firm.strategy, label=self.names[i]))
            self._firms[i] = ScenarioResult(labelled, tuple(r.firms[i] for r in self.runs),
                                            self.version)
        return self._firms[i]

    def shares(self) -> list[Estimate]:
        """Share of served visits per firm, mean and 95% CI over replications."""
        per_run = [served_shares(r) for r in self.runs]
        return [estimate([shares[i] for shares in per_run]) for i in range(len(self.names))]

    def hhi(self) -> Estimate:
        """Concentration (HHI of the served shares) over replications."""
        return estimate([hhi(served_shares(r)) for r in self.runs])

    def per_firm(self, key: str) -> list[Estimate]:
        """A per-firm market count (``first_choices``, ``spill_from``, ``spill_to``,
        ``spill_served``) with its CI."""
        return [estimate([r.per_firm[key][i] for r in self.runs])
                for i in range(len(self.names))]

    def market(self, key: str) -> Estimate:
        """A market count (``occasions``, ``outside``, ``prospects_new``,
        ``prospects_outside``) with its CI."""
        return estimate([r.market[key] for r in self.runs])

    def switching(self) -> list[list[float]]:
        """Mean served visits per replication by (previous firm, this firm); the last row
        is first purchases on the market."""
        rows = len(self.names) + 1
        return [[sum(r.switching[a][b] for r in self.runs) / len(self.runs)
                 for b in range(len(self.names))] for a in range(rows)]

    def switched_away(self) -> list[Estimate]:
        """Per firm, served visits at a rival of customers last served at the firm (each
        a customer it lost to switching; its row of the switching matrix, less its own
        column), per replication with its CI."""
        n = len(self.names)
        return [estimate([sum(r.switching[a][b] for b in range(n) if b != a)
                          for r in self.runs]) for a in range(n)]

    def net_switching(self) -> list[list[Estimate]]:
        """Net flow of customers between firms: [a][b] is the served visits per
        replication of customers served before at b and now at a, minus those served
        before at a and now at b (a's gain at b's expense), with its CI."""
        n = len(self.names)
        return [[estimate([r.switching[b][a] - r.switching[a][b] for r in self.runs])
                 for b in range(n)] for a in range(n)]

    def weekly_shares(self) -> list[list[Estimate]]:
        """Each firm's share of each week's served visits (days 7w to 7w+6, warm-up
        included; a last partial week dropped): mean and CI over the replications in
        which someone was served that week."""
        weeks = self.scenario.run.days // 7
        out: list[list[Estimate]] = []
        for i in range(len(self.names)):
            series = []
            for w in range(weeks):
                days = slice(7 * w, 7 * w + 7)
                values = []
                for r in self.runs:
                    total = sum(sum(f.daily["served"][days]) for f in r.firms)
                    if total:
                        values.append(sum(r.firms[i].daily["served"][days]) / total)
                series.append(estimate(values))
            out.append(series)
        return out

    def daily_shares(self) -> list[list[Estimate]]:
        """Each firm's share of the day's served visits, per day (warm-up included): mean
        and CI over the replications in which someone was served that day."""
        days = self.scenario.run.days
        out: list[list[Estimate]] = []
        for i in range(len(self.names)):
            series = []
            for day in range(days):
                values = []
                for r in self.runs:
                    total = sum(f.daily["served"][day] for f in r.firms)
                    if total:
                        values.append(r.firms[i].daily["served"][day] / total)
                series.append(estimate(values))
            out.append(series)
        return out


def market_replication(market: MarketScenario, index: int) -> MarketRunResult:
    """:func:`sim.model.market.run_market_replication`, the model imported where the
    replication runs (:func:`sim.experiment.runner.replication`)."""
    from sim.model.market import run_market_replication

    return run_market_replication(market, index)


def run_market(market: MarketScenario, *, replications: Iterable[int] | None = None,
               jobs: int | None = None, progress: MarketProgress | None = None,
               done: dict[int, MarketRunResult] | None = None,
               events: Any = None, meanwhile: Callable[[], object] | None = None
               ) -> MarketResult:
    """Run the market's replications (or the given indices) over the process pool.

    ``done`` holds replications already finished (a checkpoint); they are not run again.
    A market with ``run.warmup_days = "auto"`` first has its warm-up found by a pilot
    (:func:`sim.experiment.warmup.resolve_market_auto`); the result's market records it.
    With ``events`` (:func:`sim.experiment.market_events.market_event_files`), each
    replication run now also writes its event log there; the results are the same.
    ``meanwhile`` as in :func:`sim.experiment.runner.run_scenario`.
    """
    if market.warmup_auto:
        from sim.experiment.warmup import resolve_market_auto

        market = resolve_market_auto(market, jobs=jobs)[0]
    wanted = range(market.run.replications) if replications is None else list(replications)
    if events is None:
        results = replications_of(market_replication, market, wanted, jobs, progress, done,
                                  meanwhile=meanwhile)
    else:
        from sim.experiment.market_events import run_market_logged

        results = replications_of(run_market_logged, market, wanted, jobs, progress, done,
                                  extra=(events,), meanwhile=meanwhile)
    return MarketResult(market, tuple(results[r] for r in wanted))
