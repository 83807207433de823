"""The layers import downwards only: the experiment layer never imports the charts, the
report, the views, the API or the CLI above it, and the base (scenarios, the model,
metrics, number formats, the file writer) never imports the experiment layer.

Read from the source with ``ast``, lazy imports inside functions included, so a
dependency cannot hide in a function body.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"
ABOVE_EXPERIMENT = ("sim.charts", "sim.report", "sim.views", "sim.api", "sim.cli")
BASE = ("sim/scenario", "sim/model", "sim/strategies", "sim/metrics.py", "sim/formats.py",
        "sim/atomic.py", "sim/limits.py", "sim/blas.py")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{path.relative_to(SIM.parent)} imports {name}"
                  for path in files for name in imported_modules(path)
                  if any(name == f or name.startswith(f + ".") for f in forbidden))


def python_files(*parts: str) -> list[Path]:
    files = []
    for part in parts:
        path = SIM.parent / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_the_experiment_layer_imports_no_charts_report_views_api_or_cli() -> None:
    files = python_files("sim/experiment")
    assert len(files) > 10
    assert violations(files, ABOVE_EXPERIMENT) == []


def test_the_fit_layer_imports_no_charts_report_views_api_or_cli() -> None:
    files = python_files("sim/fit")
    assert len(files) >= 4
    assert violations(files, ABOVE_EXPERIMENT) == []


@pytest.mark.parametrize("part", BASE)
def test_the_base_imports_nothing_above_it(part: str) -> None:
    assert violations(python_files(part), ("sim.experiment", "sim.fit", *ABOVE_EXPERIMENT)) == []


def test_the_rule_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("import math\n\ndef f():\n    from sim.charts import CHARTS\n"
                      "    import sim.report\n")
    assert imported_modules(module) == {"math", "sim.charts", "sim.charts.CHARTS", "sim.report"}


def test_the_strategies_import_nothing_else_of_simrun() -> None:
    """Policies and presets are the bottom layer: the scenario language builds on them,
    so they cannot build on it (no package cycle)."""
    files = python_files("sim/strategies")
    assert [f"{p.name} imports {n}" for p in files for n in imported_modules(p)
            if n == "sim" or (n.startswith("sim.") and not n.startswith("sim.strategies"))] == []


def test_the_scenario_language_does_not_simulate() -> None:
    assert violations(python_files("sim/scenario"), ("sim.model", "sim.checks")) == []
