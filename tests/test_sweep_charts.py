"""Sweep charts: which charts each design gets, the files (PNG and SVG, reproducible),
the winner map on a case built by hand, and the sensitivity indices (SALib) on known
functions of the sweep's own points.

Four tiny sweeps are run once for the module (30 days, 2 replications); the cases with
known answers reuse their sweeps with fabricated values.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import sys
from pathlib import Path

import matplotlib
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from sweep_helpers import scenario_list

from sim.charts.files import figure_svg, freeze_layout
from sim.charts.style import STRATEGY_COLOURS
from sim.charts.sweep import (
    heatmap_chart,
    line_chart,
    notes,
    sensitivity_chart,
    sweep_charts,
    winner_chart,
    write_sweep_charts,
)
from sim.experiment.sweep import Parameter, load_sweep
from sim.experiment.sweep_analysis import sensitivity, winners
from sim.experiment.sweep_runner import SweepResult, run_sweep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GOD, TIERED = (to_hex(c) for c in STRATEGY_COLOURS[:2])
ALTERNATIVES = "market.alternatives"
ABUSE = "segments[1].abuse_propensity"


def run(folder: Path, name: str, design: str, parameters: str, *,
        strategies: tuple[str, ...] = ("god", "tiered"), samples: int = 4) -> SweepResult:
    """Write a sweep file into ``folder``, load it and run it (one process)."""
    path = folder / f"{name}.toml"
    path.write_text(
        "[sweep]\n"
        f"scenarios = {scenario_list(*strategies)}\n"
        f'design = "{design}"\n'
        f"samples = {samples}\n"
        "replications = 2\n"
        "seed = 7\n"
        'set = ["run.days=30", "run.warmup_days=5"]\n' + parameters)
    return run_sweep(load_sweep(path), folder / f"{name}-out", jobs=1)


def ranged(path: str, low: float, high: float) -> str:
    return f'[[parameters]]\npath = "{path}"\nlow = {low}\nhigh = {high}\n'


def listed(path: str, values: list[float]) -> str:
    return f'[[parameters]]\npath = "{path}"\nvalues = {values}\n'


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sweep-charts")


@pytest.fixture(scope="module")
def grid1(folder: Path) -> SweepResult:
    return run(folder, "grid1", "grid", listed(ALTERNATIVES, [0.3, 0.7]))


@pytest.fixture(scope="module")
def grid2(folder: Path) -> SweepResult:
    return run(folder, "grid2", "grid",
               listed(ALTERNATIVES, [0.3, 0.7]) + listed(ABUSE, [0.02, 0.2]))


@pytest.fixture(scope="module")
def sobol(folder: Path) -> SweepResult:
    return run(folder, "sobol", "sobol",
               ranged(ALTERNATIVES, 0.2, 0.8) + ranged(ABUSE, 0.0, 0.3), strategies=("god",))


@pytest.fixture(scope="module")
def morris(folder: Path) -> SweepResult:
    return run(folder, "morris", "morris",
               ranged(ALTERNATIVES, 0.2, 0.8) + ranged(ABUSE, 0.0, 0.3), samples=2)


def with_values(result: SweepResult, value: dict[tuple[int, str], list[dict[str, float]]]
                ) -> SweepResult:
    """The result with fabricated replication values: (point, strategy) -> [metrics]."""
    values = {key: dict(enumerate(reps)) for key, reps in value.items()}
    return dataclasses.replace(result, values=values, failures=[])


def assert_chart_files(folder: Path, paths: list[Path], stems: list[str]) -> None:
    assert sorted(paths) == sorted(folder / f"{s}.{fmt}" for s in stems for fmt in ("png", "svg"))
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)
    for stem in stems:
        png = (folder / f"{stem}.png").read_bytes()
        assert png.startswith(PNG_MAGIC), stem
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width == pytest.approx(2000, abs=2), stem
        assert width / height == pytest.approx(16 / 9, rel=0.01), stem
        svg = (folder / f"{stem}.svg").read_text(encoding="utf-8")
        assert svg.startswith("<?xml"), stem
        assert svg.rstrip().endswith("</svg>"), stem


# --- which charts, and the files ---------------------------------------------------------


@pytest.fixture(scope="module")
def written(grid1: SweepResult, folder: Path) -> tuple[Path, list[Path]]:
    """The charts of the one-parameter grid, default metrics."""
    return folder / "grid1-charts", write_sweep_charts(grid1, folder / "grid1-charts")


def test_a_one_parameter_grid_gets_a_line_per_strategy_for_each_metric(
        grid1: SweepResult, written: tuple[Path, list[Path]]) -> None:
    stems = [f"line_{m}" for m in ("profit", "customer_retention", "cost_per_customer")]
    assert_chart_files(*written, stems)
    fig = line_chart(grid1, "profit")
    ax = fig.axes[0]
    lines = {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}
    assert lines == {"Customer is God": GOD, "Tiered service": TIERED}
    assert len(ax.collections) == 2  # one 95% band per strategy
    assert list(ax.get_lines()[0].get_xdata()) == [0.3, 0.7]
    assert "95% CI" in fig.get_supxlabel()
    assert "no sensitivity indices" in " ".join(notes(grid1))


def test_svg_is_byte_identical_across_writes(grid1: SweepResult,
                                             written: tuple[Path, list[Path]]) -> None:
    again = figure_svg(freeze_layout(sweep_charts(grid1, ("profit",))["line_profit"]()))
    assert again.encode("utf-8") == (written[0] / "line_profit.svg").read_bytes()
    assert "<dc:date>" not in again


def test_a_two_parameter_grid_gets_heatmaps_and_winner_maps(
        grid2: SweepResult, tmp_path: Path) -> None:
    paths = write_sweep_charts(grid2, tmp_path, metrics=("profit",))
    assert_chart_files(tmp_path, paths, ["heatmap_profit", "winner_profit"])
    assert list(sweep_charts(grid2)) == [f"{kind}_{m}" for m in
                                         ("profit", "customer_retention", "cost_per_customer")
                                         for kind in ("heatmap", "winner")]
    fig = heatmap_chart(grid2, "profit")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title(loc="left") for ax in panels] == ["Customer is God", "Tiered service"]
    assert [ax.images[0].get_array().shape for ax in panels] == [(2, 2), (2, 2)]


def test_a_grid_of_three_parameters_gets_main_effects_and_says_why_no_heatmap(
        grid2: SweepResult) -> None:
    third = Parameter(path="business.servers", values=(1, 2))
    parameters = (*grid2.sweep.parameters, third)
    points = tuple({p.path: v for p, v in zip(parameters, combo, strict=True)}
                   for combo in itertools.product([0.3, 0.7], [0.02, 0.2], [1, 2]))
    sweep = dataclasses.replace(grid2.sweep, parameters=parameters, points=points)
    fake = with_values(dataclasses.replace(grid2, sweep=sweep), {
        (i, s): [{"profit": float(i + k)} for k in range(2)]
        for i in range(len(points)) for s in sweep.strategies})
    charts = sweep_charts(fake, metrics=("profit",))
    assert list(charts) == ["main_effects_profit"]
    assert isinstance(charts["main_effects_profit"](), Figure)
    assert any("heatmap" in note and "3 parameters" in note for note in notes(fake))


def test_an_undefined_metric_is_drawn_as_no_value_not_a_crash(grid1: SweepResult) -> None:
    # 25 measured days: no complete 90-day period, customer retention is NaN everywhere
    fig = line_chart(grid1, "customer_retention")
    fig.draw_without_rendering()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("No value" in t and "measure at least 90 days after the warm-up" in t for t in texts)


def test_sweep_charts_name_strategies_by_label_and_money_by_currency(
        grid1: SweepResult, grid2: SweepResult) -> None:
    line = line_chart(grid1, "profit")
    assert line.axes[0].get_ylabel() == "Profit (EUR)"
    assert line.get_suptitle().startswith("Profit (EUR) against")
    assert line_chart(grid1, "customer_retention").axes[0].get_ylabel() == \
        "Customer retention (per 90-day period)"
    for fig in (line, heatmap_chart(grid2, "cost_per_customer"), winner_chart(grid2, "profit")):
        text = " ".join(re.findall(r"<!-- (.*?) -->", figure_svg(freeze_layout(fig))))
        assert "money" not in text.lower()
        assert not re.search(r"\b(god|tiered)\b", text)
        assert "Customer is God" in text


def test_charts_touch_no_global_matplotlib_state(grid2: SweepResult) -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    before = matplotlib.rcParams.copy()
    winner_chart(grid2, "profit").draw_without_rendering()
    assert matplotlib.rcParams.copy() == before
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules


def test_unknown_metric_is_refused(grid1: SweepResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown metric 'proft'"):
        write_sweep_charts(grid1, tmp_path, metrics=("proft",))


# --- the winner map -----------------------------------------------------------------------


def constructed(grid2: SweepResult) -> SweepResult:
    """god clearly ahead on profit wherever alternatives = 0.3; at 0.7 tiered ahead on
    the mean but the paired differences straddle 0. Cost per customer: god lower at
    abuse 0.02 (clearly), tiered lower at abuse 0.2 (clearly)."""
    value = {}
    for i, point in enumerate(grid2.sweep.points):
        low_alt, low_abuse = point[ALTERNATIVES] == 0.3, point[ABUSE] == 0.02
        god = [100.0, 110.0]
        tiered = [0.0, 10.0] if low_alt else [103.0, 109.0]  # diffs +3, -1: too close
        god_cost, tiered_cost = ([5.0, 6.0], [9.0, 10.0]) if low_abuse else (
            [9.0, 10.0], [5.0, 6.5])
        value[i, "god"] = [{"profit": p, "cost_per_customer": c}
                           for p, c in zip(god, god_cost, strict=True)]
        value[i, "tiered"] = [{"profit": p, "cost_per_customer": c}
                              for p, c in zip(tiered, tiered_cost, strict=True)]
    return with_values(grid2, value)


def test_winner_map_names_the_best_strategy_and_flags_close_calls(grid2: SweepResult) -> None:
    fake = constructed(grid2)
    profit = winners(fake, "profit")
    assert set(profit) == {(a, b) for a in (0.3, 0.7) for b in (0.02, 0.2)}
    for (alternatives, _), lead in profit.items():
        if alternatives == 0.3:
            assert (lead.winner, lead.runner_up, lead.close) == ("god", "tiered", False)
            assert lead.difference.mean == pytest.approx(100.0)
        else:
            assert (lead.winner, lead.runner_up, lead.close) == ("tiered", "god", True)
            assert lead.difference.mean == pytest.approx(1.0)
    cost = winners(fake, "cost_per_customer")  # lower is better
    for (_, abuse), lead in cost.items():
        assert lead.winner == ("god" if abuse == 0.02 else "tiered")
        assert not lead.close
        assert lead.difference.mean > 0  # signed in the winner's favour


def test_winner_map_colours_each_cell_by_its_winner_and_hatches_close_calls(
        grid2: SweepResult) -> None:
    fig = winner_chart(constructed(grid2), "profit")
    ax = next(a for a in fig.axes if a.patches)
    cells = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_fill()]
    colour_at = {(round(p.get_x() + 0.5), round(p.get_y() + 0.5)): to_hex(p.get_facecolor())
                 for p in cells}
    # x: alternatives 0.3, 0.7 (columns); y: abuse 0.02, 0.2 (rows)
    assert colour_at == {(0, 0): GOD, (0, 1): GOD, (1, 0): TIERED, (1, 1): TIERED}
    hatched = sorted((round(p.get_x() + 0.5), round(p.get_y() + 0.5)) for p in ax.patches
                     if p.get_gid() == "too-close")
    assert hatched == [(1, 0), (1, 1)]
    texts = [t.get_text() for t in ax.texts]
    assert sum("too close" in t for t in texts) == 2
    assert "higher is better" in fig.get_suptitle()


# --- sensitivity -------------------------------------------------------------------------


def test_sobol_design_gets_scatter_and_sensitivity_charts(
        sobol: SweepResult, tmp_path: Path) -> None:
    assert len(sobol.sweep.points) == 4 * (2 + 2)
    paths = write_sweep_charts(sobol, tmp_path, metrics=("profit",))
    assert_chart_files(tmp_path, paths, ["scatter_profit", "sensitivity_profit"])
    indices = sensitivity(sobol, "profit", "god")
    assert list(indices) == [ALTERNATIVES, ABUSE]
    assert all(set(v) == {"S1", "ST"} and not math.isnan(v["ST"]) for v in indices.values())
    undefined = sensitivity(sobol, "customer_retention", "god")  # NaN at 30 days
    assert all(math.isnan(x) for v in undefined.values() for x in v.values())
    fig = sensitivity_chart(sobol, "customer_retention")
    fig.draw_without_rendering()
    assert any("not computable" in t.get_text() for t in fig.texts)
    assert notes(sobol) == []


def test_sobol_indices_rank_the_parameter_that_matters_first(sobol: SweepResult) -> None:
    # Y = 3 x0 + 0 x1, built on the sweep's own points (in point order)
    fake = with_values(sobol, {(i, "god"): [{"profit": 3 * point[ALTERNATIVES]}] * 2
                               for i, point in enumerate(sobol.sweep.points)})
    indices = sensitivity(fake, "profit", "god")
    x0, x1 = indices[ALTERNATIVES], indices[ABUSE]
    assert x0["S1"] > x1["S1"]
    assert x0["ST"] > x1["ST"]
    assert x1["S1"] == pytest.approx(0.0, abs=1e-9)
    assert x1["ST"] == pytest.approx(0.0, abs=1e-9)
    assert x0["ST"] > 0.5
    fig = sensitivity_chart(fake, "profit")
    fig.draw_without_rendering()
    assert "Sobol" in fig.get_suptitle()


def test_morris_design_gets_mu_star_in_the_metric_units_over_each_range(
        morris: SweepResult, tmp_path: Path) -> None:
    paths = write_sweep_charts(morris, tmp_path, metrics=("profit",))
    assert_chart_files(tmp_path, paths, ["scatter_profit", "sensitivity_profit"])
    indices = sensitivity(morris, "profit", "tiered")
    assert all(set(v) == {"mu_star", "sigma"} for v in indices.values())
    # Y = 3 x0: every elementary effect is 3 x (high - low) of x0, and 0 for x1. Holds
    # only if X is the points in parameter space and Y follows the point order.
    fake = with_values(morris, {(i, s): [{"profit": 3 * point[ALTERNATIVES]}] * 2
                                for i, point in enumerate(morris.sweep.points)
                                for s in morris.sweep.strategies})
    for strategy in morris.sweep.strategies:
        indices = sensitivity(fake, "profit", strategy)
        assert indices[ALTERNATIVES]["mu_star"] == pytest.approx(3 * (0.8 - 0.2))
        assert indices[ALTERNATIVES]["sigma"] == pytest.approx(0.0, abs=1e-9)
        assert indices[ABUSE]["mu_star"] == pytest.approx(0.0, abs=1e-9)


def test_sensitivity_needs_a_sobol_or_morris_design(grid1: SweepResult,
                                                    sobol: SweepResult) -> None:
    with pytest.raises(ValueError, match="sobol or morris"):
        sensitivity(grid1, "profit", "god")
    with pytest.raises(ValueError, match="unknown strategy"):
        sensitivity(sobol, "profit", "partner")
