"""Helpers for the sweep tests: tiny sweep files, the CLI in-process, the store's rows.

Sweep files are written into the test's tmp_path and name the repository's scenarios
by absolute path (``scenarios`` is relative to the sweep file), shortened with
``set = ["run.days=...", ...]`` so a run takes milliseconds to a fraction of a second.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from click.testing import CliRunner
from paths import ROOT

from sim.cli import main

SCENARIOS = ROOT / "scenarios"
SIMRUN = [sys.executable, "-c", "from sim.cli import main; main()"]
"""The simrun command as a subprocess (the console script may not be on PATH)."""


def scenario_list(*names: str) -> str:
    """A TOML list of the repository's scenario files, by absolute path."""
    return "[" + ", ".join(f'"{SCENARIOS / f"{n}.toml"}"' for n in names) + "]"


def sweep_file(folder: Path, body: str, *, name: str = "sweep",
               strategies: Sequence[str] = ("god", "tiered"), days: int = 40,
               warmup: int = 10, replications: int = 2, seed: int = 5,
               design: str = "grid", extra: str = "") -> Path:
    """A sweep file: the [sweep] table from the keywords, then ``body`` (the
    [[parameters]] and [[expect]] tables) verbatim."""
    path = folder / f"{name}.toml"
    path.write_text(
        "[sweep]\n"
        f"scenarios = {scenario_list(*strategies)}\n"
        f'design = "{design}"\n'
        f"replications = {replications}\n"
        f"seed = {seed}\n"
        f'set = ["run.days={days}", "run.warmup_days={warmup}"]\n'
        f"{extra}\n{body}")
    return path


ALTERNATIVES = """
[[parameters]]
path = "market.alternatives"
values = [0.3, 0.6]
"""
"""One parameter, two points."""


def simrun(*args: str | Path) -> tuple[int, str]:
    """``simrun ARGS`` in this process: (exit code, stdout and stderr). Never a traceback."""
    result = CliRunner().invoke(main, [str(a) for a in args], prog_name="simrun")
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def store_rows(folder: Path) -> list[tuple[int, str, int, str]]:
    """(point, strategy, replication, status) of every row in runs.sqlite."""
    db = sqlite3.connect(f"file:{folder / 'runs.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT point, strategy, replication, status FROM runs "
                          "ORDER BY point, strategy, replication").fetchall()
    finally:
        db.close()
    return [(int(p), str(s), int(r), str(st)) for p, s, r, st in rows]


def assert_each_run_once(folder: Path, tasks: Sequence[tuple[int, str, int]]) -> None:
    """runs.sqlite holds every task exactly once, each finished ok."""
    rows = store_rows(folder)
    keys = [(p, s, r) for p, s, r, _ in rows]
    assert len(keys) == len(set(keys)), "a run is stored twice"
    assert sorted(keys) == sorted(tasks)
    assert {status for *_, status in rows} == {"ok"}


def exports(folder: Path) -> dict[str, bytes]:
    """The bytes of sweep.csv and summary.csv."""
    return {name: (folder / name).read_bytes() for name in ("sweep.csv", "summary.csv")}


def kill_mid_way(args: Sequence[str | Path], ready: Callable[[], bool],
                 timeout_s: float = 120) -> None:
    """Run ``simrun ARGS`` in a subprocess and SIGKILL it as soon as ``ready()`` holds (it
    must not finish first)."""
    process = subprocess.Popen([*SIMRUN, *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
