"""Sweep expectations: structured claims judged on the stored runs (no eval).

``tiered.profit > god.profit wherever market.alternatives >= 0.5`` is the table
``{ metric = "profit", left = "tiered", op = ">", right = "god",
where = [{ path = "market.alternatives", op = ">=", value = 0.5 }] }``. Each is judged
on means, or (``judge = "ci"``) needs the 95% CI of the paired difference (or of the
metric against a fixed value) to lie entirely on the expected side.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from sim.experiment.sweep import Expectation, Sweep
from sim.metrics import estimate, mean_of_defined

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne}
Values = Mapping[tuple[int, str], Mapping[int, Mapping[str, float]]]
"""(point, strategy) -> replication -> metrics."""


@dataclass(frozen=True)
class Verdict:
    expectation: Expectation
    checked: int
    """Points the expectation applied to (and had runs)."""
    failures: tuple[str, ...]
    """One readable line per failing point."""

    @property
    def passed(self) -> bool:
        return not self.failures


def judge_all(sweep: Sweep, values: Values) -> list[Verdict]:
    return [judge(sweep, e, values) for e in sweep.expectations]


def judge(sweep: Sweep, e: Expectation, values: Values) -> Verdict:
    failures, checked = [], 0
    for index, point in enumerate(sweep.points):
        if not all(OPS[c.op](point[c.path], c.value) for c in e.where):
            continue
        left = values.get((index, e.left), {})
        right = values.get((index, e.right), {}) if e.right else {}
        reps = sorted(set(left) & set(right)) if e.right else sorted(left)
        if not reps:
            failures.append(f"point {index} {_show(point)}: no finished runs")
            continue
        checked += 1
        a = [left[r][e.metric] for r in reps]
        b = [right[r][e.metric] for r in reps] if e.right else [e.value] * len(reps)
        ok, detail = _decide(e, a, b)
        if not ok:
            failures.append(f"point {index} {_show(point)}: {detail}")
    return Verdict(e, checked, tuple(failures))


def _decide(e: Expectation, a: list[float], b: list[float]) -> tuple[bool, str]:
    right = e.right or f"{e.value:g}"
    if e.judge == "mean":
        mean_a, mean_b = mean_of_defined(a), mean_of_defined(b)
        ok = OPS[e.op](mean_a, mean_b)
        # "tiered 12.3 > god 45.6 is false", or against a value "tiered 12.3 > 100 is false"
        other = f"{right} {mean_b:.4g}" if e.right else right
        return ok, f"{e.left} {mean_a:.4g} {e.op} {other} is false"
    d = estimate([x - y for x, y in zip(a, b, strict=True)])
    side = {">": d.low > 0, ">=": d.low >= 0, "<": d.high < 0, "<=": d.high <= 0,
            "==": d.low <= 0 <= d.high, "!=": not d.low <= 0 <= d.high}[e.op]
    ok = side and not math.isnan(d.low)
    return ok, (f"{e.left} - {right} = {d.mean:.4g}, 95% CI [{d.low:.4g}, {d.high:.4g}] "
                f"does not show {e.op}")


def _show(point: Mapping[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in point.items()) + ")"


def junit_xml(sweep: Sweep, verdicts: list[Verdict]) -> str:
    """JUnit XML for CI dashboards: one test case per expectation."""
    failed = sum(not v.passed for v in verdicts)
    suite = ET.Element("testsuite", name=f"simrun sweep {sweep.name}", tests=str(len(verdicts)),
                       failures=str(failed), errors="0")
    for v in verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"simrun.sweep.{sweep.name}",
                             name=v.expectation.describe())
        if not v.passed:
            failure = ET.SubElement(case, "failure",
                                    message=f"{len(v.failures)} of {v.checked} points fail")
            failure.text = "\n".join(v.failures)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
