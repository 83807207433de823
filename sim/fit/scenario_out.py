"""A calibration as an ordinary scenario: the TOML ``simrun fit`` writes.

The return decision of the model is a logit: the market's part (intercept, lock-in,
alternatives), the satisfaction of the visit (``return_satisfaction_weight`` x (s - 7)
+ ``return_top_weight`` x max(0, s - 8)) and the customer's loyalty. The behavioural
weights keep their documented defaults (assumed); each segment's loyalty is set so that
the logit has the fitted mean and spread: loyalty ~ normal(mu - market part - mean
satisfaction part, sigma). The mean satisfaction part comes from the log's ratings
when it has them, otherwise from a pilot run of the fitted scenario over the
calibration period (one replication): the simulation is calibrated so that its
repurchase and dropout match the data, whatever satisfaction the status quo gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import tomli_w

from sim.fit.estimate import Calibration, Estimate
from sim.model.engine import run_replication
from sim.model.events import SERVED, VisitEvent, VisitWatcher
from sim.scenario import Scenario, scenario_from_raw
from sim.scenario.model import Behaviour, Business, Market, Segment

UTILISATION = 0.6
"""Staff are set so that the visits of the calibration period's busiest week would keep
them this busy (the log does not say how many served at once)."""
WTP_HEADROOM = 1.5
"""Willingness to pay is uniform from the price (every buyer paid it: the lower bound
the data identifies) to this multiple of it (assumed)."""


@dataclass
class FittedScenario:
    calibration: Calibration
    name: str
    raw: dict[str, Any]
    scenario: Scenario
    fitted: list[tuple[str, str]]
    """(what, value and where from), in the order the header lists them."""
    assumed: list[str]
    """What the data cannot identify: kept at its documented default."""


def build_scenario(cal: Calibration, name: str, seed: int = 2024) -> FittedScenario:
    """The scenario of a calibration, with its satisfaction part calibrated by a pilot run
    (or by the ratings)."""
    behaviour, market = Behaviour(), Market()
    base = (behaviour.return_intercept + market.lock_in * (1 - market.alternatives) ** 2
            - behaviour.alternatives_weight * market.alternatives)
    raw = _raw(cal, name, seed, base, [0.0] * len(cal.segments), behaviour.baseline_satisfaction)
    pilot = _pilot(raw, cal)
    ratings = [g.rating for g in cal.segments]
    baseline = behaviour.baseline_satisfaction
    if all(r is not None for r in ratings):
        rated = [float(r) for r in ratings if r is not None]
        mean_sim = _mean([s for sats in pilot for s in sats])
        mean_data = math.fsum(r * g.purchases for r, g in zip(rated, cal.segments, strict=True)) \
            / sum(g.purchases for g in cal.segments)
        baseline = min(10.0, max(0.0, baseline + mean_data - mean_sim))
        part = [_satisfaction_part(behaviour, [r]) for r in rated]
    else:
        part = [_satisfaction_part(behaviour, sats) for sats in pilot]
    raw = _raw(cal, name, seed, base, part, baseline)
    scenario = scenario_from_raw(raw, source=f"fit of {cal.log.source}", default_name=name)
    return FittedScenario(cal, name, raw, scenario, _fitted(cal, baseline, part, base),
                          _assumed(cal))


def _raw(cal: Calibration, name: str, seed: int, base: float, part: list[float],
         baseline: float) -> dict[str, Any]:
    open_h, close_h = cal.open_hours or (Business().open_hour, Business().close_hour)
    default_service_h = _segment_default("service_time").mean
    segments = []
    for g, h in zip(cal.segments, part, strict=True):
        r = g.returns
        segment: dict[str, Any] = {
            "name": g.name, "share": round(g.share, 6),
            "wtp": {"dist": "uniform", "low": round(g.price.value, 2),
                    "high": round(g.price.value * WTP_HEADROOM, 2)},
            "visit_interval": {"dist": "gamma", "mean": f"{r.interval_days.value:.4f} d",
                               "cv": round(r.interval_cv.value, 4)},
            "loyalty": {"dist": "normal", "mean": round(r.mu.value - base - h, 4),
                        "sd": round(r.sigma.value, 4)},
            "referral_propensity": 0.0,
        }
        if g.service_h is not None:
            segment["service_time"] = {"dist": "gamma", "mean": f"{g.service_h[0] * 60:.2f} min",
                                       "cv": round(g.service_h[1], 4)}
        if g.patience_h is not None:
            segment["patience"] = {"dist": "exponential",
                                   "mean": f"{g.patience_h.value * 60:.2f} min"}
        segments.append(segment)
    shares = [s["share"] for s in segments]
    segments[-1]["share"] = round(1.0 - sum(shares[:-1]), 6)
    service_h = sum(g.share * (g.service_h[0] if g.service_h else default_service_h)
                    for g in cal.segments)
    in_cal = cal.log.day[cal.log.day < cal.calibration_days]
    busiest_week = int(np.bincount(np.floor(in_cal / 7).astype(np.int64)).max())
    visits_per_h = busiest_week / 7 / (close_h - open_h)
    servers = max(1, math.ceil(visits_per_h * service_h / UTILISATION))
    days = math.ceil(cal.days)
    return {
        "run": {"name": name, "days": days, "warmup_days": min(days - 1,
                                                               math.ceil(cal.calibration_days)),
                "seed": seed},
        "business": {"servers": servers, "open_hour": open_h, "close_hour": close_h},
        "market": {"new_customers_per_day": round(cal.new_customers_per_day.value, 4)},
        "behaviour": {"baseline_satisfaction": round(baseline, 4)},
        "segments": segments,
        "strategy": {
            "label": "as is",
            "tiers": [{"name": g.name, "price": round(g.price.value, 2)} for g in cal.segments],
            "assignment": {"kind": "by_segment",
                           "tiers": {g.name: g.name for g in cal.segments}},
        },
    }


def _segment_default(name: str) -> Any:
    """A segment field's documented default (the scenario reference's)."""
    factory = Segment.__dataclass_fields__[name].default_factory
    assert callable(factory)
    return factory()


class _Satisfactions(VisitWatcher):
    """A pilot run's observer: the satisfaction of every served visit, by segment."""

    def __init__(self, segments: int) -> None:
        self.by_segment: list[list[float]] = [[] for _ in range(segments)]

    def visited(self, event: VisitEvent) -> None:
        if event.outcome == SERVED:
            self.by_segment[event.segment].append(event.satisfaction)


def _pilot(raw: dict[str, Any], cal: Calibration) -> list[list[float]]:
    days = max(1, math.ceil(cal.calibration_days))
    pilot = {**raw, "run": {**raw["run"], "days": days, "warmup_days": 0, "replications": 1}}
    observer = _Satisfactions(len(cal.segments))
    run_replication(scenario_from_raw(pilot, source="pilot"), 0, observer)  # type: ignore[arg-type]
    return observer.by_segment


def _satisfaction_part(b: Behaviour, satisfactions: list[float]) -> float:
    """The mean of the return logit's satisfaction part over these scores (0: none)."""
    if not satisfactions:
        return 0.0
    return _mean([b.return_satisfaction_weight * (s - 7) + b.return_top_weight * max(0.0, s - 8)
                  for s in satisfactions])


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def _fitted(cal: Calibration, baseline: float, part: list[float],
            base: float) -> list[tuple[str, str]]:
    days = f"{cal.log.origin:%Y-%m-%d} to {cal.calibration_end:%Y-%m-%d} (exclusive)"
    lines = [("calibration period", days),
             ("new customers per day", cal.new_customers_per_day.text(4)
              + ": first purchases in the calibration period per day"),
             ("segments", cal.segments_from)]
    if cal.open_hours:
        lines.append(("opening hours", (f"{cal.open_hours[0]:g}-{cal.open_hours[1]:g}: the "
                                       "times of day of the purchases")))
    for g, h in zip(cal.segments, part, strict=True):
        r = g.returns
        lines += [
            (f"{g.name}: share", (f"{Estimate(g.share, r.share_se).text()} of the calibration "
                                 "customers")),
            (f"{g.name}: visit interval", f"mean {r.interval_days.text()} days, cv "
                                          f"{r.interval_cv.text()}"
             + (" (all segments' interval: too few repeat purchases)"
                if r.pooled_interval else "")),
            (f"{g.name}: return logit", (f"mean {r.mu.text()}, sd across customers "
                                        f"{r.sigma.text()}; mean chance of coming back "
                                        f"{r.mean_return_probability():.3f}; loyalty = "
                                        f"mean - {base:.3f} (market) - {h:.3f} (satisfaction)")),
            (f"{g.name}: price", (f"{g.price.text(6)}: the mean amount of its "
                                 f"{g.purchases} purchases")),
        ]
        if g.service_h:
            lines.append((f"{g.name}: service time",
                          f"mean {g.service_h[0] * 60:.1f} min, cv {g.service_h[1]:.2f}"))
        if g.patience_h:
            lines.append((f"{g.name}: patience", (f"mean {g.patience_h.value * 60:.1f} min "
                                                 "(exponential; served waits as censored)")))
    if all(g.rating is not None for g in cal.segments):
        lines.append(("baseline satisfaction", (f"{baseline:.2f}: simulated mean "
                                               "satisfaction equals the mean rating")))
    return lines


def _assumed(cal: Calibration) -> list[str]:
    log = cal.log
    out = [
        ("willingness to pay above the price (uniform from the price to "
        f"{WTP_HEADROOM:g}x it: only the lower bound is in the data)"),
        ("the weekday and hour profile of arrivals (the model spreads them evenly over the "
        "opening hours)"),
        "referrals (referral_propensity 0: referred customers are in the arrival rate)",
        ("every behavioural weight of [behaviour] (satisfaction and return), the market's "
        "alternatives, lock-in, norm and sensitivities"),
        ("the strategy's request, refund, recovery and delight settings (the defaults), and "
        "one tier per segment at its mean spend"),
        ("requests, unreasonable share, abuse, value of time and wait tolerance of every "
        "segment"),
        "costs: staff, materials, requests, failures, refunds, acquisition",
    ]
    if cal.open_hours is None:
        out.append("opening hours (the log has dates, not times)")
    if log.service_min is None:
        out.append("service time (no service minutes column)")
    out.append(f"staff: {UTILISATION:.0%} utilisation in the calibration period's busiest "
               "week")
    if log.waited_min is None or not len(log.abandoned_day):
        out.append("patience (no waited minutes and abandoned columns, or no abandonment)")
    if log.rating is None:
        out.append("satisfaction level (no rating column): the return logit is calibrated "
                   "on the simulated satisfaction")
    if log.tier is not None:
        out.append("the tier or product column is not used (tiers are one per segment)")
    return out


def scenario_text(fit: FittedScenario) -> str:
    """The scenario file: a header saying what was fitted and what assumed, then TOML."""
    cal = fit.calibration
    lines = [(f"# Fitted by simrun fit from {cal.log.source}: {len(cal.log.customers)} "
             f"customers, {len(cal.log.day)} purchase occasions ({cal.log.rows} rows)."),
             (f"# Calibration {cal.log.origin:%Y-%m-%d} to {cal.calibration_end:%Y-%m-%d}, "
             f"holdout to {cal.end:%Y-%m-%d}: run.warmup_days is the calibration period, so "
             "the measured"),
             "# days are the holdout period. docs/calibrate.md explains every number.", "#",
             "# Fitted (from the calibration period only):"]
    lines += [f"#   {what}: {value}" for what, value in fit.fitted]
    lines += ["#", "# Assumed, not fitted (documented defaults):"]
    lines += [f"#   - {item}" for item in fit.assumed]
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(fit.raw)
