"""What simrun accepts, bounded: every limit in one place, checked before any work.

A scenario, a sweep or an option beyond a limit is refused with the field, the value,
the limit and, where it is a matter of size rather than safety, how to go beyond it:
``--force-limits`` on the command line, ``with sim.limits.lifted():`` in Python. The
safety limits (file size, nesting of tables, chains of ``extends``, what kind of file is
read) cannot be lifted: they keep a hostile file from exhausting memory or the stack.

The expected work of a scenario is estimated before it runs, as an upper bound:

    visits per replication ~= days x new customers per day x reputation factor
                              x visits per customer

where the reputation factor is the most reputation can raise the rate of new customers
(``1 + market.reputation_sensitivity x (10 - market.norm_reputation) / 10``) and a
customer makes at most ``1 + days x 24 h / mean visit interval`` visits (if it always
came back). Referred customers come on top; the estimate leaves them out.

On a market of rival firms the same bound counts the market's visit occasions (the firms
share one stream of customers), and each occasion may try up to ``market.search_limit``
firms (no more than there are), so the market's visits are bounded by

    visits per replication ~= occasions per replication x min(search_limit, firms)

and the limits below apply to the whole market (:func:`market_work`).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario.errors import Issue

if TYPE_CHECKING:
    from sim.scenario.distributions import Distribution
    from sim.scenario.model import Scenario

# --- safety: never lifted ------------------------------------------------------------
MAX_FILE_BYTES = 1_000_000
"""Largest scenario or sweep file read (a big scenario is about 10 kB)."""
MAX_TOML_DEPTH = 16
"""Deepest nesting of tables and lists in a file or a --set value (a scenario uses 4)."""
MAX_EXTENDS_DEPTH = 16
"""Longest chain of files that extend one another."""
MAX_PRIORITY = 1_000
"""Highest tier priority: priorities only order the tiers."""

MAX_MAGNITUDE = 1e12
"""Largest size of any number in a scenario, and of any value its distributions can
draw: larger ones (1e300) overflow the sums of a run into infinity, which no table,
chart or report can show. A price of a trillion is no scenario."""

# --- size: lifted by --force-limits, up to a ceiling ----------------------------------
# Each size limit has a ceiling that --force-limits does not lift either: beyond it a run
# would exhaust memory (days, replications), take years (visits) or swamp the machine.
MAX_REPLICATIONS, CEILING_REPLICATIONS = 10_000, 1_000_000
MAX_DAYS, CEILING_DAYS = 36_500, 1_000_000
"""A hundred years (the ceiling: 2,700 years)."""
MAX_REPLICATION_DAYS, CEILING_REPLICATION_DAYS = 3_000_000, 30_000_000
"""Replications x days of one run: the daily series kept in memory (about 400 bytes a
day and replication: 3,000,000 is about 1.2 GB; the ceiling about 12 GB)."""
MAX_SEGMENTS, CEILING_SEGMENTS = 100, 10_000
MAX_TIERS, CEILING_TIERS = 100, 10_000
MAX_VISITS_PER_REPLICATION, CEILING_VISITS_PER_REPLICATION = 1e8, 1e12
"""Expected visits of one replication, at most (about 2 hours at 15,000 visits/s)."""
MAX_VISITS, CEILING_VISITS = 1e10, 1e14
"""Expected visits of a whole command: every replication of every strategy and point."""
MAX_SWEEP_POINTS, CEILING_SWEEP_POINTS = 10_000, 200_000
MAX_SWEEP_RUNS, CEILING_SWEEP_RUNS = 1_000_000, 100_000_000
"""Points x strategies x replications of a sweep."""
JOBS_CEILING_PER_CORE = 16
"""--force-limits allows up to 16 worker processes per core."""

FORCE_HINT = "--force-limits to go beyond it"

_lifted: ContextVar[bool] = ContextVar("simrun_limits_lifted", default=False)


@contextmanager
def lifted(on: bool = True) -> Iterator[None]:
    """Lift the size limits (not the safety limits) up to their ceilings inside the
    block."""
    token = _lifted.set(on)
    try:
        yield
    finally:
        _lifted.reset(token)


def is_lifted() -> bool:
    """Whether the size limits are lifted here (``--force-limits``, :func:`lifted`)."""
    return _lifted.get()


def over(value: float, limit: float, ceiling: float) -> bool:
    """``value`` is beyond the size ``limit`` (or, with limits lifted, its ceiling)."""
    return value > (ceiling if _lifted.get() else limit)


def too_many(where: str, value: float, limit: float, ceiling: float,
             what: str = "") -> Issue | None:
    """An Issue when ``value`` is beyond the size ``limit`` (lifted: its ceiling)."""
    if not over(value, limit, ceiling):
        return None
    if _lifted.get():
        return Issue(where, f"{what or 'must be'} at most {ceiling:,.0f}, even with "
                     "--force-limits", value)
    return Issue(where, f"{what or 'must be'} at most {limit:,.0f} (a limit; {FORCE_HINT})",
                 value)


def cores() -> int:
    """Processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def jobs_problem(jobs: int | None) -> str | None:
    """Why ``jobs`` worker processes are refused (more than the cores), or None."""
    ceiling = JOBS_CEILING_PER_CORE * cores()
    if jobs is None or not over(jobs, cores(), ceiling):
        return None
    if _lifted.get():
        return f"{jobs} is more than {ceiling}, {JOBS_CEILING_PER_CORE} per core, even with " \
               "--force-limits"
    return f"{jobs} is more than the {cores()} cores of this machine ({FORCE_HINT})"


# --- files -------------------------------------------------------------------------------
class UnreadableFile(ValueError):
    """A file that is not read: not a regular file, or too large."""


def read_bounded(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``. A FIFO, a device or a
    folder is refused before anything is read from it (a FIFO would block, /dev/zero
    never ends); FileNotFoundError passes through."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise UnreadableFile("is a folder, not a file") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            from sim.atomic import kind_of

            raise UnreadableFile(f"is {kind_of(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise UnreadableFile(f"is {info.st_size:,} bytes; files of at most "
                                 f"{max_bytes:,} bytes are read")
        data = os.read(fd, max_bytes + 1)
        while len(data) <= max_bytes:
            more = os.read(fd, max_bytes + 1 - len(data))
            if not more:
                break
            data += more
        if len(data) > max_bytes:
            raise UnreadableFile(f"is more than {max_bytes:,} bytes")
        return data
    finally:
        os.close(fd)


def depth(value: Any) -> int:
    """How deeply tables and lists nest in a parsed TOML value (a number: 0)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_TOML_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


# --- scenarios ---------------------------------------------------------------------------
def scenario_issues(s: Scenario) -> list[Issue]:
    """Every limit a valid scenario breaks, each as an Issue."""
    run = s.run
    found = [too_many("run.replications", run.replications, MAX_REPLICATIONS,
                      CEILING_REPLICATIONS),
             too_many("run.days", run.days, MAX_DAYS, CEILING_DAYS)]
    if not any(found):
        found.append(too_many("run.replications", run.replications * run.days,
                              MAX_REPLICATION_DAYS, CEILING_REPLICATION_DAYS,
                              f"x run.days ({run.days}) must be"))
    found += [Issue(f"strategy.tiers[{i}].priority", f"must be at most {MAX_PRIORITY:,} "
                    "(priorities only order the tiers)", tier.priority)
              for i, tier in enumerate(s.strategy.tiers) if tier.priority > MAX_PRIORITY]
    found += [too_many(f"segments[{i}].waitlist_patience_days", seg.waitlist_patience_days,
                       MAX_DAYS, CEILING_DAYS) for i, seg in enumerate(s.segments)]
    issues = [issue for issue in found if issue is not None]
    if not issues:
        issues += work_issues(s)
    if not issues:
        issues += magnitude_issues(s)
    return issues


def magnitude_issues(s: Scenario) -> list[Issue]:
    """Every number of the scenario, and every distribution's reach, beyond
    :data:`MAX_MAGNITUDE` in size."""
    import dataclasses

    from sim.scenario.distributions import Distribution

    issues: list[Issue] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, Distribution):
            if not reach(value) <= MAX_MAGNITUDE:
                issues.append(Issue(where, f"can draw values beyond {MAX_MAGNITUDE:.0e} in size "
                                    "(too large to compute with): use smaller parameters"))
        elif isinstance(value, float):
            if not abs(value) <= MAX_MAGNITUDE:
                issues.append(Issue(where, f"must be at most {MAX_MAGNITUDE:.0e} in size (too "
                                    "large to compute with)", value))
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                if f.init and not f.name.startswith("_"):
                    walk(getattr(value, f.name), f"{where}.{f.name}".lstrip("."))

    walk(s, "")
    return issues


def reach(dist: Distribution) -> float:
    """The largest size of a value the distribution draws (the sampler's extreme
    quantiles lie within 9 standard deviations, or 9 sigma on the log scale)."""
    k, p = dist.kind, dist.params
    try:
        if k == "exponential":
            return p[0] * 40
        if k == "gamma":
            return p[0] * (1 + 40 * p[1] + 40 * p[1] * p[1])
        if k == "lognormal":
            return p[0] * math.exp(max(9 * p[1], p[1] * p[1] / 2))
        if k == "normal":
            mean, sd, low, high = p
            return min(max(abs(low), abs(high)), abs(mean) + 9 * sd)
        return max(abs(x) for x in p)
    except OverflowError:
        return math.inf


def work_issues(s: Scenario, runs: float | None = None, where: str = "") -> list[Issue]:
    """The expected work of ``runs`` replications of the scenario (default: its own
    replications), refused beyond the limits with the estimate and its formula."""
    visits, formula = expected_visits(s)
    return visits_issues(visits, formula, s.run.replications if runs is None else runs, where)


def visits_issues(visits: float, formula: str, runs: float, where: str = "") -> list[Issue]:
    """``visits`` a replication (``formula`` says how they were counted) over ``runs``
    replications, refused beyond the limits."""
    if over(visits, MAX_VISITS_PER_REPLICATION, CEILING_VISITS_PER_REPLICATION):
        return [Issue(where, f"expected work too large: up to {big(visits)} visits a "
                      f"replication ({formula}); "
                      f"{_the_limit(MAX_VISITS_PER_REPLICATION, CEILING_VISITS_PER_REPLICATION)}")]
    if over(visits * runs, MAX_VISITS, CEILING_VISITS):
        return [Issue(where, f"expected work too large: up to {big(visits * runs)} visits in "
                      f"all ({big(runs)} replications x {big(visits)} visits: {formula}); "
                      f"{_the_limit(MAX_VISITS, CEILING_VISITS)}")]
    return []


def market_work(firms: Sequence[Scenario]) -> tuple[float, str]:
    """Visits of one replication of a market of these firms at most (the module's
    docstring), and the formula with its numbers."""
    occasions, formula = expected_visits(firms[0])
    tries = min(firms[0].market.search_limit, len(firms))
    return occasions * tries, (f"{big(occasions)} visit occasions ({formula}) x up to "
                               f"{tries} firms tried an occasion (market.search_limit "
                               f"{firms[0].market.search_limit}, {len(firms)} firms)")


def _the_limit(limit: float, ceiling: float) -> str:
    if _lifted.get():
        return f"the most even with --force-limits is {ceiling:.0e}"
    return f"the limit is {limit:.0e} ({FORCE_HINT})"


def expected_visits(s: Scenario) -> tuple[float, str]:
    """Visits of one replication at most (see the module's docstring), and the formula
    with the scenario's numbers."""
    days, rate = s.run.days, s.market.new_customers_per_day
    m = s.market
    factor = max(1.0, 1 + m.reputation_sensitivity * (10 - m.norm_reputation) / 10)
    per_customer = 0.0
    for seg in s.segments:
        interval = _mean(seg.visit_interval)
        per_customer += seg.share * (1 + days * 24 / interval if interval > 0 else math.inf)
    visits = days * rate * factor * per_customer if rate > 0 else 0.0
    formula = (f"days {days} x new customers per day {big(rate)} x reputation factor "
               f"{factor:.3g} x visits per customer {big(per_customer)}, if every customer "
               "kept coming back: 1 + days x 24 h / mean visit interval")
    return visits, formula


def _mean(dist: Distribution) -> float:
    """A distribution's mean without scipy (the truncated normal's with math.erf)."""
    if dist.kind != "normal":
        try:
            return dist.mean
        except OverflowError:
            return math.inf
    mean, sd, low, high = dist.params
    if sd == 0:
        return min(max(mean, low), high)
    a, b = (low - mean) / sd, (high - mean) / sd
    mass = 0.5 * (math.erf(b / math.sqrt(2)) - math.erf(a / math.sqrt(2)))
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0
    if mass < 1e-12:
        return min(max(mean, low), high)
    return min(max(mean + sd * (pdf(a) - pdf(b)) / mass, low), high)


def big(x: float) -> str:
    """A count as a person reads it: 12,345, 3.2e+14, or 'more than 1e308'."""
    if math.isinf(x) or math.isnan(x):
        return "more than 1e308"
    return f"{x:,.0f}" if x < 1e7 else f"{x:.2g}"
