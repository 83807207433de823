"""The scenarios' key parameters as tables a room can read: the market, its customer
segments, and each strategy's policies and tiers.

It reads the typed scenario only (never the TOML), and shows what a person needs to
judge the comparison; every other knob is in the resolved scenario, shown collapsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.experiment.compare import MARKET_PARTS
from sim.formats import format_duration, format_number, format_share
from sim.report.html import Html, el, join
from sim.scenario.distributions import Distribution
from sim.scenario.model import Scenario, Strategy
from sim.scenario.schema import to_raw

KIND_LABELS = {
    "self_select": "customers choose their tier",
    "by_segment": "by segment",
    "by_spend": "by past spend",
    "everyone": "everyone, on arrival",
    "daily_slots": "daily slots",
    "none": "none",
    "satisfaction_target": "towards a satisfaction target",
}


def distribution(d: Distribution, is_duration: bool = False, share: bool = False) -> str:
    """'median 75 (lognormal, σ 0.25)', 'mean 45 min (gamma, cv 0.4)', '2% to 12%'."""
    def show(x: float) -> str:
        if is_duration:
            return format_duration(x)
        return format_share(x) if share else format_number(x)

    k, p = d.kind, d.params
    if k == "constant":
        return show(p[0])
    if k == "exponential":
        return f"mean {show(p[0])} (exponential)"
    if k == "gamma":
        return f"mean {show(p[0])} (gamma, cv {p[1]:g})"
    if k == "lognormal":
        return f"median {show(p[0])} (lognormal, σ {p[1]:g})"
    if k == "normal":
        return f"mean {show(p[0])} (normal, sd {show(p[1])})"
    if k == "uniform":
        return f"{show(p[0])} to {show(p[1])} (uniform)"
    if k == "triangular":
        return f"{show(p[0])} to {show(p[2])}, mode {show(p[1])}"
    return f"mean {show(d.mean)} ({k})"


def key_value_table(caption: str, rows: Sequence[tuple[str, str]]) -> Html:
    return el("table", el("caption", caption),
              el("tbody", [el("tr", el("th", k, scope="row"), el("td", v)) for k, v in rows]),
              cls="params")


def market_tables(s: Scenario) -> Html:
    """Run, business and market settings, then the customer segments side by side."""
    b, m, r = s.business, s.market, s.run

    def clock(hour: float) -> str:
        return f"{int(hour):02d}:{round(60 * (hour - int(hour))):02d}"

    measured = r.days - r.warmup_days
    run = [("Simulated days", f"{r.days} ({r.warmup_days} warm-up, {measured} measured)"),
           ("Replications", str(r.replications)), ("Seed", str(r.seed))]
    business = [("Servers", str(b.servers)),
                ("Open", f"{clock(b.open_hour)} to {clock(b.close_hour)}, every day"),
                ("Staff cost per hour", format_number(b.staff_cost_per_hour)),
                ("Unit cost per visit", format_number(b.unit_cost_per_visit)),
                ("Service failure rate", format_share(b.failure_rate)),
                ("Fix / apology cost",
                 f"{format_number(b.fix_cost)} / {format_number(b.apology_cost)}"),
                ("Request cost (reasonable / not)",
                 f"{format_number(b.request_cost)} / {format_number(b.unreasonable_request_cost)}")]
    market = [("New prospects per day", format_number(m.new_customers_per_day)),
              ("Competition", f"{m.alternatives:g} (0 monopoly, 1 many equal rivals)"),
              ("Lock-in (switching cost)", f"{m.lock_in:g}, weighted by (1 \u2212 competition)\u00b2"),
              ("Reputation of ordinary service (norm)", f"{m.norm_reputation:g} of 10"),
              ("Acquisition cost", f"{format_number(m.acquisition_cost)} per new prospect"),
              ("Referral delay", distribution(m.referral_delay, is_duration=True))]
    return join([el("div", key_value_table("Run", run), key_value_table("Business", business),
                    key_value_table("Market", market), cls="param-grid"),
                 segments_table(s)])


def segments_table(s: Scenario) -> Html:
    rows: list[tuple[str, Any]] = [
        ("Share of new customers", lambda g: format_share(g.share)),
        ("Willingness to pay", lambda g: distribution(g.wtp)),
        ("Value of time per hour", lambda g: distribution(g.value_of_time_per_h)),
        ("Service time", lambda g: distribution(g.service_time, is_duration=True)),
        ("Patience in the queue", lambda g: distribution(g.patience, is_duration=True)),
        ("Time between visits", lambda g: distribution(g.visit_interval, is_duration=True)),
        ("Special requests per visit", lambda g: distribution(g.request_rate)),
        ("Unreasonable share of requests",
         lambda g: distribution(g.unreasonable_share, share=True)),
        ("Abuse propensity per visit", lambda g: distribution(g.abuse_propensity, share=True)),
        ("Loyalty", lambda g: distribution(g.loyalty)),
    ]
    head = el("thead", el("tr", el("th", "Segment", scope="col"),
                          [el("th", g.name, scope="col") for g in s.segments]))
    body = el("tbody", [el("tr", el("th", label, scope="row"),
                           [el("td", show(g)) for g in s.segments]) for label, show in rows])
    return el("table", el("caption", "Customer segments"), head, body, cls="params wide")


def policy(obj: object) -> str:
    """A policy as words: its kind's label and its settings ('daily slots: slots per day
    24, waitlist yes')."""
    raw = to_raw(obj)
    if isinstance(raw, str):  # a policy without settings
        return KIND_LABELS.get(raw, raw.replace("_", " "))
    kind = raw.pop("kind", "")
    label = KIND_LABELS.get(kind, kind.replace("_", " "))
    if kind == "none" or not raw:
        return label
    settings = []
    for name, value in raw.items():
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, dict):
            shown = ", ".join(f"{k} → {v}" for k, v in value.items())
        elif isinstance(value, float):
            shown = f"{value:g}"
        else:
            shown = str(value)
        settings.append(f"{name.replace('_', ' ')} {shown}")
    return f"{label}: {'; '.join(settings)}"


def strategy_rows(st: Strategy) -> list[tuple[str, str]]:
    return [
        ("Tiers", ", ".join(f"{t.name} {format_number(t.price)}" for t in st.tiers)),
        ("Tier assignment", policy(st.assignment)),
        ("Admission", policy(st.admission)),
        ("After a failure", policy(st.recovery)),
        ("Screening accuracy", format_share(st.screening_accuracy)),
        ("Exclusivity boost", f"{st.exclusivity_boost:g}"),
        ("Adaptation", policy(st.adaptation)),
    ]


def strategies_table(scenarios: Sequence[Scenario]) -> Html:
    """Strategy-level knobs, one column per strategy."""
    head = el("thead", el("tr", el("th", "Strategy", scope="col"),
                          [el("th", s.label, scope="col") for s in scenarios]))
    columns = [strategy_rows(s.strategy) for s in scenarios]
    body = el("tbody", [el("tr", el("th", label, scope="row"), [el("td", col[i][1])
                                                                for col in columns])
                        for i, (label, _) in enumerate(columns[0])])
    return el("table", el("caption", "What each strategy does"), head, body,
              cls="params wide")


def tiers_table(s: Scenario) -> Html:
    """One strategy's tiers: the offer a customer sees."""
    by_spend = s.strategy.assignment.kind == "by_spend"
    columns = ["Tier", "Price", "Value ×", "Priority", "Service level", "Requests", "Refunds",
               "Delight chance", *(["Min spend"] if by_spend else [])]
    rows = []
    for t in s.strategy.tiers:
        cells = [format_number(t.price), f"{t.value:g}", str(t.priority), f"{t.service_level:g}",
                 policy(t.requests), policy(t.refunds), format_share(t.delight_chance),
                 *([format_number(t.min_spend)] if by_spend else [])]
        rows.append(el("tr", el("th", t.name, scope="row"), [el("td", c) for c in cells]))
    preset = f" (preset {s.strategy.preset})" if s.strategy.preset and \
        s.strategy.preset != s.name else ""
    return el("table", el("caption", f"{s.label}{preset}: tiers"),
              el("thead", el("tr", [el("th", c, scope="col") for c in columns])),
              el("tbody", rows), cls="params tiers")


def market_differences(scenarios: Sequence[Scenario]) -> list[str]:
    """Market settings that differ between strategies, as 'market.alternatives: god 0.5,
    god-monopoly 0.1' (by strategy name, never by file, so the report stays the same when
    the results are read back from their folder)."""
    flat = [dict(_flatten({part: to_raw(getattr(s, part)) for part in MARKET_PARTS}))
            for s in scenarios]
    out = []
    for key in flat[0]:
        if key == "run.name":
            continue
        values = [f.get(key) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out.append(f"{key}: " + ", ".join(f"{s.name} {v}" for s, v in
                                              zip(scenarios, values, strict=True)))
    return out


def _flatten(raw: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(raw, dict):
        return [kv for k, v in raw.items() for kv in _flatten(v, f"{prefix}{k}.")]
    if isinstance(raw, list) and raw and isinstance(raw[0], dict):
        return [kv for i, v in enumerate(raw) for kv in _flatten(v, f"{prefix[:-1]}[{i}].")]
    return [(prefix[:-1], raw)]


def parameters_section(scenarios: Sequence[Scenario]) -> Html:
    differences = market_differences(scenarios)
    note = None
    if differences:
        note = el("p", "The strategies do not all meet the same market (",
                  "; ".join(differences), "): the market below is the first strategy's, "
                  "and the paired differences are less clean.", cls="warning")
    return join([el("h3", "Market and customers"), note, market_tables(scenarios[0]),
                 el("h3", "Strategies"), strategies_table(scenarios),
                 el("div", [tiers_table(s) for s in scenarios], cls="tier-grid")])
