"""The workshop charts: one figure per chart, files that reproduce, colours that hold,
and words a person reads: strategies by their labels, money in the scenario's currency.

One small comparison (75 days with 30-day retention periods, so two periods are measured;
3 replications) is run once for the module and every chart is drawn from it.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from pathlib import Path

import matplotlib
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from paths import ROOT

from sim.charts import CHARTS, figure_png, figure_svg, write_charts
from sim.charts.files import freeze_layout, write_charts_with
from sim.experiment.compare import ComparisonResult, compare
from sim.experiment.runner import ScenarioResult
from sim.metrics import RunResult
from sim.scenario import load_scenario

SMALL = ["run.days=75", "run.warmup_days=10", "run.replications=3",
         "run.retention_period_days=30"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
UNITS = ("EUR", "%", "minutes", "min)", "0-10", "per 100")
METRIC_WORDS = ("profit", "retention", "cost", "survival", "satisfaction", "wait",
                "abandonment", "segment", "promoter")


@pytest.fixture(scope="module")
def result() -> ComparisonResult:
    scenarios = [load_scenario(ROOT / f"scenarios/{name}.toml", SMALL)
                 for name in ("god", "tiered")]
    return compare(scenarios, jobs=1)


@pytest.fixture(scope="module")
def written(result: ComparisonResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("charts")
    write_charts(result, folder)
    return folder


def titles(fig: Figure) -> list[str]:
    """The chart's title, its panels' titles (they sit on the left) and axis labels."""
    return [fig.get_suptitle()] + [text for ax in fig.axes for text in (
        ax.get_title(loc="left"), ax.get_title(loc="center"), ax.get_xlabel(),
        ax.get_ylabel())]


def svg_text(fig: Figure) -> list[str]:
    """Every text of the chart as written into its SVG (titles, ticks, legends, notes:
    glyphs are paths, each text is kept beside them as a comment)."""
    return re.findall(r"<!-- (.*?) -->", figure_svg(fig), flags=re.DOTALL)


@pytest.fixture(scope="module")
def written_texts(written: Path) -> dict[str, str]:
    """Every chart's texts as written to its SVG file, by chart name."""
    return {name: " | ".join(re.findall(r"<!-- (.*?) -->",
                                        (written / f"{name}.svg").read_text(encoding="utf-8"),
                                        flags=re.DOTALL))
            for name in CHARTS}


def test_every_chart_is_a_figure_whose_title_names_a_metric_and_a_unit(
        result: ComparisonResult) -> None:
    for name, chart in CHARTS.items():
        fig = chart(result)
        assert isinstance(fig, Figure), name
        assert any(word in fig.get_suptitle().lower() for word in METRIC_WORDS), name
        assert any(unit in title for title in titles(fig) for unit in UNITS), name


def test_charts_are_listed_in_presentation_order_and_public() -> None:
    import sim.charts

    assert list(CHARTS)[:2] == ["headline", "cumulative_profit"]
    assert {"retention", "survival", "waterfall", "satisfaction", "waits",
            "profit_vs_retention", "segments"} <= set(CHARTS)
    for name, chart in CHARTS.items():
        assert getattr(sim.charts, name) is chart


def test_write_charts_writes_a_png_and_an_svg_per_chart(written: Path) -> None:
    for name in CHARTS:
        png = (written / f"{name}.png").read_bytes()
        assert png.startswith(PNG_MAGIC), name
        assert len(png) > 20_000, name
        svg = (written / f"{name}.svg").read_text(encoding="utf-8")
        assert "<svg" in svg, name
        assert svg.rstrip().endswith("</svg>"), name
    assert sorted(p.name for p in written.iterdir()) == sorted(
        f"{n}.{ext}" for n in CHARTS for ext in ("png", "svg"))


def test_png_is_150_dpi_and_16_to_9(written: Path) -> None:
    png = (written / "headline.png").read_bytes()
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == pytest.approx(2000, abs=2)
    assert width / height == pytest.approx(16 / 9, rel=0.01)


def test_svg_is_byte_identical_across_writes(result: ComparisonResult, written: Path,
                                             tmp_path: Path) -> None:
    some = {"headline": CHARTS["headline"]}
    write_charts_with(some, result, tmp_path, formats=("svg",))
    for name in some:
        assert (tmp_path / f"{name}.svg").read_bytes() == (written / f"{name}.svg").read_bytes()
    svg = (written / "headline.svg").read_text(encoding="utf-8")
    assert not re.search(r"<dc:date>", svg)


def strategy_colours(ax: Axes) -> dict[str, str]:
    """Colour of each labelled line, bar group or error-bar marker in an axes."""
    handles, labels = ax.get_legend_handles_labels()
    colours = {}
    for handle, label in zip(handles, labels, strict=True):
        artist = handle[0] if isinstance(handle, tuple) else handle
        get = getattr(artist, "get_color", None) or artist.get_facecolor
        colours[label] = to_hex(get())
    return colours


def test_the_same_strategy_has_the_same_colour_in_every_chart(
        result: ComparisonResult) -> None:
    headline = CHARTS["headline"](result).axes[0]
    bars = {result.labels[name]: to_hex(patch.get_facecolor())
            for name, patch in zip(result.names, headline.patches, strict=True)}
    lines = strategy_colours(CHARTS["cumulative_profit"](result).axes[0])
    points = strategy_colours(CHARTS["profit_vs_retention"](result).axes[0])
    assert bars == lines == points
    assert len(set(bars.values())) == len(result.names)


def test_charts_name_strategies_by_their_labels_never_by_their_keys(
        result: ComparisonResult, written_texts: dict[str, str]) -> None:
    assert result.labels == {"god": "Customer is God", "tiered": "Tiered service"}
    for name, text in written_texts.items():
        for key in result.names:
            assert not re.search(rf"\b{key}\b", text), (name, key)
        assert "Customer is God" in text, name
        assert "Tiered service" in text, name


def test_no_chart_says_money_and_every_money_axis_names_the_currency(
        result: ComparisonResult, written_texts: dict[str, str]) -> None:
    for name, text in written_texts.items():
        assert "money" not in text.lower(), name
    headline = CHARTS["headline"](result)
    assert [ax.get_title(loc="left").replace("\n", " ") for ax in headline.axes] == [
        "Profit (EUR)", "Customer retention (per 30-day period)",
        "Cost per customer served (EUR)"]
    assert CHARTS["cumulative_profit"](result).axes[0].get_ylabel() == "Cumulative profit (EUR)"
    assert CHARTS["profit_vs_retention"](result).axes[0].get_ylabel() == "Profit (EUR)"
    assert CHARTS["waterfall"](result).get_suptitle().endswith("(EUR)")
    assert any("contribution (EUR)" in t for t in titles(CHARTS["segments"](result)))


def with_currency(result: ComparisonResult, currency: str) -> ComparisonResult:
    """The same comparison as if its scenarios named another currency."""
    def one(r: ScenarioResult) -> ScenarioResult:
        business = dataclasses.replace(r.scenario.business, currency=currency)
        return dataclasses.replace(r, scenario=dataclasses.replace(r.scenario, business=business))
    return ComparisonResult(result.name, tuple(one(r) for r in result.results),
                            result.baseline, result.metric)


def test_without_a_currency_money_has_no_unit_word_at_all(result: ComparisonResult) -> None:
    plain = with_currency(result, "")
    headline = CHARTS["headline"](plain)
    assert headline.axes[0].get_title(loc="left") == "Profit"
    assert CHARTS["cumulative_profit"](plain).axes[0].get_ylabel() == "Cumulative profit"
    for name, chart in CHARTS.items():
        text = " ".join(svg_text(chart(plain)))
        assert "EUR" not in text, name
        assert "()" not in text, name
        assert "(, " not in text, name
    dollars = CHARTS["headline"](with_currency(result, "$"))
    assert dollars.axes[0].get_title(loc="left") == "Profit ($)"


def test_the_retention_chart_shows_customer_retention_and_the_repeat_rate_a_firm_sees(
        result: ComparisonResult) -> None:
    fig = CHARTS["retention"](result)
    assert fig.get_suptitle() == "Customer retention by period"
    kept, repeat = (ax for ax in fig.axes if ax.get_lines())
    assert kept.get_title(loc="left") == "Customer retention\n(per 30-day period)"
    assert repeat.get_title(loc="left").startswith("Repeat rate")
    assert any("own data" in t.get_text() for t in repeat.texts)
    god = result.result("god")
    periods = len(god.runs[0].distributions["retention_by_period"])
    assert periods == 2
    assert len(kept.get_lines()[0].get_xdata()) == periods
    assert len(repeat.get_lines()[0].get_xdata()) == periods - 1


def test_the_survival_title_says_whose_survival_and_since_when(
        result: ComparisonResult) -> None:
    title = CHARTS["survival"](result).get_suptitle()
    assert "customers won in the measured window, by week since first purchase" in title


def test_segments_show_each_segments_customer_retention_and_lost_prospects_apart(
        result: ComparisonResult) -> None:
    panels = {ax.get_title(loc="left"): ax for ax in CHARTS["segments"](result).axes
              if ax.get_title(loc="left")}
    stays = next(ax for title, ax in panels.items() if "retention" in title)
    lost = next(ax for title, ax in panels.items() if "Lost prospects" in title)
    assert "prospect" not in stays.get_title(loc="left").lower()
    groups = list(result.results[0].runs[0].segments)
    rows = [run.segments[groups[0]] for run in result.result("god").runs]
    expected = sum(r["customer_retention"] for r in rows) / len(rows)
    assert stays.patches[0].get_width() == pytest.approx(expected)
    expected = sum(r["lost_prospects"] / r["prospects"] for r in rows) / len(rows)
    assert lost.patches[0].get_width() == pytest.approx(expected)


def without_periods(result: ComparisonResult) -> ComparisonResult:
    """The comparison as if no retention period had been completed (too short a run)."""
    def run(r: RunResult) -> RunResult:
        metrics = {**r.metrics, "customer_retention": math.nan, "repeat_rate": math.nan}
        shapes = {**r.distributions, "retention_by_period": (), "repeat_rate_by_period": ()}
        return dataclasses.replace(r, metrics=metrics, distributions=shapes)
    return ComparisonResult(result.name, tuple(
        ScenarioResult(one.scenario, tuple(run(r) for r in one.runs)) for one in result.results),
        result.baseline, result.metric)


def test_without_a_complete_period_the_charts_say_how_long_to_measure(
        result: ComparisonResult) -> None:
    short = without_periods(result)
    for name in ("headline", "retention", "profit_vs_retention"):
        text = " ".join(svg_text(CHARTS[name](short)))
        assert "No complete 30-day period yet" in text, name
        assert "measure at least 30 days" in text, name
    assert "measure at least 60 days" in " ".join(svg_text(CHARTS["retention"](short)))


def test_charts_touch_no_global_matplotlib_state(result: ComparisonResult) -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    before = matplotlib.rcParams.copy()
    figure_png(CHARTS["headline"](result), dpi=30)
    assert matplotlib.rcParams.copy() == before
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules


def solo(result: ComparisonResult, replications: int) -> ComparisonResult:
    """The first strategy alone, as ``load_any`` reads a single run's folder."""
    one = result.results[0]
    single = ScenarioResult(one.scenario, one.runs[:replications])
    return ComparisonResult(single.scenario.name, (single,), single.scenario.name, "profit")


def test_a_single_run_gets_every_chart_even_with_one_replication(
        result: ComparisonResult) -> None:
    single = solo(result, 1)
    for name, chart in CHARTS.items():
        fig = chart(single)
        fig.draw_without_rendering()
        assert "no confidence interval" in fig.get_supxlabel(), name
    assert figure_svg(CHARTS["headline"](solo(result, 3))).startswith("<?xml")


def test_names_with_dollar_signs_are_text_not_mathtext(result: ComparisonResult) -> None:
    """Names come from users' files: '$' must not start TeX (an unbalanced one would fail
    to draw, a balanced pair would set the name in math italics)."""
    from dataclasses import replace

    names = {"god": "$x^{2$ & co", "tiered": "save $5, pay $\\frac$"}
    renamed = tuple(replace(one, scenario=replace(one.scenario, run=replace(
        one.scenario.run, name=names[one.scenario.name]))) for one in result.results)
    odd = ComparisonResult("$ money $", renamed, names["god"], "profit")
    for chart in CHARTS.values():
        freeze_layout(chart(odd))  # lays out every text, as saving does
