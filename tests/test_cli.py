"""The simrun command as a user meets it: run, check, strategies, help, resume."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from paths import ROOT

from sim import blas
from sim.cli import main
from sim.experiment.output import Checkpoint, load_results
from sim.metrics import METRICS
from sim.model.engine import run_replication
from sim.scenario import load_scenario

SHORT = ["--set", "run.days=40", "--set", "run.warmup_days=5"]


def simrun(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), prog_name="simrun")
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_simrun_file_runs_the_scenario_and_writes_results(tmp_path: Path) -> None:
    code, out = simrun(str(ROOT / "scenarios/tiered.toml"), "-n", "2", "-j", "1",
                       "--out", str(tmp_path / "t"), *SHORT)
    assert code == 0
    lines = out.splitlines()
    first_metric_rows = [line for line in lines if line.startswith("│")][:3]
    assert [row.split("│")[1].strip() for row in first_metric_rows] == [
        "Profit (EUR)", "Customer retention (per 90-day period)",
        "Cost per customer served (EUR)"]
    assert "95% CI" in out
    names = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert names == ["daily.csv", "details.json", "replications.csv", "scenario.toml",
                     "summary.json"]


def test_summary_json_holds_every_metric_with_ci_version_and_seed(tmp_path: Path) -> None:
    code, _ = simrun(str(ROOT / "scenarios/god.toml"), "-n", "3", "-j", "1", "--seed", "11",
                     "--out", str(tmp_path), "-q", *SHORT)
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seed"] == 11
    assert summary["simrun_version"]
    profit = summary["metrics"]["profit"]
    assert profit["n"] == 3
    assert profit["ci95"][0] <= profit["mean"] <= profit["ci95"][1]
    rows = (tmp_path / "replications.csv").read_text().splitlines()
    assert len(rows) == 1 + 3
    daily = (tmp_path / "daily.csv").read_text().splitlines()
    assert len(daily) == 1 + 3 * 40


def test_summary_json_holds_the_waits_per_tier_and_they_read_back(tmp_path: Path) -> None:
    from sim.experiment.output import load_results

    code, _ = simrun(str(ROOT / "scenarios/tiered.toml"), "-n", "2", "-j", "1",
                     "--out", str(tmp_path), "-q", *SHORT)
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["tiers"]) == ["basic", "standard", "premium"]
    assert summary["tiers"]["premium"]["mean_wait_h"]["n"] == 2
    assert (summary["label"], summary["currency"]) == ("Tiered service", "EUR")
    back = load_results(tmp_path)
    assert back.runs[0].tiers["premium"]["served"] > 0
    assert repr(back.runs[1].tiers) == repr(
        json.loads((tmp_path / "details.json").read_text())[1]["tiers"])


def test_the_results_table_names_the_strategy_and_the_period_and_fits_80_columns(
        tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [str(ROOT / "scenarios/tiered.toml"), "-n", "2", "-j",
                                       "1", "--out", str(tmp_path), *SHORT],
                                prog_name="simrun", env={"COLUMNS": "80"})
    out = result.output
    assert result.exit_code == 0, out
    title = " ".join(out.split("┏")[0].split())
    assert title == ("Tiered service: 2 replications, days 5-40 (35 measured), retention "
                     "per 90-day period, seed 2024")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "money" not in out.lower()
    # 35 measured days from an empty shop: the customer base is still growing, and the
    # run says so under its table as a comparison would
    caution = " ".join(out.split("Caution: ")[1].split())
    assert caution.startswith("Tiered service's customer base still grows by"), out
    for label in ("Customers served", "Visits served", "Customers won"):
        row = next(line for line in out.splitlines() if f"│ {label} " in line)
        mean, ci = (cell.strip() for cell in row.split("│")[2:4])
        assert re.fullmatch(r"[\d,]+", mean), row
        assert re.fullmatch(r"[\d,]+ to [\d,]+", ci), row



def test_the_results_table_shows_the_imitation_cost_only_where_a_firm_may_imitate(
        tmp_path: Path) -> None:
    """Alone, a firm has no rival to copy: its imitation cost is 0 by construction, and a
    row of zeros would read as a finding. The files keep the metric either way."""
    def table(*settings: str) -> str:
        out = tmp_path / str(len(settings))
        result = CliRunner().invoke(main, [str(ROOT / "scenarios/tiered.toml"), "-n", "2",
                                           "-j", "1", "--out", str(out), *SHORT, *settings],
                                    prog_name="simrun")
        assert result.exit_code == 0, result.output
        assert "imitation_cost" in (out / "replications.csv").read_text()
        return result.output

    assert "Imitation cost" not in table()
    assert "Imitation cost (EUR)" in table("--set", "market.imitation_rate=0.5")


def test_the_results_table_names_the_rows_its_strategy_holds_at_zero_instead_of_showing_them(
        tmp_path: Path) -> None:
    """Tiered admits every visit on arrival with no limit to the waiting room, and fixes
    every failure: visits turned away and waitlisted and genuine refund claims are 0 by
    its rules, so its table leaves the rows out and says why under it. Scarcity's daily
    slots, waitlist and apologies can book all three: its table shows them (and names
    only rows of its own rules in its note). The files keep every metric."""
    def table(scenario: str) -> str:
        out = tmp_path / scenario
        result = CliRunner().invoke(main, [str(ROOT / f"scenarios/{scenario}.toml"), "-n",
                                           "2", "-j", "1", "--out", str(out), *SHORT],
                                    prog_name="simrun", terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "genuine_claims" in (out / "replications.csv").read_text()
        return result.output

    rows = ("Visits turned away", "Visits waitlisted", "Genuine refund claims")
    tiered = table("tiered")
    assert [row for row in rows if f"│ {row} " in tiered] == []
    note = " ".join(tiered.split("Not shown, 0 in every replication by the strategy's rules: ")[1]
                    .split())
    assert note.startswith("visits turned away (admission 'everyone' admits every visit, "
                           "and the waiting room has no limit); visits waitlisted "), note
    assert "genuine refund claims (recovery 'fix' repairs every failed service" in note
    scarcity = table("scarcity")
    assert [row for row in rows if f"│ {row} " in scarcity] == list(rows)
    assert not [row for row in rows if f"{row.lower()} (" in " ".join(scarcity.split())]


def test_a_full_comparison_table_names_the_rows_every_strategy_holds_at_zero(
        tmp_path: Path) -> None:
    """``compare --all-metrics`` leaves out a row only when every strategy's rules hold
    it at 0, and names it under the table: god and tiered both admit everyone and fix
    every failure; scarcity, beside god, can turn visits away, waitlist them and leave a
    failure unrepaired, so the rows are there."""
    def table(*scenarios: str) -> str:
        out = tmp_path / "-".join(scenarios)
        result = CliRunner().invoke(main, ["compare", *(str(ROOT / f"scenarios/{s}.toml")
                                                        for s in scenarios),
                                           "-n", "2", "-j", "1", "--all-metrics",
                                           "--out", str(out), *SHORT], prog_name="simrun")
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    rows = ("Visits turned away", "Visits waitlisted", "Genuine refund claims")
    both = table("god", "tiered")
    assert [row for row in rows if f"{row} " in both.split("Not shown")[0]] == []
    assert ("Not shown, 0 in every replication by every strategy's rules: visits turned "
            "away (admission 'everyone' admits every visit") in both
    with_scarcity = table("god", "scarcity")
    assert [row for row in rows if f"{row} " in with_scarcity] == list(rows)
    assert "visits turned away (" not in with_scarcity


def test_counts_are_whole_numbers_in_the_csv_files(tmp_path: Path) -> None:
    code, _ = simrun(str(ROOT / "scenarios/god.toml"), "-n", "2", "-j", "1", "-q",
                     "--out", str(tmp_path), *SHORT)
    assert code == 0
    with (tmp_path / "replications.csv").open(newline="") as handle:
        replications = list(csv.DictReader(handle))
    counts = [m.key for m in METRICS if m.unit == "count"]
    for row in replications:
        assert all(re.fullmatch(r"\d+", row[key]) for key in counts), row
        assert "." in row["profit"]
    with (tmp_path / "daily.csv").open(newline="") as handle:
        daily = list(csv.DictReader(handle))
    for row in daily:
        for column in ("served", "abandoned", "turned_away", "waitlisted", "prospects",
                       "customers_alive"):
            assert re.fullmatch(r"\d+", row[column]), (column, row)
    assert any("." in row["revenue"] for row in daily)
    loaded = load_results(tmp_path)
    assert [list(run.daily["served"]) for run in loaded.runs] == [
        [float(row["served"]) for row in daily if row["replication"] == str(r)]
        for r in range(2)]


def test_daily_csv_by_hand_whatever_its_pieces() -> None:
    """daily.csv on two replications of 3 days (warm-up 1), by hand: counts whole where
    they are whole (1e20 in full, -0.0 as 0), anything else as repr; the same text in
    pieces of any number of days."""
    from array import array

    from helpers import tiny_scenario

    from sim.experiment.output import daily_csv, daily_csv_pieces
    from sim.experiment.runner import ScenarioResult
    from sim.metrics import DAILY_COLUMNS, RunResult

    scenario = tiny_scenario("god", {"run.days": 3, "run.warmup_days": 1,
                                     "run.replications": 2})
    served = {0: [3.0, 1e20, -0.0], 1: [2.5, math.nan, math.inf]}
    runs = tuple(RunResult(replication=r, metrics={}, daily={
        c: array("d", served[r] if c == "served" else [0.1 * r, 7.0, -1.5])
        for c in DAILY_COLUMNS}, distributions={}, segments={}, checks={},
        visits_simulated=0) for r in (0, 1))
    expected = (
        "replication,day,measured," + ",".join(DAILY_COLUMNS) + "\n"
        "0,0,0,0.0,0.0,3,0,0,0,0,0.0,0.0,0.0,0.0,0\n"
        "0,1,1,7.0,7.0,100000000000000000000,7,7,7,7,7.0,7.0,7.0,7.0,7\n"
        "0,2,1,-1.5,-1.5,0,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5\n"
        "1,0,0,0.1,0.1,2.5,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1\n"
        "1,1,1,7.0,7.0,nan,7,7,7,7,7.0,7.0,7.0,7.0,7\n"
        "1,2,1,-1.5,-1.5,inf,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5,-1.5\n")
    result = ScenarioResult(scenario, runs)
    assert daily_csv(result) == expected
    for days in (1, 2):
        assert "".join(daily_csv_pieces(result, piece_days=days)) == expected


@pytest.mark.parametrize("scenario", ["tiered.toml", "market-duel.toml"])
def test_a_run_on_workers_imports_ahead_while_it_waits_and_writes_the_same_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: str) -> None:
    """With its replications in worker processes (-j 2), a run imports what it needs after
    them (the intervals' SciPy, the table's views) while it waits, once; with -j 1 (the
    replications are this process's) never; the files are the same bytes either way."""
    import sim.cli

    ahead = sim.cli._import_ahead
    calls: list[tuple[str, ...]] = []

    def recorded(*modules: str) -> Any:
        work = ahead(*modules)
        return lambda: (calls.append(modules), work())

    monkeypatch.setattr(sim.cli, "_import_ahead", recorded)
    args = [str(ROOT / "scenarios" / scenario), "-n", "3", *SHORT]
    assert simrun(*args, "-j", "1", "--out", str(tmp_path / "one"))[0] == 0
    assert calls == []
    assert simrun(*args, "-j", "2", "--out", str(tmp_path / "two"))[0] == 0
    assert [modules[0] for modules in calls] == ["sim.views"]
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*")
                   if p.is_file())
    assert files
    assert files == sorted(p.relative_to(tmp_path / "two")
                           for p in (tmp_path / "two").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


AFTER_IMPORT_AHEAD = """
import sys
from pathlib import Path
from sim.cli import _import_ahead
from sim.experiment.output import load_results, summary_dict, write_results
folder = Path(sys.argv[1])
result = load_results(folder)
_import_ahead("sim.views")()
before = set(sys.modules)
write_results(result, folder / "again")
summary_dict(result)
from sim.views import results_table
results_table(result)
print(sorted(set(sys.modules) - before))
"""


def test_what_a_run_does_after_its_replications_imports_nothing_not_imported_ahead(
        tmp_path: Path) -> None:
    """What ``simrun run`` imports while its workers run (cli._import_ahead) is all that
    its files and its table need: after it, in a fresh process, writing them imports
    nothing more."""
    code, _ = simrun(str(ROOT / "scenarios/tiered.toml"), "-n", "2", "-j", "1", "-q",
                     "--out", str(tmp_path), *SHORT)
    assert code == 0
    done = subprocess.run([sys.executable, "-c", AFTER_IMPORT_AHEAD, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


THREADS_AT_EXIT = """
import atexit, os, sys
atexit.register(lambda: print(len(os.listdir("/proc/self/task"))))
from sim.cli import main
main()
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2,
                    reason="counts threads in /proc; BLAS starts none on one core")
def test_a_command_starts_no_blas_threads(tmp_path: Path) -> None:
    """NumPy's and SciPy's BLAS start a thread per core as they load, which spin on the
    cores a pool's workers need; a command tells them not to (sim/blas.py): a run, which
    loads both, ends with its one thread."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in blas.ONE_THREAD}
    done = subprocess.run([sys.executable, "-c", THREADS_AT_EXIT, "run",
                           str(ROOT / "scenarios/tiered.toml"), "-n", "1", "-q", "--out",
                           str(tmp_path), *SHORT], capture_output=True, text=True,
                          timeout=120, check=False, env=environment)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"


def test_a_users_own_blas_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in blas.ONE_THREAD:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert simrun("strategies")[0] == 0
    assert {name: os.environ.get(name) for name in blas.ONE_THREAD} == {
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "1"}


def test_format_json_prints_the_summary(tmp_path: Path) -> None:
    code, out = simrun(str(ROOT / "scenarios/partner.toml"), "-n", "2", "-j", "1",
                       "--format", "json", "--out", str(tmp_path), *SHORT)
    assert code == 0
    assert json.loads(out)["strategy"] == "partner"


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    code, out = simrun(str(ROOT / "scenarios/god.toml"), "-n", "2", "-j", "1", "-q",
                       "--out", str(tmp_path), *SHORT)
    assert code == 0
    assert out == ""


def test_check_prints_the_resolved_scenario() -> None:
    code, out = simrun("check", str(ROOT / "scenarios/scarcity.toml"))
    assert code == 0
    assert 'kind = "daily_slots"' in out
    assert "[[segments]]" in out
    assert "staff_cost_per_hour = 25.0" in out


def test_strategies_lists_the_presets_and_their_knobs() -> None:
    code, out = simrun("strategies")
    assert code == 0
    for name in ("god", "tiered", "scarcity", "partner", "screening_accuracy", "slots_per_day",
                 "satisfaction_target", "delight_chance"):
        assert name in out


@pytest.mark.parametrize("command", [[], ["run"], ["check"], ["strategies"], ["validate"],
                                     ["compare"], ["sweep"], ["report"], ["explain"],
                                     ["tune"], ["warmup"], ["fit"], ["tournament"]])
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    code, out = simrun(*command, "--help")
    assert code == 0
    assert "Usage: simrun" in out
    assert "Example" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """Replications finished before an interruption are kept and not run again; the
    final files equal those of an uninterrupted run."""
    scenario_file = str(ROOT / "scenarios/tiered.toml")
    args = ["-n", "3", "-j", "1", "-q", *SHORT]
    code, _ = simrun(scenario_file, *args, "--out", str(tmp_path / "whole"))
    assert code == 0
    spec = load_scenario(scenario_file, [*SHORT[1::2], "run.replications=3"])
    checkpoint = Checkpoint(tmp_path / "resumed", spec)
    checkpoint.save(run_replication(spec, 1))
    code, _ = simrun(scenario_file, *args, "--out", str(tmp_path / "resumed"))
    assert code == 0
    for name in ("summary.json", "replications.csv", "daily.csv", "scenario.toml"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes()
    assert not checkpoint.folder.exists()


def test_a_scenario_error_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "%s"\n[strategy]\npreset = "tierd"\n' % (ROOT / "scenarios/base.toml"))
    code, out = simrun(str(bad))
    assert code == 2
    assert "strategy.preset" in out
    assert "did you mean 'tiered'?" in out


def test_running_a_comparison_file_points_to_compare() -> None:
    code, out = simrun(str(ROOT / "scenarios/workshop.toml"))
    assert code == 2
    assert "1 problem" in out
    assert "simrun compare FILE" in out


def test_strategies_fits_an_80_column_terminal() -> None:
    code, out = simrun("strategies")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80


def test_a_mistyped_command_gets_a_suggestion_and_a_file_still_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = simrun("strategeis")
    assert code == 2
    assert "No such command 'strategeis'. Did you mean 'strategies'?" in out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiered").write_text((ROOT / "scenarios/tiered.toml").read_text()
                                     .replace('"base.toml"', f'"{ROOT / "scenarios/base.toml"}"'))
    code, out = simrun("tiered", "-n", "1", "-j", "1", "-q", *SHORT)
    assert code == 0, out
    assert (tmp_path / "results" / "tiered" / "summary.json").is_file()


def test_shell_completion_completes_commands_and_options() -> None:
    runner = CliRunner()
    script = runner.invoke(main, [], prog_name="simrun",
                           env={"_SIMRUN_COMPLETE": "bash_source"})
    assert "_simrun_completion" in script.output
    words = runner.invoke(main, [], prog_name="simrun", env={
        "_SIMRUN_COMPLETE": "bash_complete", "COMP_WORDS": "simrun ch", "COMP_CWORD": "1"})
    assert "plain,check" in words.output.splitlines()
    options = runner.invoke(main, [], prog_name="simrun", env={
        "_SIMRUN_COMPLETE": "bash_complete", "COMP_WORDS": "simrun sweep x.toml --res",
        "COMP_CWORD": "3"})
    assert "plain,--resume" in options.output.splitlines()
