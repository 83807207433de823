"""The sweep store: results/<sweep>/runs.sqlite, one row per finished run.

Each run is committed in its own transaction as soon as it finishes, so a sweep killed
at any moment keeps every run that finished, and ``--resume`` skips them. The primary
key (point, strategy, replication) makes storing idempotent: a run that a retrying
executor delivers twice is stored once. Failed runs are stored with their traceback
and run again on resume.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (point INTEGER PRIMARY KEY, params TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    point INTEGER NOT NULL,
    strategy TEXT NOT NULL,
    replication INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    metrics TEXT,
    error TEXT,
    PRIMARY KEY (point, strategy, replication)
);
"""


class Store:
    """A sweep's runs on disk (SQLite in WAL mode; one writer: the sweep's main process)."""

    def __init__(self, path: Path, *, existing: bool = False) -> None:
        self.path = path
        if existing:  # to read: no schema, and the WAL folded in as the connection closes
            self.db = sqlite3.connect(path, isolation_level=None)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    @classmethod
    def open_existing(cls, path: Path) -> Store:
        """An existing store, to read; a ScenarioError when it is not a sweep's store."""
        from sim.scenario import Issue, ScenarioError

        if not path.is_file():
            raise ScenarioError(path, [Issue("", "no such file")])
        try:
            store = cls(path, existing=True)
            store.db.execute("SELECT COUNT(*) FROM runs").fetchone()
            store.db.execute("SELECT value FROM meta").fetchall()
        except sqlite3.DatabaseError as exc:
            raise ScenarioError(path, [Issue("", f"not a sweep's store ({exc})")]) from None
        return store

    def close(self) -> None:
        self.db.close()

    def fingerprint(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        return None if row is None else str(row[0])

    def origin(self) -> Any:
        """Where the sweep came from (its file and command-line settings), or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        try:
            return None if row is None else json.loads(row[0])
        except (TypeError, ValueError):
            return None

    def start(self, fingerprint: str, points: list[dict[str, Any]],
              origin: dict[str, Any] | None = None) -> None:
        """Record what this store belongs to (once), where it came from (each time) and
        the points' parameters."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
            if origin is not None:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('origin', ?)",
                                (json.dumps(origin),))
            self.db.executemany("INSERT OR IGNORE INTO points VALUES (?, ?)",
                                [(i, json.dumps(p)) for i, p in enumerate(points)])

    def finished(self) -> set[tuple[int, str, int]]:
        rows = self.db.execute("SELECT point, strategy, replication FROM runs WHERE status = 'ok'")
        return {(int(p), str(s), int(r)) for p, s, r in rows}

    def put(self, task: tuple[int, str, int], metrics: dict[str, float] | None,
            error: str | None) -> None:
        """Commit one run (a success replaces an earlier failure, never the reverse)."""
        point, strategy, replication = task
        if metrics is not None:
            self.db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, 'ok', ?, NULL)",
                            (point, strategy, replication, json.dumps(metrics)))
        else:
            self.db.execute("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, 'failed', NULL, ?)",
                            (point, strategy, replication, error))

    def runs(self) -> Iterator[tuple[int, str, int, dict[str, float]]]:
        """Finished runs in a fixed order: (point, strategy, replication, metrics)."""
        rows = self.db.execute("SELECT point, strategy, replication, metrics FROM runs "
                               "WHERE status = 'ok' ORDER BY point, strategy, replication")
        for point, strategy, replication, metrics in rows:
            yield int(point), str(strategy), int(replication), {
                k: (math.nan if v is None else float(v)) for k, v in json.loads(metrics).items()}

    def failures(self) -> list[tuple[int, str, int, str]]:
        rows = self.db.execute("SELECT point, strategy, replication, error FROM runs "
                               "WHERE status = 'failed' ORDER BY point, strategy, replication")
        return [(int(p), str(s), int(r), str(e)) for p, s, r, e in rows]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def open_for_run(path: Path, mark: str, *, fresh: bool, resume: bool, what: str,
                 changed: str) -> Store:
    """The store of a sweep or a tournament about to run: emptied first with ``fresh``;
    refused when it holds runs and ``resume`` was not asked for, or holds another
    version's runs (``changed`` says what it belongs to)."""
    from sim.scenario import Issue, ScenarioError

    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store(path)
    stored = store.fingerprint()
    problem = None
    if stored is not None and store.count() and not resume:
        problem = (f"holds runs of an earlier {what}: add --resume to continue it, or --fresh "
                   "to start over")
    elif stored is not None and stored != mark:
        problem = f"belongs to {changed}: use --fresh"
    if problem:
        store.close()
        raise ScenarioError(path, [Issue("", problem)])
    return store
