"""A firm's transaction log, read and checked: one row per purchase (or abandoned visit).

Required columns: customer id, timestamp, amount; optional: segment, service minutes,
waited minutes, abandoned, rating (0-10), tier. Column names are mapped by
:class:`Columns` (the ``--*-column`` options). Timestamps are ISO dates or date-times
(``2024-03-05``, ``20240305``, ``2024-03-05T14:30``, ``2024-03-05 14:30:00``, with or
without an offset, which is converted to UTC).

Every problem found (up to :data:`MAX_ISSUES`) is reported at once, each with its
line and column, as a :class:`TransactionsError` (exit 2 on the command line).
Purchases of one customer at the same moment (the same day, for a log of dates) are
one purchase occasion, their amounts summed: the convention of the buy-till-you-die
literature, which counts repeat purchases by day.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim.fit.columns import Columns
from sim.scenario.errors import Issue, ScenarioError, suggest

MAX_ISSUES = 20
"""Problems listed before the reader stops (a wrong file would give one per line)."""
MAX_FILE_BYTES = 2_000_000_000


class TransactionsError(ScenarioError):
    """A transaction log that cannot be fitted: every problem, with line and column."""


@dataclass
class Log:
    """The purchases, one per customer and occasion, sorted by customer then time.

    Times are days since :attr:`origin` (midnight of the first day in the file)."""

    source: str
    origin: datetime
    has_time: bool
    """Whether the timestamps carry a time of day (else: dates only)."""
    customers: list[str]
    """Customer ids, by index."""
    customer: np.ndarray
    """Index of each purchase's customer."""
    day: np.ndarray
    """When each purchase happened (days since the origin)."""
    amount: np.ndarray
    service_min: np.ndarray | None = None
    waited_min: np.ndarray | None = None
    rating: np.ndarray | None = None
    segment: list[str] | None = None
    tier: list[str] | None = None
    abandoned_day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """When each abandoned visit happened."""
    abandoned_waited_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Minutes each abandoned visit waited (NaN without the column)."""
    rows: int = 0
    """Rows read (before purchases at the same moment were merged)."""

    @property
    def last_day(self) -> float:
        return float(self.day.max())


def read_log(path: Path, columns: Columns | None = None, keep_duplicates: bool = False) -> Log:
    """Read and check the log at ``path`` (the default column names unless ``columns``
    maps them); a TransactionsError lists what is wrong."""
    source = str(path)
    columns = columns or Columns()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise TransactionsError(source, [Issue("", f"larger than {MAX_FILE_BYTES:,} bytes")])
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise TransactionsError(source, [Issue("", "no such file")]) from None
    except IsADirectoryError:
        raise TransactionsError(source, [Issue("", "is a folder, not a CSV file")]) from None
    with handle:
        try:
            return _read(csv.reader(handle), source, columns, keep_duplicates)
        except UnicodeDecodeError as exc:
            raise TransactionsError(source, [Issue("", f"not UTF-8 text ({exc.reason})")]) \
                from None
        except csv.Error as exc:
            raise TransactionsError(source, [Issue("", f"not a CSV file ({exc})")]) from None


def _read(reader: Any, source: str, columns: Columns, keep_duplicates: bool) -> Log:
    """The rows of a ``csv.reader`` (its ``line_num`` names the line of each problem)."""
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise TransactionsError(source, [Issue("", "the file is empty: it needs a header row "
                                                   "and one row per purchase")])
    header = [cell.strip() for cell in header]
    where = _columns(header, columns, source)
    issues: list[Issue] = []
    rows: list[tuple[str, datetime, bool, float, list[str]]] = []
    seen: dict[tuple[str, ...], int] = {}
    optional = [role for role in Columns.OPTIONAL if role in where]
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            issues.append(Issue(f"line {line}", f"has {len(row)} cells, the header "
                                                f"{len(header)}"))
        else:
            parsed = _row(row, where, optional, columns, line, issues)
            if parsed is not None:
                key = tuple(cell.strip() for cell in row)
                if key in seen and not keep_duplicates:
                    issues.append(Issue(f"line {line}", f"repeats line {seen[key]} exactly",
                                        hint="a double export? remove it, or pass "
                                             "--keep-duplicates if both are purchases"))
                seen.setdefault(key, line)
                rows.append(parsed)
        if len(issues) >= MAX_ISSUES:
            issues.append(Issue("", "stopped reading after this many problems"))
            break
    if issues:
        raise TransactionsError(source, issues)
    if not rows:
        raise TransactionsError(source, [Issue("", "the file has a header but no rows")])
    return _log(source, rows, optional)


def _columns(header: list[str], columns: Columns, source: str) -> dict[str, int]:
    """Role -> column index; an error naming each required or mapped column missing."""
    where: dict[str, int] = {}
    issues = []
    for role in (*Columns.REQUIRED, *Columns.OPTIONAL):
        name = getattr(columns, role)
        if name in header:
            where[role] = header.index(name)
        elif role in Columns.REQUIRED or role in columns.explicit:
            hint = suggest(name, header)
            issues.append(Issue(f"column {name!r}", f"missing ({_what(role)}); the header has "
                                + ", ".join(repr(h) for h in header),
                                hint=hint or f"map it with --{role}-column NAME"))
    if issues:
        raise TransactionsError(source, issues)
    return where


def _what(role: str) -> str:
    return {"customer": "the customer id", "timestamp": "when the purchase happened",
            "amount": "what was paid", "segment": "the customer's segment",
            "service": "minutes of service", "waited": "minutes waited",
            "abandoned": "1 for a visit abandoned in the queue", "rating": "a rating 0-10",
            "tier": "the tier or product"}[role]


def _row(row: list[str], where: dict[str, int], optional: list[str], columns: Columns,
         line: int, issues: list[Issue]) -> tuple[str, datetime, bool, float, list[str]] | None:
    before = len(issues)
    customer = row[where["customer"]].strip()
    if not customer:
        issues.append(Issue(f"line {line}, column {columns.customer!r}", "is empty"))
    when, has_time = parse_time(row[where["timestamp"]].strip(), line, columns.timestamp, issues)
    amount = _number(row[where["amount"]], line, columns.amount, issues, low=0.0)
    extra = []
    for role in optional:
        cell = row[where[role]].strip()
        name = getattr(columns, role)
        if role in ("service", "waited") and cell:
            _number(cell, line, name, issues, low=0.0)
        elif role == "rating" and cell:
            _number(cell, line, name, issues, low=0.0, high=10.0)
        elif role == "abandoned" and cell.lower() not in ABANDONED:
            issues.append(Issue(f"line {line}, column {name!r}", "must be 0 or 1 (or true, "
                                "false, yes, no)", cell))
        extra.append(cell)
    if len(issues) > before or when is None:
        return None
    return customer, when, has_time, amount, extra


ABANDONED = {"": False, "0": False, "1": True, "false": False, "true": True, "no": False,
             "yes": True}


def parse_time(text: str, line: int, column: str,
               issues: list[Issue]) -> tuple[datetime | None, bool]:
    """A timestamp in an ISO format, as naive UTC; (None, False) and an issue if not."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        issues.append(Issue(f"line {line}, column {column!r}", "is not an ISO date or time "
                            "(2024-03-05, 20240305, 2024-03-05T14:30, 2024-03-05 14:30:00)",
                            text))
        return None, False
    has_time = ("T" in text or " " in text) or len(text) > 10
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when, has_time


def _number(text: str, line: int, column: str, issues: list[Issue], low: float,
            high: float = math.inf) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        issues.append(Issue(f"line {line}, column {column!r}", "is not a number", text.strip()))
        return math.nan
    if not math.isfinite(value) or not low <= value <= high:
        rule = f"must be {low:g} or more" if high == math.inf else f"must be {low:g} to {high:g}"
        if value < 0 and low == 0:
            rule = "is negative: a refund? net it against its purchase, or leave it out"
        issues.append(Issue(f"line {line}, column {column!r}", rule, value))
    return value


def _log(source: str, rows: list[tuple[str, datetime, bool, float, list[str]]],
         optional: list[str]) -> Log:
    has_time = any(r[2] for r in rows)
    first = min(r[1] for r in rows)
    origin = datetime(first.year, first.month, first.day)
    ids: dict[str, int] = {}
    col = {role: i for i, role in enumerate(optional)}
    bought: dict[tuple[int, float], list[float | str]] = {}
    dropped: list[tuple[float, float]] = []
    for customer, when, _, amount, extra in rows:
        index = ids.setdefault(customer, len(ids))
        day = (when - origin).total_seconds() / 86400.0
        if "abandoned" in col and ABANDONED[extra[col["abandoned"]].lower()]:
            dropped.append((day, _float(extra[col["waited"]]) if "waited" in col else math.nan))
            continue
        moment = day if has_time else math.floor(day)
        entry = bought.get((index, moment))
        if entry is None:
            bought[(index, moment)] = [amount, *extra]
        else:
            entry[0] = float(entry[0]) + amount
    keys = sorted(bought)
    if not keys:
        raise TransactionsError(source, [Issue("", "no purchases: every row is an abandoned "
                                                   "visit")])
    values = [bought[k] for k in keys]
    log = Log(source=source, origin=origin, has_time=has_time, customers=list(ids),
              customer=np.array([k[0] for k in keys], dtype=np.int64),
              day=np.array([k[1] for k in keys]), amount=np.array([float(v[0]) for v in values]),
              rows=len(rows))
    for role, attr in (("service", "service_min"), ("waited", "waited_min"),
                       ("rating", "rating")):
        if role in col:
            setattr(log, attr, np.array([_float(str(v[1 + col[role]])) for v in values]))
    for role in ("segment", "tier"):
        if role in col:
            setattr(log, role, [str(v[1 + col[role]]) for v in values])
    log.abandoned_day = np.array([d for d, _ in dropped])
    log.abandoned_waited_min = np.array([w for _, w in dropped])
    return log


def _float(text: str) -> float:
    return float(text) if text.strip() else math.nan
