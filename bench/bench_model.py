"""Speed and memory benchmark of the full simrun model (``scenarios/tiered.toml``).

What it measures
----------------
1. **Speed.** One replication of the default tiered scenario (``run.days`` raised so the
   run is long enough to time), through :func:`sim.model.engine.run_replication`:
   visits simulated per wall-clock second (``RunResult.visits_simulated`` divided by the
   seconds spent in ``run_replication``; model construction included, scenario loading
   not). Customers created (new and referred, warm-up included: the sum of the daily
   ``new_customers`` series) are reported alongside.
2. **Baseline, side by side.** In the *same process*, interleaved with the model runs
   (baseline, model, baseline, model, ...), :func:`bench.bare_queue.run_bare_queue`: a
   bare, idiomatic SimPy M/M/c+M queue with two priority classes, fed with the queueing
   parameters the full model actually produced (see "Baseline parameters" below). Its
   customers per second are the yardstick; the figure that counts is the ratio
   model visits/s / bare customers/s.
3. **Memory.** A fresh subprocess runs one replication of about 1,000,000 visits
   (``run.days`` raised, ``run.warmup_days`` kept small) and reports its peak resident
   set size (``VmHWM`` of the child on Linux, ``ru_maxrss`` elsewhere: on Linux a forked
   child's ``ru_maxrss`` starts at the parent's RSS), as well as the RSS of the
   interpreter with every import done and the scenario loaded, so the model's own share
   is visible.

Why a ratio against a baseline, side by side
--------------------------------------------
Benchmarks run on shared, noisy machines (CI runners, 2-core VMs with neighbours).
Absolute visits/s move by tens of per cent (up to 2x) with the host, the Python build and the
load; a ratio against plain SimPy measured in the same interpreter, alternating with
the model so that both see the same machine state, cancels most of that and measures
what the model adds on top of SimPy itself. Each side is run ``--repeats`` times; the
reported ratio is the median of the per-pair ratios (each model run divided by the
baseline run just before it), with the medians and bests of each side shown too. The
same ratio from CPU time (``time.process_time``) is shown as a cross-check: on a VM
whose neighbours steal CPU, wall time inflates while CPU time mostly does not. The ratio
is not fully immune: the model's working set is far larger than the baseline's, so heavy
cache contention from neighbours lowers it somewhat; prefer runs on a quiet machine and
look at the spread of the per-pair ratios.

Targets (from the performance issue)
------------------------------------
* speed: full model visits/s >= 1/3 of the bare queue's customers/s (ratio >= 0.333);
* memory: peak RSS of a 1,000,000-visit replication < 150 MB (MiB, as ``top`` and
  ``ps`` report it; the JSON has decimal MB too).

PASS/FAIL is printed for each; the exit status is 0 either way unless ``--strict``.

Baseline parameters (derived from the model's own measured window)
-----------------------------------------------------------------
The shop is open ``close_hour - open_hour`` hours a day and the bare queue never closes,
so rates are taken *per opening hour*; this keeps the load (utilisation, queue lengths,
abandonment) of the two comparable, whereas a 24-hour average would give the baseline
a far lighter queue than the model really serves.

* arrival rate = visits that joined the queue / opening hours of the measured window
  (``join_rate_per_h`` is per calendar hour, so it is multiplied by 24 / hours open);
* mean service time = busy server-hours / served visits, with busy hours recovered
  exactly as ``utilisation * servers * opening hours measured`` (``mean_sojourn_h`` is
  not used: it includes the wait);
* servers = ``business.servers``; patience exponential with the segment-share-weighted
  mean of the segments' patience (about 1 h); 30 % high priority;
* the horizon is chosen so the baseline simulates about as many customers as the model
  simulates visits (same amount of work per timed run).

Usage::

    python bench/bench_model.py             # full: ~60k-visit speed runs, 1M-visit memory run
    python bench/bench_model.py --quick     # smoke: default 540 days, 50k-visit memory run
    python bench/bench_model.py --repeats 7 --json bench/last.json --strict
    python bench/bench_model.py --profile   # also print a cProfile of one model run
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import hashlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIO = ROOT / "scenarios" / "tiered.toml"

SPEED_TARGET = 1 / 3
MEMORY_TARGET_MIB = 150.0
HIGH_PRIORITY_SHARE = 0.3
BARE_SEED = 20240601

# (speed-run days, repeats, memory-run visits)
FULL = (3000, 5, 1_000_000)
QUICK = (540, 3, 50_000)
MEMORY_WARMUP_DAYS = 30


# ------------------------------------------------------------------ helpers
def _maxrss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak RSS in MiB (Linux reports ru_maxrss in KiB, macOS in bytes)."""
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _peak_rss_mib() -> tuple[float, str]:
    """This process's own peak RSS in MiB and how it was read.

    On Linux ``ru_maxrss`` is not reset by ``execve``: a child forked (or vforked) from
    this ~100 MiB benchmark process starts with the parent's RSS as its "peak", which
    would hide the model's share entirely. ``VmHWM`` in /proc/self/status is the
    high-water mark of the current address space only, so it is used where available.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024, "VmHWM"
    except OSError:
        pass
    return _maxrss_mib(), "ru_maxrss"


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for name in ("simpy", "numpy", "scipy"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # noqa: BLE001 - informative only
            versions[name] = "?"
    digest = hashlib.sha256()
    for path in sorted((ROOT / "sim").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "sim_sources_sha256": digest.hexdigest()[:16],
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        **versions,
    }


def _load(overrides: list[str]):  # -> Scenario
    from sim.scenario.loader import load_scenario

    return load_scenario(SCENARIO, overrides)


# ------------------------------------------------------------------ speed
def _time_model(scenario) -> dict[str, Any]:
    from sim.model.engine import run_replication

    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    result = run_replication(scenario, 0)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    customers = int(sum(result.daily["new_customers"]))
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "visits_per_cpu_s": result.visits_simulated / cpu,
        "visits": result.visits_simulated,
        "customers_created": customers,
        "visits_per_s": result.visits_simulated / wall,
        "customers_per_s": customers / wall,
        "result": result,
    }


def baseline_parameters(scenario, result) -> dict[str, float]:
    """Queueing parameters of the model's measured window (see the module docstring)."""
    m = result.metrics
    run, biz = scenario.run, scenario.business
    open_per_day = biz.close_hour - biz.open_hour
    measured_days = run.days - run.warmup_days
    measured_h = measured_days * 24.0
    open_h = measured_days * open_per_day
    joined = m["join_rate_per_h"] * measured_h
    busy_h = m["utilisation"] * biz.servers * open_h
    patience = math.fsum(seg.share * seg.patience.mean for seg in scenario.segments)
    return {
        "arrival_rate_per_h": joined / open_h,
        "mean_service_h": busy_h / m["served"],
        "servers": biz.servers,
        "mean_patience_h": patience,
        "high_priority_share": HIGH_PRIORITY_SHARE,
        "joined": joined,
        "utilisation": m["utilisation"],
        "arrivals_per_measured_day": m["arrivals"] / measured_days,
    }


def _time_bare(params: dict[str, float], customers: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    try:
        from bare_queue import run_bare_queue
    finally:
        sys.path.remove(str(HERE))
    gc.collect()
    rate = params["arrival_rate_per_h"]
    cpu = time.process_time()
    r = run_bare_queue(
        arrival_rate_per_h=rate, mean_service_h=params["mean_service_h"],
        servers=int(params["servers"]), mean_patience_h=params["mean_patience_h"],
        high_priority_share=params["high_priority_share"], horizon_h=customers / rate,
        seed=BARE_SEED)
    cpu = time.process_time() - cpu  # includes the (sub-millisecond) model construction
    return {"wall_s": r.wall_seconds, "cpu_s": cpu, "customers_per_cpu_s": r.customers / cpu,
            "customers": r.customers, "served": r.served,
            "abandoned": r.abandoned, "mean_wait_h": r.mean_wait_h,
            "customers_per_s": r.customers_per_second}


def speed(days: int, repeats: int, log) -> dict[str, Any]:
    scenario = _load([f"run.days={days}"])
    log(f"speed: tiered.toml, run.days={days} (warm-up {scenario.run.warmup_days} d), "
        f"{repeats} interleaved repeats")
    # Calibration run: warms caches and imports, and gives the baseline's parameters.
    calib = _time_model(scenario)
    params = baseline_parameters(scenario, calib["result"])
    log(f"  calibration: {calib['visits']:,} visits in {calib['wall_s']:.2f} s; baseline gets "
        f"lambda={params['arrival_rate_per_h']:.3f}/h, E[S]={params['mean_service_h']:.3f} h, "
        f"c={params['servers']}, E[patience]={params['mean_patience_h']:.2f} h")
    _time_bare(params, 2000)  # warm-up of the baseline's code paths
    bare_runs, model_runs = [], []
    for i in range(repeats):
        b = _time_bare(params, calib["visits"])
        bare_runs.append(b)
        m = _time_model(scenario)
        m.pop("result")
        model_runs.append(m)
        log(f"  repeat {i + 1}/{repeats}: bare {b['customers_per_s']:>9,.0f} customers/s | "
            f"model {m['visits_per_s']:>9,.0f} visits/s | ratio "
            f"{m['visits_per_s'] / b['customers_per_s']:.3f} (CPU time "
            f"{m['visits_per_cpu_s'] / b['customers_per_cpu_s']:.3f})")
    ratios = [m["visits_per_s"] / b["customers_per_s"]
              for b, m in zip(bare_runs, model_runs, strict=True)]
    cpu_ratios = [m["visits_per_cpu_s"] / b["customers_per_cpu_s"]
                  for b, m in zip(bare_runs, model_runs, strict=True)]
    bare_rates = [b["customers_per_s"] for b in bare_runs]
    model_rates = [m["visits_per_s"] for m in model_runs]
    calib.pop("result")
    return {
        "days": days, "warmup_days": scenario.run.warmup_days, "repeats": repeats,
        "visits_per_run": calib["visits"], "customers_created_per_run": calib["customers_created"],
        "baseline_parameters": params,
        "model_visits_per_s_median": statistics.median(model_rates),
        "model_visits_per_s_best": max(model_rates),
        "model_customers_per_s_median": statistics.median(m["customers_per_s"] for m in model_runs),
        "bare_customers_per_s_median": statistics.median(bare_rates),
        "bare_customers_per_s_best": max(bare_rates),
        "ratio_median_of_pairs": statistics.median(ratios),
        "ratio_best_vs_best": max(model_rates) / max(bare_rates),
        "ratio_cpu_time_median_of_pairs": statistics.median(cpu_ratios),
        "cpu_ratios": cpu_ratios,
        "ratios": ratios, "model_runs": model_runs, "bare_runs": bare_runs,
        "calibration_run": calib,
        "target": SPEED_TARGET,
        "pass": statistics.median(ratios) >= SPEED_TARGET,
    }


# ------------------------------------------------------------------ memory
def memory_days(speed_result: dict[str, Any], target_visits: int) -> int:
    """Days for about ``target_visits`` visits with a MEMORY_WARMUP_DAYS warm-up.

    Steady state rate from the speed run's measured window; the ramp-up deficit (the
    business starts empty) is the gap between that rate times the days and the visits
    the speed run really simulated.
    """
    rate = speed_result["baseline_parameters"]["arrivals_per_measured_day"]
    deficit = max(0.0, rate * speed_result["days"] - speed_result["visits_per_run"])
    return max(MEMORY_WARMUP_DAYS + 1, math.ceil((target_visits + deficit) / rate))


def memory(days: int, target_visits: int, log) -> dict[str, Any]:
    log(f"memory: fresh subprocess, run.days={days}, run.warmup_days={MEMORY_WARMUP_DAYS} "
        f"(aiming at {target_visits:,} visits)")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-memory", str(days)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or not proc.stdout.strip():
        log(f"memory: the child failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["no output"],
                "days": days, "target_visits": target_visits, "pass": False}
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    # Cross-check only: inflated to at least this process's RSS at fork (see _peak_rss_mib).
    child["rusage_children_peak_mib"] = _maxrss_mib(resource.RUSAGE_CHILDREN)
    child["subprocess_wall_s"] = elapsed
    child["target_visits"] = target_visits
    child["target_mib"] = MEMORY_TARGET_MIB
    child["peak_mb_decimal"] = child["peak_mib"] * 1024 * 1024 / 1e6
    child["model_share_mib"] = child["peak_mib"] - child["after_imports_mib"]
    child["pass"] = child["peak_mib"] < MEMORY_TARGET_MIB
    return child


def child_memory(days: int) -> None:
    """Runs in the fresh subprocess: imports, one long replication, RSS at each step."""
    interpreter, source = _peak_rss_mib()
    from sim.model.engine import run_replication

    scenario = _load([f"run.days={days}", f"run.warmup_days={MEMORY_WARMUP_DAYS}"])
    gc.collect()
    after_imports, _ = _peak_rss_mib()
    start = time.perf_counter()
    result = run_replication(scenario, 0)
    wall = time.perf_counter() - start
    peak, _ = _peak_rss_mib()
    print(json.dumps({
        "days": days, "warmup_days": MEMORY_WARMUP_DAYS,
        "visits": result.visits_simulated,
        "customers_created": int(sum(result.daily["new_customers"])),
        "wall_s": wall, "visits_per_s": result.visits_simulated / wall,
        "interpreter_mib": interpreter, "after_imports_mib": after_imports, "peak_mib": peak,
        "rss_source": source, "ru_maxrss_mib": _maxrss_mib(),
    }))


# ------------------------------------------------------------------ profile
def profile(days: int, log, top: int = 30) -> str:
    import cProfile
    import io
    import pstats

    from sim.model.engine import run_replication

    scenario = _load([f"run.days={days}"])
    profiler = cProfile.Profile()
    profiler.enable()
    run_replication(scenario, 0)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    log(f"profile: cProfile of one model run (run.days={days}), top {top} by own time")
    return out.getvalue()


# ------------------------------------------------------------------ report
def _table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = []
    for n, row in enumerate(rows):
        out.append(" | ".join(cell.ljust(w) if i == 0 else cell.rjust(w) if i == 1 else cell
                              for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            out.append(line)
    return "\n".join(out)


def report(res: dict[str, Any]) -> str:
    s, m, mach = res["speed"], res["memory"], res["machine"]
    if "error" in m:  # keep the speed figures readable when the memory child fails
        nan = math.nan
        m = {**m, "visits": 0, "warmup_days": MEMORY_WARMUP_DAYS, "wall_s": nan,
             "visits_per_s": nan, "peak_mib": nan, "peak_mb_decimal": nan,
             "rss_source": "child FAILED: " + " ".join(m["error"]),
             "after_imports_mib": nan, "interpreter_mib": nan, "model_share_mib": nan}
    p = s["baseline_parameters"]
    verdict = {True: "PASS", False: "FAIL"}
    model_note = (f"best {s['model_visits_per_s_best']:,.0f}; {s['visits_per_run']:,} "
                  f"visits/run, run.days={s['days']}")
    customers_note = f"{s['customers_created_per_run']:,} customers/run (new + referred)"
    bare_note = (f"best {s['bare_customers_per_s_best']:,.0f}; "
                 f"lambda={p['arrival_rate_per_h']:.3f}/h, E[S]={p['mean_service_h']:.3f} h, "
                 f"c={p['servers']}, E[patience]={p['mean_patience_h']:.2f} h, 30% high")
    pairs = ", ".join(f"{r:.3f}" for r in s["ratios"])
    ratio_note = (f"target >= {SPEED_TARGET:.3f}: {verdict[s['pass']]} "
                  f"(best vs best {s['ratio_best_vs_best']:.3f}; pairs {pairs})")
    visits_note = (f"run.days={m['days']}, warm-up {m['warmup_days']} d, "
                   f"{m['wall_s']:.1f} s, {m['visits_per_s']:,.0f} visits/s")
    peak_note = (f"target < {MEMORY_TARGET_MIB:.0f}: {verdict[m['pass']]} "
                 f"({m['peak_mb_decimal']:.1f} MB decimal; {m['rss_source']} of the child)")
    machine_note = f"{mach['cpu']}, {mach['cpus']} CPUs, Python {mach['python']}"
    rows = [
        ("measure", "value", "note"),
        ("model visits/s (median)", f"{s['model_visits_per_s_median']:,.0f}", model_note),
        ("model customers created/s (median)",
         f"{s['model_customers_per_s_median']:,.0f}", customers_note),
        ("bare SimPy customers/s (median)", f"{s['bare_customers_per_s_median']:,.0f}",
         bare_note),
        ("ratio model/bare (median of pairs)", f"{s['ratio_median_of_pairs']:.3f}", ratio_note),
        ("  same, from CPU time (cross-check)", f"{s['ratio_cpu_time_median_of_pairs']:.3f}",
         "process_time instead of wall time: less sensitive to CPU stolen by neighbours"),
        ("memory run visits", f"{m['visits']:,}", visits_note),
        ("peak RSS of that run (MiB)", f"{m['peak_mib']:.1f}", peak_note),
        ("  Python + imports + scenario (MiB)", f"{m['after_imports_mib']:.1f}",
         f"bare interpreter {m['interpreter_mib']:.1f}"),
        ("  model's own share (MiB)", f"{m['model_share_mib']:.1f}", "peak - imports"),
        ("benchmark wall time (s)", f"{res['wall_s']:.0f}", machine_note),
    ]
    return _table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small smoke version (default 540 days, 50k-visit memory run)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved baseline/model pairs (default 5, quick 3)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--days", type=int, default=None, help="run.days of the speed runs")
    parser.add_argument("--memory-visits", type=int, default=None,
                        help="visits of the memory run (default 1,000,000, quick 50,000)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile (by own time) of one speed-sized model run")
    parser.add_argument("--child-memory", type=int, metavar="DAYS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_memory is not None:
        child_memory(args.child_memory)
        return 0

    days, repeats, mem_visits = QUICK if args.quick else FULL
    days = args.days or days
    repeats = args.repeats or repeats
    mem_visits = args.memory_visits or mem_visits
    if repeats < 1:
        parser.error("--repeats must be >= 1")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    machine = _machine()
    res: dict[str, Any] = {"machine": machine, "quick": args.quick}
    res["speed"] = speed(days, repeats, log)
    res["memory"] = memory(memory_days(res["speed"], mem_visits), mem_visits, log)
    if args.profile:
        res["profile"] = profile(days, log)
    res["wall_s"] = time.perf_counter() - started
    res["pass"] = res["speed"]["pass"] and res["memory"]["pass"]

    print(f"simrun benchmark ({'quick' if args.quick else 'full'}), {machine['date']}, "
          f"load avg at start {', '.join(f'{x:.2f}' for x in machine['loadavg_at_start'] or [])}, "
          f"sim/ sources sha256 {machine['sim_sources_sha256']}")
    print(report(res))
    if args.profile:
        print()
        print(res["profile"])
    print(f"overall: {'PASS' if res['pass'] else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=float) + "\n",
                                   encoding="utf-8")
    return 1 if args.strict and not res["pass"] else 0


if __name__ == "__main__":
    sys.exit(main())
