"""The serial phases of a ``simrun`` command whose runs go to worker processes: how long
its own process works alone before the pool starts and after the last result.

Each repeat starts the command in a fresh interpreter through this script, which wraps
:func:`sim.experiment.pool.run_parallel` (the one process pool) to note, on the clock
of the process (from the script's first line):

* ``pool``: the pool is asked for (everything before it is the parent's alone: imports,
  the scenario, the checkpoint);
* ``replication``: the first replication starts, in a worker (its span noted as
  :data:`bench_sweep.SPANS_HOOK` notes it): the serial start, fork server included;
* ``first``: the first result is in (the workers' start-up and imports, then one run);
* ``last``: the last result is in;
* ``returned``: the command's ``main`` has returned (files written, table printed);
* ``wall``: the child's wall time as this script's parent sees it (the interpreter's
  start and exit included).

``after = returned - last`` and ``exit = wall - returned`` are the serial end. The
figures are medians over the repeats with the spread (min to max); the load average is
printed beside them: on a loaded machine the commands get less than the two cores, and
only the phases (one core's work each) compare. The ``sim`` package's bytecode is
compiled first (:func:`bench_sweep.cache_bytecode`), so that no process compiles it,
unless ``--bytecode-as-is``.

Usage::

    python bench/bench_phases.py                       # 5 repeats of the default command
    python bench/bench_phases.py --repeats 3 -- run scenarios/market-duel.toml -n 10 -q -j 2
    PYTHONPATH=/other/checkout python bench/bench_phases.py    # another version of sim
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_sweep import SPANS_HOOK, cache_bytecode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["run", "scenarios/tiered.toml", "-n", "20", "-q", "-j", "2"]

CHILD = """\
import time
T0 = time.monotonic()
""" + SPANS_HOOK + """
FD = int(os.environ["SIMRUN_PHASES_FD"])
def note(what, at=None):
    os.write(FD, f"{what} {(at or time.monotonic()) - T0}\\n".encode())
import sim.experiment.pool as pool
plain = pool.run_parallel
def traced(*args, **kwargs):
    note("pool")
    first = True
    for result in plain(*args, **kwargs):
        if first:
            note("first")
            first = False
        yield result
    note("last")
pool.run_parallel = traced  # before the modules that import it by name are imported
if __name__ == "__main__":
    from sim.cli import main
    sys.argv = ["simrun", *sys.argv[1:]]
    try:
        main()
    finally:
        note("returned")
        with open(os.environ["SIMRUN_BENCH_SPANS"]) as spans:
            note("replication", min(float(line.split()[0]) for line in spans))
"""


def once(args: list[str], out: Path) -> dict[str, float]:
    """One run of ``simrun ARGS --out OUT`` through CHILD: its phases, in seconds."""
    read, write = os.pipe()
    script = out.parent / "phases_child.py"
    script.write_text(CHILD)
    (out.parent / "spans.txt").unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script), *args, "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            pass_fds=(write,), text=True,
                            env={**os.environ, "SIMRUN_PHASES_FD": str(write),
                                 "SIMRUN_BENCH_SPANS": str(out.parent / "spans.txt")})
    os.close(write)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    with os.fdopen(read) as notes:
        times = {name: float(value) for name, value in
                 (line.split() for line in notes.read().splitlines())}
    if proc.returncode or not {"pool", "replication", "first", "last", "returned"} <= times.keys():
        raise SystemExit(f"simrun {' '.join(args)} failed or used no pool:\n{err[-2000:]}")
    return {"before_pool": times["pool"], "to_replication": times["replication"],
            "to_first": times["first"] - times["pool"],
            "after": times["returned"] - times["last"], "exit": wall - times["returned"],
            "wall": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bytecode-as-is", action="store_true",
                        help="do not compile the sim package first (with "
                             "PYTHONDONTWRITEBYTECODE set, each process compiles what is stale)")
    parser.add_argument("command", nargs="*", help="simrun's arguments, after --")
    args = parser.parse_args(argv)
    command = args.command or DEFAULT
    compiled = None if args.bytecode_as_is else cache_bytecode()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp:
        runs = [once(command, Path(tmp) / f"out{i}") for i in range(args.repeats)]
    bytecode = (f"sim from {compiled}, its bytecode compiled before" if compiled
                else "bytecode as it is")
    print(f"simrun {' '.join(command)}: {args.repeats} repeats, {bytecode}; load average "
          f"{load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    for key, label in (("before_pool", "before the pool"),
                       ("to_replication", "start to the first replication"),
                       ("to_first", "pool to first result"),
                       ("after", "last result to main's return"),
                       ("exit", "main's return to the process's end"), ("wall", "wall")):
        values = [r[key] for r in runs]
        print(f"  {label:36s} {statistics.median(values):6.3f} s "
              f"({min(values):.3f} to {max(values):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
