"""The score of the last mutation run (bench/mutation.sh), from mutmut's results in
``mutants/``: mutants by outcome and file, the score, and every surviving mutant.

    .venv/bin/python bench/mutation_report.py            # table and survivors' names
    .venv/bin/python bench/mutation_report.py --diffs    # and each survivor's diff
    .venv/bin/python bench/mutation_report.py --pick 300 # a random sample's names
    .venv/bin/python bench/mutation_report.py --next 40  # its next 40 not checked

With a sample (``mutants/sample.txt``, written by ``--pick``), the score is that of the
sample, with its 95% interval as an estimate of the score of all mutants. The sample is
kept in the order drawn, and every first k of it is a random sample of k: when some of
it is not checked yet, the score is that of the longest checked first part.

Score = (killed + timed out) / all mutants. A mutant no selected test reaches ("no
tests") counts as not killed. Timeouts count as killed: the mutant made the tests run
far longer than on the clean code (an endless loop), which a user would notice.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTCOME = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
           36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
           None: "not checked"}


def outcomes(mutants: Path) -> dict[str, str]:
    """Mutant name -> outcome, over every mutated file."""
    found: dict[str, str] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in codes.items():
            found[name] = OUTCOME.get(code, f"other ({code})")
    return found


def pick(found: dict[str, str], size: int, seed: int) -> list[str]:
    """A simple random sample of the mutants' names, the same for the same code and seed,
    in the order drawn (so that every first part of it is a random sample too)."""
    return random.Random(seed).sample(sorted(found), min(size, len(found)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--diffs", action="store_true", help="print each survivor's diff")
    parser.add_argument("--pick", type=int, metavar="N",
                        help="write a random sample of N mutants to mutants/sample.txt")
    parser.add_argument("--next", type=int, metavar="K",
                        help="print the sample's next K mutants without a result")
    parser.add_argument("--seed", type=int, default=8, help="seed of the sample (8)")
    args = parser.parse_args()
    found = outcomes(ROOT / "mutants")
    if not found:
        print("no mutation results in mutants/: run bench/mutation.sh first", file=sys.stderr)
        return 2
    sample_file = ROOT / "mutants" / "sample.txt"
    if args.pick:
        sample_file.write_text("\n".join(pick(found, args.pick, args.seed)) + "\n",
                               encoding="utf-8")
        return 0
    population = len(found)
    if args.next:
        names = sample_file.read_text(encoding="utf-8").split()
        print(" ".join([n for n in names if found[n] == "not checked"][:args.next]))
        return 0
    if sample_file.exists():
        names = sample_file.read_text(encoding="utf-8").split()
        checked = next((i for i, n in enumerate(names) if found[n] == "not checked"),
                       len(names))
        found = {name: found[name] for name in names[:checked]}
        print(f"a random sample of {len(found)} of the {population} mutants"
              + (f" (the first {checked} of {len(names)} drawn: the rest not checked yet)"
                 if checked < len(names) else "") + "\n")
    by_file: dict[str, Counter[str]] = {}
    for name, outcome in found.items():
        module = name.split(".x", 1)[0].split(".xǁ", 1)[0]
        by_file.setdefault(module, Counter())[outcome] += 1
    kinds = ("killed", "timeout", "survived", "no tests", "not checked")
    print(f"{'module':<28}" + "".join(f"{k:>12}" for k in kinds) + f"{'total':>8}")
    for module, counts in sorted(by_file.items()):
        print(f"{module:<28}" + "".join(f"{counts[k]:>12}" for k in kinds)
              + f"{sum(counts.values()):>8}")
    total = Counter(found.values())
    detected = total["killed"] + total["timeout"]
    print(f"{'all':<28}" + "".join(f"{total[k]:>12}" for k in kinds) + f"{len(found):>8}")
    share = detected / len(found)
    print(f"\nscore: {detected} / {len(found)} = {100 * share:.1f}% killed")
    if len(found) < population:
        # Wilson's 95% interval for the share killed among all mutants
        n, z = len(found), 1.96
        centre = (share + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        print(f"all {population} mutants: {100 * (centre - half):.1f}% to "
              f"{100 * (centre + half):.1f}% killed (95%)")
    survivors = sorted(n for n, o in found.items() if o in ("survived", "no tests"))
    print(f"\n{len(survivors)} not killed:")
    for name in survivors:
        print(f"  {found[name]:<9} {name}")
        if args.diffs:
            shown = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "show", name],
                                   cwd=ROOT, capture_output=True, text=True, check=False)
            print("\n".join("      " + line for line in shown.stdout.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
