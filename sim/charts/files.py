"""Charts as files and bytes: PNG at 150 dpi and SVG, written atomically, reproducible.

The same result gives the same SVG bytes: ids are salted with a fixed ``svg.hashsalt``
and no date is written. A reader of the folder sees each old file or each new one,
never half of one (:mod:`sim.atomic`).
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from sim.atomic import write_atomic
from sim.charts.style import styled
from sim.experiment.compare import ComparisonResult

PNG_DPI = 150
SVG_METADATA = {"Date": None}


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG bytes (150 dpi: 2000 x 1125 pixels for a chart)."""
    buffer = io.BytesIO()
    with styled():
        fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_svg(fig: Figure) -> str:
    """The figure as SVG text, the same for the same figure (no date, fixed id salt)."""
    buffer = io.StringIO()
    with styled():
        fig.savefig(buffer, format="svg", metadata=SVG_METADATA)
    return stable_ids(buffer.getvalue())


_HASHED_ID = re.compile(r'id="([a-z][0-9a-f]{10})"')


def stable_ids(svg: str) -> str:
    """The SVG with matplotlib's hashed ids (clip paths, markers: 'p3e4917a19e') renamed
    in order of appearance ('p0000000001', ...).

    matplotlib hashes a clip rectangle's coordinates at full precision, and the layout
    can differ in the last bits from one process history to another, so the same chart
    may come out with other ids. Each chart is its own document (an image), so ids only
    need to be unique inside it."""
    names = {old: f"{old[0]}{n:010d}" for n, old in enumerate(
        dict.fromkeys(_HASHED_ID.findall(svg)), start=1)}
    if not names:
        return svg
    pattern = re.compile(r"\b(" + "|".join(names) + r")\b")
    return pattern.sub(lambda m: names[m.group(1)], svg)


def write_charts_with(charts: Mapping[str, Callable[[ComparisonResult], Figure]],
                      result: ComparisonResult, folder: Path, *,
                      formats: Sequence[str] = ("png", "svg"), dpi: int = PNG_DPI) -> list[Path]:
    """Write NAME.png and/or NAME.svg for each chart of ``result`` into ``folder``;
    returns the paths."""
    return write_figures({name: functools.partial(build, result) for name, build in charts.items()},
                         folder, formats=formats, dpi=dpi)


def write_figures(builders: Mapping[str, Callable[[], Figure]], folder: Path, *,
                  formats: Sequence[str] = ("png", "svg"), dpi: int = PNG_DPI) -> list[Path]:
    """Build each figure and write it as NAME.png and/or NAME.svg into ``folder``, each
    file atomically; returns the paths, in the order of ``builders``."""
    unknown = set(formats) - {"png", "svg"}
    if unknown:
        raise ValueError(f"unknown chart formats {sorted(unknown)}: use png and svg")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in builders.items():
        fig = freeze_layout(build())
        for fmt in formats:
            data = figure_png(fig, dpi) if fmt == "png" else figure_svg(fig).encode("utf-8")
            paths.append(write_atomic(folder / f"{name}.{fmt}", data))
    return paths


def freeze_layout(fig: Figure) -> Figure:
    """Lay the figure out once and keep the positions, so that saving it in two formats
    does not run the constrained layout (two draws per save) again each time."""
    with styled():
        fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return fig
