"""The Python API as a notebook user meets it: short reprs, long tables, errors that list
the valid names, a progress bar, ``sim.charts``, and the README's example saved as a
script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Terminal
from paths import ROOT

import sim
from sim.experiment.compare import ComparisonResult
from sim.metrics import DAILY_COLUMNS, METRICS

SHORT = ["run.days=20", "run.warmup_days=5"]


@pytest.fixture(scope="module")
def comparison() -> ComparisonResult:
    return sim.compare(ROOT / "scenarios/god.toml", ROOT / "scenarios/tiered.toml",
                       replications=2, jobs=1, overrides=SHORT)


def test_import_sim_gives_the_charts() -> None:
    done = subprocess.run([sys.executable, "-c", "import sim; print(sim.charts.headline.__name__)"],
                          capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout == "headline\n"


def test_reprs_are_short_and_say_what_the_result_is(comparison: ComparisonResult) -> None:
    text = repr(comparison)
    assert len(text) < 300
    assert text.startswith("<ComparisonResult 'god-tiered': god (baseline), tiered; "
                           "2 replications, seed 2024; probability of the best profit: ")
    one = repr(comparison.result("god"))
    assert len(one) < 300
    assert one.startswith("<ScenarioResult 'god': strategy god, 2 replications, seed 2024, "
                          "days 5-20; profit ")


def test_notebooks_get_a_small_html_table(comparison: ComparisonResult) -> None:
    html = comparison._repr_html_()
    assert len(html) < 5000
    assert "<table>" in html
    assert "god (baseline)" in html
    assert "tiered" in html
    assert "<table>" in comparison.result("tiered")._repr_html_()


def test_replications_and_daily_are_long_tables(comparison: ComparisonResult) -> None:
    pytest.importorskip("pandas")
    runs = comparison.result("god").replications()
    assert list(runs.columns) == ["replication", "metric", "unit", "value"]
    assert len(runs) == 2 * len(METRICS)
    daily = comparison.daily()
    assert list(daily.columns) == ["strategy", "replication", "day", "measured", "series",
                                   "value"]
    assert len(daily) == 2 * 2 * 20 * len(DAILY_COLUMNS)
    assert set(daily["strategy"]) == {"god", "tiered"}
    assert daily[daily["day"] < 5]["measured"].eq(False).all()
    both = comparison.replications()
    assert list(both.columns)[:2] == ["strategy", "replication"]
    profit = both[(both.metric == "profit") & (both.strategy == "tiered")]["value"]
    assert list(profit) == [run.metrics["profit"] for run in comparison.result("tiered").runs]


def test_without_pandas_the_tables_say_so(comparison: ComparisonResult,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="cmp.daily.. returns a pandas DataFrame and pandas "
                                          "is not installed: pip install pandas"):
        comparison.daily()
    assert isinstance(comparison.summary(), list)


def test_unknown_names_are_errors_that_list_the_valid_ones(
        comparison: ComparisonResult) -> None:
    with pytest.raises(ValueError, match=r"unknown strategy 'tierd' \(did you mean 'tiered'\?\)"
                                         r"; strategies: god, tiered"):
        comparison.paired_difference("tierd", "profit")
    with pytest.raises(ValueError, match=r"unknown metric 'proft' \(did you mean 'profit'\?\); "
                                         r"metrics: profit, customer_retention, "):
        comparison.paired_difference("tiered", "proft")
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        comparison.probability_best("nope")
    with pytest.raises(ValueError, match="unknown metric"):
        comparison.result("god").estimate("revenu")


def test_progress_shows_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setenv("TERM", "xterm")
    result = sim.run(ROOT / "scenarios/god.toml", replications=2, jobs=1, overrides=SHORT,
                     progress=True)
    assert len(result.runs) == 2
    assert "replications" in screen.getvalue()
    assert "2/2" in screen.getvalue()


def test_more_jobs_than_cores_is_an_error_that_says_how() -> None:
    with pytest.raises(ValueError, match=r"jobs=100000: 100000 is more than the \d+ cores of "
                                         r"this machine \(sim.limits.lifted\(\) to go beyond"):
        sim.run(ROOT / "scenarios/god.toml", jobs=100000)


def test_the_readme_notebook_example_runs_as_a_script(tmp_path: Path) -> None:
    """The README's notebook lines, saved as a file and run with python: without the
    __main__ guard the replications run in this one process, with a warning."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("In a notebook:\n\n```python\n")[1].split("```")[0]
    code = [line.split("  #")[0].rstrip() for line in block.splitlines()]
    script = tmp_path / "notebook.py"
    # Writing every chart takes seconds and is tested in test_charts.py: one chart here.
    script.write_text("\n".join(code).replace("replications=10", "replications=2, "
                      "overrides=['run.days=20', 'run.warmup_days=5']")
                      .replace('cmp.charts.write("results/my-charts")',
                               f"sim.charts.files.write_charts_with({{'headline': "
                               f"sim.charts.headline}}, cmp, "
                               f"__import__('pathlib').Path({str(tmp_path / 'charts')!r}))")
                      + "\n")
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "calls simrun at its top level without 'if __name__ == \"__main__\":'" in done.stderr
    assert (tmp_path / "charts" / "headline.png").is_file()
