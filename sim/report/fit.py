"""The fit report (``simrun fit ... --report``): does the fitted scenario predict the
holdout period, and as well as BG/NBD?

One self-contained HTML page like every simrun report (:mod:`sim.report.page`: the
same template, style and inline charts): a verdict in plain words, the error figures
side by side, the charts of :mod:`sim.charts.fit`, what was fitted and what assumed,
the BG/NBD estimates and the scenario file. It reads a
:class:`~sim.fit.holdout.Holdout` and computes nothing.
"""

from __future__ import annotations

import math

from sim import __version__
from sim.fit.holdout import Error, Holdout
from sim.report.html import Html, el, esc
from sim.report.page import PAGE, _caption, _figure
from sim.report.style import CSS


def render_fit_report(h: Holdout) -> str:
    """The report as one HTML document."""
    from sim.charts.fit import FIT_CHARTS

    fit = h.fitted
    cal = fit.calibration
    title = f"Fit of {cal.log.source}"
    charts = [_figure(name, make(h), _caption(name, make), number)
              for number, (name, make) in enumerate(FIT_CHARTS.items(), start=1)]
    sections = [
        el("header", el("h1", title), el("p", _subtitle(h), cls="subtitle")),
        el("section", el("h2", "Summary"), el("p", verdict(h), cls="verdict"), id="summary"),
        el("section", el("h2", "Errors in the holdout period"), _errors(h.errors),
           el("p", "Each figure is defined in docs/calibrate.md (\"Reading the report\"). "
              "Smaller is better; a difference is simulated minus actual.", cls="note"),
           id="errors"),
        el("section", el("h2", "Charts"), el("div", charts, cls="charts"), id="charts"),
        el("section", el("h2", "What was fitted"), _fitted(fit.fitted),
           el("h3", "Assumed, not fitted"),
           el("ul", [el("li", item) for item in fit.assumed]),
           el("h3", "BG/NBD"), el("p", _bgnbd(h), cls="note"), id="fitted"),
        el("section", el("h2", "The scenario"),
           el("details", el("summary", f"{fit.name}.toml (as written)"),
              el("pre", _scenario(h))), id="scenario"),
        el("footer", el("p", f"simrun {__version__} · seed {fit.scenario.run.seed} · "
                        f"{h.replications} replications of the holdout simulation. The same "
                        "log and options always give this same file.")),
    ]
    return PAGE.substitute(title=esc(f"{title} · simrun fit report"), version=esc(__version__),
                           css=CSS, body=el("main", sections))


def _subtitle(h: Holdout) -> str:
    cal = h.fitted.calibration
    return (f"{len(cal.log.customers):,} customers, {len(cal.log.day):,} purchase occasions; "
            f"calibration {cal.log.origin:%Y-%m-%d} to {cal.calibration_end:%Y-%m-%d}, "
            f"holdout to {cal.end:%Y-%m-%d}; {len(cal.segments)} segment"
            f"{'s' if len(cal.segments) != 1 else ''} ({cal.segments_from})")


def verdict(h: Holdout) -> str:
    """Which model predicts the holdout's repeat purchases better, in one sentence."""
    total = next(e for e in h.errors if e.what == "repeat purchases in the holdout, total")
    tracks = next(e for e in h.errors if e.what == "cumulative repeat purchases, holdout weeks")
    if total.bgnbd is None or math.isnan(total.simrun) or math.isnan(total.bgnbd):
        return "The holdout period has no repeat purchases to compare."
    better = "simrun" if abs(total.simrun) < abs(total.bgnbd) else "BG/NBD"
    return (f"Repeat purchases in the holdout period: simrun is off by {total.simrun:+.1f}%, "
            f"BG/NBD by {total.bgnbd:+.1f}%, so {better} predicts the total better; week by "
            f"week the cumulative count is off by {tracks.simrun:.1f}% (simrun) and "
            f"{tracks.bgnbd:.1f}% (BG/NBD) on average.")


def _errors(errors: list[Error]) -> Html:
    head = el("thead", el("tr", el("th", "what"), el("th", "measure"), el("th", "simrun"),
                          el("th", "BG/NBD")))
    rows = [el("tr", el("th", e.what), el("td", e.measure, cls="what"),
               el("td", _value(e.simrun, e)),
               el("td", "n/a" if e.bgnbd is None else _value(e.bgnbd, e)))
            for e in errors]
    return el("table", head, el("tbody", rows), cls="numbers why")


def _value(x: float, e: Error) -> str:
    """A signed error with its sign (+: simrun or BG/NBD above actual), a size without."""
    if math.isnan(x):
        return "n/a"
    signed = e.measure in ("% error", "difference")
    number = f"{x:+.1f}" if signed else f"{x:.1f}" if e.unit == "%" else f"{x:.2f}"
    if signed and e.unit != "%":
        number = f"{x:+.2f}"
    return f"{number}%" if e.unit == "%" else f"{number} {e.unit}"


def _fitted(lines: list[tuple[str, str]]) -> Html:
    return el("table", el("tbody", [el("tr", el("th", what), el("td", value, cls="what"))
                                    for what, value in lines]), cls="why")


def _bgnbd(h: Holdout) -> str:
    m = h.bgnbd
    return (f"Fitted to the calibration customers' histories (weeks): r = {m.r:.3f}, "
            f"alpha = {m.alpha:.3f}, a = {m.a:.3f}, b = {m.b:.3f}, log-likelihood "
            f"{m.log_likelihood:,.1f} (Fader, Hardie and Lee 2005).")


def _scenario(h: Holdout) -> str:
    from sim.fit.scenario_out import scenario_text

    return scenario_text(h.fitted)
