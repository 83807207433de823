"""Property: every scenario that ``simrun check`` accepts runs, and its resolved
scenario.toml is accepted too, is its own resolved form, and reproduces the run byte for
byte.

Scenarios come from :mod:`scenario_strategies`: the tiny market with random values in
random fields (NaN, infinity, huge and negative numbers, distributions of every kind).
Each accepted one runs one replication of at most 30 days.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from scenario_strategies import scenario_raw
from sweep_helpers import simrun

from sim import limits
from sim.cli import main
from sim.scenario import load_scenario

FILES = ("summary.json", "replications.csv", "daily.csv", "details.json", "scenario.toml")
EXAMPLES = int(os.environ.get("SIMRUN_PROPERTY_EXAMPLES", "40"))
"""Examples per run of the suite (about 15 s); set SIMRUN_PROPERTY_EXAMPLES=2000 to hunt."""
SMALL_WORK = 5_000
"""Visits of one replication at most (the estimate of sim.limits): a run of milliseconds."""


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(raw=scenario_raw())
def test_an_accepted_scenario_runs_and_its_resolved_file_reproduces_it(
        raw: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "s.toml"
        path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        code, out = simrun("check", str(path))
        assert code in (0, 2), out
        assume(code == 0)
        assume(limits.expected_visits(load_scenario(path))[0] < SMALL_WORK)
        code, out = simrun(str(path), "-j", "1", "-q", "--out", str(folder / "a"))
        assert code == 0, out
        resolved = folder / "a" / "scenario.toml"
        again = CliRunner().invoke(main, ["check", str(resolved)], prog_name="simrun")
        assert again.exit_code == 0, again.output
        assert again.stdout == resolved.read_text(encoding="utf-8")
        code, out = simrun(str(resolved), "-j", "1", "-q", "--out", str(folder / "b"))
        assert code == 0, out
        for name in FILES:
            assert (folder / "a" / name).read_bytes() == (folder / "b" / name).read_bytes(), name
