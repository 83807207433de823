"""The event log of a market run (``simrun market.toml --events``): one row per try with
the firm, the same counts as each firm's books, the same results as a run without it."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import tomli_w
from market_helpers import fingerprint, market_runs, tiny_market_raw
from sweep_helpers import simrun

from sim.experiment.events import COLUMNS, read_events
from sim.experiment.market_events import (
    MARKET_COLUMNS,
    market_event_files,
    run_market_logged,
)
from sim.experiment.market_output import MarketCheckpoint
from sim.scenario.market import market_from_raw

OUTCOME_METRICS = {"served": "served", "abandoned": "abandoned", "balked": "balked",
                   "priced out": "priced_out", "turned away": "turned_away"}
FIRMS = [("Open", "god", {"max_waiting": 2}), ("Scarce", "scarcity"),
         ("Small", "tiered", {"servers": 1})]
BUSY = {"run.replications": 2, "run.days": 30, "market.new_customers_per_day": 25.0,
        "market.search_limit": 3}
"""Every outcome happens at some firm, and customers turned away try another firm."""


def write(tmp_path: Path, settings: dict | None = None) -> Path:
    path = tmp_path / "busy.toml"
    path.write_text(tomli_w.dumps(tiny_market_raw(FIRMS, {**BUSY, **(settings or {})})))
    return path


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    folder = tmp_path_factory.mktemp("market-events")
    path = write(folder)
    code, out = simrun(path, "-j", "2", "-q", "--events", "--out", folder / "log")
    assert code == 0, out
    code, out = simrun(path, "-j", "2", "-q", "--out", folder / "plain")
    assert code == 0, out
    return folder / "log", folder / "plain", list(read_events(folder / "log" / "events.parquet"))


def test_the_log_has_a_firm_column_and_every_column_of_a_runs_log(logged) -> None:
    *_, rows = logged
    assert list(rows[0]) == [name for name, _, _ in MARKET_COLUMNS]
    assert [c for c in MARKET_COLUMNS if c[0] != "firm"] == list(COLUMNS)
    assert {r["firm"] for r in rows} == {name for name, *_ in FIRMS}


def test_rows_by_outcome_equal_each_firms_books(logged) -> None:
    out, _, rows = logged
    from sim.experiment.output import load_results

    warmup_h = BUSY.get("run.warmup_days", 5) * 24.0
    totals: Counter[str] = Counter()
    for name, *_ in FIRMS:
        firm = load_results(out / "firms" / name)
        for run in firm.runs:
            mine = [r for r in rows if r["firm"] == name and r["replication"] == run.replication
                    and r["arrived_h"] >= warmup_h]
            counts = Counter(r["outcome"] for r in mine)
            totals.update(counts)
            for outcome, metric in OUTCOME_METRICS.items():
                assert counts[outcome] == run.metrics[metric], (name, outcome)
            assert len(mine) + run.checks["in_system"] == run.metrics["arrivals"]
            served = [r for r in mine if r["outcome"] == "served"]
            assert sum(r["failed"] for r in served) == run.metrics["failures"]
    assert all(totals[o] > 0 for o in OUTCOME_METRICS), totals  # the case tests them all


def test_the_results_are_bit_identical_with_and_without_the_log(logged) -> None:
    out, plain, _ = logged
    written = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file())
    assert len(written) > 10
    for name in written:
        assert (out / name).read_bytes() == (plain / name).read_bytes(), name


def test_a_spilled_occasion_has_a_row_per_firm_and_churned_marks_the_last_row(logged) -> None:
    _, _, rows = logged
    by_customer: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for r in rows:
        by_customer[r["replication"], r["customer"]].append(r)
    spilled = 0
    for visits in by_customer.values():
        assert sum(v["churned"] for v in visits) <= 1
        if any(v["churned"] for v in visits):
            assert visits[-1]["churned"]  # nothing after the customer left
        occasions = Counter(v["visit"] for v in visits)
        for occasion, tries in occasions.items():
            if tries > 1:
                spilled += 1
                these = [v for v in visits if v["visit"] == occasion]
                assert len({v["firm"] for v in these}) == tries  # each try at another firm
                assert all(v["outcome"] in ("turned away", "balked") for v in these[:-1])
                assert not any(v["churned"] for v in these[:-1])
    assert spilled > 0


def test_rows_come_in_the_order_the_visits_ended(logged) -> None:
    _, _, rows = logged
    for rep in (0, 1):
        ended = [r["ended_h"] for r in rows if r["replication"] == rep]
        assert ended == sorted(ended)


def test_each_firm_has_its_till_of_replication_0(logged) -> None:
    out, _, rows = logged
    for name, *_ in FIRMS:
        till = list(csv.DictReader(io.StringIO(
            (out / "firms" / name / "transactions.csv").read_text("utf-8"))))
        visits = [r for r in rows if r["replication"] == 0 and r["firm"] == name]
        served = [v for v in visits if v["outcome"] == "served"]
        assert sum(t["abandoned"] == "0" for t in till) == len(served)
        assert sum(t["abandoned"] == "1" for t in till) == sum(
            v["outcome"] == "abandoned" for v in visits)
        assert sum(float(t["amount"]) for t in till) == pytest.approx(  # cents: +-0.005 each
            sum(v["price"] - v["refund"] for v in served), abs=0.005 * len(served) + 1e-9)


def test_a_hand_checked_customer_on_a_market(tmp_path: Path) -> None:
    """One firm without an outside option is the single-firm model draw for draw: the
    log's rows are the single run's, each with the firm's name."""
    from helpers import tiny_raw

    import sim

    raw = tiny_market_raw([("Solo", "god")], {"run.days": 10, "run.replications": 1})
    market = market_from_raw(raw, source="<test>")
    files = market_event_files(tmp_path / "m", 1, parquet=False)
    run_market_logged(market, 0, files)
    single = tiny_raw("god", {"run.days": 10, "run.replications": 1})
    path = tmp_path / "single.toml"
    path.write_text(tomli_w.dumps(single))
    sim.run(path, jobs=1, out=tmp_path / "s", events=True)
    mine = list(read_events(files.part(0)))
    theirs = list(read_events(next((tmp_path / "s").glob("events.*"))))
    assert len(mine) == len(theirs) > 10
    for a, b in zip(mine, theirs, strict=True):
        assert a.pop("firm") == "Solo"
        assert repr(a) == repr(b)


def test_a_resumed_market_run_logs_every_replication(tmp_path: Path) -> None:
    """A replication kept before without its part of the log runs again."""
    path = write(tmp_path, {"run.days": 10})
    market = market_from_raw(tiny_market_raw(FIRMS, {**BUSY, "run.days": 10}), source=str(path))
    out = tmp_path / "r"
    MarketCheckpoint(out, market).save(market_runs(market, [1])[0])
    code, text = simrun(path, "-j", "1", "--events", "--out", out)
    assert code == 0, text
    assert "Resuming" not in text  # the kept one has no log: it runs again
    assert {r["replication"] for r in read_events(out / "events.parquet")} == {0, 1}


def test_a_logged_replication_equals_a_plain_one(tmp_path: Path) -> None:
    market = market_from_raw(tiny_market_raw(FIRMS, BUSY), source="<test>")
    logged = run_market_logged(market, 1, market_event_files(tmp_path, len(FIRMS), False))
    plain = market_runs(market, [1])[0]
    assert [fingerprint(f) for f in logged.firms] == [fingerprint(f) for f in plain.firms]
    assert (logged.market, logged.per_firm, logged.switching) == (
        plain.market, plain.per_firm, plain.switching)


def test_the_notebook_api_writes_what_the_command_writes(logged, tmp_path: Path) -> None:
    """``sim.run_market(path, out=..., events=True)`` writes the command's files, byte
    for byte (the event log and each firm's till included); without ``events`` it writes
    the plain run's files and no log."""
    import sim

    log, plain, _ = logged
    path = write(tmp_path)
    sim.run_market(path, jobs=2, out=tmp_path / "api-log", events=True)
    sim.run_market(path, jobs=1, out=tmp_path / "api-plain")
    for ours, theirs in ((tmp_path / "api-log", log), (tmp_path / "api-plain", plain)):
        files = sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
        assert sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file()) == files
        for name in files:
            assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    assert not list((tmp_path / "api-plain").rglob("events.*"))
    with pytest.raises(ValueError, match="give out="):
        sim.run_market(path, events=True)
