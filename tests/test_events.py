"""The event log (``simrun FILE --events``, ``sim.run(..., events=True)``): one row per
visit, the same counts as the books, the same results as a run without it."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
import tomli_w
from helpers import scripted_run, tiny_scenario
from sweep_helpers import simrun

import sim
from sim.experiment.events import COLUMNS, EventWriter, event_files, read_events, run_logged
from sim.model.engine import run_replication

OUTCOME_METRICS = {"served": "served", "abandoned": "abandoned", "balked": "balked",
                   "priced out": "priced_out", "turned away": "turned_away"}


def busy_scenario():  # every outcome happens: slots and a waiting room that bind
    return tiny_scenario("scarcity", {"run.replications": 2, "run.days": 30,
                                      "business.max_waiting": 2,
                                      "market.new_customers_per_day": 25.0})


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[sim.ScenarioResult, Path]:
    out = tmp_path_factory.mktemp("events") / "run"
    return sim.run(busy_scenario(), jobs=1, out=out, events=True), out


def test_rows_by_outcome_equal_the_books_of_each_replication(logged) -> None:
    result, out = logged
    warmup_h = result.scenario.run.warmup_days * 24.0
    rows = list(read_events(out / "events.parquet"))
    assert [name for name, _, _ in COLUMNS] == list(rows[0])
    for run in result.runs:
        mine = [r for r in rows if r["replication"] == run.replication
                and r["arrived_h"] >= warmup_h]
        counts = Counter(r["outcome"] for r in mine)
        for outcome, metric in OUTCOME_METRICS.items():
            assert counts[outcome] == run.metrics[metric], outcome
        in_system = run.checks["in_system"]  # still waiting or in the chair: no row yet
        assert len(mine) + in_system == run.metrics["arrivals"]
        waitlisted = sum(r["waitlisted"] for r in mine)
        assert waitlisted <= run.metrics["waitlisted"] <= waitlisted + in_system
        assert all(counts[o] > 0 for o in OUTCOME_METRICS), counts  # the case tests them all
        served = [r for r in mine if r["outcome"] == "served"]
        assert sum(r["requests_honoured"] for r in served) == (
            run.metrics["requests_honoured_reasonable"]
            + run.metrics["requests_honoured_unreasonable"])
        assert sum(r["failed"] for r in served) == run.metrics["failures"]


def test_the_results_are_bit_identical_with_and_without_the_log(logged, tmp_path: Path) -> None:
    result, out = logged
    plain = sim.run(busy_scenario(), jobs=1, out=tmp_path / "plain")
    assert json.dumps([r.metrics for r in plain.runs]) == json.dumps(
        [r.metrics for r in result.runs])
    for name in ("summary.json", "replications.csv", "daily.csv", "details.json"):
        assert (tmp_path / "plain" / name).read_bytes() == (out / name).read_bytes(), name


def test_the_transactions_are_replication_0s_served_and_abandoned_visits(logged) -> None:
    _, out = logged
    rows = list(csv.DictReader(io.StringIO((out / "transactions.csv").read_text("utf-8"))))
    visits = [r for r in read_events(out / "events.parquet") if r["replication"] == 0]
    served = [v for v in visits if v["outcome"] == "served"]
    assert sum(r["abandoned"] == "0" for r in rows) == len(served)
    assert sum(r["abandoned"] == "1" for r in rows) == sum(
        v["outcome"] == "abandoned" for v in visits)
    # each amount is rounded to the cent: the sums differ by at most half a cent a row
    assert sum(float(r["amount"]) for r in rows) == pytest.approx(
        sum(v["price"] - v["refund"] for v in served), abs=0.005 * len(rows))


def test_csv_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    scenario = tiny_scenario("god", {"run.days": 12})
    as_csv, as_parquet = event_files(tmp_path / "c", False), event_files(tmp_path / "p", True)
    assert run_logged(scenario, 0, as_csv).metrics == pytest.approx(
        run_logged(scenario, 0, as_parquet).metrics, nan_ok=True)
    a = list(read_events(as_csv.part(0)))
    b = list(read_events(as_parquet.part(0)))
    assert len(a) > 100
    assert json.dumps(a) == json.dumps(b)


def test_a_hand_checked_customer(tmp_path: Path) -> None:
    """One customer at 10:00 on day 0 who always returns after exactly 2 days: served at
    once for 45 min x service level 1.25, then back on day 2 at the hour its interval
    ended scaled into the 09:00-17:00 day: 9 + (10.9375 / 24) x 8 = 12.6458 h."""
    scenario = tiny_scenario("god", {
        "run.days": 4, "run.warmup_days": 0, "business.failure_rate": 0.0,
        "strategy.tiers[0].delight_chance": 0.0,
        "segments[*].request_rate": 0.0, "segments[*].abuse_propensity": 0.0,
        "segments[*].referral_propensity": 0.0, "segments[*].loyalty": 60.0,
        "segments[*].service_time": "45 min", "segments[*].visit_interval": "2 d",
        "segments[*].wtp": 100.0})
    events, till = io.BytesIO(), io.BytesIO()
    writer = EventWriter(scenario, 0, events, False, till)
    scripted_run(scenario, [10.0], writer)  # type: ignore[arg-type]
    writer.flush()
    rows = list(csv.DictReader(io.StringIO(events.getvalue().decode())))
    assert [(r["visit"], r["outcome"], r["price"], r["wait_h"], r["churned"]) for r in rows] == [
        ("0", "served", "60.0", "0.0", "false"), ("1", "served", "60.0", "0.0", "false")]
    assert float(rows[0]["arrived_h"]) == 10.0
    assert float(rows[0]["ended_h"]) == pytest.approx(10.0 + 0.75 * 1.25)
    assert float(rows[1]["arrived_h"]) == pytest.approx(48 + 9 + (10.9375 / 24) * 8)
    lines = till.getvalue().decode().splitlines()
    assert lines[1].split(",")[:3] == ["0-0", "2024-01-01T10:00:00", "60.00"]
    assert lines[2].split(",")[1] == "2024-01-03T12:38:45"  # 12.6458 h


def test_a_run_without_the_log_has_no_observer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    original = run_replication.__globals__["Replication"].__init__

    def spy(self, scenario, replication, observer):  # type: ignore[no-untyped-def]
        seen.append(observer)
        original(self, scenario, replication, observer)

    monkeypatch.setattr(run_replication.__globals__["Replication"], "__init__", spy)
    sim.run(tiny_scenario("god", {"run.days": 6, "run.replications": 1}), jobs=1)
    assert seen == [None]


def test_simrun_events_writes_the_log_and_the_till(tmp_path: Path) -> None:
    from helpers import tiny_raw

    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(tiny_raw("god", {"run.days": 10})), encoding="utf-8")
    code, output = simrun(path, "-n", "2", "-j", "1", "-q", "--events", "--out", tmp_path / "r")
    assert code == 0, output
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"events.parquet", "transactions.csv", "summary.json"} <= names
    assert not any(n.startswith(".checkpoint") for n in names)
    replications = {r["replication"] for r in read_events(tmp_path / "r" / "events.parquet")}
    assert replications == {0, 1}


def test_the_api_needs_a_folder_for_the_log() -> None:
    with pytest.raises(ValueError, match="out="):
        sim.run(tiny_scenario(), events=True)


def test_the_log_is_written_a_batch_at_a_time(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays flat: rows leave for the file every BATCH_ROWS (here 20), so the
    Parquet file holds many row groups and the writer never holds more rows."""
    import pyarrow.parquet as pq

    from sim.experiment import events

    monkeypatch.setattr(events, "BATCH_ROWS", 20)
    held = []
    original = events.EventWriter.flush

    def watch(self):  # type: ignore[no-untyped-def]
        held.append(len(self.rows))
        original(self)

    monkeypatch.setattr(events.EventWriter, "flush", watch)
    files = event_files(tmp_path, True)
    run_logged(tiny_scenario("god", {"run.days": 12}), 0, files)
    rows = pq.ParquetFile(files.part(0)).metadata
    assert rows.num_rows > 100
    assert rows.num_row_groups >= rows.num_rows // 20
    assert max(held) <= 20


def test_without_pyarrow_the_log_is_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sim.experiment import events

    monkeypatch.setattr(events, "has_pyarrow", lambda: False)
    sim.run(tiny_scenario("god", {"run.days": 8, "run.replications": 2}), jobs=1,
            out=tmp_path / "r", events=True)
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert "events.csv" in names
    assert "events.parquet" not in names
    assert {r["replication"] for r in read_events(tmp_path / "r" / "events.csv")} == {0, 1}


def test_a_resumed_run_logs_every_replication(tmp_path: Path) -> None:
    """A replication finished before (in the checkpoint) without its part of the log
    runs again, so the log is whole; the results are those of an uninterrupted run."""
    from helpers import tiny_raw

    from sim.experiment.output import Checkpoint
    from sim.scenario import load_scenario

    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(tiny_raw("god", {"run.days": 10, "run.replications": 2})),
                    encoding="utf-8")
    out = tmp_path / "r"
    spec = load_scenario(path)
    Checkpoint(out, spec).save(run_replication(spec, 1))  # finished, no log
    code, output = simrun(path, "-j", "1", "-q", "--events", "--out", out)
    assert code == 0, output
    assert {r["replication"] for r in read_events(out / "events.parquet")} == {0, 1}
    sim.run(spec, jobs=1, out=tmp_path / "plain")
    assert (out / "summary.json").read_bytes() == (tmp_path / "plain" / "summary.json").read_bytes()


def test_the_log_needs_a_known_number_of_replications(tmp_path: Path) -> None:
    from helpers import tiny_raw

    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps(tiny_raw("god", {"run.days": 10})), encoding="utf-8")
    code, output = simrun(path, "--events", "--precision", "5%", "--out", tmp_path / "r")
    assert code == 2
    assert "--events: goes without --precision or --half-width" in output
    assert not (tmp_path / "r").exists()
