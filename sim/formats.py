"""Numbers as people read them: every number simrun writes for a person is formatted here.

Tables in the terminal, the report's tables and sentences, chart labels and ticks, and
the scenario's settings in the report all take their text from these functions, so
"12.5%", "1.2k" or "45 min" mean the same thing wherever they appear. Units are those
of :class:`~sim.metrics.Metric`: 'money', 'share' (0-1, shown as %), 'hours', 'count',
'score' (0-10) and 'nps'. Nothing here computes a statistic; the module imports nothing
heavy, so the command line can use it before any simulation is loaded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.metrics import Estimate, Metric

MINUS = "\u2212"
"""The typographic minus, as matplotlib's own tick labels use."""


def in_sentence(label: str) -> str:
    """A metric's name inside a sentence: 'Profit (EUR)' -> 'profit (EUR)'; an acronym
    such as 'CLV / CAC' or 'NPS' stays as it is (a label is never lowercased whole)."""
    if label[1:2].isupper():
        return label
    return label[:1].lower() + label[1:]


def with_minus(text: str) -> str:
    """``text`` with its hyphen-minus signs set as typographic minus signs (charts)."""
    return text.replace("-", MINUS)


# --- tables and reports: a metric's value, interval and difference ------------------------


def format_value(value: float, unit: str) -> str:
    """A number as a person reads it: money with separators, shares as %, hours in
    minutes or hours, counts as whole numbers (a mean over replications too)."""
    if math.isnan(value):
        return "n/a"
    if unit == "money":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "hours":
        return f"{60 * value:.1f} min" if abs(value) < 2 else f"{value:.2f} h"
    if unit in ("score", "nps"):
        return f"{value:.2f}" if unit == "score" else f"{value:+.1f}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def format_plain(value: float, unit: str) -> str:
    """:func:`format_value` without the sign of a zero that rounding left ('-0.0 min')."""
    text = format_value(value, unit)
    if text.startswith("-") and not any(c in "123456789" for c in text):
        return text[1:]
    return text


def format_half_width(e: Estimate, metric: Metric) -> str:
    """The 95% CI half-width as shown after '±': shares in percentage points, hours in
    the unit the mean is shown in ('12.5 min ±1.5'), counts whole from 1 on."""
    half = e.half_width
    if metric.unit == "share":
        return f"{100 * half:.1f}"
    if metric.unit == "hours":
        return f"{60 * half:.1f}" if abs(e.mean) < 2 else f"{half:.2f}"
    if metric.unit == "count" and half < 1:
        return f"{half:.1f}"
    return format_value(half, metric.unit).lstrip("+")


def format_difference(d: Estimate, metric: Metric) -> str:
    """A paired difference to the baseline: '+12,345 ±800', '-4.2 pts ±0.5'."""
    if math.isnan(d.mean):
        return "n/a"
    sign = "+" if d.mean >= 0 else ""
    if metric.unit == "share":
        body = f"{sign}{100 * d.mean:.1f} pts"
    elif metric.unit == "nps":
        body = format_value(d.mean, metric.unit)
    else:
        body = sign + format_value(d.mean, metric.unit)
    return body if math.isnan(d.low) else f"{body} ±{format_half_width(d, metric)}"


def format_size(value: float, metric: Metric) -> str:
    """A difference's size without its sign: '52,300', '3.2 points', '4.5 min'."""
    if metric.unit == "share":
        return f"{100 * abs(value):.1f} points"
    if metric.unit == "nps":
        return f"{abs(value):.1f} points"
    return format_plain(abs(value), metric.unit)


def format_interval(e: Estimate, metric: Metric) -> str:
    """'95% CI 35,100 to 37,700', or '' without an interval."""
    if math.isnan(e.low):
        return ""
    return f"95% CI {format_plain(e.low, metric.unit)} to {format_plain(e.high, metric.unit)}"


def format_difference_interval(d: Estimate, metric: Metric) -> str:
    """The ends of a difference's interval, each signed: '+1,200 to +3,400', '-1.5 to
    +0.3 points'."""
    if metric.unit == "share":
        return f"{100 * d.low:+.1f} to {100 * d.high:+.1f} points"

    def signed(x: float) -> str:
        text = format_plain(x, metric.unit)
        return text if text.startswith("-") else f"+{text}"

    return f"{signed(d.low)} to {signed(d.high)}"


def format_probability(p: float) -> str:
    """A probability as a whole percentage: '57%'."""
    return f"{p:.0%}"


# --- charts: short labels with a typographic minus -----------------------------------------


def format_short(value: float) -> str:
    """A large number, short: 1.5M, 12k, 2.5k, −800 (money and counts)."""
    size = abs(value)
    if math.isnan(value):
        return "n/a"
    if size >= 1e6:
        text = f"{value / 1e6:.1f}M".replace(".0M", "M")
    elif size >= 1e4:
        text = f"{value / 1e3:.0f}k"
    elif size >= 1e3:
        text = f"{value / 1e3:.1f}k".replace(".0k", "k")
    else:
        text = f"{value:.0f}"
    return with_minus(text)


def format_percent(share: float) -> str:
    """A share (0-1) as a percentage, with a decimal only when it is not whole: 25%, 57.5%."""
    pct = 100 * share
    text = f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-6 else f"{pct:.1f}%"
    return with_minus(text)


def format_compact(value: float, unit: str) -> str:
    """A value as written inside a chart: 57.5%, 12k, 48.3, 45 min, −1.2k."""
    if math.isnan(value):
        return "n/a"
    if unit == "share":
        return with_minus(f"{100 * value:.1f}%")
    if unit in ("money", "count") and abs(value) >= 100:
        return format_short(value)
    if unit == "hours":
        return format_wait_tick(value)
    return with_minus(f"{value:.1f}")


def format_wait_tick(hours: float) -> str:
    """A duration on a chart, in minutes up to 2 h: 0.5 min, 12 min, 2.5 h, −3 min."""
    if abs(hours) >= 2:
        text = f"{hours:.1f} h"
    else:
        minutes = 60 * hours
        text = f"{minutes:.1f} min" if abs(minutes) < 10 else f"{minutes:.0f} min"
    return with_minus(text.replace(".0 ", " "))


def format_amount_tick(value: float) -> str:
    """An axis tick of money or counts: short from 100 on, else as it is (0.5, 20)."""
    return format_short(value) if abs(value) >= 100 else with_minus(f"{value:g}")


def format_minutes(hours: float) -> str:
    """Hours in minutes with one decimal: '12.5 min' (short waits)."""
    return f"{60 * hours:.1f} min"


def format_signed_whole(value: float) -> str:
    """A signed whole number: '+12', '-8' (a net promoter score on a bar)."""
    return f"{value:+.0f}"


def format_parameter(value: Any) -> str:
    """A swept parameter's value as a tick: 0.1, 0.367, 110, 2500."""
    if isinstance(value, float):
        number = value
        if number == round(number) or abs(number) >= 100:
            return f"{number:.0f}"
        return f"{number:.3g}"
    return str(value)


# --- scenario settings (the report's parameter tables) --------------------------------------


def format_duration(hours: float) -> str:
    """Hours as a person says them: '45 min', '1.5 h', '10 d', '4 w'."""
    if hours >= 168 and abs(hours / 168 - round(hours / 168)) < 1e-9:
        return f"{round(hours / 168)} w"
    if hours >= 48:
        return f"{hours / 24:.3g} d"
    if hours >= 1:
        return f"{hours:.3g} h"
    return f"{60 * hours:.3g} min"


def format_number(value: float) -> str:
    """A setting: whole numbers with separators, others to four significant digits."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) >= 1000 else f"{value:.4g}"


def format_share(share: float) -> str:
    """A share (0-1) setting as a percentage to three significant digits: '2%', '12.5%'."""
    return f"{100 * share:.3g}%"
