"""The event log of a run: one row per visit, written as the run goes (``--events``).

The engine builds a :class:`~sim.model.events.VisitEvent` only for an observer; the
:class:`EventWriter` here is one that turns each into a row and writes the rows in
batches of :data:`BATCH_ROWS`, so memory stays flat however long the run. Each
replication is written by the process that simulates it, to a part file of its own;
when every replication has finished, :func:`join_parts` joins the parts in
replication order into ``events.parquet`` (``events.csv`` when pyarrow is not
installed) and moves replication 0's purchases to ``transactions.csv``: the log a
firm's till keeps (customer id, timestamp, amount, and the optional columns), which
``simrun fit`` reads. A run without ``--events`` has no observer and pays nothing.

The columns are documented in docs/columns.md ("events").
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sim.atomic import open_atomic
from sim.metrics import RunResult
from sim.model.engine import run_replication
from sim.model.events import ABANDONED, OUTCOMES, SERVED, VisitEvent, VisitWatcher
from sim.scenario.model import Scenario

BATCH_ROWS = 20_000
"""Rows held in memory before they are written (about 3 MB)."""
EPOCH = datetime(2024, 1, 1)
"""The calendar date of simulated hour 0 in transactions.csv (a Monday)."""

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("replication", "int", "the replication"),
    ("customer", "str", "the customer's id (its key, e.g. 0-17: the 17th new prospect)"),
    ("visit", "int", "the customer's visit number, from 0"),
    ("segment", "str", "the customer's segment"),
    ("arrived_h", "float", ("hours since the start when the visit arrived (a waitlisted "
                           "visit: when it first asked)")),
    ("ended_h", "float", "hours since the start when the visit ended"),
    ("outcome", "str", "served, abandoned, balked, priced out or turned away"),
    ("waitlisted", "bool", "the visit waited on the waitlist for a later day first"),
    ("appointment_h", "float", ("hours from arrival until the visit's appointment under a "
                               "daily quota (0: on arrival)")),
    ("tier", "str", "the tier bought, queued for or balked at (empty: none chosen)"),
    ("price", "float", "price paid (served visits; 0 otherwise)"),
    ("refund", "float", "refund paid back"),
    ("wait_h", "float", "hours in the queue (served or abandoned)"),
    ("service_h", "float", "hours of service (served)"),
    ("satisfaction", "float", "the visit's satisfaction, 0-10 (served; empty otherwise)"),
    ("requests_honoured", "int", "special requests honoured"),
    ("requests_refused", "int", "special requests refused"),
    ("failed", "bool", "the service failed"),
    ("claimed", "bool", "a refund was claimed (genuinely or not)"),
    ("churned", "bool", ("the customer decided not to come back after this visit (one who "
                        "never bought: a lost prospect)")),
)
TRANSACTIONS: tuple[tuple[str, str], ...] = (
    ("customer_id", "the customer's id, as in events"),
    ("timestamp", ("when the customer came in (service start less its wait), ISO date and "
                  "time, simulated hour 0 being 2024-01-01 00:00")),
    ("amount", "price paid less refunds (0.00 for an abandoned visit)"),
    ("segment", "the customer's segment"),
    ("tier", "the tier bought or queued for"),
    ("service_minutes", "minutes of service (empty for an abandoned visit)"),
    ("waited_minutes", "minutes in the queue"),
    ("abandoned", "1: the customer gave up in the queue, 0: served"),
    ("rating", "the visit's satisfaction, 0-10 (empty for an abandoned visit)"),
)
TRANSACTION_COLUMNS = tuple(name for name, _ in TRANSACTIONS)


@dataclass(frozen=True)
class EventFiles:
    """Where a run's event parts go, and in which format."""

    folder: Path
    parquet: bool

    @property
    def suffix(self) -> str:
        return "parquet" if self.parquet else "csv"

    def part(self, replication: int) -> Path:
        return self.folder / f"events-{replication:05d}.{self.suffix}"

    def transactions_part(self, replication: int) -> Path:
        return self.folder / f"transactions-{replication:05d}.csv"

    def has(self, replication: int) -> bool:
        return self.part(replication).is_file() and (
            replication != 0 or self.transactions_part(0).is_file())


def event_files(folder: Path, parquet: bool | None = None) -> EventFiles:
    """Parts in ``folder``, as Parquet when pyarrow is installed (or as asked)."""
    if parquet is None:
        parquet = has_pyarrow()
    return EventFiles(folder, parquet)


def has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def run_logged(scenario: Scenario, replication: int, files: EventFiles) -> RunResult:
    """One replication with its event log written to its part (and, for replication 0,
    its transactions); the result is the same as without the log."""
    with ExitStack() as stack:
        events = stack.enter_context(open_atomic(files.part(replication)))
        till = (stack.enter_context(open_atomic(files.transactions_part(0)))
                if replication == 0 else None)
        writer = EventWriter(scenario, replication, events, files.parquet, till)
        result = run_replication(scenario, replication, writer)
        writer.close()
    return result


class EventWriter(VisitWatcher):
    """An engine observer that writes one row per visit, a batch at a time."""

    columns = COLUMNS

    def __init__(self, scenario: Scenario, replication: int, handle: BinaryIO, parquet: bool,
                 till: BinaryIO | None = None) -> None:
        self.replication = replication
        self.segments = tuple(g.name for g in scenario.segments)
        self.tiers = tuple(t.name for t in scenario.strategy.tiers)
        self.handle, self.parquet, self.till = handle, parquet, till
        self.rows: list[tuple[Any, ...]] = []
        self.purchases: list[str] = []
        self.parquet_writer: Any = None
        if not parquet:
            handle.write((",".join(name for name, _, _ in self.columns) + "\n").encode())
        if till is not None:
            till.write((",".join(TRANSACTION_COLUMNS) + "\n").encode())

    def visited(self, e: VisitEvent) -> None:
        customer = "-".join(map(str, e.key))
        tier = self.tiers[e.tier] if e.tier >= 0 else ""
        self.rows.append(visit_row(self.replication, customer, self.segments[e.segment], tier,
                                   e))
        if self.till is not None and e.outcome in (SERVED, ABANDONED):
            self.purchases.append(transaction_line(e, customer, self.segments[e.segment], tier))
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            if self.parquet:
                self._write_parquet()
            else:
                self.handle.write("".join(csv_line(row) for row in self.rows).encode())
            self.rows = []
        if self.till is not None and self.purchases:
            self.till.write("".join(self.purchases).encode())
            self.purchases = []

    def _write_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = list(zip(*self.rows, strict=True))
        table = pa.table({name: pa.array(values, type=_arrow_type(kind))
                          for (name, kind, _), values in zip(self.columns, columns,
                                                             strict=True)})
        if self.parquet_writer is None:
            self.parquet_writer = pq.ParquetWriter(self.handle, table.schema)
        self.parquet_writer.write_table(table)

    def close(self) -> None:
        self.flush()
        if self.parquet:
            if self.parquet_writer is None:
                import pyarrow.parquet as pq

                self.parquet_writer = pq.ParquetWriter(self.handle, arrow_schema(self.columns))
            self.parquet_writer.close()


def visit_row(replication: int, customer: str, segment: str, tier: str,
              e: VisitEvent) -> tuple[Any, ...]:
    """A visit as a row of the log, in the order of :data:`COLUMNS`."""
    return (replication, customer, e.visit, segment, e.arrived_h, e.ended_h,
            OUTCOMES[e.outcome], e.waitlisted, e.appointment_h, tier, e.price, e.refund,
            e.wait_h, e.service_h, e.satisfaction, e.requests_honoured, e.requests_refused,
            e.failed, e.claimed, not e.returns)


def arrow_schema(columns: tuple[tuple[str, str, str], ...] = COLUMNS) -> Any:
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(kind)) for name, kind, _ in columns])


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"int": pa.int64, "str": pa.string, "float": pa.float64, "bool": pa.bool_}[kind]()


def csv_line(row: tuple[Any, ...]) -> str:
    return ",".join(_cell(value) for value in row) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, str):
        return f'"{value.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES & set(value) else value
    return str(value)


_NEEDS_QUOTES = set(',"\r\n')


def transaction_line(e: VisitEvent, customer: str, segment: str, tier: str) -> str:
    """A served or abandoned visit as a till records it: when the customer came in
    (service start less its wait), what it paid net of refunds, and the optional
    columns ``simrun fit`` reads."""
    came_h = e.ended_h - e.service_h - e.wait_h
    when = EPOCH + timedelta(seconds=round(came_h * 3600.0))
    served = e.outcome == SERVED
    cells = (customer, when.isoformat(), f"{e.price - e.refund:.2f}" if served else "0.00",
             _cell(segment), _cell(tier), f"{e.service_h * 60:.2f}" if served else "",
             f"{e.wait_h * 60:.2f}", "0" if served else "1",
             f"{e.satisfaction:.2f}" if served else "")
    return ",".join(cells) + "\n"


def join_parts(files: EventFiles, replications: range | list[int], target: Path) -> list[Path]:
    """Join the parts into ``target``/events.parquet (or .csv) in replication order and
    move replication 0's transactions to ``target``/transactions.csv; then remove the
    parts. Streams one batch at a time."""
    written = [join_events(files, replications, target)]
    if 0 in replications:
        till = target / "transactions.csv"
        with open_atomic(till) as out, files.transactions_part(0).open("rb") as part:
            shutil.copyfileobj(part, out)
        written.append(till)
    shutil.rmtree(files.folder, ignore_errors=True)
    return written


def join_events(files: EventFiles, replications: range | list[int], target: Path,
                columns: tuple[tuple[str, str, str], ...] = COLUMNS) -> Path:
    """The parts' rows in replication order, as ``target``/events.parquet (or .csv)."""
    events = target / f"events.{files.suffix}"
    with open_atomic(events) as out:
        if files.parquet:
            _join_parquet([files.part(r) for r in replications], out, columns)
        else:
            for i, r in enumerate(replications):
                with files.part(r).open("rb") as part:
                    if i:
                        part.readline()
                    shutil.copyfileobj(part, out)
    return events


def _join_parquet(parts: list[Path], out: BinaryIO,
                  columns: tuple[tuple[str, str, str], ...] = COLUMNS) -> None:
    import pyarrow.parquet as pq

    writer = pq.ParquetWriter(out, arrow_schema(columns))
    for path in parts:
        for batch in pq.ParquetFile(path).iter_batches():
            writer.write_batch(batch)
    writer.close()


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of an events file (Parquet or CSV) as dicts, a batch at a time: for
    tests and small analyses (a large log is better read with pyarrow or pandas)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches():
            yield from batch.to_pylist()
        return
    import csv

    kinds = {name: kind for name, kind, _ in COLUMNS} | {"firm": "str"}
    with path.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            yield {name: _parse(value, kinds[name]) for name, value in raw.items()}


def _parse(value: str, kind: str) -> Any:
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value) if value else math.nan
    if kind == "bool":
        return value == "true"
    return value
