"""Raw TOML values <-> typed scenario objects, driven by the dataclass fields.

One generic converter walks a dataclass's fields and their type hints, so adding a
knob to :mod:`sim.scenario.model` (or a policy class) is all it takes for it to be
parsed, range-checked, defaulted, written into the resolved scenario and documented.
Every problem is collected as an :class:`Issue` with its dotted path; nothing raises
until the loader has seen the whole file.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import math
import textwrap
import typing
from typing import Any

from sim.scenario.distributions import Distribution, parse_distribution
from sim.scenario.errors import Issue, suggest
from sim.scenario.model import DURATION, MOVED_KEYS
from sim.scenario.units import parse_number
from sim.strategies.policies import DEFAULT_KIND, registry

_MISSING = dataclasses.MISSING


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def public_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if not f.name.startswith("_") and f.init]


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string under each field), read from the source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)):
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs


def from_raw(cls: type, raw: object, where: str, issues: list[Issue]) -> Any:
    """Build ``cls`` from a raw table, appending every problem to ``issues``.

    Returns None when the table is unusable; otherwise an instance (fields with
    problems fall back to their defaults so later checks still run).
    """
    if not isinstance(raw, dict):
        issues.append(Issue(where, "must be a table", raw))
        return None
    fields = {f.name: f for f in public_fields(cls)}
    for key in raw:
        if key not in fields:
            hint = MOVED_KEYS.get(_join(where, key)) or suggest(key, fields)
            if hint is None:
                kind = getattr(cls, "kind", None)
                hint = (f"known keys: {', '.join(fields)}" if fields
                        else f"{kind!r} takes no settings" if kind else "no keys are allowed here")
            issues.append(Issue(_join(where, key), "unknown key", None, hint))
    values: dict[str, Any] = {}
    broken = False
    for name, f in fields.items():
        at = _join(where, name)
        if name not in raw:
            if f.default is _MISSING and f.default_factory is _MISSING:
                if f.metadata.get("role"):
                    values[name] = _policy(f.metadata["role"], None, at, issues)
                    continue
                issues.append(Issue(at, "is required"))
                broken = True
            continue
        before = len(issues)
        value = _value(hints(cls)[name], raw[name], at, issues, f.metadata)
        if len(issues) > before:
            broken = True
            continue
        values[name] = value
    if broken and any(f.default is _MISSING and f.default_factory is _MISSING
                      and n not in values for n, f in fields.items()):
        return None
    return cls(**values)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _value(hint: Any, raw: object, at: str, issues: list[Issue], meta: Any) -> Any:
    extras: tuple[Any, ...] = ()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *rest = typing.get_args(hint)
        extras = tuple(rest)
    if "policy" in extras:
        return _policy(meta["role"], raw, at, issues)
    if "scalar" in extras:
        if isinstance(raw, dict | list) or (isinstance(raw, float) and not math.isfinite(raw)):
            issues.append(Issue(at, "must be a number, a string or true/false", raw))
        return raw
    low, high = _bounds(meta)
    if hint is Distribution:
        dist, found = parse_distribution(raw, at, duration=DURATION in extras, low=low, high=high)
        issues.extend(found)
        return dist
    if hint is float:
        try:
            value = parse_number(raw, duration=DURATION in extras)
        except ValueError as exc:
            issues.append(Issue(at, str(exc), raw))
            return None
        return _check_range(value, raw, at, issues, meta)
    if hint is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            issues.append(Issue(at, "must be a whole number", raw))
            return None
        if not -(2**63) <= raw < 2**63:
            issues.append(Issue(at, "must be a whole number of at most 64 bits (TOML's "
                                "integers)", raw))
            return None
        return _check_range(raw, raw, at, issues, meta)
    if hint is bool:
        if not isinstance(raw, bool):
            issues.append(Issue(at, "must be true or false", raw))
        return raw
    if hint is str:
        if not isinstance(raw, str):
            issues.append(Issue(at, "must be a string", raw))
        return raw
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if raw not in choices:
            hint_text = suggest(raw, choices) if isinstance(raw, str) else None
            issues.append(Issue(at, "must be one of " + ", ".join(map(repr, choices)), raw, hint_text))
        return raw
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(raw, list):
            issues.append(Issue(at, "must be a list", raw))
            return ()
        return tuple(_value(item, v, f"{at}[{i}]", issues, {}) for i, v in enumerate(raw))
    if origin is dict:
        if not isinstance(raw, dict):
            issues.append(Issue(at, "must be a table", raw))
            return {}
        bad = {k: v for k, v in raw.items() if not isinstance(v, str)}
        for k, v in bad.items():
            issues.append(Issue(f"{at}.{k}", "must be a string", v))
        return dict(raw)
    if dataclasses.is_dataclass(hint):
        return from_raw(typing.cast(type, hint), raw, at, issues)
    msg = f"no converter for {hint!r} at {at}"
    raise TypeError(msg)


def _bounds(meta: Any) -> tuple[float, float]:
    low = meta.get("ge") if meta.get("ge") is not None else meta.get("gt")
    high = meta.get("le") if meta.get("le") is not None else meta.get("lt")
    return (0.0 if low is None else float(low)), (math.inf if high is None else float(high))


def _check_range(value: Any, raw: object, at: str, issues: list[Issue], meta: Any) -> Any:
    rules = (("ge", ">=", lambda a, b: a >= b), ("gt", ">", lambda a, b: a > b),
             ("le", "<=", lambda a, b: a <= b), ("lt", "<", lambda a, b: a < b))
    for key, symbol, ok in rules:
        bound = meta.get(key)
        if bound is not None and not ok(value, bound):
            issues.append(Issue(at, f"must be {symbol} {bound:g}", raw))
            return None
    return value


def _policy(role: str, raw: object, at: str, issues: list[Issue]) -> Any:
    """A policy from its kind name or a table with ``kind`` and settings."""
    kinds = registry(role, plugins=False)
    if raw is None:
        raw = DEFAULT_KIND[role]
    where = at
    if isinstance(raw, str):
        raw = {"kind": raw}
    elif isinstance(raw, dict):
        where = f"{at}.kind"
    else:
        known = ", ".join(map(repr, kinds))
        article = "an" if role[0] in "aeiou" else "a"
        issues.append(Issue(at, f"must name {article} {role} policy ({known}) or be a table "
                                "with 'kind'", raw))
        return None
    kind = raw.get("kind", DEFAULT_KIND[role])
    if isinstance(kind, str) and kind not in kinds:
        kinds = registry(role)  # perhaps an installed package's policy
    if not isinstance(kind, str) or kind not in kinds:
        hint = suggest(str(kind), kinds)
        issues.append(Issue(where, f"unknown {role} policy; known: {', '.join(kinds)}",
                            kind, hint))
        return None
    settings = {k: v for k, v in raw.items() if k != "kind"}
    return from_raw(kinds[kind], settings, at, issues)


def to_raw(obj: Any) -> Any:
    """The scenario form of a typed object: every field written, durations in hours."""
    if isinstance(obj, Distribution):
        return obj.to_raw(duration=False)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        table: dict[str, Any] = {}
        kind = getattr(type(obj), "kind", None)
        if isinstance(kind, str):
            if not public_fields(type(obj)):
                return kind  # a policy without settings is written as its kind name
            table["kind"] = kind
        for f in public_fields(type(obj)):
            table[f.name] = to_raw(getattr(obj, f.name))
        return table
    if isinstance(obj, tuple):
        return [to_raw(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_raw(v) for k, v in obj.items()}
    return obj


def describe(cls: type) -> list[tuple[str, str, str]]:
    """(field, default, doc) rows of a dataclass, for help and generated docs."""
    rows = []
    docs = field_docs(cls)
    for f in public_fields(cls):
        if f.default is not _MISSING:
            default: Any = f.default
        elif f.default_factory is not _MISSING:
            default = f.default_factory()
        else:
            default = "required" if not f.metadata.get("role") else DEFAULT_KIND[f.metadata["role"]]
        if default == "required":
            shown = "(required)"
        elif DURATION in typing.get_args(hints(cls)[f.name]) and isinstance(default, float):
            shown = _show_duration(default)
        else:
            shown = _show(to_raw(default))
        rows.append((f.name, shown, docs.get(f.name, "")))
    return rows


def _show_duration(hours: float) -> str:
    for unit, size in (("w", 168.0), ("d", 24.0), ("h", 1.0), ("min", 1 / 60)):
        count = hours / size
        if count >= 1 and abs(count - round(count)) < 1e-9:
            return f'"{round(count)} {unit}"'
    return f"{hours:g}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    return repr(value) if isinstance(value, str) else str(value)


