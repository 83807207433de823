"""The event log of a market run (``simrun market.toml --events``): the single run's log
(:mod:`sim.experiment.events`) with a ``firm`` column, and each firm's till.

A logged replication is watched through the market's observer
(:class:`sim.model.market.MarketObserver`), which the model tells of every try as it
ends. Watching draws nothing and changes no state, so the results are bit-identical to a
run without the log (tests/test_market_events.py checks it, and that the rows by outcome
are each firm's books).

One row per visit, that is per try: a customer turned away at one firm who tries
another the same day has two rows with the same ``visit`` number (its occasion), one
per firm. ``churned`` is true on the last try of the occasion after which the customer
left the market. Whether it leaves is decided right after that try, at the same
simulated instant and before any other customer moves, and the model reports the try
then, so the rows come in the order the visits ended.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sim.atomic import open_atomic
from sim.experiment import events as event_log
from sim.experiment.events import (
    COLUMNS,
    TRANSACTION_COLUMNS,
    EventFiles,
    EventWriter,
    has_pyarrow,
    join_events,
    transaction_line,
    visit_row,
)
from sim.metrics import MarketRunResult
from sim.model.events import ABANDONED, SERVED, VisitEvent
from sim.model.market import MarketReplication
from sim.scenario.market import MarketScenario

MARKET_COLUMNS: tuple[tuple[str, str, str], ...] = (
    COLUMNS[0], ("firm", "str", "the firm visited (its name in the market file)"),
    *COLUMNS[1:])
"""A market's event log: every column of a run's, and the firm after the replication."""


@dataclass(frozen=True)
class MarketEventFiles(EventFiles):
    """Where a market run's event parts go: one part per replication, and for
    replication 0 one till per firm."""

    firms: int = 1

    def till_part(self, firm: int) -> Path:
        return self.folder / f"transactions-firm{firm:02d}.csv"

    def has(self, replication: int) -> bool:
        return self.part(replication).is_file() and (
            replication != 0 or all(self.till_part(f).is_file() for f in range(self.firms)))


def market_event_files(folder: Path, firms: int, parquet: bool | None = None
                       ) -> MarketEventFiles:
    """Parts in ``folder``, as Parquet when pyarrow is installed (or as asked)."""
    return MarketEventFiles(folder, has_pyarrow() if parquet is None else parquet, firms)


def run_market_logged(market: MarketScenario, replication: int,
                      files: MarketEventFiles) -> MarketRunResult:
    """One replication of the market with its event log written to its part (and, for
    replication 0, each firm's till); the result is the same as without the log."""
    with ExitStack() as stack:
        events = stack.enter_context(open_atomic(files.part(replication)))
        tills = ([stack.enter_context(open_atomic(files.till_part(f)))
                  for f in range(len(market.firms))] if replication == 0 else None)
        simulation = MarketReplication(market, replication)
        writer = MarketEventWriter(simulation, replication, events, files.parquet, tills)
        simulation.observer = writer
        result = simulation.run()
        writer.close()
    return result


class MarketEventWriter(EventWriter):
    """Watches one market replication and writes one row per try, a batch at a time."""

    columns = MARKET_COLUMNS

    def __init__(self, simulation: MarketReplication, replication: int, handle: BinaryIO,
                 parquet: bool, tills: list[BinaryIO] | None = None) -> None:
        super().__init__(simulation.scenario.firms[0], replication, handle, parquet)
        self.firms = simulation.firms
        self.names = simulation.scenario.names
        self.tills = tills
        self.till_lines: list[list[str]] = [[] for _ in self.firms]
        for till in tills or ():
            till.write((",".join(TRANSACTION_COLUMNS) + "\n").encode())

    def tried(self, firm: int, event: VisitEvent) -> None:
        """One row per try (:class:`sim.model.market.MarketObserver`), a batch at a time;
        replication 0's served and abandoned visits also go to the firm's till."""
        customer = "-".join(map(str, event.key))
        tier = self.firms[firm].tier_names[event.tier] if event.tier >= 0 else ""
        segment = self.segments[event.segment]
        row = visit_row(self.replication, customer, segment, tier, event)
        self.rows.append((row[0], self.names[firm], *row[1:]))
        if self.tills is not None and event.outcome in (SERVED, ABANDONED):
            self.till_lines[firm].append(transaction_line(event, customer, segment, tier))
        if len(self.rows) >= event_log.BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        super().flush()
        if self.tills is not None:
            for till, lines in zip(self.tills, self.till_lines, strict=True):
                if lines:
                    till.write("".join(lines).encode())
                    lines.clear()


def join_market_parts(files: MarketEventFiles, replications: range | list[int], target: Path,
                      firm_folders: list[str]) -> list[Path]:
    """Join the parts into ``target``/events.parquet (or .csv) in replication order and
    move each firm's till of replication 0 to ``target``/firms/<firm>/transactions.csv;
    then remove the parts."""
    written = [join_events(files, replications, target, MARKET_COLUMNS)]
    if 0 in replications:
        for f, folder in enumerate(firm_folders):
            till = target / "firms" / folder / "transactions.csv"
            with open_atomic(till) as out, files.till_part(f).open("rb") as part:
                shutil.copyfileobj(part, out)
            written.append(till)
    shutil.rmtree(files.folder, ignore_errors=True)
    return written
