"""The HTML report of a market run: who holds the market, who gains at whose expense,
and the charts. It reads a MarketResult and computes nothing of its own."""

from __future__ import annotations

import math

from sim.experiment.market import MarketResult
from sim.formats import format_value
from sim.metrics import Estimate
from sim.report.html import Html, el, esc
from sim.report.page import PAGE, _figure
from sim.report.style import CSS


def who_gains(result: MarketResult) -> list[str]:
    """One sentence per firm that gains customers from switching: its net gain and from
    whom, the flows whose 95% CI excludes 0 said plainly, the others 'within noise'."""
    net = result.net_switching()
    names = result.names
    sentences = []
    for a, row in enumerate(net):
        total = sum(e.mean for e in row)
        if total <= 0:
            continue
        sources = sorted(((e, names[b]) for b, e in enumerate(row) if b != a and e.mean > 0),
                         key=lambda item: -item[0].mean)
        parts = [f"{_visits(e)} from {name}" + ("" if _clear(e) else " (within noise)")
                 for e, name in sources]
        sentences.append(f"{names[a]} gains a net {total:,.0f} served visits a replication "
                         f"from customers switching: " + ", ".join(parts) + ".")
    return sentences or ["No firm gains customers from its rivals: switching is balanced."]


def _visits(e: Estimate) -> str:
    return f"{e.mean:,.0f}" + ("" if math.isnan(e.low) else f" (95% CI {e.low:,.0f} to "
                                                             f"{e.high:,.0f})")


def _clear(e: Estimate) -> bool:
    return not math.isnan(e.low) and (e.low > 0 or e.high < 0)


def _firm_table(result: MarketResult) -> Html:
    """Firm by firm: share, profit, retention, and the two ways a firm loses a customer
    (it leaves the market: churned; it is served at a rival: lost to rivals)."""
    shares, switched = result.shares(), result.switched_away()
    head = el("tr", el("th", "Firm"), el("th", "Strategy"), el("th", "Share of served visits"),
              el("th", "Profit"), el("th", "Customer retention"),
              el("th", "Customers churned"), el("th", "Customers lost to rivals (switches)"))
    rows = []
    for i, name in enumerate(result.names):
        firm = result.firm(i)
        cells = [esc(name), esc(firm.scenario.strategy.preset or "custom")]
        for e, unit in ((shares[i], "share"), (firm.estimate("profit"), "money"),
                        (firm.estimate("customer_retention"), "share"),
                        (firm.estimate("customers_churned"), "count"), (switched[i], "count")):
            ci = "" if math.isnan(e.low) else (f" ({format_value(e.low, unit)} to "
                                               f"{format_value(e.high, unit)})")
            cells.append(esc(format_value(e.mean, unit) + ci))
        rows.append(el("tr", *(el("td", c) for c in cells)))
    return el("table", el("thead", head), el("tbody", rows))


def render_market_page(result: MarketResult) -> str:
    from sim.charts.market import MARKET_CHARTS

    s = result.scenario
    title = f"{s.name}: {len(result.names)} firms on one market"
    hhi = result.hhi()
    figures = [_figure(name, make(result), (make.__doc__ or name).strip(), number)
               for number, (name, make) in enumerate(MARKET_CHARTS.items(), start=1)]
    sections = [
        el("header", el("h1", title), el("p", f"{len(result.runs)} replications, seed "
                                              f"{s.run.seed}, days {s.run.warmup_days}-"
                                              f"{s.run.days}", cls="subtitle")),
        el("section", el("h2", "The firms"), _firm_table(result),
           el("p", f"Concentration (HHI of served shares, 0 to 10,000): {hhi.mean:,.0f}."),
           id="firms"),
        el("section", el("h2", "Who gains at whose expense"),
           el("ul", [el("li", sentence) for sentence in who_gains(result)]),
           el("p", "Net flows count served visits of customers who were served at one firm "
                   "before and at another now, minus the reverse; a customer's first "
                   "purchase on the market is no one's loss.", cls="note"),
           id="gains"),
        el("section", el("h2", "Charts"), el("div", figures, cls="charts"), id="charts"),
    ]
    return PAGE.substitute(title=esc(f"{title} · simrun report"), version=esc(result.version),
                           css=CSS, body=el("main", sections))
