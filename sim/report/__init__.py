"""One self-contained HTML report of a run or a comparison.

The report is a view of a :class:`~sim.experiment.compare.ComparisonResult` (a single
run's folder loads as a one-strategy comparison): who wins on what in plain words, the
tables, the charts of :mod:`sim.charts`, the scenarios' key parameters, seed and version.
It embeds everything (style and charts inline, no script, no external reference), so it
opens offline and prints cleanly; it holds no timestamp, so the same results give the
same bytes. It computes no metric of its own: it reads estimates and paired differences.
"""

from __future__ import annotations

from pathlib import Path

from sim.experiment.compare import ComparisonResult


def render_report(result: ComparisonResult) -> str:
    """The report as one HTML document."""
    from sim.report.page import render_page

    return render_page(result)


def write_report(result: ComparisonResult, path: Path) -> Path:
    """Write the report to ``path`` atomically (readers see the old file or the new)."""
    from sim.atomic import write_atomic

    path = Path(path)
    write_atomic(path, render_report(result))
    return path


__all__ = ["render_report", "write_report"]
