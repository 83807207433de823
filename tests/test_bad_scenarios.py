"""Specification: every bad scenario (and every other bad input) is refused with a
message meant for a person.

Each case is a small TOML file fed through the real command line (``simrun check``,
``simrun run`` or ``simrun FILE``, some with ``--set``). Whatever is wrong, the command
must exit with code 2 and print, without a traceback:

* the file it read and how many problems it found (``base.toml: 3 problems``);
* per problem the dotted path of the field (``segments[1].wtp.sigma``), the rule it
  breaks (``must be >= 0``), the value it got where there is one (``got -0.2``) and,
  for a misspelt key or name, a did-you-mean hint.

Most cases ``extends`` a tiny valid base written next to them, so each file holds only
its one defect. Lists (segments, tiers) are replaced whole by a file that extends.

The second corpus (``COMMAND_CASES``) holds the other commands' bad input: damaged or
crafted results for ``simrun report``, ``[compare]`` tables of the wrong types, options
beyond the limits, a mistyped command. Bad sweep files are in test_sweep.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner, Result
from paths import ROOT

from sim.cli import main

BASE = """\
[run]
days = 30
warmup_days = 5
replications = 2
seed = 1

[business]
servers = 2
open_hour = 9
close_hour = 17
failure_rate = 0.05

[market]
new_customers_per_day = 5.0
alternatives = 0.5
referral_delay = { dist = "exponential", mean = "10 d" }

[[segments]]
name = "regulars"
share = 0.6
wtp = { dist = "lognormal", median = 70.0, sigma = 0.25 }
service_time = { dist = "gamma", mean = "45 min", cv = 0.4 }
patience = { dist = "exponential", mean = "1 h" }
abuse_propensity = 0.01

[[segments]]
name = "students"
share = 0.4
wtp = { dist = "uniform", low = 30, high = 60 }
abuse_propensity = { dist = "uniform", low = 0.02, high = 0.1 }

[strategy]
recovery = "fix"

[[strategy.tiers]]
name = "basic"
price = 40.0

[[strategy.tiers]]
name = "premium"
price = 90.0
priority = 1
service_level = 1.3
requests = "all"
"""

EXTENDS = 'extends = "base.toml"\n'


def segments(first: str = "", second: str = "") -> str:
    """The base's two segments (shares 0.6 and 0.4), extra lines added to each."""
    return (f'{EXTENDS}[[segments]]\nname = "regulars"\nshare = 0.6\nwtp = 70\n{first}'
            f'[[segments]]\nname = "students"\nshare = 0.4\nwtp = 45\n{second}')


def tiers(first: str = "", second: str = "") -> str:
    """The base's two tiers, extra lines added to each."""
    return (f'{EXTENDS}[[strategy.tiers]]\nname = "basic"\nprice = 40\n{first}'
            f'[[strategy.tiers]]\nname = "premium"\nprice = 90\n{second}')


class Bad(NamedTuple):
    toml: str | None
    """The file's text; None: the file does not exist."""
    expect: tuple[str, ...]
    """Substrings of the message: dotted path, rule, value, hint."""
    problems: int = 1
    """How many problems the count line must announce."""
    command: str = "check"
    """'check', 'run' or '' (``simrun FILE``, which means run)."""
    overrides: tuple[str, ...] = ()
    """``--set`` arguments."""
    files: tuple[tuple[str, str], ...] = ()
    """Further files written next to the case: (name, text)."""
    source_suffix: str = ""
    """What follows the file name in the count line, e.g. ' (--set)'."""
    special: str = ""
    """'fifo': the case's path is a FIFO; 'zero': a symbolic link to /dev/zero."""


def chain(length: int) -> tuple[tuple[str, str], ...]:
    """Files link-1.toml ... link-N.toml, each extending the next, the last the base."""
    return tuple((f"link-{i}.toml", f'extends = "link-{i + 1}.toml"\n' if i < length
                  else EXTENDS) for i in range(1, length + 1))


def many(table: str, count: int, body: str) -> str:
    """``count`` [[table]] entries, the i-th named t{i}, each with ``body``."""
    return EXTENDS + "".join(f'[[{table}]]\nname = "t{i}"\n{body}' for i in range(count))


CASES: dict[str, Bad] = {
    # --- cross-field rules -------------------------------------------------
    "segment-shares-do-not-sum-to-1": Bad(
        segments().replace("share = 0.4", "share = 0.3"),
        ("segments[*].share: must sum to 1, got 0.9",)),
    "warmup-days-not-below-days": Bad(
        f"{EXTENDS}[run]\ndays = 30\nwarmup_days = 30\n",
        ("run.warmup_days: must be < run.days (30), got 30",)),
    "close-hour-not-after-open-hour": Bad(
        f"{EXTENDS}[business]\nopen_hour = 9\nclose_hour = 8\n",
        ("business.close_hour: must be > business.open_hour (9), got 8.0",)),
    "detractor-threshold-not-below-promoter": Bad(
        f"{EXTENDS}[behaviour]\ndetractor_threshold = 9.5\n",
        ("behaviour.detractor_threshold: must be < promoter_threshold, got 9.5",)),
    "duplicate-segment-names": Bad(
        segments().replace('name = "students"', 'name = "regulars"'),
        ("segments[1].name: must be unique, got \"regulars\"",)),
    "duplicate-tier-names": Bad(
        tiers().replace('name = "premium"', 'name = "basic"'),
        ("strategy.tiers[1].name: must be unique, got \"basic\"",)),
    "empty-tier-list-without-preset": Bad(
        f"{EXTENDS}[strategy]\ntiers = []\n",
        ("strategy.tiers: must hold at least one tier, got []",)),
    "by-segment-names-unknown-tier": Bad(
        f'{EXTENDS}[strategy]\nassignment = {{ kind = "by_segment", '
        f'tiers = {{ regulars = "basic", students = "premum" }} }}\n',
        ("strategy.assignment.tiers.students: unknown tier, got \"premum\"",
         "(did you mean 'premium'?)")),
    "by-segment-misses-a-segment": Bad(
        f'{EXTENDS}[strategy]\nassignment = {{ kind = "by_segment", '
        f'tiers = {{ regulars = "basic" }} }}\n',
        ("strategy.assignment.tiers.students: is required: every segment needs a tier",)),
    "by-segment-names-unknown-segment": Bad(
        f'{EXTENDS}[strategy]\nassignment = {{ kind = "by_segment", tiers = '
        f'{{ regulars = "basic", students = "basic", studnets = "premium" }} }}\n',
        ("strategy.assignment.tiers.studnets: unknown segment",
         "(did you mean 'students'?)")),
    "adaptation-min-level-above-max-level": Bad(
        f'{EXTENDS}[strategy]\nadaptation = {{ kind = "satisfaction_target", '
        f'min_level = 1.6, max_level = 1.2 }}\n',
        ("strategy.adaptation.min_level: must be <= max_level, got 1.6",)),
    # --- ranges ------------------------------------------------------------
    "negative-price": Bad(
        tiers(second="price = -5\n").replace("price = 90\n", ""),
        ("strategy.tiers[1].price: must be >= 0, got -5",)),
    "replications-zero": Bad(
        f"{EXTENDS}[run]\nreplications = 0\n",
        ("run.replications: must be >= 1, got 0",)),
    "servers-zero": Bad(
        f"{EXTENDS}[business]\nservers = 0\n",
        ("business.servers: must be >= 1, got 0",)),
    "failure-rate-above-1": Bad(
        f"{EXTENDS}[business]\nfailure_rate = 1.5\n",
        ("business.failure_rate: must be <= 1, got 1.5",)),
    "open-hour-24": Bad(
        f"{EXTENDS}[business]\nopen_hour = 24\nclose_hour = 24\n",
        ("business.open_hour: must be < 24, got 24",)),
    "share-above-1": Bad(
        segments().replace("share = 0.6", "share = 1.5"),
        ("segments[0].share: must be <= 1, got 1.5",)),
    "probability-constant-above-1": Bad(
        segments(first="referral_propensity = 1.2\n"),
        ("segments[0].referral_propensity: must be between 0 and 1, got 1.2",)),
    "negative-duration": Bad(
        f'{EXTENDS}[business]\nrequest_time_h = "-5 min"\n',
        ("business.request_time_h: must be >= 0, got \"-5 min\"",)),
    "nan-price": Bad(
        tiers(first="price = nan\n").replace("price = 40\n", ""),
        ("strategy.tiers[0].price: must be a finite number, got nan",)),
    "policy-setting-out-of-range": Bad(
        f'{EXTENDS}[strategy]\nadmission = {{ kind = "daily_slots", slots_per_day = 0 }}\n',
        ("strategy.admission.slots_per_day: must be >= 1, got 0",)),
    "nan-in-a-distribution": Bad(
        segments(second='wtp = { dist = "normal", mean = nan, sd = 5 }\n')
        .replace("wtp = 45\n", ""),
        ("segments[1].wtp.mean: must be a finite number, got nan",)),
    "infinity-in-a-distribution": Bad(
        segments(first='service_time = { dist = "gamma", mean = inf, cv = 0.4 }\n'),
        ("segments[0].service_time.mean: must be a finite number, got inf",)),
    "infinite-duration-in-a-distribution": Bad(
        segments(first='patience = { dist = "exponential", mean = "1e999 h" }\n'),
        ("segments[0].patience.mean: must be a finite number, got \"1e999 h\"",)),
    "infinite-duration-constant": Bad(
        segments(first='patience = "1e400 min"\n'),
        ("segments[0].patience: must be a finite number, got \"1e400 min\"",)),
    "negative-infinity-for-a-number": Bad(
        f"{EXTENDS}[market]\nlock_in = -inf\n",
        ("market.lock_in: must be a finite number, got -inf",)),
    "normal-bounded-outside-the-field": Bad(
        segments(first='abuse_propensity = { dist = "normal", mean = 0.5, sd = 0.1, low = 2 }\n'),
        ("segments[0].abuse_propensity.low: must be < 1, the field's largest value, got 2.0",)),
    "whole-number-beyond-64-bits": Bad(
        f"{EXTENDS}[business]\nservers = 99999999999999999999999\n",
        (("business.servers: must be a whole number of at most 64 bits (TOML's integers), "
         "got 99999999999999999999999"),)),
    # --- limits (checked before any work) ------------------------------------
    "replications-beyond-the-limit": Bad(
        f"{EXTENDS}[run]\nreplications = 20000\n",
        (("run.replications: must be at most 10,000 (a limit; --force-limits to go beyond it), "
         "got 20000"),), command="run"),
    "days-beyond-the-limit": Bad(
        f"{EXTENDS}[run]\ndays = 1000000000000\n",
        (("run.days: must be at most 36,500 (a limit; --force-limits to go beyond it), "
         "got 1000000000000"),)),
    "replication-days-beyond-the-limit": Bad(
        f"{EXTENDS}[run]\nreplications = 5000\ndays = 1000\n",
        ("run.replications: x run.days (1000) must be at most 3,000,000", "got 5000000")),
    "priority-beyond-the-limit": Bad(
        tiers(second="priority = 1000000000000\n"),
        (("strategy.tiers[1].priority: must be at most 1,000 (priorities only order the "
         "tiers), got 1000000000000"),)),
    "waitlist-patience-beyond-the-limit": Bad(
        segments(first="waitlist_patience_days = 1e300\n"),
        ("segments[0].waitlist_patience_days: must be at most 36,500", "got 1e+300")),
    "absurd-rate-of-new-customers": Bad(
        f"{EXTENDS}[market]\nnew_customers_per_day = 1e308\n",
        (("expected work too large: up to more than 1e308 visits a replication (days 30 x "
         "new customers per day 1e+308 x reputation factor 1.37 x visits per customer"),
         ("1 + days x 24 h / mean visit interval); the limit is 1e+08 "
         "(--force-limits to go beyond it)")), command="run"),
    "customers-who-come-back-at-once": Bad(
        segments(first="visit_interval = 0\n"),
        ("expected work too large", "visits per customer more than 1e308"), command=""),
    "number-too-large-to-compute-with": Bad(
        f"{EXTENDS}[business]\nstaff_cost_per_hour = 1e308\n",
        (("business.staff_cost_per_hour: must be at most 1e+12 in size (too large to compute "
         "with), got 1e+308"),)),
    "distribution-that-draws-beyond-the-limit": Bad(
        segments(first='wtp = { dist = "lognormal", median = 50, sigma = 1e6 }\n')
        .replace("wtp = 70\n", "", 1),
        (("segments[0].wtp: can draw values beyond 1e+12 in size (too large to compute with): "
         "use smaller parameters"),)),
    "too-many-segments": Bad(
        many("segments", 101, "share = 0.0\nwtp = 50\n"),
        ("segments: must hold at most 100 (a limit; --force-limits to go beyond it), got 101",)),
    "too-many-tiers": Bad(
        many("strategy.tiers", 101, "price = 10\n"),
        (("strategy.tiers: must hold at most 100 (a limit; --force-limits to go beyond it), "
         "got 101"),)),
    "extends-chain-too-long": Bad(
        'extends = "link-1.toml"\n',
        ("extends: the chain of files that extend one another is longer than 16 files",),
        files=chain(20), source_suffix=""),
    "tables-nested-too-deep": Bad(
        EXTENDS + "x = " + "[" * 40 + "]" * 40 + "\n",
        ("tables and lists nest more than 16 deep",)),
    "lists-nested-beyond-the-stack": Bad(
        "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
        ("tables and lists nest more than 16 deep",)),
    "file-too-large": Bad(
        EXTENDS + "# " + "x" * 1_000_001 + "\n",
        ("is 1,000,0", "bytes; files of at most 1,000,000 bytes are read")),
    "a-fifo": Bad("", ("is a FIFO, not a regular file",), special="fifo"),
    "a-device": Bad("", ("is a character device, not a regular file",), special="zero",
                    command="run"),
    "set-value-nested-too-deep": Bad(
        EXTENDS, ("market.alternatives: tables and lists nest more than 16 deep",),
        overrides=("market.alternatives=" + "[" * 30 + "]" * 30,), source_suffix=" (--set)"),
    # --- durations ---------------------------------------------------------
    "duration-with-unknown-unit": Bad(
        f'{EXTENDS}[business]\nrequest_time_h = "3 fortnights"\n',
        ("business.request_time_h: unknown unit 'fortnights': use s, min, h, d or w",
         "got \"3 fortnights\"")),
    "distribution-duration-with-unknown-unit": Bad(
        segments(first='patience = { dist = "exponential", mean = "3 fortnights" }\n'),
        ("segments[0].patience.mean: unknown unit 'fortnights'", "got \"3 fortnights\"")),
    "duration-that-is-not-a-duration": Bad(
        f'{EXTENDS}[market]\nreferral_delay = "soon"\n',
        ("market.referral_delay: must be a duration like '45 min', '2 h', '3 d' or '2 w'",
         "got \"soon\"")),
    # --- wrong types -------------------------------------------------------
    "string-for-a-whole-number": Bad(
        f'{EXTENDS}[business]\nservers = "three"\n',
        ("business.servers: must be a whole number, got \"three\"",)),
    "string-for-a-number": Bad(
        f'{EXTENDS}[market]\nalternatives = "high"\n',
        ("market.alternatives: must be a number, got \"high\"",)),
    "number-for-a-string": Bad(
        f"{EXTENDS}[run]\nname = 5\n",
        ("run.name: must be a string, got 5",)),
    "number-for-a-tier-choice": Bad(
        tiers(first="requests = 1\n"),
        (("strategy.tiers[0].requests: must name a requests policy ('all', 'reasonable', "
         "'none') or be a table with 'kind', got 1"),)),
    "table-for-the-tier-list": Bad(
        f'{EXTENDS}[strategy.tiers]\nname = "basic"\nprice = 40\n',
        ("strategy.tiers: must be a list, got {name = \"basic\", price = 40}",)),
    "table-for-the-segment-list": Bad(
        f'{EXTENDS}[segments]\nname = "regulars"\n',
        ("segments: must be a non-empty list of [[segments]] tables",)),
    "bool-for-a-whole-number": Bad(
        f"{EXTENDS}[run]\nreplications = true\n",
        ("run.replications: must be a whole number, got true",)),
    "bool-for-a-number": Bad(
        f"{EXTENDS}[business]\nfailure_rate = false\n",
        ("business.failure_rate: must be a number, got false",)),
    "fraction-for-a-whole-number": Bad(
        f"{EXTENDS}[run]\ndays = 30.5\n",
        ("run.days: must be a whole number, got 30.5",)),
    "number-for-a-policy": Bad(
        f"{EXTENDS}[strategy]\nadmission = 5\n",
        (("strategy.admission: must name an admission policy ('everyone', 'daily_slots') or "
         "be a table with 'kind', got 5"),)),
    # --- unknown and misspelt keys and names --------------------------------
    "misspelt-top-level-section": Bad(
        f"{EXTENDS}[markt]\nalternatives = 0.2\n",
        ("markt: unknown section (did you mean 'market'?)",)),
    "misspelt-key-in-a-section": Bad(
        f"{EXTENDS}[business]\nsevrers = 3\n",
        ("business.sevrers: unknown key (did you mean 'servers'?)",)),
    "misspelt-key-in-a-segment": Bad(
        segments().replace("wtp = 45", "wpt = 45"),
        ("segments[1].wpt: unknown key (did you mean 'wtp'?)",
         "segments[1].wtp: is required"), problems=2),
    "misspelt-key-in-a-tier": Bad(
        tiers(first='refund = "never"\n'),
        ("strategy.tiers[0].refund: unknown key (did you mean 'refunds'?)",)),
    "misspelt-choice-in-a-tier": Bad(
        tiers(second='refunds = "alway"\n'),
        (("strategy.tiers[1].refunds: unknown refunds policy; known: always, verified, never, "
          "got \"alway\" (did you mean 'always'?)"),)),
    "misspelt-parameter-in-a-distribution": Bad(
        segments(second='wtp = { dist = "lognormal", median = 50, sigam = 0.3 }\n')
        .replace("wtp = 45\n", ""),
        (("segments[1].wtp.sigam: unknown parameter of a lognormal distribution "
          "(did you mean 'sigma'?)"),
         "segments[1].wtp.sigma: is required for a lognormal distribution"),
        problems=2),
    "unknown-parameter-in-a-distribution": Bad(
        segments(first='value_of_time_per_h = { dist = "gamma", mean = 15, vc = 0.5 }\n'),
        (("segments[0].value_of_time_per_h.vc: unknown parameter of a gamma distribution "
          "(a gamma takes mean, cv)"),
         "segments[0].value_of_time_per_h.cv: is required for a gamma distribution"),
        problems=2),
    "misspelt-dist-key": Bad(
        segments(first='service_time = { dsit = "gamma", mean = "45 min", cv = 0.4 }\n'),
        ("segments[0].service_time.dsit: unknown key (did you mean 'dist'?)",
         ("segments[0].service_time.dist: is required in a distribution table: constant, "
          "exponential, gamma")), problems=2),
    "kind-instead-of-dist": Bad(
        segments(second='patience = { kind = "exponential", mean = "1 h" }\n'),
        ("segments[1].patience.kind: unknown key (did you mean 'dist'?)",
         "segments[1].patience.dist: is required"), problems=2),
    "unknown-distribution-kind": Bad(
        segments(first='service_time = { dist = "gamm", mean = "45 min", cv = 0.4 }\n'),
        ("segments[0].service_time.dist: must name a distribution: constant, exponential",
         "got \"gamm\" (did you mean 'gamma'?)")),
    "unknown-preset": Bad(
        f'{EXTENDS}[strategy]\npreset = "tierd"\n',
        ("strategy.preset: unknown preset; known: ", "god", "tiered",
         "got \"tierd\" (did you mean 'tiered'?)")),
    "unknown-policy-kind": Bad(
        f'{EXTENDS}[strategy]\nadmission = "daly_slots"\n',
        ("strategy.admission: unknown admission policy; known: everyone, daily_slots",
         "got \"daly_slots\" (did you mean 'daily_slots'?)")),
    "setting-for-a-policy-without-settings": Bad(
        f'{EXTENDS}[strategy]\nassignment = {{ kind = "by_spend", tiers = {{}} }}\n',
        ("strategy.assignment.tiers: unknown key ('by_spend' takes no settings)",)),
    # A table that switches a policy's kind or a distribution's dist replaces the old
    # one whole: only the settings this file wrote are judged against the new kind.
    "switched-policy-kind-with-a-bad-setting": Bad(
        f'{EXTENDS}[strategy]\npreset = "scarcity"\n'
        f'admission = {{ kind = "everyone", slots_per_day = 10 }}\n',
        ("strategy.admission.slots_per_day: unknown key ('everyone' takes no settings)",)),
    "switched-distribution-kind-with-a-bad-parameter": Bad(
        f'{EXTENDS}[market]\nreferral_delay = {{ dist = "uniform", low = "1 d", high = "2 h" }}\n',
        ("market.referral_delay.high: must be >= low, got 2.0",)),
    # --- distribution rules ------------------------------------------------
    "missing-distribution-parameter": Bad(
        segments(first='service_time = { dist = "gamma", mean = "45 min" }\n'),
        ("segments[0].service_time.cv: is required for a gamma distribution",)),
    "lognormal-mean-with-sigma": Bad(
        segments(first='wtp = { dist = "lognormal", mean = 70, sigma = 0.3 }\n')
        .replace("wtp = 70\n", "", 1),
        (("segments[0].wtp.cv: is required for a lognormal distribution "
          "(give median and sigma, or mean and cv)"),)),
    "lognormal-sigma-negative": Bad(
        segments(second='wtp = { dist = "lognormal", median = 50, sigma = -0.2 }\n')
        .replace("wtp = 45\n", ""),
        ("segments[1].wtp.sigma: must be >= 0, got -0.2",)),
    "gamma-cv-negative": Bad(
        segments(first='value_of_time_per_h = { dist = "gamma", mean = 15, cv = -0.5 }\n'),
        ("segments[0].value_of_time_per_h.cv: must be >= 0, got -0.5",)),
    "exponential-mean-zero": Bad(
        f'{EXTENDS}[market]\nreferral_delay = {{ dist = "exponential", mean = 0 }}\n',
        ("market.referral_delay.mean: must be > 0, got 0.0",)),
    "uniform-high-below-low": Bad(
        segments(second='wtp = { dist = "uniform", low = 60, high = 30 }\n')
        .replace("wtp = 45\n", ""),
        ("segments[1].wtp.high: must be >= low, got 30.0",)),
    "triangular-mode-outside": Bad(
        segments(first='request_rate = { dist = "triangular", low = 1, mode = 5, high = 4 }\n'),
        ("segments[0].request_rate.mode: must lie between low and high, got 5.0",)),
    "empirical-empty": Bad(
        segments(first='request_rate = { dist = "empirical", values = [] }\n'),
        ("segments[0].request_rate.values: must be a non-empty list of numbers, got []",)),
    "probability-as-exponential": Bad(
        segments(first='abuse_propensity = { dist = "exponential", mean = 0.05 }\n'),
        (("segments[0].abuse_propensity.dist: an exponential value can exceed 1: use "
          "constant, uniform, triangular, normal or empirical, got \"exponential\""),)),
    "probability-as-uniform-above-1": Bad(
        segments(second='unreasonable_share = { dist = "uniform", low = 0.5, high = 1.5 }\n'),
        ("segments[1].unreasonable_share.high: must be between 0 and 1, got 1.5",)),
    # --- files -------------------------------------------------------------
    "extends-a-missing-file": Bad(
        'extends = "no-such-base.toml"\n',
        ("extends: no such file: ", "no-such-base.toml", "got \"no-such-base.toml\"")),
    "extends-cycle": Bad(
        'extends = "cycle-partner.toml"\n',
        ("extends: cycle: extends-cycle.toml -> cycle-partner.toml -> extends-cycle.toml",),
        files=(("cycle-partner.toml", 'extends = "extends-cycle.toml"\n'),)),
    "extends-not-a-string": Bad(
        "extends = 3\n",
        ("extends: must be a file name (a string), got 3",)),
    "invalid-toml": Bad(
        f"{EXTENDS}[run]\ndays = \n",
        ("not valid TOML: ", "(at line 3, column 8)")),
    "file-does-not-exist": Bad(None, ("no such file",)),
    "no-segments-and-no-strategy": Bad(
        "[run]\ndays = 30\n",
        ("segments: is required: at least one [[segments]] table",
         "strategy: is required (a [strategy] table"), problems=2),
    # --- through `simrun run` and `simrun FILE` ---------------------------
    "run-negative-price": Bad(
        tiers(first="price = -1\n").replace("price = 40\n", ""),
        ("strategy.tiers[0].price: must be >= 0, got -1",), command="run"),
    "run-shares-do-not-sum-to-1": Bad(
        segments().replace("share = 0.6", "share = 0.7"),
        ("segments[*].share: must sum to 1, got 1.1",), command="run"),
    "run-misspelt-dist-key": Bad(
        segments(first='patience = { dits = "exponential", mean = "1 h" }\n'),
        ("segments[0].patience.dits: unknown key (did you mean 'dist'?)",),
        problems=2, command=""),
    "run-file-does-not-exist": Bad(None, ("no such file",), command="run"),
    # --- bad --set overrides on a valid file -------------------------------
    "set-value-out-of-range": Bad(
        EXTENDS, ("market.alternatives: must be <= 1, got 1.5",),
        overrides=("market.alternatives=1.5",)),
    "set-string-for-a-whole-number": Bad(
        EXTENDS, ("business.servers: must be a whole number, got \"two\"",),
        overrides=("business.servers=two",)),
    "set-negative-tier-price": Bad(
        EXTENDS, ("strategy.tiers[0].price: must be >= 0, got -45",),
        overrides=("strategy.tiers[0].price=-45",)),
    "set-misspelt-section": Bad(
        EXTENDS, ("markt: unknown section (did you mean 'market'?)",),
        overrides=("markt.alternatives=0.2",)),
    "set-unknown-preset": Bad(
        EXTENDS, ("strategy.preset: unknown preset", "got \"tierd\" (did you mean 'tiered'?)"),
        overrides=("strategy.preset=tierd",)),
    "set-index-out-of-range": Bad(
        EXTENDS, ("strategy.tiers[5].price: index 5 out of range (the list has 2 items)",
                  "got \"45\""),
        overrides=("strategy.tiers[5].price=45",), source_suffix=" (--set)"),
    "set-without-a-value": Bad(
        EXTENDS, ("market.alternatives: must look like PATH=VALUE",),
        overrides=("market.alternatives",), source_suffix=" (--set)"),
    "set-malformed-path": Bad(
        EXTENDS, ("market..alternatives: is not a valid path (use names, dots and [index])",),
        overrides=("market..alternatives=0.2",), source_suffix=" (--set)"),
    "run-set-warmup-beyond-days": Bad(
        EXTENDS, ("run.warmup_days: must be < run.days (30), got 40",),
        overrides=("run.warmup_days=40",), command="run"),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    return tmp_path


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def count_line(problems: int) -> str:
    return f"{problems} problem{'s' if problems != 1 else ''}"


def test_the_base_itself_is_valid(folder: Path) -> None:
    """Guards every case: each one fails for its own defect, not the base's."""
    result = invoke(["check", str(folder / "base.toml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_there_are_enough_distinct_cases() -> None:
    assert len(CASES) >= 35
    assert len({case.toml for case in CASES.values() if not case.overrides}) >= 35


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_scenario_is_refused_with_file_field_value_and_rule(
        folder: Path, case: Bad, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.id
    path = folder / f"{name}.toml"
    if case.special == "fifo":
        os.mkfifo(path)
    elif case.special == "zero":
        path.symlink_to("/dev/zero")
    elif case.toml is not None:
        path.write_text(case.toml, encoding="utf-8")
    for other, text in case.files:
        (folder / other).write_text(text, encoding="utf-8")
    out = folder / "results"
    args = {"check": ["check", str(path)], "run": ["run", str(path), "-q", "--out", str(out)],
            "": [str(path), "-q", "--out", str(out)]}[case.command]
    for override in case.overrides:
        args += ["--set", override]

    result = invoke(args)

    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"Error: {path}{case.source_suffix}: {count_line(case.problems)}\n" in result.output
    for expected in case.expect:
        assert expected in result.output, f"{expected!r} not in:\n{result.output}"
    problem_lines = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert len(problem_lines) == case.problems, result.output
    assert not out.exists(), "a refused scenario must not write results"


def test_several_errors_are_reported_together_in_one_message(folder: Path) -> None:
    path = folder / "several.toml"
    path.write_text(
        f"{EXTENDS}[run]\nreplications = 0\n[business]\nservers = 0\nfailure_rate = 1.5\n"
        '[[strategy.tiers]]\nname = "basic"\nprice = 40\nrefund = "never"\n'
        '[[segments]]\nname = "regulars"\nshare = 1\n'
        'wtp = { dist = "lognormal", median = 50, sigma = -0.2 }\n',
        encoding="utf-8")

    result = invoke(["check", str(path)])

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Error: {path}: 5 problems"
    assert sorted(lines[1:]) == sorted([
        "  run.replications: must be >= 1, got 0",
        "  business.servers: must be >= 1, got 0",
        "  business.failure_rate: must be <= 1, got 1.5",
        "  segments[0].wtp.sigma: must be >= 0, got -0.2",
        "  strategy.tiers[0].refund: unknown key (did you mean 'refunds'?)",
    ])


def test_force_limits_goes_beyond_a_size_limit_but_not_a_safety_limit(folder: Path) -> None:
    big = folder / "big.toml"
    big.write_text(f"{EXTENDS}[run]\nreplications = 20000\n", encoding="utf-8")
    assert invoke(["check", str(big)]).exit_code == 2
    assert invoke(["check", str(big), "--force-limits"]).exit_code == 0
    deep = folder / "deep.toml"
    deep.write_text(EXTENDS + "x = " + "[" * 40 + "]" * 40 + "\n", encoding="utf-8")
    result = invoke(["check", str(deep), "--force-limits"])
    assert result.exit_code == 2
    assert "nest more than 16 deep" in result.output


@pytest.mark.parametrize(("text", "expected"), [
    ("[run]\ndays = 1000000000000\n",
     "run.days: must be at most 1,000,000, even with --force-limits, got 1000000000000"),
    ("[market]\nnew_customers_per_day = 1e308\n",
     ("expected work too large: up to more than 1e308 visits a replication (days 30 x new "
     "customers per day 1e+308")),
])
def test_absurd_work_is_refused_even_with_force_limits(folder: Path, text: str,
                                                      expected: str) -> None:
    path = folder / "absurd.toml"
    path.write_text(EXTENDS + text, encoding="utf-8")
    result = invoke(["run", str(path), "--force-limits", "-q", "--out", str(folder / "out")])
    assert result.exit_code == 2
    assert expected in result.output
    assert not (folder / "out").exists()


# --- every other command's bad input: one message, exit 2, no traceback -----------------

SHORT_RUN = ["-n", "2", "-j", "1", "-q", "--set", "run.days=20", "--set", "run.warmup_days=5"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished comparison (two strategies), copied by the cases that damage it."""
    folder = tmp_path_factory.mktemp("results") / "cmp"
    result = invoke(["compare", str(ROOT / "scenarios/god.toml"),
                     str(ROOT / "scenarios/tiered.toml"), "--out", str(folder), *SHORT_RUN])
    assert result.exit_code == 0, result.output
    return folder


def damaged(change: Callable[[Path], None]) -> Callable[[Path, Path], list[str]]:
    """A case: a copy of the finished comparison, changed, then ``simrun report`` on it."""

    def setup(folder: Path, results: Path) -> list[str]:
        copy = folder / "copy"
        shutil.copytree(results, copy)
        change(copy)
        return ["report", str(copy)]

    return setup


def edit(name: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / name
        path.write_text(path.read_text().replace(old, new, count))

    return change


def with_compare_table(table: str, *args: str) -> Callable[[Path, Path], list[str]]:
    def setup(folder: Path, results: Path) -> list[str]:
        path = folder / "cmp.toml"
        path.write_text(f'{EXTENDS}[compare]\n{table}\n', encoding="utf-8")
        return ["compare", str(path), "--out", str(folder / "out"), *SHORT_RUN, *args]

    return setup


def replace_with_fifo(name: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        (folder / name).unlink()
        os.mkfifo(folder / name)

    return change


COMMAND_CASES: dict[str, tuple[Callable[[Path, Path], list[str]], tuple[str, ...]]] = {
    "report-on-an-empty-folder": (
        lambda folder, _: ["report", str(folder)],
        (("not a results folder (no scenario.toml or comparison.json); run 'simrun' or "
         "'simrun compare' first"),)),
    "report-on-details-that-are-not-json": (
        damaged(edit("god/details.json", "[", "{")), ("details.json: not valid JSON",)),
    "report-on-details-without-metrics": (
        damaged(edit("tiered/details.json", '"metrics": {"profit": ',
                     '"metrics": {"profit": "a lot", "was": ')),
        ("damaged results: replication 0: a metric is missing or not a number",)),
    "report-on-daily-without-a-column": (
        damaged(edit("god/daily.csv", "revenue", "revenu")),
        ("damaged results: a column or key is missing: 'revenue'",)),
    "report-on-a-damaged-scenario": (
        damaged(edit("god/scenario.toml", "[run]", "[run")),
        ("damaged results: ", "scenario.toml: 1 problem", "not valid TOML")),
    "report-on-a-strategy-that-is-a-path": (
        damaged(edit("comparison.json", '"god": {', '"../../../etc": {')),
        ("comparison.json: the baseline is not a strategy",)),
    "report-on-a-strategy-folder-elsewhere": (
        damaged(edit("comparison.json", '"god"', '"../../god"', -1)),
        ("_.._god: not the results of a run (scenario.toml is missing)",)),
    "report-on-an-unknown-metric": (
        damaged(edit("comparison.json", '"metric": "profit"', '"metric": "proft"')),
        ("comparison.json: unknown metric",)),
    "report-on-a-fifo": (
        damaged(replace_with_fifo("god/details.json")), ("is a FIFO, not a regular file",)),
    "report-on-a-damaged-sweep-store": (
        lambda folder, _: ((folder / "runs.sqlite").write_bytes(b"\0" * 4096),
                           ["report", str(folder)])[1],
        ("runs.sqlite: 1 problem", "not a sweep's store")),
    "compare-name-of-the-wrong-type": (
        with_compare_table('strategies = ["god", "tiered"]\nname = 5'),
        ("compare.name: must be a string, got 5",)),
    "compare-baseline-of-the-wrong-type": (
        with_compare_table('strategies = ["god", "tiered"]\nbaseline = ["god"]'),
        ('compare.baseline: must be a string, got ["god"]',)),
    "compare-metric-of-the-wrong-type": (
        with_compare_table('strategies = ["god", "tiered"]\nmetric = 3'),
        ("compare.metric: must be a string, got 3",)),
    "compare-strategy-that-is-not-a-name": (
        with_compare_table('strategies = [1, "god"]'),
        ("compare.strategies[0]: must be a preset's name, got 1",)),
    "compare-strategy-that-is-not-a-table": (
        with_compare_table("strategies = { cheap = 5, dear = 6 }"),
        ("compare.strategies.cheap: must be a table of strategy knobs",)),
    "compare-misspelt-key": (
        with_compare_table('strategies = ["god", "tiered"]\nmetrc = "profit"'),
        ("compare.metrc: unknown key (did you mean 'metric'?)",)),
    "compare-unknown-metric": (
        with_compare_table('strategies = ["god", "tiered"]', "--metric", "proft"),
        (("--metric: unknown metric, got \"proft\" (did you mean 'profit'? known: profit, "
         "customer_retention"),)),
    "run-with-more-jobs-than-cores": (
        lambda folder, _: [str(folder / "base.toml"), "-j", "100000", "--out",
                           str(folder / "out")],
        ("Invalid value for '-j' / '--jobs': 100000 is more than the",
         "cores of this machine (--force-limits to go beyond it)")),
    "mistyped-command": (
        lambda folder, _: ["chek", str(folder / "base.toml")],
        ("No such command 'chek'. Did you mean 'check'?",)),
}


@pytest.mark.parametrize("case", COMMAND_CASES.values(), ids=COMMAND_CASES.keys())
def test_every_command_refuses_bad_input_with_one_message(
        folder: Path, results: Path, case: tuple[Callable[[Path, Path], list[str]],
                                                 tuple[str, ...]]) -> None:
    setup, expected = case
    result = invoke(setup(folder, results))
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.count("Error: ") == 1, result.output
    for text in expected:
        assert text in result.output, f"{text!r} not in:\n{result.output}"
    assert not (folder / "out").exists()


def test_a_damaged_checkpoint_is_discarded_with_a_warning_and_redone(folder: Path) -> None:
    out = folder / "out"
    args = ["run", str(folder / "base.toml"), "-q", "--out", str(out), "-j", "1"]
    whole = folder / "whole"
    assert invoke(["run", str(folder / "base.toml"), "-q", "--out", str(whole), "-j", "1"]
                  ).exit_code == 0
    from sim.experiment.output import Checkpoint
    from sim.model.engine import run_replication
    from sim.scenario import load_scenario

    checkpoint = Checkpoint(out, load_scenario(folder / "base.toml"))
    checkpoint.save(run_replication(checkpoint.scenario, 0))
    checkpoint.save(run_replication(checkpoint.scenario, 1))
    broken = checkpoint.folder / "rep-00001.json"
    broken.write_text(broken.read_text()[:100])
    (checkpoint.folder / "rep-00007.json").write_text("{}")

    result = invoke(args)

    assert result.exit_code == 0, result.output
    assert f"Warning: discarded {broken} (" in result.output
    assert "that replication runs again" in result.output
    for name in ("summary.json", "daily.csv", "details.json"):
        assert (out / name).read_bytes() == (whole / name).read_bytes()
