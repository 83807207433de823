"""Fuzzing the command line's inputs: scenario files, ``--set`` overrides and sweep
files, structured and as mangled text. Whatever comes in, ``simrun`` exits with 0 or
2 and never shows a traceback.

Scenarios and overrides go through ``simrun check``; sweep files through ``simrun
sweep`` with the execution of runs replaced by an empty result (loading, validating,
the limits and the results folder are what is fuzzed; runs are tested elsewhere).
About 20 seconds in all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import ROOT
from scenario_strategies import FIELDS, NAMES, numbers, scenario_raw

from sim.cli import main
from sim.experiment.expect import judge_all
from sim.experiment.sweep_runner import SweepResult

FUZZ = settings(max_examples=int(os.environ.get("SIMRUN_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def exits_cleanly(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, prog_name="simrun")
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert result.exit_code in (0, 2), result.output


toml_values = st.recursive(
    st.one_of(numbers, st.booleans(), st.sampled_from(NAMES), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6)


@st.composite
def mangled(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few random edits: characters inserted, a slice cut, a line doubled."""
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "cut", "double"]))
        if edit == "insert":
            text = text[:at] + draw(st.text(alphabet='[]{}=",.\n#\\ax0\x00é', max_size=4)) + text[at:]
        elif edit == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        else:
            lines = text.splitlines(keepends=True)
            i = min(at, len(lines) - 1)
            text = "".join(lines[:i] + [lines[i]] + lines[i:]) if lines else text
    return text


@FUZZ
@given(data=st.data())
def test_any_scenario_file_is_checked_or_refused_cleanly(data: st.DataObject) -> None:
    raw = data.draw(scenario_raw())
    raw.update(data.draw(st.dictionaries(st.sampled_from(["extends", "compare", "strategy",
                                                          "segments", "run", "markt"]),
                                         toml_values, max_size=1)))
    text = data.draw(mangled(tomli_w.dumps(_toml_safe(raw))))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        exits_cleanly(["check", str(path)])


overrides = st.one_of(
    st.text(max_size=30),
    st.builds(lambda path, value: f"{path}={value}",
              st.one_of(st.sampled_from([p for p, _ in FIELDS]), st.text(max_size=12)),
              st.one_of(toml_values.map(lambda v: tomli_w.dumps({"v": _toml_safe(v)})[4:]
                                        .strip()), st.text(max_size=12))))


@FUZZ
@given(sets=st.lists(overrides, min_size=1, max_size=4))
def test_any_set_override_is_applied_or_refused_cleanly(sets: list[str]) -> None:
    args = ["check", str(ROOT / "scenarios/tiered.toml")]
    for override in sets:
        args += ["--set", override]
    exits_cleanly(args)


@st.composite
def sweep_tables(draw: st.DrawFn) -> dict[str, Any]:
    scenarios = draw(st.lists(st.sampled_from([str(ROOT / "scenarios/god.toml"),
                                               str(ROOT / "scenarios/tiered.toml"),
                                               "missing.toml", "../../etc/passwd"]),
                              max_size=3))
    sweep: dict[str, Any] = {"scenarios": scenarios, "set": ["run.days=20"]}
    sweep.update(draw(st.dictionaries(
        st.sampled_from(["name", "design", "samples", "replications", "seed", "set", "desgin"]),
        st.one_of(toml_values, st.sampled_from(["grid", "random", "lhs", "sobol", "morris"]),
                  st.integers(0, 40)), max_size=3)))
    parameter = st.fixed_dictionaries(
        {"path": st.one_of(st.sampled_from([p for p, _ in FIELDS]), st.sampled_from(
            ["run.seed", "run.replications", "market.alternatives"]), st.text(max_size=8))},
        optional={"values": st.lists(toml_values, max_size=4), "low": numbers, "high": numbers,
                  "steps": st.integers(-1, 50), "integer": st.booleans(),
                  "strategies": st.lists(st.sampled_from(["god", "tiered", "x"]), max_size=2)})
    expectation = st.fixed_dictionaries(
        {"metric": st.sampled_from(["profit", "proft", "margin"]),
         "left": st.sampled_from(["god", "tiered", "nobody"])},
        optional={"op": st.sampled_from([">", "<=", "==", "~"]), "right": st.sampled_from(
            ["god", "tiered", ""]), "value": toml_values, "judge": st.sampled_from(
            ["mean", "ci", "vote"]), "where": st.lists(st.fixed_dictionaries(
                {"path": st.sampled_from(["market.alternatives", "run.days"]),
                 "value": toml_values, "op": st.sampled_from([">=", "==", "<"])}), max_size=2)})
    table = {"sweep": sweep, "parameters": draw(st.lists(parameter, max_size=3))}
    if draw(st.booleans()):
        table["expect"] = draw(st.lists(expectation, max_size=2))
    return table


@FUZZ
@given(table=sweep_tables(), data=st.data())
def test_any_sweep_file_is_loaded_or_refused_cleanly(table: dict[str, Any],
                                                     data: st.DataObject) -> None:
    text = data.draw(mangled(tomli_w.dumps(_toml_safe(table))))

    def nothing_run(sweep: Any, folder: Path, **_: Any) -> SweepResult:
        return SweepResult(sweep, {}, [], judge_all(sweep, {}), [], 0)

    with tempfile.TemporaryDirectory() as tmp, \
            mock.patch("sim.experiment.sweep_runner.run_sweep", nothing_run):
        path = Path(tmp) / "sweep.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        exits_cleanly(["sweep", str(path), "--out", str(Path(tmp) / "out"), "-q", "-j", "1"])


def _toml_safe(value: Any) -> Any:
    """``value`` with what TOML cannot hold (ints beyond 64 bits, None) made into text."""
    if isinstance(value, dict):
        return {str(k): _toml_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_toml_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)
    return value
