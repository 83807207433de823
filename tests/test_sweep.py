"""Parameter sweeps as a user meets them: the sweep file and its errors, the designs,
seeds and common random numbers, failing runs, the store and --resume (after a SIGKILL),
the exports, and the expectations with --check and --junit.

Dask is tested in test_sweep_dask.py. Every sweep here is tiny: runs of 30 to 120 days.
"""

from __future__ import annotations

import csv
import math
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from sweep_helpers import (
    ALTERNATIVES,
    ROOT,
    assert_each_run_once,
    exports,
    kill_mid_way,
    scenario_list,
    simrun,
    store_rows,
    sweep_file,
)

from sim.experiment import executors
from sim.experiment.expect import judge
from sim.experiment.sweep import (
    Parameter,
    SweepSettings,
    design_points,
    load_sweep,
    point_seed,
)
from sim.experiment.sweep_runner import run_sweep
from sim.metrics import METRICS
from sim.model import engine

# --- the sweep file: every error names the file and the field, exit 2, no traceback ---

GOD = scenario_list("god")
TWO = scenario_list("god", "tiered")
SHORT = 'set = ["run.days=30", "run.warmup_days=5"]'

BAD_SWEEPS: dict[str, tuple[str, list[str]]] = {
    "design unknown": (f"""
[sweep]
scenarios = {GOD}
design = "grd"
[[parameters]]
path = "market.alternatives"
values = [0.3]
""", ["sweep.design: must be one of 'grid', 'random', 'lhs', 'sobol', 'morris'",
      "got \"grd\"", "did you mean 'grid'?"]),
    "unknown keys": (f"""
[sweep]
scenarios = {GOD}
replicatons = 3
[[parameters]]
pth = "market.alternatives"
values = [0.3]
""", ["sweep.replicatons: unknown key (did you mean 'replications'?)",
      "parameters[0].pth: unknown key (did you mean 'path'?)",
      "parameters[0].path: is required"]),
    "unknown section": (f"""
[sweep]
scenarios = {GOD}
[[parameters]]
path = "market.alternatives"
values = [0.3]
[[expects]]
metric = "profit"
""", ["expects: unknown section (did you mean 'expect'?)"]),
    "wrong types and ranges": (f"""
expect = ["tiered.profit > god.profit"]
[sweep]
scenarios = {GOD}
replications = "four"
samples = 0
[[parameters]]
path = "market.alternatives"
values = [0.3]
""", ["sweep.replications: must be a whole number, got \"four\"",
      "sweep.samples: must be >= 1, got 0",
      "expect[0]: must be a table, got \"tiered.profit > god.profit\""]),
    "no parameters": (f"""
[sweep]
scenarios = {GOD}
""", ["parameters: is required: at least one [[parameters]] table"]),
    "parameter without values": (f"""
[sweep]
scenarios = {GOD}
[[parameters]]
path = "market.alternatives"
""", ["parameters[0]: needs values = [...] or low and high"]),
    "range upside down": (f"""
[sweep]
scenarios = {GOD}
[[parameters]]
path = "market.alternatives"
low = 0.6
high = 0.2
""", ["parameters[0].high: must be >= low, got 0.2"]),
    "lhs needs a range": (f"""
[sweep]
scenarios = {GOD}
design = "lhs"
[[parameters]]
path = "market.alternatives"
values = [0.2, 0.4]
""", ["parameters[0]: design 'lhs' needs a range (low and high)"]),
    "scenario file missing": ("""
[sweep]
scenarios = ["no-such-scenario.toml"]
[[parameters]]
path = "market.alternatives"
values = [0.3]
""", ["sweep.scenarios[0]: no such file", "no-such-scenario.toml"]),
    "same strategy twice": (f"""
[sweep]
scenarios = {scenario_list("god", "god")}
[[parameters]]
path = "market.alternatives"
values = [0.3]
""", ["sweep.scenarios: need distinct scenario names, got [\"god\", \"god\"]"]),
    "sweep.set breaks a scenario": (f"""
[sweep]
scenarios = {GOD}
set = ["run.days=30"]
[[parameters]]
path = "market.alternatives"
values = [0.3]
""", ["sweep.scenarios[0]", "god.toml", "sweep.set",
      "run.warmup_days: must be < run.days (30), got 180"]),
    "parameter for an unknown strategy": (f"""
[sweep]
scenarios = {TWO}
{SHORT}
[[parameters]]
path = "strategy.tiers[2].price"
strategies = ["tierd"]
values = [90]
""", ["parameters[0].strategies: unknown strategy; known: god, tiered, got \"tierd\""]),
    "expectation names unknown things": (f"""
[sweep]
scenarios = {TWO}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3]
[[expect]]
metric = "proft"
left = "tierd"
right = "god"
where = [{{ path = "market.alternatvs", value = 0.3 }}]
""", ["expect[0].metric: unknown metric, got \"proft\" (did you mean 'profit'?)",
      ("expect[0].left: unknown strategy; known: god, tiered, got \"tierd\" "
      "(did you mean 'tiered'?)"),
      ("expect[0].where[0].path: is not a swept parameter, got \"market.alternatvs\" "
      "(did you mean 'market.alternatives'?)")]),
    "expectation is not code": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3]
[[expect]]
metric = "__import__('os').system('touch pwned')"
left = "god"
value = 0
""", ["expect[0].metric: unknown metric"]),
    "expectation needs one right side": (f"""
[sweep]
scenarios = {TWO}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3]
[[expect]]
metric = "profit"
left = "tiered"
right = "god"
value = 3
op = "=>"
judge = "median"
""", ["expect[0].op: must be one of '<', '<=', '>', '>=', '==', '!=', got \"=>\"",
      "expect[0].judge: must be one of 'mean', 'ci', got \"median\""]),
    "expectation with both right and value": (f"""
[sweep]
scenarios = {TWO}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3]
[[expect]]
metric = "profit"
left = "tiered"
right = "god"
value = 3
""", ["expect[0]: needs exactly one of right (a strategy) or value (a number)"]),
    "path not in the scenario": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "market.alternativs"
values = [0.3]
""", [("point 0 (market.alternativs=0.3), strategy god: market.alternativs: unknown key "
      "(did you mean 'alternatives'?)")]),
    "list index out of range": (f"""
[sweep]
scenarios = {TWO}
{SHORT}
[[parameters]]
path = "strategy.tiers[7].price"
strategies = ["tiered"]
values = [30]
""", [("point 0 (strategy.tiers[7].price=30), strategy tiered: strategy.tiers[7].price: "
      "index 7 out of range (the list has 3 items)")]),
    "value invalid at one point only": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3, 1.7]
""", [("point 1 (market.alternatives=1.7), strategy god: market.alternatives: must be <= 1, "
      "got 1.7")]),
    "not TOML": ("[sweep\n", ["not valid TOML"]),
    "expectation where-value of the wrong type": (f"""
[sweep]
scenarios = {TWO}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3, 0.6]
[[expect]]
metric = "profit"
left = "tiered"
right = "god"
where = [{{ path = "market.alternatives", op = ">=", value = "high" }}]
""", [('expect[0].where[0].value: must be a number, like the values of market.alternatives, '
      'got "high"')]),
    "expectation ordering true/false": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "behaviour.recovery_restores_loyalty"
values = [true, false]
[[expect]]
metric = "profit"
left = "god"
value = 0
where = [{{ path = "behaviour.recovery_restores_loyalty", op = "<", value = true }}]
""", [("expect[0].where[0].value: can only be compared with == or != ('<' orders numbers), "
      "got true")]),
    "expectation value of the wrong type": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3]
[[expect]]
metric = "profit"
left = "god"
value = "a lot"
""", ['expect[0].value: must be a number, got "a lot"']),
    "sweeping run.seed": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "run.seed"
values = [1, 2]
""", ["parameters[0].path: is set per point by the sweep, from sweep.seed, got \"run.seed\""]),
    "sweeping run.replications": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "run.replications"
values = [1, 2]
""", ["parameters[0].path: is set by the sweep: use sweep.replications (or simrun sweep -n N)"]),
    "fixing run.seed in sweep.set": (f"""
[sweep]
scenarios = {GOD}
set = ["run.days=30", "run.seed=7"]
[[parameters]]
path = "market.alternatives"
values = [0.3]
""", ['sweep.set[1]: is set per point by the sweep, from sweep.seed, got "run.seed=7"']),
    "a parameter swept twice": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3]
[[parameters]]
path = "market.alternatives"
values = [0.6]
""", [("parameters[1].path: is swept twice (also parameters[0]): give each path one "
      "[[parameters]] table")]),
    "no scenarios": (f"""
[sweep]
scenarios = []
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.3]
""", ["sweep.scenarios: must name at least one scenario file, got []"]),
    "a sampling design without parameters": (f"""
parameters = []
[sweep]
scenarios = {GOD}
design = "sobol"
{SHORT}
""", ["parameters: design 'sobol' needs at least one [[parameters]] table with a range"]),
    "a grid beyond the limit": (f"""
[sweep]
scenarios = {GOD}
{SHORT}
[[parameters]]
path = "market.alternatives"
low = 0
high = 1
steps = 100000
[[parameters]]
path = "market.lock_in"
low = 0
high = 1
steps = 100000
""", [("parameters: the grid's points (the product of the parameters' values or steps) must "
      "be at most 10,000 (a limit; --force-limits to go beyond it), got 10000000000")]),
    "samples beyond the limit": (f"""
[sweep]
scenarios = {GOD}
design = "lhs"
samples = 1000000000
{SHORT}
[[parameters]]
path = "market.alternatives"
low = 0
high = 1
""", ["sweep.samples: the points must be at most 10,000"]),
    "runs beyond the limit": (f"""
[sweep]
scenarios = {TWO}
replications = 200000
{SHORT}
[[parameters]]
path = "market.alternatives"
values = [0.2, 0.4, 0.6, 0.8]
""", ["sweep: points (4) x strategies (2) x replications (200000) must be at most 1,000,000"]),
}


@pytest.mark.parametrize("case", list(BAD_SWEEPS))
def test_a_bad_sweep_file_is_reported_with_file_and_field(tmp_path: Path, case: str) -> None:
    text, expected = BAD_SWEEPS[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out = simrun("sweep", path, "--out", tmp_path / "out", "-j", "1", "-q")
    assert code == 2
    assert out.startswith(f"Error: {path}: ")
    for line in expected:
        assert line in out
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["-n", "2", "--set", "run.seed=4"], "sweep.set[2]: is set per point by the sweep"),
    (["--set", "run.replications=4"], "sweep.set[2]: is set by the sweep"),
    (["--dask", "nonsense"], ("--dask 'nonsense': not a scheduler address; give "
                             "tcp://HOST:PORT")),
    (["--dask", "tcp://127.0.0.1:1"], "--dask tcp://127.0.0.1:1: cannot connect"),
    (["-j", "100000"], "Invalid value for '-j' / '--jobs': 100000 is more than the"),
])
def test_bad_sweep_options_are_refused_before_running(tmp_path: Path, args: list[str],
                                                      expected: str) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES)
    code, out = simrun("sweep", path, "--out", tmp_path / "out", "-q", *args)
    assert code == 2
    assert expected in out
    assert not (tmp_path / "out" / "sweep.csv").exists()


class Server:
    """A TCP server on loopback that is not Dask: it says ``greeting`` on connection
    (an SSH-like banner) or nothing at all."""

    def __init__(self, greeting: bytes) -> None:
        import socket
        import threading

        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.greeting = greeting
        self.clients: list[Any] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.socket.accept()
            except OSError:
                return
            self.clients.append(client)
            if self.greeting:
                client.sendall(self.greeting)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.socket.close()


@pytest.mark.parametrize(("greeting", "expected"), [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "the server there is not a Dask scheduler"),
    (b"", "no answer within 1 s; is it a Dask scheduler?")])
def test_a_port_that_is_not_a_dask_scheduler_fails_within_seconds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, greeting: bytes, expected: str) -> None:
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    server = Server(greeting)
    try:
        started = time.monotonic()
        code, out = simrun("sweep", sweep_file(tmp_path, ALTERNATIVES), "--out", tmp_path / "o",
                           "-q", "--dask", f"tcp://127.0.0.1:{server.port}")
        assert time.monotonic() - started < 10
    finally:
        server.close()
    assert code == 2
    assert expected in out


def test_a_missing_sweep_file_is_reported(tmp_path: Path) -> None:
    code, out = simrun("sweep", tmp_path / "nothing.toml")
    assert code == 2
    assert f"{tmp_path / 'nothing.toml'}: 1 problem" in out
    assert "no such file" in out


# --- designs: how many points, always the same ---

def _ranges(dims: int) -> list[Parameter]:
    return [Parameter(path=f"p{i}", low=float(i), high=float(i + 1)) for i in range(dims)]


@pytest.mark.parametrize(("design", "samples", "dims", "expected"), [
    ("random", 7, 3, 7),
    ("lhs", 9, 2, 9),
    ("sobol", 4, 3, 4 * (3 + 2)),   # N(D+2): first order and total indices only
    ("sobol", 8, 1, 8 * (1 + 2)),
    ("morris", 4, 3, 4 * (3 + 1)),  # N(D+1): N trajectories
    ("morris", 3, 2, 3 * (2 + 1)),
])
def test_sampling_designs_give_their_number_of_points_deterministically(
        design: str, samples: int, dims: int, expected: int) -> None:
    settings = SweepSettings(scenarios=("x.toml",), design=design, samples=samples, seed=3)  # type: ignore[arg-type]
    parameters = _ranges(dims)
    points = design_points(settings, parameters)
    assert len(points) == expected
    assert design_points(settings, parameters) == points
    for point in points:
        assert list(point) == [p.path for p in parameters]
        for p in parameters:
            assert p.low <= point[p.path] <= p.high
    other = SweepSettings(scenarios=("x.toml",), design=design, samples=samples, seed=4)  # type: ignore[arg-type]
    assert design_points(other, parameters) != points


def test_grid_is_the_product_of_the_axes_in_a_fixed_order() -> None:
    settings = SweepSettings(scenarios=("x.toml",))
    parameters = [Parameter(path="a", values=(1, 2, 3)),
                  Parameter(path="b", low=0.0, high=1.0, steps=5),
                  Parameter(path="c", values=("x", "y"))]
    points = design_points(settings, parameters)
    assert len(points) == 3 * 5 * 2
    assert points[0] == {"a": 1, "b": 0.0, "c": "x"}
    assert points[1] == {"a": 1, "b": 0.0, "c": "y"}
    assert points[-1] == {"a": 3, "b": 1.0, "c": "y"}
    assert sorted({p["b"] for p in points}) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert design_points(settings, parameters) == points


def test_lhs_hits_every_stratum_once_and_integer_parameters_are_whole() -> None:
    settings = SweepSettings(scenarios=("x.toml",), design="lhs", samples=10, seed=8)
    parameters = [Parameter(path="x", low=0.0, high=10.0),
                  Parameter(path="servers", low=1.0, high=6.0, integer=True)]
    points = design_points(settings, parameters)
    assert sorted(int(p["x"]) for p in points) == list(range(10))
    assert all(isinstance(p["servers"], int) and 1 <= p["servers"] <= 6 for p in points)


def test_random_design_draws_among_explicit_values() -> None:
    settings = SweepSettings(scenarios=("x.toml",), design="random", samples=30, seed=2)
    points = design_points(settings, [Parameter(path="v", values=(10, 20, 30))])
    assert {p["v"] for p in points} == {10, 20, 30}


def test_a_sobol_sweep_file_has_n_d_plus_2_points_and_the_tasks_they_imply(
        tmp_path: Path) -> None:
    path = sweep_file(tmp_path, """
[[parameters]]
path = "market.alternatives"
low = 0.2
high = 0.8
[[parameters]]
path = "business.servers"
low = 2
high = 4
integer = true
""", strategies=("god",), design="sobol", extra="samples = 2", replications=3)
    sweep = load_sweep(path)
    assert len(sweep.points) == 2 * (2 + 2)
    assert len(sweep.tasks()) == 8 * 1 * 3
    assert load_sweep(path).points == sweep.points
    for index, point in enumerate(sweep.points):
        scenario = sweep.scenarios[index, "god"]
        assert scenario.market.alternatives == point["market.alternatives"]
        assert scenario.business.servers == point["business.servers"]


# --- seeds: from (sweep seed, point, replication), shared by the strategies at a point ---

def test_strategies_at_a_point_share_its_seed_and_points_do_not(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES + """
[[parameters]]
path = "strategy.tiers[2].price"
strategies = ["tiered"]
values = [90, 120]
""", seed=21, replications=3)
    sweep = load_sweep(path)
    assert sweep.strategies == ("god", "tiered")
    seeds = []
    for index, point in enumerate(sweep.points):
        god, tiered = sweep.scenarios[index, "god"], sweep.scenarios[index, "tiered"]
        assert god.run.seed == tiered.run.seed == point_seed(21, index)
        assert god.run.replications == tiered.run.replications == 3
        assert god.run.days == 40
        # the parameter meant for tiered changes tiered only
        assert tiered.strategy.tiers[2].price == point["strategy.tiers[2].price"]
        assert god.market.alternatives == tiered.market.alternatives
        seeds.append(god.run.seed)
    assert len(set(seeds)) == len(seeds) == 4
    assert point_seed(21, 0) != point_seed(22, 0)


def test_a_run_depends_on_its_point_and_replication_only(tmp_path: Path) -> None:
    """More replications or more points leave the runs already there unchanged."""
    small = sweep_file(tmp_path, ALTERNATIVES, name="small", days=30, warmup=5, replications=2)
    big = sweep_file(tmp_path, ALTERNATIVES.replace("[0.3, 0.6]", "[0.3, 0.6, 0.9]"),
                     name="big", days=30, warmup=5, replications=3)
    a = run_sweep(load_sweep(small), tmp_path / "small", jobs=1)
    b = run_sweep(load_sweep(big), tmp_path / "big", jobs=1)
    for key, reps in a.values.items():
        for replication, metrics in reps.items():
            assert repr(b.values[key][replication]) == repr(metrics)


# --- a run that raises: recorded with its traceback, the rest goes on ---

def test_a_failing_run_is_stored_with_its_traceback_and_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES, days=30, warmup=5, seed=9)
    bad_seed = point_seed(9, 1)
    real = engine.run_replication  # executors.execute imports it from there as it runs

    def flaky(scenario: Any, replication: int) -> Any:
        if scenario.name == "tiered" and scenario.run.seed == bad_seed and replication == 1:
            raise RuntimeError("boom in the engine")
        return real(scenario, replication)

    monkeypatch.setattr(engine, "run_replication", flaky)
    out_dir = tmp_path / "out"
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q", "--check")
    assert code == 1
    assert ("run failed: point 1, tiered, replication 1: RuntimeError: boom in the engine"
            in out)
    assert "8 runs (8 run now)" in out
    rows = store_rows(out_dir)
    assert len(rows) == 8
    assert [r for r in rows if r[3] != "ok"] == [(1, "tiered", 1, "failed")]
    db = sqlite3.connect(out_dir / "runs.sqlite")
    (error,), = db.execute("SELECT error FROM runs WHERE status = 'failed'").fetchall()
    db.close()
    assert error.startswith("Traceback (most recent call last)")
    assert "in flaky" in error
    assert error.strip().endswith("RuntimeError: boom in the engine")
    # the exports hold the runs that finished
    assert len((out_dir / "sweep.csv").read_text().splitlines()) == 1 + 7
    # without --check the sweep still reports the failure, and exits 0
    monkeypatch.setattr(engine, "run_replication", real)
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q", "--resume")
    assert code == 0
    assert "8 runs (1 run now)" in out
    assert "run failed" not in out
    assert_each_run_once(out_dir, load_sweep(path).tasks())


def test_without_check_a_failed_run_is_reported_but_exits_0(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES, strategies=("god",), days=30, warmup=5,
                      replications=1)

    def broken(scenario: Any, replication: int) -> Any:
        raise ValueError("nope")

    monkeypatch.setattr(engine, "run_replication", broken)
    code, out = simrun("sweep", path, "--out", tmp_path / "out", "-j", "1", "-q")
    assert code == 0
    assert out.count("run failed:") == 2
    assert "ValueError: nope" in out


# --- the progress bar: runs done, rate, ETA, failures ---

def test_progress_shows_runs_done_rate_eta_and_failures(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import Terminal

    from sim.progress import Progress as _Progress

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    with _Progress("runs", enabled=True) as bar:
        bar.start(10, 2)
        for i in range(4):
            time.sleep(0.12)
            bar.advance(failed=i == 3)
        time.sleep(0.15)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "Resuming: 2 of 10 runs already stored." in text
    last = [line for line in text.split("\r") if "runs" in line and "/10" in line][-1]
    assert "6/10" in last
    assert "60%" in last
    assert re.search(r"\d+(\.\d)? runs/s", last)
    assert re.search(r"\d:\d\d:\d\d", last)
    assert "1 failed" in last


# --- the store, --resume and --fresh ---

LONGER_RUNS = {"days": 120, "warmup": 10, "replications": 3, "seed": 31}
"""Runs of a few tenths of a second: a SIGKILL lands mid-sweep."""


def _count_stored(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_sweep_killed_with_sigkill_resumes_to_the_same_results(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES, **LONGER_RUNS)  # type: ignore[arg-type]
    tasks = load_sweep(path).tasks()
    assert len(tasks) == 12
    killed = tmp_path / "killed"
    kill_mid_way(["sweep", path, "--out", killed, "-j", "1", "-q"],
                 lambda: _count_stored(killed / "runs.sqlite") >= 3, timeout_s=60)
    stored = _count_stored(killed / "runs.sqlite")
    assert 3 <= stored < len(tasks), "the kill did not land mid-sweep"
    assert not (killed / "sweep.csv").exists()

    # the same command without --resume refuses to mix sweeps
    code, out = simrun("sweep", path, "--out", killed, "-j", "1", "-q")
    assert code == 2
    assert "runs.sqlite" in out
    assert "--resume" in out
    assert "--fresh" in out
    assert _count_stored(killed / "runs.sqlite") == stored

    code, out = simrun("sweep", path, "--out", killed, "-j", "1", "-q", "--resume")
    assert code == 0, out
    assert f"Resuming: {stored} of 12 runs already stored." in out
    assert f"12 runs ({12 - stored} run now)" in out
    assert_each_run_once(killed, tasks)

    whole = tmp_path / "whole"
    code, _ = simrun("sweep", path, "--out", whole, "-j", "1", "-q")
    assert code == 0
    assert_each_run_once(whole, tasks)
    assert exports(killed) == exports(whole)


def test_resume_of_a_finished_sweep_runs_nothing_and_fresh_starts_over(
        tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES, days=30, warmup=5)
    out_dir = tmp_path / "out"
    assert simrun("sweep", path, "--out", out_dir, "-j", "1", "-q")[0] == 0
    first = exports(out_dir)
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q", "--resume")
    assert code == 0
    assert "8 runs (0 run now)" in out
    assert exports(out_dir) == first
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q", "--fresh")
    assert code == 0
    assert "8 runs (8 run now)" in out
    assert exports(out_dir) == first
    assert_each_run_once(out_dir, load_sweep(path).tasks())


def test_resume_refuses_a_store_of_a_changed_sweep(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES, days=30, warmup=5, seed=1)
    out_dir = tmp_path / "out"
    assert simrun("sweep", path, "--out", out_dir, "-j", "1", "-q")[0] == 0
    sweep_file(tmp_path, ALTERNATIVES, days=30, warmup=5, seed=2)
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q", "--resume")
    assert code == 2
    assert "belongs to a different version of this sweep" in out
    assert "--fresh" in out


# --- exports ---

def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _same(text: str, value: Any) -> bool:
    if isinstance(value, float):
        number = float(text)
        return (math.isnan(number) and math.isnan(value)) or number == value
    return text == str(value)


def test_exports_are_tidy_with_means_and_cis_and_parquet_reads_back(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path = sweep_file(tmp_path, ALTERNATIVES, days=30, warmup=5, replications=3)
    out_dir = tmp_path / "out"
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q")
    assert code == 0
    assert "12 runs (12 run now), 2 points x 2 strategies x 3 replications" in out
    keys = [m.key for m in METRICS]

    tidy = _csv(out_dir / "sweep.csv")
    assert len(tidy) == 2 * 2 * 3
    assert list(tidy[0]) == ["point", "strategy", "replication", "market.alternatives", *keys]
    assert [(r["point"], r["strategy"], r["replication"]) for r in tidy] == [
        (str(p), s, str(r)) for p in range(2) for s in ("god", "tiered") for r in range(3)]
    assert {r["market.alternatives"] for r in tidy if r["point"] == "1"} == {"0.6"}

    summary = _csv(out_dir / "summary.csv")
    assert len(summary) == 2 * 2
    assert list(summary[0])[:4] == ["point", "strategy", "market.alternatives", "replications"]
    assert list(summary[0])[4:] == [f"{k}_{s}" for k in keys for s in ("mean", "ci_low",
                                                                        "ci_high")]
    for row in summary:
        assert row["replications"] == "3"
        profits = [float(r["profit"]) for r in tidy
                   if (r["point"], r["strategy"]) == (row["point"], row["strategy"])]
        assert float(row["profit_mean"]) == pytest.approx(np.mean(profits), rel=1e-12)
        assert float(row["profit_ci_low"]) < float(row["profit_mean"]) < float(
            row["profit_ci_high"])

    for name, rows in (("sweep", tidy), ("summary", summary)):
        table = pq.read_table(out_dir / f"{name}.parquet")
        assert table.column_names == list(rows[0])
        back = table.to_pylist()
        assert len(back) == len(rows)
        for text_row, parquet_row in zip(rows, back, strict=True):
            for column, text in text_row.items():
                assert _same(text, parquet_row[column]), (name, column)


EXPORTS_AFTER_IMPORT_AHEAD = """
import sys
from pathlib import Path
from sim.experiment.store import Store
from sim.experiment.sweep import load_sweep
from sim.experiment.sweep_output import collect, import_for_exports, write_exports
folder = Path(sys.argv[1])
sweep = load_sweep(sys.argv[2])
store = Store.open_existing(folder / "runs.sqlite")
values = collect(store.runs())
store.close()
import_for_exports()
before = set(sys.modules)
write_exports(sweep, values, folder / "again")
print(sorted(set(sys.modules) - before))
"""


def test_the_exports_import_nothing_that_was_not_imported_ahead(tmp_path: Path) -> None:
    """A sweep on worker processes imports what its exports need while it waits for the
    runs (sweep_output.import_for_exports); the exports, in a fresh process, then import
    nothing more, and write the same files."""
    path = sweep_file(tmp_path, ALTERNATIVES, days=20, warmup=5, replications=2)
    code, out = simrun("sweep", path, "--out", tmp_path, "-j", "1", "-q")
    assert code == 0, out
    done = subprocess.run([sys.executable, "-c", EXPORTS_AFTER_IMPORT_AHEAD, str(tmp_path),
                           str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    for name in ("sweep.csv", "summary.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / name).read_bytes()


def test_only_a_sweep_on_other_processes_imports_ahead(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With -j 1 the runs are this process's: importing ahead would only slow them."""
    from sim.experiment import sweep_runner

    calls: list[int] = []
    monkeypatch.setattr(sweep_runner, "import_for_exports", lambda: calls.append(1))
    sweep = load_sweep(sweep_file(tmp_path, ALTERNATIVES, days=20, warmup=5, replications=1))
    run_sweep(sweep, tmp_path / "one", jobs=1)
    assert calls == []
    run_sweep(sweep, tmp_path / "two", jobs=2)
    assert calls == [1]


# --- expectations: judged on means or on the paired CI; --check and --junit ---

def test_judge_on_means_or_on_the_paired_ci(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES + """
[[expect]]
name = "means"
metric = "profit"
left = "tiered"
op = ">"
right = "god"

[[expect]]
name = "ci"
metric = "profit"
left = "tiered"
op = ">"
right = "god"
judge = "ci"

[[expect]]
name = "ci where alternatives >= 0.5"
metric = "profit"
left = "tiered"
op = ">"
right = "god"
judge = "ci"
where = [{ path = "market.alternatives", op = ">=", value = 0.5 }]

[[expect]]
metric = "profit"
left = "god"
op = ">="
value = 2
judge = "ci"
""", days=30, warmup=5, replications=4)
    sweep = load_sweep(path)
    means, ci, where, fixed = sweep.expectations

    def reps(values: list[float]) -> dict[int, dict[str, float]]:
        return {r: {"profit": v} for r, v in enumerate(values)}

    values = {
        # point 0: the mean difference is +2, but its CI straddles zero
        (0, "tiered"): reps([1, 3, 2, 10]), (0, "god"): reps([2, 2, 2, 2]),
        # point 1: the paired difference is exactly +1 on every replication (CI [1, 1]),
        # although each side alone spreads over 10 to 40
        (1, "tiered"): reps([11, 21, 31, 41]), (1, "god"): reps([10, 20, 30, 40]),
    }
    assert judge(sweep, means, values).passed
    assert judge(sweep, means, values).checked == 2
    verdict = judge(sweep, ci, values)
    assert not verdict.passed
    assert len(verdict.failures) == 1
    assert verdict.failures[0].startswith("point 0 (market.alternatives=0.3): tiered - god = 2")
    assert "does not show >" in verdict.failures[0]
    verdict = judge(sweep, where, values)
    assert verdict.passed
    assert verdict.checked == 1
    # against a fixed value: god's profit is 2, 2, 2, 2 at point 0 (CI [2, 2]: >= 2 holds)
    verdict = judge(sweep, fixed, values)
    assert verdict.failures == ()
    assert fixed.describe() == "god.profit >= 2 at every point (95% CI)"
    # a point without runs fails the expectation rather than passing silently
    verdict = judge(sweep, means, {k: v for k, v in values.items() if k[0] == 0})
    assert verdict.failures == ("point 1 (market.alternatives=0.6): no finished runs",)


EXPECTATIONS = """
[[expect]]
name = "revenue is positive everywhere"
metric = "revenue"
left = "god"
op = ">"
value = 0
judge = "ci"

[[expect]]
metric = "revenue"
left = "tiered"
op = ">"
value = 0
"""

IMPOSSIBLE = """
[[expect]]
metric = "profit"
left = "tiered"
op = ">"
value = 1e12
where = [{ path = "market.alternatives", op = ">=", value = 0.5 }]
"""


def test_check_passes_and_junit_has_no_failures(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES + EXPECTATIONS, days=30, warmup=5, replications=3)
    junit = tmp_path / "ci" / "junit.xml"
    junit.parent.mkdir()
    code, out = simrun("sweep", path, "--out", tmp_path / "out", "-j", "1", "-q", "--check",
                       "--junit", junit)
    assert code == 0, out
    assert "PASS  revenue is positive everywhere  (2 points checked)" in out
    assert "PASS  tiered.revenue > 0 at every point  (2 points checked)" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
    assert [c.get("name") for c in suite.iter("testcase")] == [
        "revenue is positive everywhere", "tiered.revenue > 0 at every point"]
    assert not list(suite.iter("failure"))


def test_check_fails_with_the_failing_points_listed_and_junit_failures(
        tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES + EXPECTATIONS + IMPOSSIBLE, name="ci-sweep",
                      days=30, warmup=5, replications=3)
    junit = tmp_path / "junit.xml"
    out_dir = tmp_path / "out"
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q", "--check",
                       "--junit", junit)
    assert code == 1
    lines = out.splitlines()
    fail = lines.index("  FAIL  tiered.profit > 1e+12 wherever market.alternatives >= 0.5  "
                       "(1 point checked)")
    assert lines[fail + 1].strip().startswith("point 1 (market.alternatives=0.6): tiered ")
    assert lines[fail + 1].strip().endswith("> 1e+12 is false")
    assert "point 0" not in out
    assert sum(line.startswith("  PASS") for line in lines) == 2
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "simrun sweep ci-sweep"
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    failures = list(suite.iter("failure"))
    assert len(failures) == 1
    assert failures[0].get("message") == "1 of 1 points fail"
    assert "point 1 (market.alternatives=0.6)" in (failures[0].text or "")
    # the same sweep without --check reports the failure but exits 0 (resume: no rerun)
    code, out = simrun("sweep", path, "--out", out_dir, "-j", "1", "-q", "--resume")
    assert code == 0
    assert "FAIL  tiered.profit > 1e+12" in out


# --- simrun report on a sweep's folder --------------------------------------------------

def test_report_on_a_sweep_folder_writes_a_sweep_report(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES + """
[[expect]]
name = "tiered <b>beats</b> god"
metric = "profit"
left = "tiered"
op = ">"
right = "god"
""", extra='name = "<i>$odd$</i> sweep"', days=30, warmup=5)
    out = tmp_path / "out"
    assert simrun("sweep", path, "--out", out, "-j", "1", "-q")[0] == 0
    code, text = simrun("report", out)
    assert code == 0, text
    html = (out / "report.html").read_text()
    assert "<h1>Sweep &lt;i&gt;$odd$&lt;/i&gt; sweep</h1>" in html
    assert "tiered &lt;b&gt;beats&lt;/b&gt; god" in html
    assert html.count('src="data:image/svg+xml;base64,') >= 3
    assert "<script" not in html
    assert "http" not in html.replace("http-equiv", "")
    assert simrun("report", out, "-o", tmp_path / "again.html")[0] == 0
    assert (tmp_path / "again.html").read_bytes() == html.encode()


def test_report_on_a_sweep_whose_file_changed_says_so(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, ALTERNATIVES, days=30, warmup=5, replications=1)
    out = tmp_path / "out"
    assert simrun("sweep", path, "--out", out, "-j", "1", "-q")[0] == 0
    path.write_text(path.read_text().replace("values = [0.3, 0.6]", "values = [0.4]"))
    code, text = simrun("report", out)
    assert code == 2
    assert f"comes from {path.resolve()}, which has changed since" in text
    assert not (out / "report.html").exists()


def test_a_smoke_run_of_a_sweep_with_n_and_set(tmp_path: Path) -> None:
    out = tmp_path / "smoke"
    code, text = simrun("sweep", ROOT / "scenarios/sweeps/abuse.toml", "-n", "1", "--set",
                        "run.days=20", "--set", "run.warmup_days=5", "--out", out, "-j", "1",
                        "-q")
    assert code == 0, text
    assert "x 1 replications; results in" in text
    assert {row[2] for row in store_rows(out)} == {0}
