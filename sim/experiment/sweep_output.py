"""Exports of a sweep store: sweep.csv (tidy), summary.csv, and Parquet when pyarrow is
installed. Rows are in a fixed order (point, strategy, replication) whatever order the
runs finished in."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sim.atomic import write_atomic_many
from sim.experiment.output import import_for_results, rows_csv
from sim.experiment.sweep import Sweep
from sim.metrics import METRICS, estimate


def collect(rows: Any) -> dict[tuple[int, str], dict[int, dict[str, float]]]:
    """Store rows grouped as (point, strategy) -> replication -> metrics."""
    grouped: dict[tuple[int, str], dict[int, dict[str, float]]] = defaultdict(dict)
    for point, strategy, replication, metrics in rows:
        grouped[point, strategy][replication] = metrics
    return dict(grouped)


def tidy_rows(sweep: Sweep, values: dict[tuple[int, str], dict[int, dict[str, float]]]
              ) -> list[dict[str, Any]]:
    rows = []
    for (point, strategy), reps in sorted(values.items()):
        for replication, metrics in sorted(reps.items()):
            rows.append({"point": point, "strategy": strategy, "replication": replication,
                         **sweep.points[point], **{m.key: metrics[m.key] for m in METRICS}})
    return rows


def summary_rows(sweep: Sweep, values: dict[tuple[int, str], dict[int, dict[str, float]]]
                 ) -> list[dict[str, Any]]:
    rows = []
    for (point, strategy), reps in sorted(values.items()):
        row: dict[str, Any] = {"point": point, "strategy": strategy, **sweep.points[point],
                               "replications": len(reps)}
        for m in METRICS:
            e = estimate([metrics[m.key] for metrics in reps.values()])
            row[f"{m.key}_mean"] = e.mean
            row[f"{m.key}_ci_low"] = e.low
            row[f"{m.key}_ci_high"] = e.high
        rows.append(row)
    return rows


def import_for_exports() -> None:
    """Import what :func:`write_exports` needs and a sweep's runs do not: SciPy's special
    functions (:func:`sim.experiment.output.import_for_results`) and, when installed,
    pyarrow, which imports pandas (if installed) the first time it builds an array.
    About half a second of CPU: a sweep whose runs execute elsewhere does it while it
    waits for them (:func:`sim.experiment.sweep_runner.run_sweep`), not after the last
    one."""
    import_for_results()
    try:
        import pyarrow as pa
        import pyarrow.parquet
    except ImportError:
        return
    pa.array([0.0])


def write_exports(sweep: Sweep, values: dict[tuple[int, str], dict[int, dict[str, float]]],
                  folder: Path) -> list[Path]:
    """sweep.csv and summary.csv (and their Parquet twins), written all or none."""
    tidy, summary = tidy_rows(sweep, values), summary_rows(sweep, values)
    files: dict[Path, str | bytes] = {folder / f"{name}.csv": rows_csv(rows)
                                      for name, rows in (("sweep", tidy), ("summary", summary))}
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return write_atomic_many(files)
    for name, rows in (("sweep", tidy), ("summary", summary)):
        buffer = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows), buffer)
        files[folder / f"{name}.parquet"] = buffer.getvalue().to_pybytes()
    return write_atomic_many(files)
