"""Speed and memory benchmark of the full simrun model against a bare SimPy queue.

What it measures
----------------
1. **Speed, side by side with bare SimPy.** One replication of the full model on each
   scenario of the default market that the issue names (``scenarios/tiered.toml`` and
   ``scenarios/god.toml``), ``run.days`` chosen so a run simulates about ``--visits``
   visits (200,000 by default), through :func:`sim.model.engine.run_replication`
   (model construction included, scenario loading not). In the *same process*, taking
   turns with it (bare, tiered, bare, god, bare, tiered, ...), :func:`bare_queue.run_bare_queue`:
   a bare, idiomatic SimPy M/M/c+M queue with two priority classes, fed with the queueing
   parameters the model produced on that scenario (see "Baseline parameters") and as
   many customers as the model simulates visits. The figure that counts is, per
   scenario, the median over the interleaved pairs of
   (model visits per second) / (bare customers per second), from wall time and from
   CPU time (``time.process_time``), each with its spread (min to max of the pairs).
2. **Memory of a whole command-line run.** ``simrun run scenarios/tiered.toml -n 1 -j 1
   --set run.days=D`` in a fresh interpreter (the CLI's own ``main``, run in a child
   that reads its own ``VmHWM`` when the command is done), at two horizons (about
   500,000 and 1,000,000 visits by default) and at a short one (the fixed cost of the
   interpreter, the imports and the files), so that both the peak and its growth with
   the horizon show.

Why a ratio against a baseline, side by side
--------------------------------------------
Benchmarks run on shared, noisy machines (CI runners, 2-core VMs with neighbours).
Absolute visits/s move by tens of per cent (up to 2x) with the host, the Python build and
the load; a ratio against plain SimPy measured in the same interpreter, alternating with
the model so that both see the same machine state, cancels most of that and measures
what the model adds on top of SimPy itself. Wall time counts what a user waits for;
CPU time is less sensitive to CPU stolen by neighbours. Neither is fully immune: the
model's working set is far larger than the baseline's, so a neighbour's cache pressure
lowers the ratio somewhat; look at the spread and at the load printed with the table.

Targets (issue "The engine: twice as lean")
-------------------------------------------
* speed: on each scenario, model visits/s >= 0.5 x the bare queue's customers/s (median
  of the pairs; judged on wall and on CPU time, both printed);
* memory: the whole CLI run of about 1,000,000 visits under 80 MiB peak RSS, and flat in
  the horizon: between half that horizon and the whole, the peak grows by at most
  ``FLAT_KIB_PER_DAY`` KiB per simulated day (the 8-byte numbers a result must hold).

PASS/FAIL is printed for each; the exit status is 0 either way unless ``--strict``.

Baseline parameters (derived from the model's own measured window)
-----------------------------------------------------------------
The shop is open ``close_hour - open_hour`` hours a day and the bare queue never closes,
so rates are taken *per opening hour*; this keeps the load (utilisation, queue lengths,
abandonment) of the two comparable, whereas a 24-hour average would give the baseline
a far lighter queue than the model really serves.

* arrival rate = visits that joined the queue / opening hours of the measured window;
* mean service time = busy server-hours / served visits, with busy hours recovered
  exactly as ``utilisation * servers * opening hours measured``;
* servers = ``business.servers``; patience exponential with the segment-share-weighted
  mean of the segments' patience (about 1 h); 30 % high priority;
* the horizon is chosen so the baseline simulates about as many customers as the model
  simulates visits (same amount of work per timed run).

Usage::

    python bench/bench_model.py             # full: 5 pairs a scenario, 200k visits a run
    python bench/bench_model.py --quick     # smoke: 30k visits, 2 pairs, small memory runs
    python bench/bench_model.py --repeats 7 --json bench/last.json --strict
    python bench/bench_model.py --profile   # also print a cProfile of one tiered run
    python bench/bench_model.py --no-memory # speed only

The sources hash printed is that of the ``sim`` package this interpreter imported (so
``PYTHONPATH=/some/checkout python bench/bench_model.py`` measures another version of the
model with the same benchmark).
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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCENARIOS = ("tiered", "god")
MEMORY_SCENARIO = "tiered"

SPEED_TARGET = 0.5
MEMORY_TARGET_MIB = 80.0
FLAT_KIB_PER_DAY = 0.25
"""How much the peak may grow per simulated day between the two memory runs. A run's
result must hold its daily series (12 numbers a day) and the CLV tables (2 numbers a
day per segment): 0.14 KiB a day as 8-byte numbers. Held as Python tuples, as before
the issue, the series alone cost about 0.6 KiB a day, and the result files, built
whole in memory, as much again."""
HIGH_PRIORITY_SHARE = 0.3
BARE_SEED = 20240601
CALIBRATION_DAYS = 1500

# (visits per speed run, repeats, memory-run visits)
FULL = (200_000, 5, (500_000, 1_000_000))
QUICK = (30_000, 2, (50_000, 100_000))
FIXED_COST_DAYS = 200


# ------------------------------------------------------------------ helpers
def peak_rss_mib() -> float:
    """This process's peak RSS in MiB, from ``VmHWM`` (Linux).

    ``ru_maxrss`` is no use for a child on Linux: it survives ``execve``, so a child
    started from this benchmark would report at least the parent's RSS."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def sources_hash() -> str:
    """sha256 of the imported ``sim`` package's sources (paths and bytes)."""
    import sim

    package = Path(sim.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package.parent).as_posix().encode() + b"\0"
                      + path.read_bytes())
    return digest.hexdigest()[:16]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    from importlib.metadata import version

    import sim

    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "sim_sources_sha256": sources_hash(),
        "sim_package": str(Path(sim.__file__).resolve().parent),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": cpu, "cpus": os.cpu_count(),
        "loadavg_at_start": list(os.getloadavg()),
        **{name: version(name) for name in ("simpy", "numpy", "scipy")},
    }


def load(name: str, overrides: list[str]):  # -> Scenario
    from sim.scenario.loader import load_scenario

    return load_scenario(ROOT / "scenarios" / f"{name}.toml", overrides)


def days_for(name: str, visits: int, overrides: list[str] | None = None) -> int:
    """``run.days`` for about ``visits`` visits: the steady rate of a calibration run's
    measured window, plus the ramp-up deficit (the business starts empty)."""
    from sim.model.engine import run_replication

    extra = overrides or []
    scenario = load(name, [f"run.days={CALIBRATION_DAYS}", *extra])
    result = run_replication(scenario, 0)
    measured_days = CALIBRATION_DAYS - scenario.run.warmup_days
    rate = result.metrics["arrivals"] / measured_days
    deficit = max(0.0, rate * CALIBRATION_DAYS - result.visits_simulated)
    return max(scenario.run.warmup_days + 1, math.ceil((visits + deficit) / rate))


def spread(values: list[float]) -> str:
    return f"{min(values):.3f} to {max(values):.3f}"


# ------------------------------------------------------------------ speed
def time_model(scenario) -> dict[str, Any]:
    from sim.model.engine import run_replication

    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    result = run_replication(scenario, 0)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "visits": result.visits_simulated,
            "visits_per_s": result.visits_simulated / wall,
            "visits_per_cpu_s": result.visits_simulated / cpu, "result": result}


def baseline_parameters(scenario, result) -> dict[str, float]:
    """Queueing parameters of the model's measured window (see the module docstring)."""
    m = result.metrics
    run, biz = scenario.run, scenario.business
    open_per_day = biz.close_hour - biz.open_hour
    measured_days = run.days - run.warmup_days
    open_h = measured_days * open_per_day
    joined = m["join_rate_per_h"] * measured_days * 24.0
    busy_h = m["utilisation"] * biz.servers * open_h
    patience = math.fsum(seg.share * seg.patience.mean for seg in scenario.segments)
    return {"arrival_rate_per_h": joined / open_h, "mean_service_h": busy_h / m["served"],
            "servers": biz.servers, "mean_patience_h": patience,
            "high_priority_share": HIGH_PRIORITY_SHARE, "utilisation": m["utilisation"]}


def time_bare(params: dict[str, float], customers: int) -> dict[str, Any]:
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
    return {"wall_s": r.wall_seconds, "cpu_s": cpu, "customers": r.customers,
            "customers_per_s": r.customers_per_second,
            "customers_per_cpu_s": r.customers / cpu}


def speed(visits: int, repeats: int, log) -> dict[str, Any]:
    setups = {}
    for name in SCENARIOS:
        days = days_for(name, visits)
        scenario = load(name, [f"run.days={days}"])
        calibration = time_model(scenario)  # warms caches; gives the baseline's parameters
        params = baseline_parameters(scenario, calibration.pop("result"))
        setups[name] = (scenario, params, calibration["visits"])
        log(f"speed: {name}.toml, run.days={days}: {calibration['visits']:,} visits in "
            f"{calibration['wall_s']:.1f} s; bare queue: "
            f"lambda={params['arrival_rate_per_h']:.3f}/h, "
            f"E[S]={params['mean_service_h']:.3f} h, c={params['servers']}, "
            f"E[patience]={params['mean_patience_h']:.2f} h")
        time_bare(params, 2000)  # warm-up of the baseline's code paths
    pairs: dict[str, list[dict[str, Any]]] = {name: [] for name in SCENARIOS}
    for i in range(repeats):
        for name, (scenario, params, n) in setups.items():
            bare = time_bare(params, n)
            model = time_model(scenario)
            model.pop("result")
            pair = {"bare": bare, "model": model,
                    "wall_ratio": model["visits_per_s"] / bare["customers_per_s"],
                    "cpu_ratio": model["visits_per_cpu_s"] / bare["customers_per_cpu_s"],
                    "loadavg": os.getloadavg()[0]}
            pairs[name].append(pair)
            log(f"  pair {i + 1}/{repeats} {name}: bare {bare['customers_per_s']:>8,.0f} "
                f"customers/s | model {model['visits_per_s']:>8,.0f} visits/s | ratio "
                f"{pair['wall_ratio']:.3f} wall, {pair['cpu_ratio']:.3f} CPU "
                f"(load {pair['loadavg']:.2f})")
    out: dict[str, Any] = {"repeats": repeats, "target": SPEED_TARGET, "scenarios": {}}
    for name, rows in pairs.items():
        wall = [p["wall_ratio"] for p in rows]
        cpu = [p["cpu_ratio"] for p in rows]
        scenario, params, n = setups[name]
        out["scenarios"][name] = {
            "days": scenario.run.days, "visits_per_run": n, "baseline_parameters": params,
            "model_visits_per_s_median": statistics.median(
                p["model"]["visits_per_s"] for p in rows),
            "bare_customers_per_s_median": statistics.median(
                p["bare"]["customers_per_s"] for p in rows),
            "wall_ratio_median": statistics.median(wall), "wall_ratios": wall,
            "cpu_ratio_median": statistics.median(cpu), "cpu_ratios": cpu,
            "pass": min(statistics.median(wall), statistics.median(cpu)) >= SPEED_TARGET,
            "pairs": rows}
    out["pass"] = all(s["pass"] for s in out["scenarios"].values())
    return out


# ------------------------------------------------------------------ memory
def cli_peak(args: list[str]) -> dict[str, Any]:
    """Peak RSS of ``simrun ARGS`` run to its end in a fresh interpreter."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-cli", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    lines = [x for x in proc.stderr.splitlines() if x.startswith("PEAK ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"memory run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return {"peak_mib": float(lines[-1].split()[1]), "wall_s": wall}


def memory(targets: tuple[int, ...], log) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        def run(days: int) -> dict[str, Any]:
            out = Path(tmp) / f"d{days}"
            # --force-limits: a 1M-visit run is beyond the default limit of expected work
            args = ["run", f"scenarios/{MEMORY_SCENARIO}.toml", "-n", "1", "-j", "1", "-q",
                    "--force-limits", "--set", f"run.days={days}", "--out", str(out)]
            result = cli_peak(args)
            details = json.loads((out / "details.json").read_text(encoding="utf-8"))
            result.update(days=days, visits=details[0]["visits_simulated"],
                          command="simrun " + " ".join(args[:-2]))
            log(f"memory: {result['command']}: {result['visits']:,} visits, peak "
                f"{result['peak_mib']:.1f} MiB, {result['wall_s']:.0f} s")
            return result

        fixed = run(FIXED_COST_DAYS)
        runs = [run(days_for(MEMORY_SCENARIO, visits)) for visits in targets]
    longest, shorter = runs[-1], runs[0]
    growth = longest["peak_mib"] - shorter["peak_mib"]
    per_day = 1024 * growth / (longest["days"] - shorter["days"])
    return {"fixed": fixed, "runs": runs, "growth_mib": growth, "growth_kib_per_day": per_day,
            "target_mib": MEMORY_TARGET_MIB, "flat_kib_per_day": FLAT_KIB_PER_DAY,
            "pass_peak": longest["peak_mib"] < MEMORY_TARGET_MIB,
            "pass_flat": per_day <= FLAT_KIB_PER_DAY,
            "pass": longest["peak_mib"] < MEMORY_TARGET_MIB and per_day <= FLAT_KIB_PER_DAY}


def child_cli(args: list[str]) -> None:
    """Runs in the fresh interpreter: the CLI's ``main`` as ``simrun`` would, then the
    peak RSS of this process (imports, run, result files: everything)."""
    from sim.cli import main

    sys.argv = ["simrun", *args]
    try:
        main()
    except SystemExit as done:
        if done.code:
            raise
    print(f"PEAK {peak_rss_mib():.2f}", file=sys.stderr)


# ------------------------------------------------------------------ profile
def profile(days: int, log, top: int = 30) -> str:
    import cProfile
    import io
    import pstats

    from sim.model.engine import run_replication

    scenario = load("tiered", [f"run.days={days}"])
    profiler = cProfile.Profile()
    profiler.enable()
    run_replication(scenario, 0)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    log(f"profile: cProfile of one tiered run (run.days={days}), top {top} by own time")
    return out.getvalue()


# ------------------------------------------------------------------ report
def report(res: dict[str, Any]) -> str:
    verdict = {True: "PASS", False: "FAIL"}
    mach = res["machine"]
    lines = [(f"simrun model benchmark, {mach['date']}, sim/ sources sha256 "
             f"{mach['sim_sources_sha256']} ({mach['sim_package']})"),
             f"{mach['cpu']}, {mach['cpus']} CPUs, Python {mach['python']}, SimPy "
             f"{mach['simpy']}; load average at start "
             + ", ".join(f"{x:.2f}" for x in mach["loadavg_at_start"])
             + (f", at end {', '.join(f'{x:.2f}' for x in res['loadavg_at_end'])}"
                if "loadavg_at_end" in res else "")]
    if "speed" in res:
        s = res["speed"]
        lines += ["", (f"speed: model visits/s over bare SimPy customers/s, median of "
                      f"{s['repeats']} interleaved pairs (spread: min to max of the pairs); "
                      f"target >= {SPEED_TARGET}")]
        for name, r in s["scenarios"].items():
            lines.append(
                f"  {name:7} {r['visits_per_run']:>8,} visits (run.days={r['days']}): "
                f"wall {r['wall_ratio_median']:.3f} ({spread(r['wall_ratios'])}), "
                f"CPU {r['cpu_ratio_median']:.3f} ({spread(r['cpu_ratios'])}): "
                f"{verdict[r['pass']]}; model {r['model_visits_per_s_median']:,.0f} visits/s, "
                f"bare {r['bare_customers_per_s_median']:,.0f} customers/s")
    if "memory" in res:
        m = res["memory"]
        lines += ["", "memory: peak RSS (VmHWM) of the whole CLI run, in a fresh interpreter"]
        for r in (m["fixed"], *m["runs"]):
            lines.append(f"  {r['visits']:>9,} visits, run.days={r['days']:>6}: "
                         f"{r['peak_mib']:.1f} MiB ({r['wall_s']:.0f} s)")
        lines.append(f"  peak of the longest run < {MEMORY_TARGET_MIB:.0f} MiB: "
                     f"{verdict[m['pass_peak']]}; growth between the two horizons "
                     f"{m['growth_mib']:+.1f} MiB ({m['growth_kib_per_day']:.2f} KiB per "
                     f"simulated day), flat (<= {FLAT_KIB_PER_DAY} KiB a day): "
                     f"{verdict[m['pass_flat']]}")
        lines.append(f"  command: {m['runs'][-1]['command']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke version (30k-visit speed runs, small memory runs)")
    parser.add_argument("--repeats", type=int, help="interleaved pairs per scenario (5)")
    parser.add_argument("--visits", type=int, help="visits per speed run (200,000)")
    parser.add_argument("--memory-visits", type=int, nargs="+",
                        help="visits of the memory runs (500,000 1,000,000)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed runs")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile (by own time) of one tiered run")
    parser.add_argument("--child-cli", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_cli is not None:
        child_cli(args.child_cli)
        return 0

    visits, repeats, memory_visits = QUICK if args.quick else FULL
    visits = args.visits or visits
    repeats = args.repeats or repeats
    memory_visits = tuple(args.memory_visits or memory_visits)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    res: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    passed = True
    if not args.no_speed:
        res["speed"] = speed(visits, repeats, log)
        passed &= res["speed"]["pass"]
    if not args.no_memory:
        res["memory"] = memory(memory_visits, log)
        passed &= res["memory"]["pass"]
    if args.profile:
        res["profile"] = profile(days_for("tiered", visits), log)
    res["loadavg_at_end"] = list(os.getloadavg())
    res["wall_s"] = time.perf_counter() - started
    print(report(res))
    if args.profile:
        print()
        print(res["profile"])
    print(f"overall: {'PASS' if passed else 'FAIL'} ({res['wall_s']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=float) + "\n",
                                   encoding="utf-8")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
