"""simrun compare: strategies meet the same customers, and the pairing pays off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from paths import ROOT

from sim.cli import main
from sim.experiment.compare import ComparisonResult, compare, load_comparison
from sim.scenario import ScenarioError, load_scenario

SHORT = ["run.days=60", "run.warmup_days=10", "run.replications=8"]


@pytest.fixture(scope="module")
def god_vs_tiered() -> ComparisonResult:
    specs = [load_scenario(ROOT / f"scenarios/{name}.toml", SHORT) for name in ("god", "tiered")]
    return compare(specs, jobs=2)


def test_paired_intervals_are_narrower_than_unpaired_ones(god_vs_tiered: ComparisonResult) -> None:
    """Common random numbers: on the same runs, the paired CI of the difference in
    profit, revenue and visits served is narrower than Welch's unpaired CI."""
    for metric in ("profit", "revenue", "served", "prospects_new"):
        paired = god_vs_tiered.paired_difference("tiered", metric)
        unpaired = god_vs_tiered.unpaired_difference("tiered", metric)
        assert paired.mean == pytest.approx(unpaired.mean)
        assert paired.half_width < unpaired.half_width, metric


def test_new_customer_arrivals_are_shared_across_strategies(god_vs_tiered: ComparisonResult) -> None:
    """The same candidates arrive under both strategies (only reputation, which moves
    slowly, thins them differently), so the count of new customers differs between
    strategies far less than it varies between replications."""
    paired = god_vs_tiered.paired_difference("tiered", "prospects_new")
    spread = god_vs_tiered.result("god").estimates()["prospects_new"].sd
    assert paired.sd < spread


def test_probability_best_sums_to_one_and_follows_the_metric(god_vs_tiered: ComparisonResult) -> None:
    best = god_vs_tiered.probability_best("profit")
    assert sum(best.values()) == pytest.approx(1.0)
    d = god_vs_tiered.paired_difference("tiered", "profit")
    winner = "tiered" if d.mean > 0 else "god"
    assert best[winner] > 0.5
    cost_best = god_vs_tiered.probability_best("cost_per_customer")
    cheaper = min(god_vs_tiered.names, key=lambda n: god_vs_tiered.result(n)
                  .estimates()["cost_per_customer"].mean)
    assert cost_best[cheaper] > 0.5


def test_different_markets_are_refused_unless_allowed() -> None:
    specs = [load_scenario(ROOT / "scenarios/scarcity.toml", SHORT),
             load_scenario(ROOT / "scenarios/scarcity-monopoly.toml", SHORT)]
    with pytest.raises(ScenarioError, match="market differs"):
        compare(specs, jobs=1)
    result = compare(specs, jobs=1, allow_different_markets=True)
    assert result.names == ("scarcity", "scarcity-monopoly")


def test_one_file_with_a_compare_table_names_the_strategies() -> None:
    specs, settings = load_comparison([ROOT / "scenarios/workshop.toml"])
    assert [s.name for s in specs] == ["god", "tiered", "scarcity", "partner"]
    assert [s.strategy.preset for s in specs] == ["god", "tiered", "scarcity", "partner"]
    assert settings == {"name": "workshop", "baseline": "god", "metric": "profit"}


def test_compare_writes_each_strategy_and_the_comparison(tmp_path: Path) -> None:
    args = ["compare", str(ROOT / "scenarios/god.toml"), str(ROOT / "scenarios/partner.toml"),
            "-n", "2", "-j", "1", "--set", "run.days=30", "--set", "run.warmup_days=5",
            "--baseline", "partner", "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args, prog_name="simrun", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    out = result.output.split("Results written to")[0]
    assert "Probability of being best on Profit (EUR): " in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 80
    header = " ".join(out.split("───")[0].split())
    assert "Customer as partner (baseline)" in header
    assert "Customer is God" in header
    rest = header.replace("Customer as partner", "").replace("Customer is God", "")
    assert "god" not in rest
    assert "partner" not in rest
    assert "money" not in out.lower()
    served = next(line for line in out.splitlines() if line.strip().startswith("Customers served"))
    assert "." not in served
    for strategy in ("god", "partner"):
        assert (tmp_path / strategy / "summary.json").is_file()
    meta = json.loads((tmp_path / "comparison.json").read_text())
    assert meta["baseline"] == "partner"
    assert meta["strategies"]["partner"]["metrics"]["profit"]["diff_vs_baseline"] == 0
    header = (tmp_path / "comparison.csv").read_text().splitlines()[0]
    assert header.startswith("strategy,metric,label,unit,mean,ci_low,ci_high")


def test_an_unknown_baseline_is_a_clear_error(tmp_path: Path) -> None:
    args = ["compare", str(ROOT / "scenarios/god.toml"), str(ROOT / "scenarios/tiered.toml"),
            "--baseline", "tierd", "-n", "2", "--out", str(tmp_path)]
    result = CliRunner().invoke(main, args, prog_name="simrun")
    assert result.exit_code == 2
    assert "--baseline" in result.output
    assert "did you mean 'tiered'?" in result.output
    assert "Traceback" not in result.output


def test_the_python_api_returns_summaries() -> None:
    import sim

    result = sim.compare(ROOT / "scenarios/god.toml", ROOT / "scenarios/tiered.toml",
                         overrides=["run.days=30", "run.warmup_days=5"], replications=2, jobs=1)
    rows = result.summary()
    strategies = set(rows["strategy"]) if hasattr(rows, "columns") else {r["strategy"] for r in rows}
    assert strategies == {"god", "tiered"}
    single = sim.run(ROOT / "scenarios/partner.toml", replications=2, jobs=1,
                     overrides=["run.days=30", "run.warmup_days=5"])
    assert len(single.runs) == 2


def test_results_carry_their_chart_functions(god_vs_tiered: ComparisonResult) -> None:
    """As sim.run and sim.compare return them: sim.api attaches the charts to results."""
    from matplotlib.figure import Figure

    import sim.api  # noqa: F401

    assert isinstance(god_vs_tiered.charts.headline(), Figure)
    assert isinstance(god_vs_tiered.result("god").charts.waterfall(), Figure)
    with pytest.raises(AttributeError, match="no chart 'pie'"):
        god_vs_tiered.charts.pie()


def test_a_fresh_notebook_gets_charts_as_the_readme_shows() -> None:
    """``import sim`` alone: results of sim.run and sim.compare carry ``.charts``."""
    script = (
        "import sim\n"
        "short = ['run.days=20', 'run.warmup_days=5']\n"
        "one = sim.run('scenarios/partner.toml', replications=1, jobs=1, overrides=short)\n"
        "print(type(one.charts.waterfall()).__name__)\n"
        "cmp = sim.compare('scenarios/god.toml', 'scenarios/tiered.toml', replications=1,\n"
        "                  jobs=1, overrides=short)\n"
        "print(type(cmp.charts.headline()).__name__, sorted(dir(cmp.charts))[:2])\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=300)
    assert done.stdout.split("\n")[:2] == ["Figure", "Figure ['cumulative_profit', 'headline']"]
