"""Replications on demand: --select and --precision on simrun's own replications.

The procedures themselves are checked on synthetic data (tests/test_select.py,
tests/test_precision.py); here, that they run on the strategies of a comparison, the
same whatever the number of processes, say what they promise, and that the command
line refuses what cannot be done before it simulates anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import tiny_file, tiny_scenario

from sim.cli import main
from sim.experiment.sequential import select_best
from sim.scenario import Scenario, load_scenario

SHORT = {"run.days": 20, "run.replications": 10}


def strategies() -> list[Scenario]:
    """Two close strategies and a clearly better one, on the tiny market."""
    return [tiny_scenario("god", {**SHORT, "run.name": "god"}),
            tiny_scenario("god", {**SHORT, "run.name": "cheaper",
                                  "strategy.tiers[0].price": 59, "strategy.label": "God at 59"}),
            tiny_scenario("tiered", {**SHORT, "run.name": "tiered"})]


def test_select_is_the_same_whatever_the_number_of_processes() -> None:
    """Workers run ahead of the procedure, but each decision reads replications 0..r-1
    only: one process and two give the same stages and the same selection."""
    alone = select_best(strategies(), delta=20.0, jobs=1, max_replications=30)
    pooled = select_best(strategies(), delta=20.0, jobs=2, max_replications=30)
    assert alone.selection == pooled.selection
    selection = alone.selection
    assert selection is not None
    assert selection["selected"] == "tiered"
    assert selection["strategies"]["tiered"]["replications"] > 10  # beyond the first stage
    assert [len(r.runs) for r in alone.results] == [10, 10, 10]  # the table: the first stage
    assert selection["guarantee"] == (
        "With probability at least 95%, Tiered service is the best on profit if the best "
        "beats every other strategy by at least 20.00; differences under 20.00 count as "
        "equally good (Kim and Nelson's procedure on the same customers)")


def test_a_selection_stopped_by_the_cap_says_what_it_still_promises() -> None:
    close = strategies()[:2]
    found = select_best(close, delta=1.0, jobs=1, max_replications=12).selection
    assert found is not None
    assert found["capped"]
    assert found["contenders"] == ["god", "cheaper"]
    assert found["guarantee"].startswith(
        "The cap of 12 replications per strategy stopped the selection with 2 strategies in "
        "contention. With probability at least 95%, the best on profit is among Customer is "
        "God and God at 59 if it beats every other strategy by at least 1.00;")


def test_the_subset_keeps_what_cannot_be_ruled_out() -> None:
    found = select_best(strategies(), subset=True, jobs=1).selection
    assert found is not None
    assert found["procedure"] == "screening"
    assert "tiered" in found["contenders"]
    assert found["guarantee"].startswith("With probability at least 95%, the best strategy "
                                         "on profit is among")


@pytest.fixture(scope="module")
def selected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("select")
    files = [str(tiny_file(folder / f"{name}.toml", preset, {**SHORT, "run.name": name}))
             for name, preset in (("god", "god"), ("tiered", "tiered"))]
    out = folder / "out"
    result = CliRunner().invoke(main, ["compare", *files, "--select", "--delta", "200", "-j",
                                       "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    (out / "terminal.txt").write_text(result.output)
    return out


def test_compare_select_states_the_guarantee_in_the_terminal_and_the_json(selected: Path
                                                                          ) -> None:
    meta = json.loads((selected / "comparison.json").read_text())
    guarantee = meta["selection"]["guarantee"]
    assert guarantee.startswith("With probability at least 95%, Tiered service is the best")
    assert meta["selection"]["selected"] == "tiered"
    assert guarantee in " ".join((selected / "terminal.txt").read_text().split())


def test_the_report_states_the_guarantee_read_back_from_the_folder(selected: Path) -> None:
    """The report's section is built from comparison.json as written (the charts are
    left out here: tests/test_report.py renders whole pages)."""
    from sim.experiment.output import load_any
    from sim.report.html import esc
    from sim.report.page import _selection

    result = load_any(selected)
    assert result.selection is not None
    section = str(_selection(result))
    assert esc(result.selection["guarantee"]) in section
    assert "after 10 replications, behind Tiered service" in section


def test_run_until_precise_records_what_it_reached(tmp_path: Path) -> None:
    source = tiny_file(tmp_path / "tiny.toml", "god", {"run.days": 20})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(source), "--half-width", "100000", "-j", "1",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    precision = json.loads((out / "summary.json").read_text())["precision"]
    assert precision["reached"]
    assert precision["replications"] == 10
    assert "Precise enough after 10 replications" in result.output
    assert load_scenario(out / "scenario.toml").run.replications == 10


def test_run_at_the_cap_says_the_target_was_not_reached(tmp_path: Path) -> None:
    source = tiny_file(tmp_path / "tiny.toml", "god", {"run.days": 20})
    result = CliRunner().invoke(main, [str(source), "--precision", "0.1%", "--max-replications",
                                       "11", "-j", "1", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    precision = json.loads((tmp_path / "out" / "summary.json").read_text())["precision"]
    assert not precision["reached"]
    assert precision["replications"] == 11
    assert precision["statement"].startswith("Cap reached: after 11 replications")


def test_compare_until_precise_watches_the_paired_differences(tmp_path: Path) -> None:
    files = [str(tiny_file(tmp_path / f"{p}.toml", p, {"run.days": 20, "run.name": p}))
             for p in ("god", "tiered")]
    result = CliRunner().invoke(main, ["compare", *files, "--precision", "50%", "-j", "1",
                                       "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    precision = json.loads((tmp_path / "out" / "comparison.json").read_text())["precision"]
    assert precision["of"] == "difference"
    assert precision["widest"] == "tiered"
    assert precision["target_text"] == "±50% of the baseline's mean"


@pytest.mark.parametrize(("arguments", "message"), [
    (["--select"], "--select needs --delta"),
    (["--select", "--delta", "-5"], "--delta must be a positive number, got -5"),
    (["--select", "--delta", "5", "--confidence", "1.5"],
     "--confidence must be above 0.5 and below 1, got 1.5"),
    (["--delta", "5"], "--delta: goes with --select"),
    (["--subset"], "--subset: goes with --select"),
    (["--select", "--delta", "5", "--metric", "proft"], "did you mean 'profit'?"),
    (["--select", "--delta", "5", "-n", "5"], "a first stage of at least 10 replications"),
    (["--select", "--delta", "5", "--precision", "2%"], "decides its own replications"),
    (["--precision", "two"], "must be a percentage such as 2%"),
    (["--precision", "2%", "-n", "5"], "sets a fixed number of replications"),
    (["--half-width", "0"], "--half-width must be a positive number, got 0"),
])
def test_impossible_requests_are_refused_before_anything_runs(
        tmp_path: Path, arguments: list[str], message: str) -> None:
    files = [str(tiny_file(tmp_path / f"{p}.toml", p, {"run.name": p})) for p in ("god", "tiered")]
    result = CliRunner().invoke(main, ["compare", *files, *arguments, "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_select_needs_two_strategies(tmp_path: Path) -> None:
    source = tmp_path / "one.toml"
    source.write_text(f'extends = "{tiny_file(tmp_path / "base.toml").name}"\n'
                      '[compare]\nstrategies = ["god"]\n')
    result = CliRunner().invoke(main, ["compare", str(source), "--select", "--delta", "5"])
    assert result.exit_code == 2
    assert "must name at least two strategies" in result.output
