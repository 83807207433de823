"""The probability of correct selection of ``compare --select``, measured.

Synthetic normal problems with known means (tests/select_helpers.py): k systems, given
standard deviations, a common correlation between systems in the same replication
(positive: what common random numbers give). Each problem is solved ``--macro`` times
on fresh seeded outputs; the table gives the share of correct selections with its
binomial standard error, and the mean number of replications used (all systems).

- KN, slippage configuration (the best exactly delta ahead of all the others, which
  are equal): the share must be at least the nominal confidence.
- KN, all means equal: every selection is within delta of the best, so the share is 1;
  the cost is the figure to read.
- KN, near tie (not covered by the guarantee: one system half a delta behind the
  best, the others a delta behind): the share of selections within delta of the best.
- Screening, all means equal (its least favourable configuration) and slippage: how
  often the subset holds a best system (system 0 when all are equal), and the mean
  subset size in the replications column.
- With ``--simrun``: the four-strategy comparison of the slow test on simrun itself.

    python bench/bench_select.py                  # 1,000 macro-replications: about 1 min
    python bench/bench_select.py --macro 200      # a smoke check
    python bench/bench_select.py --simrun         # adds the simrun comparison: about 5 min
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from select_helpers import (
    NormalProblem,
    Outcome,
    all_equal,
    kn_outcome,
    screen_outcome,
    simrun_outcome,
    simrun_truth,
    slippage,
)

DELTA = 1 / math.sqrt(10)


def problems() -> list[tuple[str, NormalProblem, str]]:
    """(procedure, problem, what counts as correct)."""
    return [
        ("KN", slippage("2 systems, common variance, independent", 2, DELTA, [1, 1], 0.0),
         "best"),
        ("KN", slippage("4 systems, common variance, independent", 4, DELTA, [1] * 4, 0.0),
         "best"),
        ("KN", slippage("4 systems, common variance, CRN 0.7", 4, DELTA, [1] * 4, 0.7), "best"),
        ("KN", slippage("4 systems, variances 1-2.5, independent", 4, 1.0, [1, 1.5, 2, 2.5],
                        0.0), "best"),
        ("KN", slippage("4 systems, variances 2.5-1, CRN 0.6", 4, 0.5, [2.5, 2, 1.5, 1], 0.6),
         "best"),
        ("KN", slippage("10 systems, common variance, independent", 10, DELTA, [1] * 10, 0.0),
         "best"),
        ("KN", slippage("10 systems, common variance, CRN 0.5", 10, DELTA, [1] * 10, 0.5),
         "best"),
        ("KN", all_equal("4 systems, all equal, CRN 0.7", 4, DELTA, [1] * 4, 0.7), "good"),
        ("KN", NormalProblem("5 systems, near tie (one at delta/2), independent",
                             (0.0, 0.0, 0.0, DELTA / 2, DELTA), (1.0,) * 5, 0.0, DELTA),
         "good"),
        ("screening", all_equal("4 systems, all equal, independent", 4, 0.0,
                                [1, 1.5, 2, 2.5], 0.0), "kept"),
        ("screening", all_equal("4 systems, all equal, CRN 0.7", 4, 0.0, [1, 1.5, 2, 2.5],
                                0.7), "kept"),
        ("screening", slippage("4 systems, best 0.5 ahead, CRN 0.7", 4, 0.5, [1] * 4, 0.7),
         "kept"),
    ]


def row(procedure: str, outcome: Outcome, confidence: float, counts: str) -> dict[str, object]:
    return {"procedure": procedure, "problem": outcome.problem, "counts": counts,
            "nominal": confidence, "share": outcome.share,
            "standard_error": outcome.standard_error, "macro": outcome.macro,
            "replications": outcome.replications}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--macro", type=int, default=1000, help="macro-replications")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--simrun", action="store_true",
                        help="also the four-strategy simrun comparison (50 macro-replications)")
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    args = parser.parse_args()
    rows = []
    started = time.time()
    for i, (procedure, problem, counts) in enumerate(problems()):
        seed = args.seed + i
        if procedure == "KN":
            outcome = kn_outcome(problem, args.macro, seed, confidence=args.confidence,
                                 good=counts == "good")
        else:
            outcome = screen_outcome(problem, args.macro, seed, confidence=args.confidence,
                                     system=0 if counts == "kept" and len(set(problem.means)) == 1
                                     else None)
        rows.append(row(procedure, outcome, args.confidence, counts))
        print(f"  {procedure} {problem.name}: {time.time() - started:.0f} s", file=sys.stderr)
    if args.simrun:
        truth = simrun_truth(300)
        print("  simrun truth (difference to the best, 95% CI): " + ", ".join(
            f"{n} {e.mean:+.0f} ({e.low:+.0f} to {e.high:+.0f})" for n, e in truth.items()),
              file=sys.stderr)
        rows.append(row("KN (simrun, delta 150)", simrun_outcome(150.0, 50), 0.95, "best"))
    print("| procedure | problem | counts as correct | nominal | empirical ± SE | "
          "mean replications (all systems) |")
    print("| --- | --- | --- | --- | --- | --- |")
    what = {"best": "the best", "good": "within delta of the best",
            "kept": "best in the subset (replications: subset size)"}
    for r in rows:
        size = (f"{r['replications']:.2f}" if r["counts"] == "kept"
                else f"{r['replications']:.0f}")
        print(f"| {r['procedure']} | {r['problem']} | {what[str(r['counts'])]} | "
              f"{r['nominal']:.2f} | {r['share']:.3f} ± {r['standard_error']:.3f} | {size} |")
    print(f"\n{args.macro} macro-replications per problem (simrun: 50), seed {args.seed}; "
          f"{time.time() - started:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
