"""The event log's cost: memory flat in the horizon, and time against a run without it.

    python bench/bench_events.py                  # about 200,000 and 400,000 visits
    python bench/bench_events.py --visits 100000  # a quicker look

``simrun scenarios/tiered.toml -n 1 -j 1 --set run.days=D`` with and without
``--events``, each in a fresh interpreter (``bench_model.py``'s child, which reads its
own ``VmHWM`` when the command is done), at two horizons, taking turns (plain, events,
plain, events). Targets, as differences against the plain run side by side:

* memory flat: from the shorter horizon to the longer, the run with the log grows by at
  most 2 MiB more than the run without it (the log is written a batch at a time: a
  batch is a few MB whatever the horizon);
* time: printed, not judged (the log converts and writes every visit: it costs what it
  costs, and only when asked).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_model import cli_peak, days_for

SCENARIO = "tiered"
FLAT_MIB = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=200_000,
                        help="visits of the shorter run; the longer has twice as many")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        for visits in (args.visits, 2 * args.visits):
            days = days_for(SCENARIO, visits)
            for events in (False, True):
                out = Path(tmp) / f"d{days}-{events}"
                command = ["run", f"scenarios/{SCENARIO}.toml", "-n", "1", "-j", "1", "-q",
                           "--set", f"run.days={days}", "--out", str(out)]
                result = cli_peak(command + (["--events"] if events else []))
                size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
                rows.append((visits, days, events, result["peak_mib"], result["wall_s"], size))
                print(f"{visits:>9,} visits (run.days={days}), events {events!s:5}: peak "
                      f"{result['peak_mib']:6.1f} MiB, {result['wall_s']:5.1f} s, files "
                      f"{size:6.1f} MiB", file=sys.stderr)
    peak = {(v, e): p for v, _, e, p, _, _ in rows}
    wall = {(v, e): w for v, _, e, _, w, _ in rows}
    short, long_ = args.visits, 2 * args.visits
    extra_growth = ((peak[long_, True] - peak[short, True])
                    - (peak[long_, False] - peak[short, False]))
    print(f"memory: the log adds {peak[short, True] - peak[short, False]:+.1f} MiB at "
          f"{short:,} visits and {peak[long_, True] - peak[long_, False]:+.1f} MiB at "
          f"{long_:,}; its growth from one to the other beyond the plain run's: "
          f"{extra_growth:+.1f} MiB (target <= {FLAT_MIB:g}): "
          f"{'PASS' if extra_growth <= FLAT_MIB else 'FAIL'}")
    print(f"time: with the log / without, {wall[short, True] / wall[short, False]:.2f} at "
          f"{short:,} visits, {wall[long_, True] / wall[long_, False]:.2f} at {long_:,}")


if __name__ == "__main__":
    main()
