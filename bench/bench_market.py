"""Speed of a market of rival firms against a market of one firm, per visit.

What it measures
----------------
The default market (``scenarios/base.toml``) with one firm ("customer is God") and with
three (god, tiered, partner, each with the business of base.toml), the new-customer rate
tripled for three firms so that each firm sees about the demand the one firm sees. Both
run through :func:`sim.model.market.run_market_replication`, taking turns in the same
process (one, three, one, three, ...), ``run.days`` chosen so that a run simulates about
``--visits`` firm visits. The figure is, per pair, (CPU seconds per firm visit with three
firms) / (CPU seconds per firm visit with one firm), where firm visits are the visits the
firms simulated (``visits_simulated`` summed over the firms, warm-up included); the
median over the pairs and its spread are printed.

Target (issue 12): the ratio at most about 1.3: choosing among three firms, spillover
and the relation a customer keeps with each firm cost at most 30% per visit.

``--instructions`` counts instead of timing: the instructions the CPU executes
(valgrind's callgrind, as ``bench_instructions.py``) for each market at two horizons, per
firm visit as the difference over the difference in firm visits (start-up and set-up
drop out). The ratio of the two is the figure above if time were proportional to
instructions; the machine's load cannot move it.

Usage::

    python bench/bench_market.py                 # 5 pairs of 60,000 visits a run
    python bench/bench_market.py --quick         # 2 pairs of 15,000
    python bench/bench_market.py --identical     # three god firms against one
    python bench/bench_market.py --instructions  # callgrind, 120 and 240 days (needs valgrind)
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import statistics
import time
from pathlib import Path

import sim
from sim.model.market import run_market_replication
from sim.scenario.loader import read_with_extends
from sim.scenario.market import MarketScenario, market_from_raw

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.3


def market(presets: list[str], days: int) -> MarketScenario:
    raw = read_with_extends(ROOT / "scenarios" / "base.toml")
    raw["run"].update(days=days, warmup_days=min(60, days // 3), replications=1)
    raw["market"]["new_customers_per_day"] *= len(presets)
    raw["firms"] = [{"name": f"firm {i}", "strategy": preset} for i, preset in enumerate(presets)]
    return market_from_raw(copy.deepcopy(raw))


def timed(m: MarketScenario) -> tuple[float, int]:
    """(CPU seconds, firm visits) of replication 0."""
    start = time.process_time()
    result = run_market_replication(m, 0)
    return time.process_time() - start, sum(f.visits_simulated for f in result.firms)


def days_for(presets: list[str], visits: int) -> int:
    """Days that make about ``visits`` firm visits (from a 120-day probe)."""
    _, probe = timed(market(presets, 120))
    return max(60, int(120 * visits / max(probe, 1)))


COUNTED = """import sys
sys.path.insert(0, sys.argv[1])
from bench_market import market
from sim.model.market import run_market_replication
result = run_market_replication(market(sys.argv[2].split(","), int(sys.argv[3])), 0)
print("COUNT", sum(f.visits_simulated for f in result.firms))
"""


def instructions_per_visit(presets: list[str], days: tuple[int, int]) -> float:
    """Instructions per firm visit of the market of ``presets``, between two horizons."""
    from concurrent.futures import ThreadPoolExecutor

    from bench_instructions import counted, per_unit

    here = str(Path(__file__).resolve().parent)
    with ThreadPoolExecutor(2) as pool:
        short, long = pool.map(lambda d: counted(COUNTED, here, ",".join(presets), str(d)), days)
    per_visit = per_unit(short, long)
    print(f"{'+'.join(presets)}: {per_visit:,.0f} instructions a firm visit "
          f"({short[1]:,} and {long[1]:,} firm visits)", flush=True)
    return per_visit


def sources_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(sim.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 pairs of 15,000 visits")
    parser.add_argument("--repeats", type=int, help="pairs (5)")
    parser.add_argument("--visits", type=int, help="firm visits per run (60,000)")
    parser.add_argument("--identical", action="store_true",
                        help="three 'customer is God' firms instead of god, tiered, partner "
                             "(the market's own overhead, without the strategies' costs)")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions under callgrind instead of timing")
    parser.add_argument("--days", type=int, nargs=2, default=(120, 240),
                        help="the two horizons of --instructions (120 240)")
    args = parser.parse_args()
    if args.instructions:
        three = ["god"] * 3 if args.identical else ["god", "tiered", "partner"]
        print(f"sim sources {sources_hash()}, callgrind, days {args.days[0]} and "
              f"{args.days[1]}")
        ratio = (instructions_per_visit(three, tuple(args.days))
                 / instructions_per_visit(["god"], tuple(args.days)))
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(f"{verdict}: three firms execute x{ratio:.3f} the instructions per visit of "
              f"one (target <= {TARGET})")
        return
    repeats = args.repeats or (2 if args.quick else 5)
    visits = args.visits or (15_000 if args.quick else 60_000)
    one = ["god"]
    three = ["god"] * 3 if args.identical else ["god", "tiered", "partner"]
    m1, m3 = market(one, days_for(one, visits)), market(three, days_for(three, visits))
    print(f"sim sources {sources_hash()}, load {os.getloadavg()[0]:.1f}, "
          f"{repeats} pairs, about {visits:,} firm visits a run")
    ratios = []
    for pair in range(repeats):
        cpu1, v1 = timed(m1)
        cpu3, v3 = timed(m3)
        ratio = (cpu3 / v3) / (cpu1 / v1)
        ratios.append(ratio)
        print(f"pair {pair}: one firm {1e6 * cpu1 / v1:.1f} us/visit ({v1:,} visits), "
              f"three firms {1e6 * cpu3 / v3:.1f} us/visit ({v3:,} visits): x{ratio:.2f}")
    median = statistics.median(ratios)
    verdict = "PASS" if median <= TARGET else "FAIL"
    print(f"{verdict}: three firms cost x{median:.2f} per visit (pairs {min(ratios):.2f} to "
          f"{max(ratios):.2f}; target <= {TARGET})")


if __name__ == "__main__":
    main()
