"""Instructions per visit of the full model against the bare SimPy queue, under callgrind:
the speed ratio of ``bench_model.py`` in a form that the machine's load cannot move.

What it measures
----------------
For each scenario of the speed benchmark (``tiered`` and ``god``), the instructions the
CPU executes (valgrind's callgrind, user space, ``Collected``) for one replication at
two horizons, and for the bare queue of ``bare_queue.py`` at two sizes with the queueing
parameters the model produced (``bench_model.baseline_parameters``, from the longer
run). Each figure is the difference between the two sizes over the difference in visits
(customers), so the interpreter's start-up, the imports and the set-up drop out:

    model instructions per visit = (I(long) - I(short)) / (visits(long) - visits(short))

The ratio (bare instructions per customer) / (model instructions per visit) is what the
speed ratio of ``bench_model.py`` would be if time were proportional to instructions;
it is deterministic (the same code gives the same count on any load) but leaves out
what instructions do not show (cache misses, branch mispredictions), so it complements
the timed figure rather than replaces it.

Usage::

    python bench/bench_instructions.py              # about 10 min on 2 idle cores
    python bench/bench_instructions.py --days 200 400 --json instructions.json
    python bench/bench_instructions.py --model-only --scenarios tiered   # A/B of engines

``PYTHONPATH=/other/checkout python bench/bench_instructions.py`` counts another version
of ``sim`` (the children see the same ``PYTHONPATH``). Needs ``valgrind`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_model

MODEL = """import sys
from sim.model.engine import run_replication
from sim.scenario.loader import load_scenario
scenario = load_scenario(sys.argv[1], ["run.days=" + sys.argv[2]])
print("COUNT", run_replication(scenario, 0).visits_simulated)
"""
BARE = """import json, sys
sys.path.insert(0, sys.argv[1])
from bare_queue import run_bare_queue
p, n = json.loads(sys.argv[2]), int(sys.argv[3])
rate = p["arrival_rate_per_h"]
r = run_bare_queue(arrival_rate_per_h=rate, mean_service_h=p["mean_service_h"],
                   servers=int(p["servers"]), mean_patience_h=p["mean_patience_h"],
                   high_priority_share=p["high_priority_share"], horizon_h=n / rate,
                   seed=int(sys.argv[4]))
print("COUNT", r.customers)
"""


def counted(code: str, *args: str) -> tuple[int, int]:
    """(instructions, the count the child printed) of ``python -c code args``."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           sys.executable, "-c", code, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=HERE)
    found = re.search(r"Collected : (\d+)", done.stderr)
    count = re.search(r"^COUNT (\d+)", done.stdout, re.MULTILINE)
    if done.returncode or not found or not count:
        raise SystemExit(f"callgrind run failed:\n{done.stderr[-2000:]}")
    return int(found.group(1)), int(count.group(1))


def per_unit(short: tuple[int, int], long: tuple[int, int]) -> float:
    return (long[0] - short[0]) / (long[1] - short[1])


def measure(days: tuple[int, int], jobs: int, scenarios: tuple[str, ...],
            model_only: bool) -> dict[str, Any]:
    from sim.model.engine import run_replication

    out: dict[str, Any] = {"days": list(days), "scenarios": {}}
    for name in scenarios:
        path = str(bench_model.ROOT / "scenarios" / f"{name}.toml")
        with ThreadPoolExecutor(jobs) as pool:
            model = list(pool.map(lambda d, p=path: counted(MODEL, p, str(d)), days))
        if model_only:  # comparing two versions of the engine: the bare queue is the same
            model_i = per_unit(*model)
            out["scenarios"][name] = {"model_runs": model, "model_instructions_per_visit": model_i}
            print(f"{name}: model {model_i:,.0f} instructions a visit ({model[0][1]:,} and "
                  f"{model[1][1]:,} visits)", flush=True)
            continue
        scenario = bench_model.load(name, [f"run.days={days[1]}"])
        params = bench_model.baseline_parameters(scenario, run_replication(scenario, 0))
        with ThreadPoolExecutor(jobs) as pool:
            sizes = [m[1] for m in model]
            bare = list(pool.map(lambda n, p=params: counted(
                BARE, str(HERE), json.dumps(p), str(n), str(bench_model.BARE_SEED)), sizes))
        model_i, bare_i = per_unit(*model), per_unit(*bare)
        out["scenarios"][name] = {
            "model_runs": model, "bare_runs": bare, "baseline_parameters": params,
            "model_instructions_per_visit": model_i,
            "bare_instructions_per_customer": bare_i, "ratio": bare_i / model_i}
        print(f"{name}: model {model_i:,.0f} instructions a visit ({model[0][1]:,} and "
              f"{model[1][1]:,} visits), bare {bare_i:,.0f} a customer: ratio "
              f"{bare_i / model_i:.3f}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, nargs=2, default=(200, 400),
                        help="the two horizons of the model (default 200 400)")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at once (2)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--scenarios", nargs="+", default=bench_model.SCENARIOS,
                        choices=bench_model.SCENARIOS, help="(default: tiered god)")
    parser.add_argument("--model-only", action="store_true",
                        help="the model's instructions a visit only, no bare queue (A/B of "
                             "two engines; about a third of the time)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not on PATH")
    info = bench_model.machine()
    print(f"sim/ sources sha256 {info['sim_sources_sha256']} ({info['sim_package']}), "
          f"Python {info['python']}, SimPy {info['simpy']}")
    result = {"machine": info, **measure(tuple(args.days), args.jobs, tuple(args.scenarios),
                                         args.model_only)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
