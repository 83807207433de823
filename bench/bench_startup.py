"""Start-up benchmark of the ``simrun`` command line: what a command costs before it works.

What it measures
----------------
1. **CPU time, side by side with a bare interpreter.** ``simrun --help``, ``simrun check
   scenarios/tiered.toml`` and a short run (``simrun scenarios/tiered.toml -n 2 -j 1``
   over 20 days) each start in a fresh interpreter, alternating with ``python -c pass``
   (bare, command, bare, command, ...) ``--repeats`` times. The CPU time of each child
   (user + system, from ``getrusage(RUSAGE_CHILDREN)``) is what counts; wall time is
   shown too. The figures are the median and the spread (min to max) of each side, and
   the median over the pairs of (command - bare) and (command / bare). Each is measured
   twice: with the environment as it is, and with compiled bytecode cached (in a
   temporary ``PYTHONPYCACHEPREFIX``, as an installed package has it). Where
   ``PYTHONDONTWRITEBYTECODE`` is set and the sources have no ``__pycache__``, as in a
   development checkout run that way, every start compiles simrun's modules again
   (about 40 ms for ``check``); a user's installation does not.
2. **Imports.** Each command once more under ``python -X importtime``: the time of all
   imports as the interpreter reports it, and the slowest top-level imports.
3. **Which modules load.** ``sys.modules`` when each command is done (``-X importtime``
   misses modules loaded through ``importlib``): numpy, scipy and matplotlib must not
   load for ``--help`` and ``check``; scipy.stats, pandas and matplotlib not for a run.

Why side by side with a bare interpreter
----------------------------------------
Absolute start-up times swing with the machine's load and caches; the interpreter's
own start-up (site, the editable install's finder) is in both sides, so the difference
is what simrun adds, and alternating the two lets both see the same machine state.

Targets (from the issue "The engine: twice as lean, easy to read")
-----------------------------------------------------------------
* ``simrun --help`` and ``simrun check``: at most 0.15 s of CPU over bare ``python -c pass``
  (median of the pairs), and none of numpy, scipy, matplotlib loaded;
* a run: no scipy.stats, pandas or matplotlib loaded.

PASS/FAIL is printed for each; the exit status is 0 either way unless ``--strict`` (which
judges the CPU target on the bytecode-cached figures, as a user's installation runs).

Usage::

    python bench/bench_startup.py                  # 7 pairs per figure, about 40 s
    python bench/bench_startup.py --repeats 15 --json startup.json --strict
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_CPU_S = 0.15
NUMERICS = ("numpy", "scipy", "matplotlib")
NOT_IN_A_RUN = ("scipy.stats", "pandas", "matplotlib")
SHORT_RUN = ("scenarios/tiered.toml", "-n", "2", "-j", "1", "-q", "--set", "run.days=20",
             "--set", "run.warmup_days=5")


def simrun_argv(args: tuple[str, ...], *, flags: tuple[str, ...] = ()) -> list[str]:
    """``simrun ARGS`` in this interpreter: the installed console script when there is
    one (what a user starts), else the CLI's main through ``-c``."""
    script = Path(sys.executable).parent / "simrun"
    if script.is_file():
        return [sys.executable, *flags, str(script), *args]
    return [sys.executable, *flags, "-c", "from sim.cli import main; main()", *args]


BARE = [sys.executable, "-c", "pass"]


def child_cost(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def side_by_side(argv: list[str], repeats: int, env: dict[str, str]) -> dict[str, Any]:
    """The command and a bare interpreter, alternating, ``repeats`` pairs."""
    child_cost(BARE, env)  # warm the file cache (and the bytecode cache) for both sides
    child_cost(argv, env)
    bare, command = [], []
    for _ in range(repeats):
        bare.append(child_cost(BARE, env))
        command.append(child_cost(argv, env))
    diffs = [c[0] - b[0] for b, c in zip(bare, command, strict=True)]
    ratios = [c[0] / b[0] for b, c in zip(bare, command, strict=True) if b[0] > 0]

    def summary(costs: list[tuple[float, float]]) -> dict[str, float]:
        cpu = [c for c, _ in costs]
        return {"cpu_median_s": statistics.median(cpu), "cpu_min_s": min(cpu),
                "cpu_max_s": max(cpu), "wall_median_s": statistics.median(w for _, w in costs)}

    return {"bare": summary(bare), "command": summary(command),
            "cpu_over_bare_median_s": statistics.median(diffs),
            "cpu_over_bare_min_s": min(diffs), "cpu_over_bare_max_s": max(diffs),
            "cpu_ratio_median": statistics.median(ratios) if ratios else float("nan")}


def import_times(argv_flags: list[str]) -> dict[str, Any]:
    """One run under ``-X importtime``: total import microseconds (top-level entries'
    cumulative times) and the slowest top-level imports."""
    done = subprocess.run(argv_flags, cwd=ROOT, capture_output=True, text=True, check=True)
    top: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|", 2)
        name = name[1:]
        if not name.startswith(" "):
            top.append((int(cumulative), name))
    top.sort(reverse=True)
    return {"imports_total_ms": sum(us for us, _ in top) / 1000,
            "slowest": [(name, us / 1000) for us, name in top[:6]]}


def modules_loaded(args: tuple[str, ...]) -> set[str]:
    """``sys.modules`` of a fresh ``simrun ARGS`` when it is done."""
    script = ("import atexit, sys\n"
              "atexit.register(lambda: print('MODULES', *sys.modules, file=sys.stderr))\n"
              "from sim.cli import main\n"
              "sys.argv[0] = 'simrun'\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def found(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages or modules) are loaded."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def environments(cache_dir: str) -> dict[str, dict[str, str]]:
    """The environment as it is, and one where compiled bytecode is cached (in
    ``cache_dir``, outside the source tree)."""
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = cache_dir
    return {"as is": dict(os.environ), "bytecode cached": cached}


def measure(repeats: int, log: Any) -> dict[str, Any]:
    out_dir = tempfile.mkdtemp(prefix="bench-startup-")
    envs = environments(tempfile.mkdtemp(prefix="bench-startup-pyc-"))
    commands = {
        "simrun --help": (("--help",), NUMERICS),
        "simrun check scenarios/tiered.toml": (("check", "scenarios/tiered.toml"), NUMERICS),
        "simrun scenarios/tiered.toml (2 replications, 20 days)":
            ((*SHORT_RUN, "--out", out_dir), NOT_IN_A_RUN),
    }
    results = {}
    for label, (args, forbidden) in commands.items():
        timings = {}
        for mode, env in envs.items():
            log(f"{label}, {mode}: {repeats} pairs")
            timings[mode] = side_by_side(simrun_argv(args), repeats, env)
        imports = import_times(simrun_argv(args, flags=("-X", "importtime")))
        loaded = found(modules_loaded(args), forbidden)
        results[label] = {"timings": timings, **imports, "forbidden": list(forbidden),
                          "loaded": loaded,
                          "is_run": "check" not in args and "--help" not in args}
    return results


def report(results: dict[str, Any], machine: dict[str, Any]) -> str:
    lines = [(f"simrun start-up, {machine['repeats']} pairs each (bare `python -c pass`, "
              "command, alternating); CPU = user + sys of the child"),
             (f"{machine['python']} on {machine['cpus']} CPUs; load average "
              f"{machine['load_before']} before, {machine['load_after']} after; "
              f"PYTHONDONTWRITEBYTECODE={machine['dont_write_bytecode']}"), ""]
    for label, r in results.items():
        lines.append(label)
        for mode, t in r["timings"].items():
            b, c, over = t["bare"], t["command"], t["cpu_over_bare_median_s"]
            verdict = "" if r["is_run"] else (
                f"  {'PASS' if over <= TARGET_CPU_S else 'FAIL'} (<= {TARGET_CPU_S:.2f})")
            lines.append(f"  {mode}:")
            lines.append(f"    bare python  CPU median {b['cpu_median_s']:.3f} s (spread "
                         f"{b['cpu_min_s']:.3f} to {b['cpu_max_s']:.3f}), wall "
                         f"{b['wall_median_s']:.3f} s")
            lines.append(f"    command      CPU median {c['cpu_median_s']:.3f} s (spread "
                         f"{c['cpu_min_s']:.3f} to {c['cpu_max_s']:.3f}), wall "
                         f"{c['wall_median_s']:.3f} s")
            lines.append(f"    over bare    {over:+.3f} s CPU (pairs "
                         f"{t['cpu_over_bare_min_s']:+.3f} to {t['cpu_over_bare_max_s']:+.3f}); "
                         f"ratio {t['cpu_ratio_median']:.2f}x{verdict}")
        lines.append(f"  imports: {r['imports_total_ms']:.0f} ms (-X importtime); slowest: "
                     + ", ".join(f"{n} {ms:.0f}" for n, ms in r["slowest"]))
        lines.append(f"  modules: none of {', '.join(r['forbidden'])}: "
                     + ("PASS" if not r["loaded"] else f"FAIL (loaded: {', '.join(r['loaded'])})"))
        lines.append("")
    return "\n".join(lines)


def passed(results: dict[str, Any]) -> bool:
    """Every module rule holds, and --help and check are within the target with
    bytecode cached (as installed)."""
    return all(not r["loaded"] and (r["is_run"] or r["timings"]["bytecode cached"]
                                    ["cpu_over_bare_median_s"] <= TARGET_CPU_S)
               for r in results.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="pairs per command (default 7)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    machine: dict[str, Any] = {"python": f"Python {platform.python_version()}",
                               "cpus": os.cpu_count(), "repeats": args.repeats,
                               "dont_write_bytecode":
                                   os.environ.get("PYTHONDONTWRITEBYTECODE", "(unset)"),
                               "load_before": ", ".join(f"{x:.2f}" for x in os.getloadavg())}
    results = measure(args.repeats, log)
    machine["load_after"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(report(results, machine))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "results": results},
                                              indent=2) + "\n", encoding="utf-8")
    return 1 if args.strict and not passed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
