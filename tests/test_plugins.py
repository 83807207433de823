"""Policies from installed packages: a scenario names a kind that a package registers
through the ``simrun.policies`` entry-point group, never an import path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import ROOT

PLUGIN = '''
from dataclasses import dataclass

from sim.strategies.policies import policy


@policy("admission", "nobody")
@dataclass(frozen=True, slots=True)
class Nobody:
    """Turns every visit away."""

    def admit(self, now_h, open_hour, close_hour, waitlist_patience_days, book):
        return None
'''


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    """An environment in which a package, simrun-nobody, is installed: its module and
    its distribution's metadata on the path, with one entry point in simrun.policies."""
    site = tmp_path / "site"
    (site / "simrun_nobody").mkdir(parents=True)
    (site / "simrun_nobody" / "__init__.py").write_text(PLUGIN)
    info = site / "simrun_nobody-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: simrun-nobody\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[simrun.policies]\nnobody = simrun_nobody:Nobody\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}


def simrun(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from sim.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_scenario_runs_with_an_installed_packages_policy(installed: dict[str, str],
                                                         tmp_path: Path) -> None:
    """The package's admission policy turns every visit away: nobody is served."""
    done = simrun(installed, "run", str(ROOT / "scenarios" / "tiered.toml"), "-n", "2",
                  "-j", "1", "-q", "--set", 'strategy.admission="nobody"', "--set",
                  "run.days=20", "--set", "run.warmup_days=2", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]
    assert metrics["served"]["mean"] == 0
    assert metrics["turned_away"]["mean"] > 0


def test_a_misspelt_kind_is_matched_against_installed_packages_policies_too(
        installed: dict[str, str]) -> None:
    done = simrun(installed, "check", str(ROOT / "scenarios" / "tiered.toml"), "--set",
                  'strategy.admission="nobdy"')
    assert done.returncode == 2
    assert "strategy.admission: unknown admission policy" in done.stderr
    assert "(did you mean 'nobody'?)" in done.stderr
    assert "Traceback" not in done.stderr
