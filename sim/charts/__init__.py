"""The workshop charts: matplotlib figures of a comparison, made to be projected.

Each chart is a function of a :class:`~sim.experiment.compare.ComparisonResult` (a
single run is a one-strategy comparison: ``sim.experiment.output.load_any``) that
returns a :class:`matplotlib.figure.Figure`. Charts only read results; they compute no
metric the results do not hold, touch no global matplotlib state (no pyplot, no backend
switch) and keep one colour per strategy across every chart. :data:`CHARTS` lists them
in the order a talk would show them; :func:`write_charts` writes them as PNG and SVG;
:class:`ChartBook` binds them to one result, as ``result.charts``.

    from sim.charts import CHARTS, headline, write_charts
    fig = headline(result)                      # one chart
    write_charts(result, Path("results/workshop/charts"))
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from sim.charts.customers import retention, satisfaction, segments, survival, waits
from sim.charts.files import PNG_DPI, figure_png, figure_svg, write_charts_with
from sim.charts.money import cumulative_profit, headline, profit_vs_retention, waterfall
from sim.experiment.compare import ComparisonResult
from sim.experiment.runner import ScenarioResult

Chart = Callable[[ComparisonResult], Figure]

CHARTS: dict[str, Chart] = {
    "headline": headline,
    "cumulative_profit": cumulative_profit,
    "retention": retention,
    "survival": survival,
    "waterfall": waterfall,
    "satisfaction": satisfaction,
    "waits": waits,
    "profit_vs_retention": profit_vs_retention,
    "segments": segments,
}
"""Every chart by file-name stem, in presentation order."""


def write_charts(result: ComparisonResult, folder: Path) -> list[Path]:
    """Write NAME.png (150 dpi) and NAME.svg for every chart into ``folder``; returns the
    paths written, with why.png and why.svg when the comparison was explained. Same
    result, same SVG bytes."""
    paths = write_charts_with(CHARTS, result, folder)
    if result.why is not None:
        from sim.charts.explain import write_explain_chart

        paths += write_explain_chart(result.why, folder)
    return paths


class ChartBook:
    """The charts bound to one result: ``result.charts.headline()`` is
    ``headline(result)``, ``result.charts.write(folder)`` is :func:`write_charts`. A single
    run is charted as a one-strategy comparison."""

    def __init__(self, result: ComparisonResult | ScenarioResult) -> None:
        self._result = (result if isinstance(result, ComparisonResult)
                        else ComparisonResult.of_one(result))

    def __dir__(self) -> list[str]:
        return [*CHARTS, "write"]

    def __getattr__(self, name: str) -> Callable[[], Figure]:
        if name not in CHARTS:
            raise AttributeError(f"no chart {name!r}; charts: {', '.join(CHARTS)}")
        return functools.partial(CHARTS[name], self._result)

    def write(self, folder: str | Path) -> list[Path]:
        return write_charts(self._result, Path(folder))


__all__ = ["CHARTS", "PNG_DPI", "Chart", "ChartBook", "cumulative_profit", "figure_png",
           "figure_svg", "headline", "profit_vs_retention", "retention", "satisfaction",
           "segments", "survival", "waits", "waterfall", "write_charts"]
