"""Specification: nothing is written where it should not be, and nothing is lost.

Names from users' files never become paths unchecked; output files replace only
regular files; a folder in use is locked; a failed write or a different scenario
never leaves a folder that mixes two runs; SIGTERM stops a run as Ctrl-C does, and
neither it nor SIGKILL leaves a worker behind.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from paths import ROOT
from processes import descendants, gone, needs_proc, wait_until
from sweep_helpers import SIMRUN, simrun

from sim.experiment.folders import folder_name, strategy_folders
from sim.experiment.lock import locked
from sim.scenario import ScenarioError

SCENARIOS = ROOT / "scenarios"
SHORT = ["-n", "2", "-j", "1", "-q", "--set", "run.days=20", "--set", "run.warmup_days=5"]


def every_file(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def named(folder: Path, name: str) -> Path:
    """A scenario named ``name`` (a TOML string) extending the shipped god.toml."""
    path = folder / "named.toml"
    path.write_text(f'extends = "{SCENARIOS / "god.toml"}"\n[run]\nname = {json.dumps(name)}\n')
    return path


# --- names never become paths ----------------------------------------------------------

@pytest.mark.parametrize(("name", "folder"), [
    ("..", "_"), (".", "_"), ("../escape", "_escape"), ("/etc/cron.d/x", "_etc_cron.d_x"),
    ("a\x00b", "a_b"), (".hidden", "hidden"), ("con", "_con"), ("comparison.json",
                                                                 "comparison.json"),
    ("tiered", "tiered"), ("café 2", "café 2")])
def test_a_name_maps_to_one_safe_folder_name(name: str, folder: str) -> None:
    assert folder_name(name) == folder


def test_long_names_are_cut_and_stay_apart() -> None:
    a, b = folder_name("x" * 300 + "a"), folder_name("x" * 300 + "b")
    assert a != b
    assert len(a.encode()) <= 100
    assert len(b.encode()) <= 100


@pytest.mark.parametrize("name", ["..", "../../outside", "/tmp/absolute", "a\x00b",
                                  "y" * 400])
def test_a_run_name_never_writes_outside_results(tmp_path: Path, name: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "summary.json").write_text("the user's own file")
    scenario = named(tmp_path, name)
    monkeypatch.chdir(work)
    code, out = simrun(scenario, *SHORT)
    assert code == 0, out
    assert (work / "summary.json").read_text() == "the user's own file"
    written = every_file(work) - {"summary.json"}
    folder = folder_name(name)
    assert written == {f"results/{folder}/{f}" for f in (
        "summary.json", "replications.csv", "daily.csv", "details.json", "scenario.toml")}
    assert f"is not a folder name: results go to results/{folder}/" in out
    assert not Path("/tmp/absolute").exists()


def test_strategies_that_map_to_one_folder_are_refused_before_anything_runs(
        tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="maps to the same folder"):
        strategy_folders(["a/b", "a_b"])
    with pytest.raises(ScenarioError, match="holds the comparison's own files"):
        strategy_folders(["god", "comparison.json"])
    path = tmp_path / "clash.toml"
    path.write_text(f'extends = "{SCENARIOS / "base.toml"}"\n'
                    '[compare.strategies."a/b"]\npreset = "god"\n'
                    '[compare.strategies.a_b]\npreset = "tiered"\n'
                    '[compare.strategies."comparison.json"]\npreset = "scarcity"\n')
    code, out = simrun("compare", path, "--out", tmp_path / "out", *SHORT)
    assert code == 2
    assert "maps to the same folder 'a_b' as strategy 'a/b'" in out
    assert "'comparison.json', which holds the comparison's own files" in out
    assert not (tmp_path / "out").exists()


def test_a_sweep_named_with_an_absolute_path_stays_under_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other-sweep"
    other.mkdir()
    (other / "runs.sqlite").write_text("another sweep's store")
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'[sweep]\nscenarios = ["{SCENARIOS / "god.toml"}"]\nname = "{other}"\n'
                     'replications = 1\nset = ["run.days=10", "run.warmup_days=2"]\n'
                     '[[parameters]]\npath = "market.alternatives"\nvalues = [0.5]\n')
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out = simrun("sweep", sweep, "--fresh", "-j", "1", "-q")
    assert code == 0, out
    assert (other / "runs.sqlite").read_text() == "another sweep's store"
    assert (work / "results" / folder_name(str(other)) / "runs.sqlite").is_file()


# --- output files: regular files or new paths only ----------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run") / "god"
    code, out = simrun(SCENARIOS / "god.toml", *SHORT, "--out", folder)
    assert code == 0, out
    return folder


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_report_output_over_a_special_file_is_refused(finished_run: Path, tmp_path: Path,
                                                      kind: str) -> None:
    target = tmp_path / "report.html"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        target.symlink_to(tmp_path / "elsewhere.html")
    else:
        target.mkdir()
    code, out = simrun("report", finished_run, "-o", target)
    assert code == 2
    assert (f"Error: {target}: is a" in out and "not a regular file" in out) or (
        kind == "folder" and f"'{target}' is a directory" in out)
    assert not (tmp_path / "elsewhere.html").exists()


def test_report_and_junit_go_to_standard_output_with_a_dash(finished_run: Path,
                                                             tmp_path: Path) -> None:
    code, out = simrun("report", finished_run, "-o", "-")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert not (finished_run / "report.html").exists()


def test_junit_over_a_fifo_is_refused_before_the_sweep_runs(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    os.mkfifo(junit)
    code, out = simrun("sweep", SCENARIOS / "sweeps/abuse.toml", "--junit", junit,
                       "--out", tmp_path / "s")
    assert code == 2
    assert "is a FIFO, not a regular file" in out
    assert not (tmp_path / "s").exists()


# --- a folder in use is locked --------------------------------------------------------------

def test_a_second_writer_of_a_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    with locked(folder):
        code, out = simrun(SCENARIOS / "god.toml", *SHORT, "--out", folder)
        assert code == 2
        assert f"Error: {folder}: in use by process {os.getpid()} (" in out
        sweep = tmp_path / "sweep.toml"
        sweep.write_text(f'[sweep]\nscenarios = ["{SCENARIOS / "god.toml"}"]\nreplications = 1\n'
                         '[[parameters]]\npath = "market.alternatives"\nvalues = [0.5]\n')
        (folder / "runs.sqlite").write_text("a running sweep's store")
        code, out = simrun("sweep", sweep, "--fresh", "--out", folder, "-q")
        assert code == 2
        assert "in use by process" in out
        assert (folder / "runs.sqlite").read_text() == "a running sweep's store"
    code, out = simrun(SCENARIOS / "god.toml", *SHORT, "--out", folder)
    assert code == 0, out
    assert not (folder / ".simrun.lock").exists()


def test_a_lock_names_the_process_and_command_of_another_program(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import sys, time; from pathlib import Path; "
         "from sim.experiment.lock import locked\n"
         "with locked(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)"),
         str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        code, out = simrun(SCENARIOS / "god.toml", *SHORT, "--out", tmp_path)
        assert code == 2
        assert f"in use by process {holder.pid} (python -c ... {tmp_path})" in out
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    assert simrun(SCENARIOS / "god.toml", *SHORT, "--out", tmp_path)[0] == 0


# --- never a folder mixing two runs ------------------------------------------------------

def test_a_different_scenario_goes_to_a_new_folder_and_says_where(tmp_path: Path) -> None:
    first = tmp_path / "tiered"
    assert simrun(SCENARIOS / "tiered.toml", *SHORT, "--out", first)[0] == 0
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    code, out = simrun(SCENARIOS / "tiered.toml", *SHORT, "--out", first,
                       "--set", "market.alternatives=0.2")
    assert code == 0
    assert (f"{first}/ holds the results of a different scenario, left as they are; these "
            f"go to {tmp_path / 'tiered-2'}/") in out
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before
    assert "alternatives = 0.2" in (tmp_path / "tiered-2" / "scenario.toml").read_text()
    code, out = simrun(SCENARIOS / "tiered.toml", *SHORT, "--out", first,
                       "--set", "market.alternatives=0.2")
    assert code == 0
    assert not (tmp_path / "tiered-3").exists()


FSIZE_RUN = """
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from sim.cli import main
sys.argv = ["simrun", *sys.argv[2:]]
main()
"""


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_failed_write_keeps_the_earlier_results_and_is_one_clean_line(tmp_path: Path) -> None:
    """The limit lets each replication's checkpoint through but not daily.csv, which
    holds every replication: the run's work is kept, its folder is as it was."""
    folder = tmp_path / "god"
    args = [str(SCENARIOS / "god.toml"), "-n", "4", "-j", "1", "-q", "--set", "run.days=100",
            "--set", "run.warmup_days=5", "--out", str(folder)]
    assert simrun(*args)[0] == 0
    inodes = {p.name: p.stat().st_ino for p in folder.iterdir()}
    limit = (folder / "daily.csv").stat().st_size // 2
    done = subprocess.run([sys.executable, "-c", FSIZE_RUN, str(limit), *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"Error: {folder / 'daily.csv'}: File too large"]
    after = {p.name: p.stat().st_ino for p in folder.iterdir() if not p.name.startswith(".")}
    assert after == inodes
    assert len(list(folder.glob(".checkpoint-*/rep-*.json"))) == 4
    assert not list(folder.glob(".*.tmp"))


# --- signals: SIGTERM like Ctrl-C, and no process left behind --------------------------------

@needs_proc
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_run_keeps_finished_work_and_leaves_no_process(tmp_path: Path,
                                                                 how: int) -> None:
    out = tmp_path / "long"
    run = subprocess.Popen([*SIMRUN, str(SCENARIOS / "god.toml"), "-n", "200", "-j", "2",
                            "-q", "--set", "run.days=60", "--set", "run.warmup_days=5",
                            "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        assert wait_until(lambda: len(list(out.glob(".checkpoint-*/rep-*.json"))) >= 2,
                          timeout=60)
        children = descendants(run.pid)
        assert len(children) >= 2
        run.send_signal(how)
        _, err = run.communicate(timeout=30)
        assert gone(children, timeout=10) == set()
    finally:
        run.kill()
        run.wait()
    assert len(list(out.glob(".checkpoint-*/rep-*.json"))) >= 2
    if how == signal.SIGTERM:
        assert run.returncode == 128 + signal.SIGTERM
        assert "Terminated: finished replications are kept" in err
        assert "Traceback" not in err


def test_an_output_folder_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in ([SCENARIOS / "god.toml", *SHORT], ["sweep", SCENARIOS / "sweeps/abuse.toml"]):
        code, out = simrun(*args, "--out", fifo)
        assert code == 2
        assert f"Error: {fifo}: is a FIFO, not a folder" in out


def test_the_api_keeps_another_scenarios_results_too(tmp_path: Path) -> None:
    import sim

    out = tmp_path / "api"
    sim.run(SCENARIOS / "god.toml", replications=1, jobs=1, overrides=SHORT[-3::2], out=out)
    with pytest.warns(UserWarning, match="holds the results of a different scenario"):
        sim.run(SCENARIOS / "god.toml", replications=1, jobs=1, seed=9,
                overrides=SHORT[-3::2], out=out)
    assert (tmp_path / "api-2" / "summary.json").is_file()
    assert json.loads((out / "summary.json").read_text())["seed"] == 2024
