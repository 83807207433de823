"""The look of every chart, in one place: palette, fonts, size, footer, tick formats.

Charts are made to be projected: large type, a colour-blind-safe palette (Okabe-Ito)
and one colour and marker per strategy, fixed by the strategy's position in
``ComparisonResult.names`` so it is the same in every chart of a comparison. People
read a strategy's display label (``ComparisonResult.labels``), a metric's text with its
period and the scenario's currency (``Metric.text_for``), never an internal key.
Settings are applied with ``matplotlib.rc_context`` while a figure is built, never
globally.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.experiment.compare import ComparisonResult
from sim.formats import format_percent, format_short
from sim.metrics import METRIC_BY_KEY
from sim.views import display_name

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

    from sim.scenario.model import Scenario

OKABE_ITO = {
    "blue": "#0072B2", "orange": "#E69F00", "bluish green": "#009E73",
    "vermillion": "#D55E00", "reddish purple": "#CC79A7", "sky blue": "#56B4E9",
    "yellow": "#F0E442", "black": "#000000"}
STRATEGY_COLOURS = tuple(OKABE_ITO[c] for c in (
    "blue", "orange", "bluish green", "vermillion", "reddish purple", "sky blue", "black",
    "yellow"))
"""Strategy colours in order; the darker, more distinct ones first (yellow is faint on white)."""
STRATEGY_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
NEUTRAL = "#777777"
"""Costs in the waterfall, reference lines, annotations."""

FIGSIZE_IN = (13.33, 7.5)
"""16:9, like a projector; at 150 dpi a 2000 x 1125 pixel PNG."""
TITLE_PT, PANEL_TITLE_PT, LABEL_PT, TICK_PT, FOOTER_PT = 20, 16, 14, 13, 11
CI_ALPHA = 0.2
"""Opacity of the 95% confidence bands around mean lines."""

RC: dict[RcKeyType, Any] = {
    "font.size": LABEL_PT,
    "axes.titlesize": PANEL_TITLE_PT,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": LABEL_PT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 1.0,
    "xtick.labelsize": TICK_PT,
    "ytick.labelsize": TICK_PT,
    "legend.fontsize": TICK_PT,
    "legend.frameon": False,
    "lines.linewidth": 3.0,
    "lines.markersize": 9,
    "figure.titlesize": TITLE_PT,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "path",
    "svg.hashsalt": "simrun",
    "text.parse_math": False,  # names come from users' files: "$" is a dollar, not TeX
}
"""Applied while a figure is built and while it is saved (``svg.hashsalt`` makes the
SVG ids, hence the bytes, the same for the same figure)."""


@contextmanager
def styled() -> Iterator[None]:
    with matplotlib.rc_context(RC):
        yield


def chart(function: Callable[[ComparisonResult], Figure]) -> Callable[[ComparisonResult], Figure]:
    """Build the figure inside the chart style (rcParams are read as artists are made)."""

    @functools.wraps(function)
    def build(result: ComparisonResult) -> Figure:
        with styled():
            return function(result)

    return build


def colour(result: ComparisonResult, name: str) -> str:
    """The strategy's colour: by its position in ``result.names``, the same in every chart."""
    return STRATEGY_COLOURS[result.names.index(name) % len(STRATEGY_COLOURS)]


def marker(result: ComparisonResult, name: str) -> str:
    return STRATEGY_MARKERS[result.names.index(name) % len(STRATEGY_MARKERS)]


def label(result: ComparisonResult, name: str) -> str:
    """How people see the strategy ``name``: its display label, unique in the comparison."""
    return result.labels[name]


def scenario(result: ComparisonResult) -> Scenario:
    """The first strategy's scenario: the market, run and currency every strategy shares."""
    return result.results[0].scenario


def metric_text(result: ComparisonResult, key: str) -> str:
    """A metric's name as a person reads it, with the retention period and the currency
    filled in: 'Customer retention (per 90-day period)', 'Profit (EUR)'."""
    return METRIC_BY_KEY[key].text_for(scenario(result))


def in_currency(result: ComparisonResult, text: str) -> str:
    """``text`` about money with the currency after it, as a money metric's name reads
    ('Cumulative profit (EUR)'); without a currency, ``text`` alone."""
    currency = scenario(result).business.currency
    return with_unit(text, currency) if currency else text


def with_unit(text: str, unit: str) -> str:
    """A name with a unit word inside its parenthesis: 'Mean wait (served, min)'."""
    return f"{text[:-1]}, {unit})" if text.endswith(")") else f"{text} ({unit})"


def two_lines(text: str, width: int = 30) -> str:
    """A panel title longer than ``width`` on two lines, broken before its parenthesis
    ('Customer retention' / '(per 90-day period)'), else at the last space that fits."""
    if len(text) <= width:
        return text
    head, sep, tail = text.partition(" (")
    if sep and head:
        return f"{head}\n({tail}"
    cut = text.rfind(" ", 0, width + 1)
    return text if cut < 0 else f"{text[:cut]}\n{text[cut + 1:]}"


def no_period_yet(result: ComparisonResult, periods: int = 1) -> str:
    """The empty state of a chart of retention periods, in short lines for a small panel:
    what is missing and what to do."""
    days = period_days(result)
    missing = (f"No complete {days}-day period yet" if periods == 1
               else f"Needs {periods} complete {days}-day periods")
    return f"{missing}:\nmeasure at least {periods * days} days\nafter the warm-up"


def new_figure(result: ComparisonResult, title: str, note: str = "") -> Figure:
    """A 16:9 figure with the chart title and a footer naming the comparison, the number
    of replications, the seed and what the error bars are."""
    fig = Figure(figsize=FIGSIZE_IN, layout=ConstrainedLayoutEngine(w_pad=0.08, h_pad=0.08))
    fig.suptitle(title, x=0.01, ha="left")
    fig.supxlabel(footer(result, note), x=0.01, ha="left", fontsize=FOOTER_PT,
                  color=NEUTRAL, fontweight="normal")
    return fig


def replications(result: ComparisonResult) -> int:
    return min(len(r.runs) for r in result.results)


def footer(result: ComparisonResult, note: str = "") -> str:
    run = scenario(result).run
    n = replications(result)
    ci = ("error bars and bands: 95% CI (Student t over replications)" if n > 1
          else "one replication: no confidence interval")
    parts = [display_name(result), f"{n} replication{'s' if n != 1 else ''}", f"seed {run.seed}",
             f"days {run.warmup_days}-{run.days} measured", ci]
    if note:
        parts.append(note)
    return "  ·  ".join(parts)


def measured_days(result: ComparisonResult) -> int:
    run = scenario(result).run
    return run.days - run.warmup_days


def period_days(result: ComparisonResult) -> int:
    """Length of a retention period, days."""
    return scenario(result).run.retention_period_days


def short_ticks() -> FuncFormatter:
    """Axis ticks as :func:`~sim.formats.format_short` numbers (a new formatter per axis:
    formatters are bound to the axis they format)."""
    return FuncFormatter(lambda value, _pos=None: format_short(value))


def percent_ticks() -> FuncFormatter:
    """Axis ticks of a share (0-1) as :func:`~sim.formats.format_percent`."""
    return FuncFormatter(lambda share, _pos=None: format_percent(share))


def strategy_axis(ax: Axes, result: ComparisonResult, *, labels: bool = True) -> None:
    """Strategies top to bottom on the y axis, in comparison order, by their labels."""
    ax.set_yticks(range(len(result.names)), [label(result, n) for n in result.names])
    ax.tick_params(axis="y", labelleft=labels)
    ax.set_ylim(len(result.names) - 0.4, -0.6)
    ax.grid(False, axis="y")
    ax.tick_params(axis="y", length=0)


def few_ticks(n: int = 4) -> MaxNLocator:
    """At most ``n`` round ticks, so large tick labels do not collide."""
    return MaxNLocator(nbins=n, steps=[1, 2, 2.5, 5, 10])
