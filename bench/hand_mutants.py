"""The hand-made mutants of issue 8: each breaks one mechanism of the model on purpose;
the model's tests must fail on every one of them.

Each mutant is a textual edit of one source file, applied to a copy of the working tree
in a temporary folder (the tree itself is never touched), followed by the model's tests
run there (``-x``: the first failure kills the mutant). A mutant whose pattern no longer
matches the code is reported as such, never silently skipped: re-express it.

    .venv/bin/python bench/hand_mutants.py            # all mutants, about 10 min
    .venv/bin/python bench/hand_mutants.py referrals_off entitlement_requests
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ("tests/test_mechanisms.py", "tests/test_randomness.py", "tests/test_definitions.py",
         "tests/test_conservation.py", "tests/test_directions.py", "tests/test_decisions.py",
         "tests/test_presets.py")
ENGINE, TALLY = "sim/model/engine.py", "sim/model/tally.py"

# name: (what it breaks, file, old text, new text); the old text must occur exactly once
MUTANTS: dict[str, tuple[str, str, str, str]] = {
    # --- the seven of the issue (entitlement has two places where it grows) ----------
    "candidate_order": (
        "new customers keyed by accepted order instead of candidate order (breaks CRN)",
        ENGINE,
        ("                LeanProcess(env, r.life((NEW, index), referred=False))\n"
         "            index += 1\n"),
        ("                LeanProcess(env, r.life((NEW, index), referred=False))\n"
         "                index += 1\n")),
    "global_referral_key": (
        "referral keys from a global counter, not the referrer's ordinal (breaks CRN)",
        ENGINE,
        "            key = (REFERRED, *c.key, c.referrals)\n",
        ("            self.global_referrals = getattr(self, 'global_referrals', 0) + 1\n"
         "            key = (REFERRED, self.global_referrals)\n")),
    "referrals_off": (
        "referrals switched off",
        ENGINE,
        "                and (words[V_REFERRAL] + 0.5) * TO_UNIT < c.referral_propensity):",
        ("                and (words[V_REFERRAL] + 0.5) * TO_UNIT < c.referral_propensity"
         " and False):")),
    "detractor_voice": (
        "detractors' extra voice removed",
        ENGINE,
        "for voice in (1.0, b.passive_voice, b.detractor_voice))",
        "for voice in (1.0, b.passive_voice, 1.0))"),
    "entitlement_requests": (
        "entitlement never grows from honoured unreasonable requests",
        ENGINE,
        "        c.entitlement += self.behaviour.entitlement_step * honoured_u\n",
        "        pass\n"),
    "entitlement_refunds": (
        "entitlement never grows from refunded abuse",
        ENGINE,
        "            c.entitlement += b.entitlement_step\n",
        "            pass\n"),
    "adaptation_ignored": (
        "the partner's adaptation ignored",
        ENGINE,
        "                self.level = self.adaptation.review(self.level, satisfaction, margin)",
        "                self.adaptation.review(self.level, satisfaction, margin)"),
    "abandoned_sojourn": (
        "abandoned visits' time dropped from the sojourn sum",
        TALLY,
        "            self.sojourn_sum += wait_h\n",
        "            pass\n"),
    # --- metric definitions (earlier issues' mutants) ---------------------------------
    "served_in_window": (
        "distinct customers served counted from the first purchase ever, not in the window",
        ENGINE,
        "t.customer_served(not c.served_in_window,",
        "t.customer_served(not c.served_once,"),
    "retention_newcomers": (
        "customers won during a period count as churned from its start",
        TALLY,
        "        if customer_since_h < self.warmup_h + period * self.period_h:",
        "        if True:"),
    "first_score": (
        "NPS per customer takes the first score, not the latest",
        ENGINE,
        "            c.latest_score = sat\n",
        "            c.latest_score = sat if c.latest_score < 0 else c.latest_score\n"),
    "clv_observed": (
        "CLV's customers observed at each age off by one day",
        TALLY,
        "observed -= sum(self.won_by_day[s][last_won_day + 1] for s in segments)",
        "observed -= sum(self.won_by_day[s][last_won_day] for s in segments)"),
    "prospect_churns": (
        "a prospect who never bought counts as a churned customer",
        ENGINE,
        "        if c.served_once:\n            self.customers_alive -= 1",
        "        if True:\n            self.customers_alive -= 1"),
    "warmup_acquisition": (
        "acquisition cost of warm-up days left out of the daily profit",
        TALLY,
        ("        self.day[DAY_PROFIT] -= cost\n        self.review_cash -= cost\n"
         "        if not measured:\n            return\n"),
        ("        self.review_cash -= cost\n        if not measured:\n            return\n"
         "        self.day[DAY_PROFIT] -= cost\n")),
    "clv_undiscounted": (
        "CLV not discounted",
        TALLY,
        "        discount = math.exp(-self.log_discount_per_h * (now - first_purchase_h))",
        "        discount = 1.0"),
    "delight_no_adaptation": (
        "delight pleases as much however expected",
        ENGINE,
        "        surprise = (1.0 - c.expected_delight) if delighted else 0.0",
        "        surprise = 1.0 if delighted else 0.0"),
}
EQUIVALENT_CONTROL = (
    "an equivalent edit (adds 0.0): must survive, or the runner kills everything",
    TALLY,
    "        self.satisfaction_sum += satisfaction\n",
    "        self.satisfaction_sum += satisfaction + 0.0 * 1\n")


def copy_tree(destination: Path) -> None:
    ignore = shutil.ignore_patterns(".venv", ".git", ".hypothesis", "results", "mutants",
                                    "__pycache__", "*.egg-info")
    shutil.copytree(ROOT, destination, ignore=ignore, dirs_exist_ok=True)


def run_tests(tree: Path, tests: tuple[str, ...]) -> bool:
    """True when the tests pass in ``tree`` (its ``sim`` shadows the installed one)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    check = subprocess.run([sys.executable, "-c", "import sim; print(sim.__file__)"],
                           cwd=tree, env=env, capture_output=True, text=True, check=True)
    assert check.stdout.startswith(str(tree)), f"imports the wrong sim: {check.stdout}"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *tests], cwd=tree, env=env, capture_output=True, text=True,
                          check=False)
    return done.returncode == 0


def try_mutant(name: str, mutant: tuple[str, str, str, str], tests: tuple[str, ...]) -> str:
    _what, file, old, new = mutant
    with tempfile.TemporaryDirectory(prefix=f"mutant-{name}-") as folder:
        tree = Path(folder)
        copy_tree(tree)
        path = tree / file
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            return f"PATTERN MISSING ({text.count(old)} matches)"
        path.write_text(text.replace(old, new), encoding="utf-8")
        return "survived" if run_tests(tree, tests) else "killed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to try (default: all)")
    parser.add_argument("--control", action="store_true",
                        help="also run the equivalent control edit (must survive)")
    args = parser.parse_args()
    chosen = {name: MUTANTS[name] for name in args.names} if args.names else dict(MUTANTS)
    if args.control:
        chosen["equivalent_control"] = EQUIVALENT_CONTROL
    outcomes = {}
    for name, mutant in chosen.items():
        start = time.perf_counter()
        outcomes[name] = try_mutant(name, mutant, TESTS)
        print(f"{outcomes[name]:>9}  {name:<24} {mutant[0]}  ({time.perf_counter() - start:.0f} s)",
              flush=True)
    # a mutant is as expected when killed (the control when it survives); a pattern that
    # no longer matches the code is not: the mutant was never tried
    bad = [n for n, o in outcomes.items()
           if o != ("survived" if n == "equivalent_control" else "killed")]
    print(f"{len(outcomes) - len(bad)}/{len(outcomes)} as expected", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
