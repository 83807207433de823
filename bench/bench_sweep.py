"""Scaling benchmark: replications and sweeps on 2 local processes, and on Dask, against
the machine's own ceiling measured in the same run.

What it measures (every figure end to end, as a user waits for it: ``simrun`` started
in a fresh interpreter, pool start-up, store and result files included)
-----------------------------------------------------------------------------------
1. **The machine's ceiling** for the model's own work: two bare CPU-bound processes, each
   running ``--ceiling-replications`` replications of scenarios/tiered.toml straight
   through ``sim.model.engine.run_replication`` (no pool, no files), one after the other
   and then side by side; ceiling = time one after the other / time side by side. Each
   process imports the model and runs one replication before it is timed, and the two
   side by side start together (both wait at a barrier, then each times its own work;
   the side-by-side time runs from the first start to the last end), so start-ups are
   not part of it. On an idle 2-core machine it is at most 2; on a shared VM it is
   what two such processes get at that moment (the other tenants, the host's caches and
   memory bandwidth), which is all simrun's processes can get too. The two legs bracket
   the runs of a repeat (alone, side by side, the runs, side by side, alone), so a load
   that drifts during the repeat weighs on both. The same is measured with a pure-Python
   loop that touches no memory (``--ceiling-s`` seconds a process, once per repeat) and
   reported beside it: its ceiling is nearer 2, since two such loops share nothing.
2. **Replications.** ``simrun run scenarios/tiered.toml -n 20 -j 1`` and ``-j 2``:
   scaling = wall(-j 1) / wall(-j 2).
3. **A sweep.** ``simrun sweep`` of 32 runs (2 strategies x 2 points x 8 replications,
   ``run.days=300``) with ``-j 1`` and ``-j 2``: scaling as above.
4. **Dask.** The same sweep with ``--dask local`` (a LocalCluster started by the
   command, 2 worker processes) against ``-j 2``: overhead = wall(Dask) / wall(-j 2) - 1.
   **Once up**: every run's span is noted where it runs (item 6), in Dask's workers as
   in -j 2's, so each command's time up and running is measured in the command itself,
   from its first run's start to its last run's end; the overhead once up is up(Dask) /
   up(-j 2) - 1, and each command's fixed cost is its wall less its time up (the
   cluster's or the pool's start, the command's own start and end). Beside it, the same
   per second of the runs' work (up / the sum of the spans), which a load that drifts
   between the two commands cannot move. Also measured apart, as before 2026-12-01, in
   a child running the command's own code: the cluster's start-up (importing
   dask.distributed, starting the LocalCluster, connecting a client, warming every
   worker up) and its shutdown (closing the client and the cluster), and
   (wall(Dask) - start-up - shutdown) / wall(-j 2) - 1; and -j 2's pool start-up (its
   fork server and workers until they have the model), with that overhead also net of
   it, (wall(Dask) - start-up - shutdown) / (wall(-j 2) - pool start-up) - 1 (no
   target).
5. **How busy -j 2 kept the cores**, within its own run and so immune to the load
   drifting between measurements: the CPU time of all its processes (the command, its
   fork server and workers, user and system) / (2 x its wall time). A serial phase
   (start-up, writing files) leaves a core idle and lowers it; duplicated imports and
   the slowdown of two processes side by side count as busy. A diagnostic beside the
   share, no target.

6. **The share within the runs**, a second reading of the same share, which a load that
   drifts between the measurements cannot move: every replication's span (start to end)
   is noted where it runs, in the command on -j 1 and in the workers on -j 2 and on
   Dask (the commands run through :data:`SPANS`). W1 = the replications' work one after the other
   (the sum of -j 1's spans), W2 = side by side (-j 2's); the runs' own ceiling is
   2 W1 / W2, and share = (wall(-j 1) / wall(-j 2)) / (2 W1 / W2) = (wall(-j 1) / W1) x
   (W2 / (2 wall(-j 2))): two ratios, each within one command, so a slowdown of the
   whole machine during a command scales both its terms alike. It cannot see CPU that
   simrun's own other processes take from the workers (that lengthens their spans as
   another tenant would: a lower ceiling, not a lower share). The targets name the
   ceiling of item 1, which decides the verdict; this one is reported beside it.
7. **An ideal -j 2**, and where the real one loses, from the same spans
   (:func:`within_the_runs`): the share a -j 2 command would reach if it paid -j 1's
   serial time once (-j 1's start until its first replication, its end after its last)
   and spread W2 evenly over the two cores, losing nothing else to its pool. Not a
   strict bound: -j 2 can overlap part of -j 1's serial time (the imports of its
   ``meanwhile``). Beside it: how much later -j 2's first replication starts, how far
   apart its workers end, and its own end.

Share of the ceiling = (wall(-j 1) / wall(-j 2)) / ceiling, within one repeat. The
figures are medians over the repeats, with the spread (min to max). Every executor must
give the same ``sweep.csv`` bytes.

Targets (issue "The engine: twice as lean")
-------------------------------------------
* replications and sweep on ``-j 2``: at least 95 % of the ceiling;
* ``--dask local`` end to end within 10 % of ``-j 2``, or, where the cluster's start-up
  dominates, within 10 % once it is up (item 4; the fixed costs reported).

Usage::

    python bench/bench_sweep.py                 # 3 repeats, about 10 min on 2 busy cores
    python bench/bench_sweep.py --quick         # smoke check: 1 repeat, small runs
    python bench/bench_sweep.py --repeats 5 --json bench/sweep.json --strict

The exit status is 0 even when a target is missed, unless ``--strict``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
CEILING_SCENARIO = ROOT / "scenarios" / "tiered.toml"
SHARE_TARGET = 0.95
OVERHEAD_TARGET = 0.10

# (replications, run.days of the replications; days, points, replications of the sweep)
FULL = (20, None, 300, 2, 8)
QUICK = (4, 200, 60, 2, 2)

PROBE = """\
import sys, time
kind, amount = sys.argv[1], int(sys.argv[2])
if kind == "model":
    from sim.model.engine import run_replication
    from sim.scenario import load_scenario
    scenario = load_scenario(sys.argv[3])
    run_replication(scenario, amount)  # lazy imports and caches, as a worker's first task

    def work():
        for replication in range(amount):
            run_replication(scenario, replication)
else:
    def work():
        n = 0
        for i in range(amount):
            n += i * i
print("ready", flush=True)
sys.stdin.readline()
start = time.monotonic()
work()
print(start, time.monotonic(), flush=True)
"""
"""A bare CPU-bound process of the ceiling: ``model`` (``amount`` replications of a
scenario, no pool, no files) or ``loop`` (``amount`` iterations of integer arithmetic),
timed from a barrier (a line on stdin) after its start-up. time.monotonic is the
system-wide clock on Linux, so starts and ends compare across processes."""


SPANS_HOOK = """\
import os, sys, time


def note_spans(engine):
    plain = engine.Replication.run
    path = os.environ["SIMRUN_BENCH_SPANS"]

    def run(self):
        start = time.monotonic()
        try:
            return plain(self)
        finally:
            end = time.monotonic()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, f"{start} {end} {os.getpid()}\\n".encode())
            finally:
                os.close(fd)

    engine.Replication.run = run


if "sim.model.engine" in sys.modules:  # a worker, forked from a server that imported it
    note_spans(sys.modules["sim.model.engine"])
else:  # the command: as it imports the model (a -j 2 command never does)
    import importlib.abc, importlib.util

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "sim.model.engine":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            plain_exec = spec.loader.exec_module

            def exec_module(module):
                plain_exec(module)
                note_spans(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Finder())
"""
"""Code that makes each replication note its span (its start and end on the system-wide
clock, and the process it ran in, appended to the file ``SIMRUN_BENCH_SPANS`` names)
wherever it runs: in the command (-j 1) or in a worker (-j 2, Dask; a worker runs the
main script again), for the top of a main script. Nothing else changes: the command
imports the model as late as it would."""
SPANS = SPANS_HOOK + """
if __name__ == "__main__":
    from sim.cli import main

    sys.argv = ["simrun", *sys.argv[1:]]
    main()
"""
"""``simrun`` with :data:`SPANS_HOOK`."""


class Span(NamedTuple):
    """One replication's (or sweep run's) work, as :data:`SPANS_HOOK` notes it."""

    start: float
    end: float
    pid: int


def read_spans(path: Path, expected: int) -> list[Span]:
    """The spans noted in ``path``, after checking that it holds one per replication."""
    spans = [Span(float(start), float(end), int(pid))
             for start, end, pid in (line.split() for line in path.read_text().splitlines())]
    if len(spans) != expected:
        raise SystemExit(f"{path} holds {len(spans)} spans, not {expected}")
    return spans


def simrun(*args: str) -> list[str]:
    """``simrun ARGS`` in this interpreter (the installed console script when there is
    one, else the CLI's main through ``-c``)."""
    script = Path(sys.executable).parent / "simrun"
    if script.is_file():
        return [sys.executable, str(script), *args]
    return [sys.executable, "-c", "from sim.cli import main; main()", *args]


def adopt_orphans() -> None:
    """Make this process the reaper of its descendants that outlive their parents (Linux),
    so that their CPU counts in RUSAGE_CHILDREN: the pool's fork server ends just after
    the command that started it, and is no child of it that it waits for."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def reap_orphans(patience_s: float = 10.0) -> None:
    """Wait for the descendants this process adopted (:func:`adopt_orphans`), those that
    end within ``patience_s``."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.005)


class Timed(NamedTuple):
    """Commands run by :func:`wall`: when they started and when the last one ended, on
    the system-wide clock (``time.monotonic``, the clock of the spans), and the CPU
    seconds of all their processes."""

    start: float
    end: float
    cpu_s: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def wall(commands: list[list[str]], env: dict[str, str] | None = None) -> Timed:
    """Run the commands, started together, until every one has finished; the CPU time
    counts all their processes, the workers they started and the fork server included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, env=env,
                              stderr=subprocess.PIPE, text=True) for cmd in commands]
    for proc, cmd in zip(procs, commands, strict=True):
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    end = time.monotonic()
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Timed(start, end, (after.ru_utime - before.ru_utime)
                 + (after.ru_stime - before.ru_stime))


def with_spans(script: Path, args: list[str], expected: int) -> tuple[Timed, list[Span]]:
    """``simrun ARGS`` run through ``script`` (:data:`SPANS`), timed, and the spans of
    its ``expected`` replications or runs."""
    spans = script.with_name("spans.txt")
    spans.unlink(missing_ok=True)
    done = wall([[sys.executable, str(script), *args]],
                env={**os.environ, "SIMRUN_BENCH_SPANS": str(spans)})
    return done, read_spans(spans, expected)


def probe(kind: str, amount: int, processes: int) -> float:
    """Seconds from the first start to the last end of ``processes`` bare processes of
    PROBE started together at a barrier (their start-up left out)."""
    command = [sys.executable, "-c", PROBE, kind, str(amount), str(CEILING_SCENARIO)]
    procs = [subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    try:
        for proc in procs:
            if proc.stdout is None or proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"the ceiling's {kind} process did not start")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        spans = [tuple(map(float, proc.communicate()[0].split())) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    return max(end for _, end in spans) - min(start for start, _ in spans)


def loop_size(seconds: float) -> int:
    """Iterations of the loop probe that take about ``seconds``."""
    n = 2_000_000
    return int(n * seconds / max(probe("loop", n, 1), 1e-3))


def loop_ceiling(n: int) -> float:
    """The ceiling with the loop probe: alone twice, side by side once."""
    one_after_the_other = probe("loop", n, 1) + probe("loop", n, 1)
    return one_after_the_other / probe("loop", n, 2)


def cache_bytecode() -> str:
    """Compile the ``sim`` package the commands import into its ``__pycache__``, as
    Python does on a first import and as an installed simrun has it, so that no measured
    process compiles it. Where ``PYTHONDONTWRITEBYTECODE`` is set (this VM's shells set
    it) and sources changed since their bytecode was written, every process would
    compile them at every start: the command and, on -j 2, its fork server each
    (``sim/cli.py`` alone about 16 ms), serial time that -j 1 pays once. Returns the
    package's folder (found as the commands find it: ``-P`` leaves the current folder
    off the path, and ``PYTHONPATH`` wins over the installed one)."""
    where = subprocess.run([sys.executable, "-P", "-c", "import sim; print(sim.__path__[0])"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    compileall.compile_dir(where, quiet=1)
    return where


def write_sweep(folder: Path, days: int, points: int, replications: int) -> Path:
    values = ", ".join(f"{0.2 + 0.6 * i / max(points - 1, 1):.3f}" for i in range(points))
    scenarios = ", ".join(f'"{ROOT / "scenarios" / s}.toml"' for s in ("god", "tiered"))
    path = folder / "bench.toml"
    path.write_text(f"""[sweep]
scenarios = [{scenarios}]
replications = {replications}
seed = 99
set = ["run.days={days}", "run.warmup_days=30"]

[[parameters]]
path = "market.alternatives"
values = [{values}]
""")
    return path


DASK_FIXED = """\
import time
from sim.experiment import executors
start = time.perf_counter()
import dask.distributed
cluster, client = executors.start_local_cluster()
up = time.perf_counter()
client.close()
cluster.close()
print(up - start, time.perf_counter() - up)
"""


def dask_fixed_s() -> tuple[float, float]:
    """Seconds ``--dask local`` takes before it can submit its first run, and to close
    its cluster after the last, in a fresh interpreter that has imported simrun as the
    command has: importing dask.distributed, then
    :func:`sim.experiment.executors.start_local_cluster` (the LocalCluster, its client,
    every worker warmed up); then ``client.close()`` and ``cluster.close()`` (the
    nannies stop their workers), the very code the command runs."""
    done = subprocess.run([sys.executable, "-c", DASK_FIXED], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    start, stop = map(float, done.stdout.split())
    return start, stop


def pool_start_s() -> float:
    """Seconds ``-j 2`` takes to start its pool, for comparison with Dask's start-up: in
    a fresh interpreter that has imported simrun, until its workers have the model
    (:func:`sim.experiment.executors.warm_up` run on them: forked from a fork server
    that imported it, they find it there)."""
    return seconds_printed("import time\nfrom sim.experiment import executors, pool\n"
                           "if __name__ == '__main__':\n    start = time.perf_counter()\n"
                           "    for _ in pool.run_parallel(executors.warm_up, [()] * 2, 2):\n"
                           "        pass\n    print(time.perf_counter() - start)\n")


def seconds_printed(code: str) -> float:
    """The seconds that ``python -c code``, run in a fresh interpreter, prints last."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(min(values))} to {fmt.format(max(values))}"


def work_s(spans: list[Span]) -> float:
    """The runs' work: the sum of their spans."""
    return sum(span.end - span.start for span in spans)


def up_s(spans: list[Span]) -> float:
    """The time the executor was up and running: the first run's start to the last
    run's end."""
    return max(span.end for span in spans) - min(span.start for span in spans)


def within_the_runs(one: Timed, one_spans: list[Span], two: Timed,
                    two_spans: list[Span]) -> dict[str, float]:
    """Items 6 and 7: the share within the runs of -j 1 (``one``) and -j 2 (``two``),
    that of an ideal -j 2, and where the real one loses.

    W1 and W2 are the sums of the spans; -j 1's serial time is its start until its first
    replication plus its end after its last (its imports, the input, the files, the
    exit). An ideal -j 2 command would pay that serial time once and spread W2 evenly
    over the two cores, taking serial + W2 / 2; ``ideal_within`` is its share.
    ``start_lag_s``: how much later -j 2's first replication starts than -j 1's, each
    from its command's start; ``uneven_end_s``: how long the worker that ends first
    waits for the last (a core idle); ``end_s``: -j 2's time after its last replication
    (-j 1's: ``end_j1_s``)."""
    w1, w2 = work_s(one_spans), work_s(two_spans)
    start_1 = min(span.start for span in one_spans) - one.start
    end_1 = one.end - max(span.end for span in one_spans)
    last_by_worker: dict[int, float] = {}
    for span in two_spans:
        last_by_worker[span.pid] = max(span.end, last_by_worker.get(span.pid, span.end))
    serial = start_1 + end_1
    return {"ceiling_within": 2 * w1 / w2,
            "share_within": (one.seconds / w1) * (w2 / (2 * two.seconds)),
            "ideal_within": (one.seconds / w1) * (w2 / (2 * serial + w2)),
            "serial_j1_s": serial, "end_j1_s": end_1,
            "start_lag_s": min(span.start for span in two_spans) - two.start - start_1,
            "uneven_end_s": max(last_by_worker.values()) - min(last_by_worker.values()),
            "end_s": two.end - max(last_by_worker.values())}


def run(repeats: int, quick: bool, ceiling_s: float, ceiling_replications: int,
        log: Callable[[str], None], replications: int | None = None) -> dict[str, Any]:
    n_reps, rep_days, days, points, sweep_reps = QUICK if quick else FULL
    n_reps = replications or n_reps
    k = 1 if quick else ceiling_replications
    report: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "loadavg_before": list(os.getloadavg()), "repeats": repeats,
                              "quick": quick}
    rows: list[dict[str, Any]] = []
    csvs: set[bytes] = set()
    n = loop_size(ceiling_s)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        folder = Path(tmp)
        sweep_file = write_sweep(folder, days, points, sweep_reps)
        run_args = ["run", "scenarios/tiered.toml", "-n", str(n_reps), "-q"]
        if rep_days:
            run_args += ["--set", f"run.days={rep_days}"]
        sweep_runs = 2 * points * sweep_reps
        report["workloads"] = {
            "replications": "simrun " + " ".join(run_args) + " -j J",
            "sweep": f"simrun sweep ({sweep_runs} runs, run.days={days}) -j J / --dask local",
            "ceiling": (f"{k} replication{'s' if k > 1 else ''} of "
                        f"{CEILING_SCENARIO.relative_to(ROOT)} a process"),
            "ceiling_loop_iterations": n}
        report["bytecode"] = cache_bytecode()
        spans_script = folder / "simrun_spans.py"
        spans_script.write_text(SPANS)
        wall([simrun("check", "scenarios/tiered.toml")])  # warm the file cache
        for i in range(repeats):
            row: dict[str, Any] = {"loadavg": os.getloadavg()[0]}
            alone = [probe("model", k, 1)]
            side_by_side = [probe("model", k, 2)]
            timed: dict[str, tuple[Timed, list[Span]]] = {}
            for jobs in (1, 2):
                timed[f"run_j{jobs}"] = with_spans(
                    spans_script, [*run_args, "-j", str(jobs), "--out",
                                   str(folder / f"run-j{jobs}")], n_reps)
            for label, flags in (("j1", ["-j", "1"]), ("j2", ["-j", "2"]),
                                 ("dask", ["--dask", "local"])):
                out = folder / f"sweep-{label}"
                sweep_args = ["sweep", str(sweep_file), *flags, "--fresh", "-q", "--out", str(out)]
                timed[f"sweep_{label}"] = with_spans(spans_script, sweep_args, sweep_runs)
                csvs.add((out / "sweep.csv").read_bytes())
            for what, (done, _) in timed.items():
                row[f"{what}_s"], row[f"{what}_cpu_s"] = done.seconds, done.cpu_s
            side_by_side.append(probe("model", k, 2))
            alone.append(probe("model", k, 1))
            row["alone_s"], row["side_by_side_s"] = alone, side_by_side
            row["ceiling"] = sum(alone) / statistics.mean(side_by_side)
            row["loop_ceiling"] = loop_ceiling(n)
            row["dask_start_s"], row["dask_stop_s"] = dask_fixed_s()
            row["pool_start_s"] = pool_start_s()
            row["run_scaling"] = row["run_j1_s"] / row["run_j2_s"]
            row["sweep_scaling"] = row["sweep_j1_s"] / row["sweep_j2_s"]
            row["run_share"] = row["run_scaling"] / row["ceiling"]
            row["sweep_share"] = row["sweep_scaling"] / row["ceiling"]
            for what in ("run", "sweep"):
                figures = within_the_runs(*timed[f"{what}_j1"], *timed[f"{what}_j2"])
                row.update({f"{what}_{key}": value for key, value in figures.items()})
            row["run_share_loop"] = row["run_scaling"] / row["loop_ceiling"]
            row["sweep_share_loop"] = row["sweep_scaling"] / row["loop_ceiling"]
            row["run_busy"] = row["run_j2_cpu_s"] / (2 * row["run_j2_s"])
            row["sweep_busy"] = row["sweep_j2_cpu_s"] / (2 * row["sweep_j2_s"])
            row["dask_overhead"] = row["sweep_dask_s"] / row["sweep_j2_s"] - 1
            (dask, dask_spans), (j2, j2_spans) = timed["sweep_dask"], timed["sweep_j2"]
            row["dask_up_s"], row["j2_up_s"] = up_s(dask_spans), up_s(j2_spans)
            row["dask_fixed_s"] = dask.seconds - row["dask_up_s"]
            row["j2_fixed_s"] = j2.seconds - row["j2_up_s"]
            row["dask_overhead_up"] = row["dask_up_s"] / row["j2_up_s"] - 1
            row["dask_overhead_up_per_work"] = ((row["dask_up_s"] / work_s(dask_spans))
                                                / (row["j2_up_s"] / work_s(j2_spans)) - 1)
            dask_net_s = row["sweep_dask_s"] - row["dask_start_s"] - row["dask_stop_s"]
            row["dask_overhead_once_up"] = dask_net_s / row["sweep_j2_s"] - 1
            row["dask_overhead_both_up"] = dask_net_s / (row["sweep_j2_s"]
                                                        - row["pool_start_s"]) - 1
            rows.append(row)
            log(f"repeat {i + 1}/{repeats} (load {row['loadavg']:.2f}): ceiling "
                f"{row['ceiling']:.2f} (loop {row['loop_ceiling']:.2f}); replications "
                f"{row['run_j1_s']:.1f} s / {row['run_j2_s']:.1f} s = "
                f"{row['run_scaling']:.2f} ({100 * row['run_share']:.0f} % of the ceiling, "
                f"{100 * row['run_share_within']:.0f} % within the runs, "
                f"cores {100 * row['run_busy']:.0f} % busy); sweep {row['sweep_j1_s']:.1f} s / "
                f"{row['sweep_j2_s']:.1f} s = {row['sweep_scaling']:.2f} "
                f"({100 * row['sweep_share']:.0f} %, within "
                f"{100 * row['sweep_share_within']:.0f} %, {100 * row['sweep_busy']:.0f} % busy); "
                f"Dask "
                f"{row['sweep_dask_s']:.1f} s ({100 * row['dask_overhead']:+.0f} %, start-up "
                f"{row['dask_start_s']:.1f} s, shutdown {row['dask_stop_s']:.2f} s, once up "
                f"{100 * row['dask_overhead_up']:+.0f} %, per second of work "
                f"{100 * row['dask_overhead_up_per_work']:+.0f} %; net of the fixed costs "
                f"measured apart {100 * row['dask_overhead_once_up']:+.0f} %)")
    keys = ("ceiling", "loop_ceiling", "run_scaling", "sweep_scaling", "run_share",
            "sweep_share", "run_share_within", "sweep_share_within", "run_ceiling_within",
            "sweep_ceiling_within", "run_ideal_within", "sweep_ideal_within",
            "run_serial_j1_s", "sweep_serial_j1_s", "run_end_j1_s", "sweep_end_j1_s",
            "run_start_lag_s", "sweep_start_lag_s", "run_uneven_end_s", "sweep_uneven_end_s",
            "run_end_s", "sweep_end_s", "run_share_loop", "sweep_share_loop", "run_busy",
            "sweep_busy",
            "dask_overhead", "dask_overhead_once_up", "dask_overhead_both_up", "dask_start_s",
            "dask_stop_s", "dask_overhead_up", "dask_overhead_up_per_work", "dask_up_s",
            "j2_up_s", "dask_fixed_s", "j2_fixed_s",
            "pool_start_s", "run_j1_s", "run_j2_s",
            "sweep_j1_s", "sweep_j2_s", "sweep_dask_s")
    report.update({key: median([r[key] for r in rows]) for key in keys})
    report["spread"] = {key: [min(r[key] for r in rows), max(r[key] for r in rows)]
                        for key in keys}
    report["rows"] = rows
    report["identical_results"] = len(csvs) == 1
    report["loadavg_after"] = list(os.getloadavg())
    report["run_pass"] = report["run_share"] >= SHARE_TARGET
    report["sweep_pass"] = report["sweep_share"] >= SHARE_TARGET
    report["run_pass_within"] = report["run_share_within"] >= SHARE_TARGET
    report["sweep_pass_within"] = report["sweep_share_within"] >= SHARE_TARGET
    report["dask_pass"] = (report["dask_overhead"] <= OVERHEAD_TARGET
                           or report["dask_overhead_up"] <= OVERHEAD_TARGET)
    report["pass"] = all(report[k] for k in ("run_pass", "sweep_pass", "dask_pass",
                                             "identical_results"))
    return report


def table(r: dict[str, Any]) -> str:
    verdict = {True: "PASS", False: "FAIL"}
    s = r["spread"]
    lines = [
        f"simrun scaling, median of {r['repeats']} repeats (spread min to max); "
        f"{r['cpus']} CPUs, Python {r['python']}; load average before "
        + ", ".join(f"{x:.2f}" for x in r["loadavg_before"]) + ", after "
        + ", ".join(f"{x:.2f}" for x in r["loadavg_after"]),
        f"  replications: {r['workloads']['replications']}",
        f"  sweep:        {r['workloads']['sweep']}",
        (f"  bytecode of {r['bytecode']} compiled before (PYTHONDONTWRITEBYTECODE="
         f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')})"),
        (f"machine ceiling (2 bare processes of the model's work, one after the other / "
         f"side by side; {r['workloads']['ceiling']}): {r['ceiling']:.2f} "
         f"({spread(s['ceiling'])}); with a loop that touches no memory "
         f"{r['loop_ceiling']:.2f} ({spread(s['loop_ceiling'])})"),
        (f"replications -j 1 / -j 2: {r['run_j1_s']:.1f} s / {r['run_j2_s']:.1f} s = "
        f"{r['run_scaling']:.2f} ({spread(s['run_scaling'])}); share of the ceiling "
        f"{100 * r['run_share']:.0f} % ({spread(s['run_share'], '{:.0%}')}): "
        f"{verdict[r['run_pass']]} (>= {SHARE_TARGET:.0%})"),
        (f"  within the runs: ceiling {r['run_ceiling_within']:.2f} "
         f"({spread(s['run_ceiling_within'])}), share "
         f"{100 * r['run_share_within']:.0f} % "
         f"({spread(s['run_share_within'], '{:.0%}')}): "
         f"{verdict[r['run_pass_within']]}"),
        ideal_line(r, "run"),
        (f"  of the loop's ceiling {100 * r['run_share_loop']:.0f} % "
         f"({spread(s['run_share_loop'], '{:.0%}')}); -j 2 kept the cores "
         f"{100 * r['run_busy']:.0f} % busy ({spread(s['run_busy'], '{:.0%}')})"),
        (f"sweep -j 1 / -j 2: {r['sweep_j1_s']:.1f} s / {r['sweep_j2_s']:.1f} s = "
        f"{r['sweep_scaling']:.2f} ({spread(s['sweep_scaling'])}); share of the ceiling "
        f"{100 * r['sweep_share']:.0f} % ({spread(s['sweep_share'], '{:.0%}')}): "
        f"{verdict[r['sweep_pass']]} (>= {SHARE_TARGET:.0%})"),
        (f"  within the runs: ceiling {r['sweep_ceiling_within']:.2f} "
         f"({spread(s['sweep_ceiling_within'])}), share "
         f"{100 * r['sweep_share_within']:.0f} % "
         f"({spread(s['sweep_share_within'], '{:.0%}')}): "
         f"{verdict[r['sweep_pass_within']]}"),
        ideal_line(r, "sweep"),
        (f"  of the loop's ceiling {100 * r['sweep_share_loop']:.0f} % "
         f"({spread(s['sweep_share_loop'], '{:.0%}')}); -j 2 kept the cores "
         f"{100 * r['sweep_busy']:.0f} % busy ({spread(s['sweep_busy'], '{:.0%}')})"),
        (f"sweep --dask local: {r['sweep_dask_s']:.1f} s, {100 * r['dask_overhead']:+.0f} % "
         f"over -j 2 ({spread(s['dask_overhead'], '{:+.0%}')}); once up (first run's start "
         f"to last run's end) {r['dask_up_s']:.1f} s against {r['j2_up_s']:.1f} s: "
         f"{100 * r['dask_overhead_up']:+.0f} % ({spread(s['dask_overhead_up'], '{:+.0%}')}): "
         f"{verdict[r['dask_pass']]} (<= {OVERHEAD_TARGET:.0%})"),
        (f"  fixed costs per command (wall less the time up): Dask {r['dask_fixed_s']:.1f} s "
         f"({spread(s['dask_fixed_s'])}), -j 2 {r['j2_fixed_s']:.1f} s "
         f"({spread(s['j2_fixed_s'])}); once up per second of the runs' work "
         f"{100 * r['dask_overhead_up_per_work']:+.0f} % "
         f"({spread(s['dask_overhead_up_per_work'], '{:+.0%}')})"),
        (f"  measured apart: cluster start-up "
         f"{r['dask_start_s']:.1f} s ({spread(s['dask_start_s'])}) and shutdown "
         f"{r['dask_stop_s']:.2f} s ({spread(s['dask_stop_s'])}); Dask's wall net of them "
         f"over -j 2's {100 * r['dask_overhead_once_up']:+.0f} % "
         f"({spread(s['dask_overhead_once_up'], '{:+.0%}')})"),
        (f"  both net of start-up (-j 2's pool start-up {r['pool_start_s']:.1f} s, "
         f"{spread(s['pool_start_s'])}, left out too): "
         f"{100 * r['dask_overhead_both_up']:+.0f} % "
         f"({spread(s['dask_overhead_both_up'], '{:+.0%}')})"),
        f"same sweep.csv bytes on every executor: {verdict[r['identical_results']]}",
    ]
    return "\n".join(lines)


def ideal_line(r: dict[str, Any], what: str) -> str:
    """The share of an ideal -j 2 within the runs, and where the real one loses
    (item 7)."""
    s = r["spread"]

    def seconds(key: str) -> str:
        return f"{r[f'{what}_{key}']:.2f} s ({spread(s[f'{what}_{key}'])})"

    return (f"  ideal -j 2 (-j 1's serial start and end once, {seconds('serial_j1_s')}, of "
            f"which the end {seconds('end_j1_s')}; no other loss): "
            f"{100 * r[f'{what}_ideal_within']:.0f} % "
            f"({spread(s[f'{what}_ideal_within'], '{:.0%}')}); -j 2's first start "
            f"{seconds('start_lag_s')} later than -j 1's, its workers' ends "
            f"{seconds('uneven_end_s')} apart, its end {seconds('end_s')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="repeats (3)")
    parser.add_argument("--quick", action="store_true", help="small runs, one repeat")
    parser.add_argument("--ceiling-replications", type=int, default=4,
                        help="replications of tiered in each bare process of the ceiling (4)")
    parser.add_argument("--ceiling-s", type=float, default=2.0,
                        help="seconds of each bare loop process of the loop's ceiling (2)")
    parser.add_argument("--replications", type=int,
                        help="replications of the run (20, the target's; 4 with --quick)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    adopt_orphans()
    repeats = 1 if args.quick else max(1, args.repeats)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    report = run(repeats, args.quick, args.ceiling_s, args.ceiling_replications, log,
                 args.replications)
    report["bench_wall_s"] = time.perf_counter() - started
    print(table(report))
    print(f"overall: {'PASS' if report['pass'] else 'FAIL'} "
          f"(benchmark wall time {report['bench_wall_s']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if args.strict and not report["pass"] else 0


if __name__ == "__main__":
    sys.exit(main())
