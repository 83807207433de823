"""Hypothesis strategies for scenarios: the tiny market of helpers.py with random values
in random fields, most of them plausible, some hostile (NaN, infinity, huge, negative,
distributions of every kind with any parameters, odd names).

The fields and their ranges are read from the typed model, so a new knob is fuzzed
without a change here. Values are generated as TOML would hold them; the loader
decides which are valid.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing
from typing import Any

from helpers import tiny_raw
from hypothesis import strategies as st

from sim.scenario.distributions import KINDS, Distribution
from sim.scenario.model import Behaviour, Business, Market, Segment, Strategy, Tier
from sim.scenario.schema import hints, public_fields

EDGE_FLOATS = (0.0, -0.0, 1e-300, 5e-324, 1e-9, 0.5, 1.0, 1.5, 10.0, 1e6, 1e300, -1.0,
               float("nan"), float("inf"), float("-inf"))
EDGE_INTS = (0, 1, 2, -1, 7, 1000, 2**31, 2**63 - 1, 2**63, -(2**63) - 1)
NAMES = ("a", "..", "/x", "$5 club", "café", "x" * 120, "comparison.json", "<b>", " ")
DURATIONS = ("45 min", "2 h", "3 d", "1 w", "0 s", "-5 min", "1e999 h", "soon")

numbers = st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(-1e3, 1e3),
                    st.integers(-5, 1000), st.sampled_from(EDGE_INTS))
plausible = st.one_of(st.floats(0, 1), st.floats(0, 50), st.integers(0, 20))


@st.composite
def distribution(draw: st.DrawFn, duration: bool = False) -> Any:
    """A number, a duration string or a distribution table of any kind."""
    value = numbers | (st.sampled_from(DURATIONS) if duration else numbers)
    kind = draw(st.sampled_from([*KINDS, "gamm"]))
    if kind == "empirical":
        return {"dist": kind, "values": draw(st.lists(value, max_size=4))}
    names = {"constant": ("value",), "exponential": ("mean",), "gamma": ("mean", "cv"),
             "lognormal": ("median", "sigma"), "normal": ("mean", "sd", "low", "high"),
             "uniform": ("low", "high"), "triangular": ("low", "mode", "high")}
    table: dict[str, Any] = {"dist": kind}
    for name in names.get(kind, ("mean",)):
        if draw(st.integers(0, 9)):  # now and then a parameter is missing
            table[name] = draw(st.one_of(plausible, plausible, value))
    return draw(st.sampled_from([table, table, draw(plausible), draw(value)]))


def value_for(cls: type, field: dataclasses.Field[Any]) -> st.SearchStrategy[Any]:
    """Values for one field of the model, plausible or not."""
    hint = hints(cls)[field.name]
    extras: tuple[Any, ...] = ()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *rest = typing.get_args(hint)
        extras = tuple(rest)
    duration = "duration" in extras
    if "policy" in extras:
        return st.sampled_from(["everyone", "daily_slots", "none", "fix", "apologize",
                                "self_select", "by_spend", "always", "never", "all", 5])
    if hint is Distribution:
        return distribution(duration)
    if hint is float:
        return st.one_of(plausible, numbers, st.sampled_from(DURATIONS) if duration else numbers)
    if hint is int:
        return st.one_of(st.integers(0, 12), st.sampled_from(EDGE_INTS))
    if hint is bool:
        return st.one_of(st.booleans(), st.just(1))
    if hint is str:
        return st.one_of(st.sampled_from(NAMES), st.text(max_size=12))
    return st.one_of(plausible, st.sampled_from(NAMES))


def fields(cls: type, prefix: str) -> list[tuple[str, st.SearchStrategy[Any]]]:
    return [(f"{prefix}.{f.name}", value_for(cls, f)) for f in public_fields(cls)
            if f.name not in ("tiers", "segments")]


FIELDS = [
    *fields(Business, "business"), *fields(Market, "market"), *fields(Behaviour, "behaviour"),
    *fields(Segment, "segments[0]"), *fields(Segment, "segments[1]"),
    *fields(Strategy, "strategy"), *fields(Tier, "strategy.tiers[0]"),
    ("run.retention_period_days", st.integers(0, 40)), ("run.name", st.sampled_from(NAMES)),
    ("run.seed", st.one_of(st.integers(0, 2**32), st.sampled_from(EDGE_INTS))),
]
"""Every field a scenario may set, with its values; run.days and run.replications stay
small so that a run takes milliseconds."""


@st.composite
def scenario_raw(draw: st.DrawFn) -> dict[str, Any]:
    """The tiny market with a preset and a handful of fields set at random."""
    raw = tiny_raw(draw(st.sampled_from(["god", "tiered", "scarcity", "partner"])))
    raw["run"].update(days=draw(st.integers(1, 30)), warmup_days=draw(st.integers(0, 5)),
                      replications=1)
    for path, values in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=8)):
        set_raw(raw, path, draw(values))
    # Referrals can grow without bound within the model's rules (each promoter visit may
    # bring a customer): keep them tame so that every accepted scenario runs in a blink.
    for segment in raw["segments"]:
        segment["referral_propensity"] = min(_number(segment.get("referral_propensity")), 0.3)
    raw["market"]["referral_delay"] = "1 w"
    return raw


def _number(value: Any) -> float:
    return value if isinstance(value, float) and not math.isnan(value) else 0.3


def set_raw(raw: dict[str, Any], path: str, value: Any) -> None:
    node: Any = raw
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[parts[-1]] = copy.deepcopy(value)
