"""Regenerate the README images: the workshop charts as PNG files in docs/img/.

    python docs/make_images.py                # 10 replications on every core
    python docs/make_images.py -n 20 --jobs 2
    python docs/make_images.py --cdnow        # docs/calibrate.md's CDNOW charts

Runs what ``simrun compare scenarios/workshop.toml --charts`` runs (every preset on the
shared market, the same customers for each), through the Python API, and writes one
PNG per chart of ``sim.charts.CHARTS``. Same scenario, seed and replications give the
same images. PNGs only, at 100 dpi (1333 x 750 pixels), to keep the repository small.

The workshop measures 360 days after a 180-day warm-up: four complete 90-day retention
periods, so the retention chart shows customer retention in four periods and the repeat
rate in three. A scenario that measured fewer than two periods would leave the README
with an empty retention chart, so the script refuses it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sim.charts import CHARTS
from sim.charts.files import write_charts_with
from sim.experiment.compare import compare, load_comparison
from sim.experiment.runner import default_jobs

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "workshop.toml"
OUT = ROOT / "docs" / "img"
REPLICATIONS = 10
DPI = 100
MIN_PERIODS = 2
"""Complete retention periods the measured window must hold: a repeat rate needs a
period and the next."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--replications", type=int, default=REPLICATIONS)
    parser.add_argument("-j", "--jobs", type=int, default=default_jobs())
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cdnow", action="store_true",
                        help="Instead: fit CDNOW as docs/calibrate.md does and draw its charts.")
    args = parser.parse_args()
    if args.cdnow:
        cdnow(args.out, args.replications, args.jobs)
        return
    start = time.perf_counter()
    scenarios, settings = load_comparison([SCENARIO],
                                          [f"run.replications={args.replications}"])
    run = scenarios[0].run
    if (run.days - run.warmup_days) < MIN_PERIODS * run.retention_period_days:
        raise SystemExit(f"{SCENARIO.name} measures {run.days - run.warmup_days} days: the "
                         f"README's charts need at least {MIN_PERIODS} complete "
                         f"{run.retention_period_days}-day retention periods")
    result = compare(scenarios, name=settings["name"], baseline=settings.get("baseline"),
                     metric=settings.get("metric", "profit"), jobs=args.jobs)
    ran = time.perf_counter()
    paths = write_charts_with(CHARTS, result, args.out, formats=("png",), dpi=DPI)
    done = time.perf_counter()
    size = sum(p.stat().st_size for p in paths)
    print(f"simulated {len(scenarios)} strategies x {args.replications} replications in "
          f"{ran - start:.0f} s; wrote {len(paths)} images ({size / 1e6:.2f} MB) to "
          f"{args.out} in {done - ran:.0f} s")


def cdnow(out: Path, replications: int, jobs: int) -> None:
    """docs/calibrate.md's fit of CDNOW (the command shown there, through the library):
    the tracking plot and the conditional expectations as PNG, and the error figures."""
    from datetime import datetime

    from sim.charts.files import figure_png
    from sim.charts.fit import conditional, tracking
    from sim.fit.columns import Columns
    from sim.fit.estimate import calibrate
    from sim.fit.holdout import holdout
    from sim.fit.log import read_log
    from sim.fit.scenario_out import build_scenario

    log = read_log(Path("tests/data/cdnow_sample.csv"), Columns(timestamp="date"),
                   keep_duplicates=True)
    fitted = build_scenario(calibrate(log, datetime(1997, 10, 1), 3, seed=2024), "cdnow")
    h = holdout(fitted, replications=replications, jobs=min(jobs, replications), seed=2024)
    for name, make in (("cdnow_tracking", tracking), ("cdnow_conditional", conditional)):
        (out / f"{name}.png").write_bytes(figure_png(make(h), dpi=DPI))
    for e in h.errors:
        print(f"{e.what}: {e.measure}: simrun {e.simrun:.2f}, BG/NBD {e.bgnbd} ({e.unit})")
    print(h.totals, h.bgnbd)


if __name__ == "__main__":
    main()
