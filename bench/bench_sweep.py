"""Sweep throughput benchmark: scaling over local processes, and the cost of Dask.

What it measures
----------------
1. **Scaling.** A small sweep (2 strategies x 2 points x 5 replications = 20 runs of
   ``run.days=300``, about 0.6 s each on an idle core) through
   :func:`sim.experiment.sweep_runner.run_sweep` on 1 and on 2 local processes. Runs per
   second = runs / wall time of the whole ``run_sweep`` call (store, pool start-up and
   exports included: what a user waits for). Target: 2 processes >= 1.8 x 1 process.
2. **Dask overhead.** A sweep of runs of about one second (``run.days=480``, 12 runs) on
   2 local processes and on a ``dask.distributed`` LocalCluster of 2 single-threaded
   worker processes on 127.0.0.1, started once beforehand and warmed up (a user points
   ``--dask`` at a running cluster; its start-up time is printed separately). The local
   side's wall time includes starting its process pool, as it does for a user.
   Overhead = Dask wall / local wall - 1. Target: < 15 %.

Both pairs run side by side: 1 process, 2 processes, 1 process, ... (and local, Dask,
local, Dask, ...), ``--repeats`` times each; the figure that counts is the median of the
per-pair ratios, so a neighbour that slows the machine for a while slows both sides of
a pair. As cross-checks the table shows the *steady* rates (from the 1st (resp. 2nd)
finished run to the last: pool and worker start-up excluded) and, for the local
scaling, CPU seconds per run on each side (parent + reaped workers), which shows what
running in parallel costs in CPU regardless of how busy the machine is. The load
average is printed before and after: on a shared 2-core machine nothing scales to 2
when other jobs hold a core. Every run of both executors must give the same
sweep.csv bytes; the benchmark checks that too.

Each run ships its scenario to a worker process, which unpickles it; the table shows
what that costs per run (rebuilding a scenario's samplers), since it is paid on 2
processes and on Dask but not on 1 process.

**The machine's own ceiling.** Alongside each scaling pair (Linux), the same 20 runs go
through two *forked* processes that already hold the scenarios and ship nothing back:
plain ``run_replication`` calls, no pool, no imports, no pickling, no store. The ratio
of the 1-process sweep to that is what this machine gives two CPU-bound processes at
that moment; simrun's ratio divided by it is the share the executor keeps.

Usage::

    python bench/bench_sweep.py                 # about 2-3 min on 2 idle cores
    python bench/bench_sweep.py --quick         # smoke check, one pair each
    python bench/bench_sweep.py --repeats 5 --json bench/sweep.json --strict

The exit status is 0 even when a target is missed, unless ``--strict``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

SCALING_TARGET = 1.8
OVERHEAD_TARGET = 0.15

# (days, points, replications) of each sweep; 2 strategies each
SCALING = (300, 2, 5)
DASK = (480, 2, 3)
QUICK_SCALING = (100, 2, 3)
QUICK_DASK = (300, 2, 2)


def write_sweep(folder: Path, name: str, days: int, points: int, replications: int) -> Path:
    values = ", ".join(f"{0.2 + 0.6 * i / max(points - 1, 1):.3f}" for i in range(points))
    scenarios = ", ".join(f'"{ROOT / "scenarios" / s}.toml"' for s in ("god", "tiered"))
    path = folder / f"{name}.toml"
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(sweep: Any, folder: Path, *, jobs: int = 1, dask: str | None = None
          ) -> dict[str, Any]:
    """One whole run_sweep (fresh store): wall time, finish times, CPU, sweep.csv bytes."""
    from sim.experiment.sweep_runner import run_sweep

    stamps: list[float] = []
    cpu_self, cpu_children = time.process_time(), _children_cpu()
    start = time.perf_counter()
    result = run_sweep(sweep, folder, jobs=jobs, dask=dask, fresh=True,
                       progress=lambda _: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - start
    cpu = (time.process_time() - cpu_self) + (_children_cpu() - cpu_children)
    n = len(stamps)
    if result.failures or n != len(sweep.tasks()):
        raise SystemExit(f"bench sweep failed: {result.failures[:1]}")
    first = 2 if (jobs > 1 or dask) else 1  # steady: once every worker has finished one run
    steady = (n - first) / (stamps[-1] - stamps[first - 1]) if n > first else float("nan")
    return {"wall_s": wall, "runs": n, "runs_per_s": n / wall, "steady_runs_per_s": steady,
            "cpu_s_per_run": cpu / n, "csv": (folder / "sweep.csv").read_bytes()}


def unpickle_cost(sweep: Any) -> float:
    """Seconds to unpickle one run's scenario, as a worker process does for every run."""
    import pickle

    blob = pickle.dumps(next(iter(sweep.scenarios.values())))
    start = time.perf_counter()
    for _ in range(5):
        pickle.loads(blob)
    return (time.perf_counter() - start) / 5


def run_cost(sweep: Any) -> float:
    """CPU seconds of one run in this process (replication 0 of the first scenario)."""
    from sim.model.engine import run_replication

    start = time.process_time()
    run_replication(next(iter(sweep.scenarios.values())), 0)
    return time.process_time() - start


def _bare(work: list[tuple[Any, int]]) -> None:
    from sim.model.engine import run_replication

    for scenario, replication in work:
        run_replication(scenario, replication)


def bare_two(sweep: Any) -> dict[str, Any]:
    """The sweep's runs on two forked processes that ship nothing: the ceiling."""
    import multiprocessing

    work = [(sweep.scenarios[p, s], r) for p, s, r in sweep.tasks()]
    context = multiprocessing.get_context("fork")
    start = time.perf_counter()
    workers = [context.Process(target=_bare, args=(work[k::2],)) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if any(w.exitcode for w in workers):
        raise SystemExit("bare run failed")
    return {"wall_s": time.perf_counter() - start}


def pairs(repeats: int, first: Callable[[], dict[str, Any]],
          second: Callable[[], dict[str, Any]], log: Callable[[str], None], label: str
          ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for i in range(repeats):
        a = first()
        b = second()
        log(f"  {label} pair {i + 1}/{repeats}: {a['wall_s']:.2f} s vs {b['wall_s']:.2f} s "
            f"(load {os.getloadavg()[0]:.2f})")
        out.append((a, b))
    return out


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run(repeats: int, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    from dask.distributed import Client, LocalCluster

    from sim.experiment.sweep import load_sweep

    scaling_shape, dask_shape = (QUICK_SCALING, QUICK_DASK) if quick else (SCALING, DASK)
    load_before = os.getloadavg()
    report: dict[str, Any] = {
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "loadavg_before": list(load_before), "repeats": repeats, "quick": quick}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        folder = Path(tmp)
        small = load_sweep(write_sweep(folder, "small", *scaling_shape))
        long = load_sweep(write_sweep(folder, "long", *dask_shape))
        warm = load_sweep(write_sweep(folder, "warm", 40, 1, 1))
        timed(warm, folder / "warm-local")  # imports and first-run costs, in this process
        report["unpickle_s_per_run"] = unpickle_cost(small)
        report["run_s_idle_estimate"] = run_cost(small)

        log(f"scaling: {len(small.tasks())} runs of run.days={scaling_shape[0]}, "
            f"1 vs 2 processes, {repeats} pairs")
        forks = sys.platform == "linux"
        ceiling: list[dict[str, Any]] = []

        def two_then_bare() -> dict[str, Any]:
            result = timed(small, folder / "s2", jobs=2)
            if forks:
                ceiling.append(bare_two(small))
            return result

        scaling = pairs(repeats, lambda: timed(small, folder / "s1", jobs=1), two_then_bare,
                        log, "1 vs 2 processes")

        log("starting a LocalCluster (2 worker processes, 1 thread each, 127.0.0.1)")
        started = time.perf_counter()
        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                               host="127.0.0.1", dashboard_address=None)
        try:
            with Client(cluster.scheduler_address) as client:
                client.wait_for_workers(2, timeout=120)
            cluster_start = time.perf_counter() - started
            timed(warm, folder / "warm-dask", dask=cluster.scheduler_address)  # workers import
            log(f"dask: {len(long.tasks())} runs of run.days={dask_shape[0]}, "
                f"2 local processes vs Dask, {repeats} pairs")
            overhead = pairs(repeats, lambda: timed(long, folder / "l2", jobs=2),
                             lambda: timed(long, folder / "d2", dask=cluster.scheduler_address),
                             log, "local vs dask")
        finally:
            cluster.close()

    csvs = {r["csv"] for pair in scaling for r in pair}
    csvs_long = {r["csv"] for pair in overhead for r in pair}
    one = [a for a, _ in scaling]
    two = [b for _, b in scaling]
    loc = [a for a, _ in overhead]
    dsk = [b for _, b in overhead]
    ratio = _median([b["runs_per_s"] / a["runs_per_s"] for a, b in scaling])
    steady_ratio = _median([b["steady_runs_per_s"] / a["steady_runs_per_s"]
                            for a, b in scaling])
    over = _median([b["wall_s"] / a["wall_s"] - 1 for a, b in overhead])
    ceilings = [a["wall_s"] / c["wall_s"] for (a, _), c in zip(scaling, ceiling, strict=False)]
    efficiency = [(b["wall_s"] and a["wall_s"] / b["wall_s"]) / x
                  for (a, b), x in zip(scaling, ceilings, strict=False)]
    steady_over = _median([a["steady_runs_per_s"] / b["steady_runs_per_s"] - 1
                           for a, b in overhead])
    report.update({
        "scaling_sweep": {"runs": len(small.tasks()), "days": scaling_shape[0]},
        "dask_sweep": {"runs": len(long.tasks()), "days": dask_shape[0]},
        "one_process_runs_per_s": _median([r["runs_per_s"] for r in one]),
        "two_processes_runs_per_s": _median([r["runs_per_s"] for r in two]),
        "scaling_ratio": ratio,
        "scaling_ratio_pairs": [b["runs_per_s"] / a["runs_per_s"] for a, b in scaling],
        "steady_scaling_ratio": steady_ratio,
        "ceiling_ratio": _median(ceilings) if ceilings else None,
        "ceiling_ratio_pairs": ceilings,
        "executor_share_of_ceiling": _median(efficiency) if efficiency else None,
        "cpu_s_per_run_one": _median([r["cpu_s_per_run"] for r in one]),
        "cpu_s_per_run_two": _median([r["cpu_s_per_run"] for r in two]),
        "seconds_per_run_one": _median([r["wall_s"] / r["runs"] for r in one]),
        "local_two_wall_s": _median([r["wall_s"] for r in loc]),
        "dask_wall_s": _median([r["wall_s"] for r in dsk]),
        "dask_overhead": over,
        "dask_overhead_pairs": [b["wall_s"] / a["wall_s"] - 1 for a, b in overhead],
        "steady_dask_overhead": steady_over,
        "cluster_start_s": cluster_start,
        "identical_results": len(csvs) == 1 and len(csvs_long) == 1,
        "loadavg_after": list(os.getloadavg()),
    })
    report["scaling_pass"] = ratio >= SCALING_TARGET
    report["overhead_pass"] = over < OVERHEAD_TARGET
    report["pass"] = report["scaling_pass"] and report["overhead_pass"] and report[
        "identical_results"]
    return report


def table(r: dict[str, Any]) -> str:
    verdict = {True: "PASS", False: "FAIL"}
    rows = [
        ("measure", "value", "target"),
        ((f"1 process: runs/s ({r['scaling_sweep']['runs']} runs, "
         f"run.days={r['scaling_sweep']['days']})"),
         f"{r['one_process_runs_per_s']:.2f} ({r['seconds_per_run_one']:.2f} s/run)", ""),
        ("2 processes: runs/s", f"{r['two_processes_runs_per_s']:.2f}", ""),
        ("scaling ratio, 2 / 1 (median of pairs)",
         f"{r['scaling_ratio']:.2f}: {verdict[r['scaling_pass']]}", f">= {SCALING_TARGET}"),
        ("  pairs", ", ".join(f"{x:.2f}" for x in r["scaling_ratio_pairs"]), ""),
        ("  steady ratio (start-up excluded)", f"{r['steady_scaling_ratio']:.2f}", ""),
        *([("  machine ceiling: bare runs on 2 forks, ratio",
            f"{r['ceiling_ratio']:.2f} (" + ", ".join(f"{x:.2f}" for x in r[
                "ceiling_ratio_pairs"]) + ")", ""),
           ("  simrun's ratio / ceiling (median of triples)",
            f"{100 * r['executor_share_of_ceiling']:.0f} %", "")]
          if r["ceiling_ratio"] is not None else []),
        ("  CPU s per run, 1 / 2 processes",
         f"{r['cpu_s_per_run_one']:.3f} / {r['cpu_s_per_run_two']:.3f}", ""),
        ("  unpickling a run's scenario in a worker",
         f"{r['unpickle_s_per_run']:.3f} s (one run: {r['run_s_idle_estimate']:.3f} s CPU)",
         ""),
        ((f"2 local processes: wall ({r['dask_sweep']['runs']} runs, "
         f"run.days={r['dask_sweep']['days']})"), f"{r['local_two_wall_s']:.2f} s", ""),
        ("Dask LocalCluster, 2 workers: wall", f"{r['dask_wall_s']:.2f} s", ""),
        ("Dask overhead (median of pairs)",
         f"{100 * r['dask_overhead']:+.1f} %: {verdict[r['overhead_pass']]}",
         f"< {100 * OVERHEAD_TARGET:.0f} %"),
        ("  pairs", ", ".join(f"{100 * x:+.1f} %" for x in r["dask_overhead_pairs"]), ""),
        ("  steady overhead (start-up excluded)", f"{100 * r['steady_dask_overhead']:+.1f} %",
         ""),
        ("  cluster start-up (once, not counted)", f"{r['cluster_start_s']:.1f} s", ""),
        ("same sweep.csv bytes on every executor", verdict[r["identical_results"]], "PASS"),
        ("load average before / after",
         " / ".join(", ".join(f"{x:.2f}" for x in r[k]) for k in ("loadavg_before",
                                                                  "loadavg_after")),
         f"{r['cpus']} CPUs"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="pairs per comparison (3)")
    parser.add_argument("--quick", action="store_true", help="shorter runs, one pair each")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else max(1, args.repeats)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    report = run(repeats, args.quick, log)
    report["bench_wall_s"] = time.perf_counter() - started
    print(table(report))
    print(f"benchmark wall time {report['bench_wall_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if args.strict and not report["pass"] else 0


if __name__ == "__main__":
    sys.exit(main())
