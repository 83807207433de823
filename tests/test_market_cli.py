"""simrun on a market file, the paths a single run has: an interrupted market run
continues where it stopped, --precision and --half-width (every firm's interval),
run.warmup_days = "auto" (a pilot of the whole market) and simrun check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import tomli_w
from market_helpers import fingerprint, market_runs, tiny_market, tiny_market_raw
from sweep_helpers import SCENARIOS, kill_mid_way, simrun

from sim.experiment.market import MarketResult, run_market
from sim.experiment.market_output import MarketCheckpoint, market_toml
from sim.experiment.precision import Precision
from sim.experiment.sequential import market_to_precision
from sim.experiment.warmup import PILOT_FIRST_REPLICATION, analyse, resolve_market_auto
from sim.metrics import MarketRunResult

RIVALS = [("Alpha", "god"), ("Beta", "tiered", {"servers": 1})]


def write_market(tmp_path: Path, settings: dict | None = None, name: str = "rivals") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps(tiny_market_raw(RIVALS, settings)))
    return path


def same_run(a: MarketRunResult, b: MarketRunResult) -> bool:
    return (a.replication == b.replication and a.market == b.market
            and a.per_firm == b.per_firm and a.switching == b.switching
            and [fingerprint(f) for f in a.firms] == [fingerprint(f) for f in b.firms])


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


# --- an interrupted market run continues ---------------------------------------------------


def test_a_market_replication_reads_back_from_its_checkpoint_bit_for_bit(tmp_path: Path) -> None:
    market = tiny_market(RIVALS)
    runs = market_runs(market, [0, 2])
    checkpoint = MarketCheckpoint(tmp_path, market)
    for run in runs:
        checkpoint.save(run)
    loaded = MarketCheckpoint(tmp_path, market).load()
    assert sorted(loaded) == [0, 2]
    assert all(same_run(loaded[r.replication], r) for r in runs)


def test_a_changed_market_never_reads_another_markets_checkpoint(tmp_path: Path) -> None:
    market = tiny_market(RIVALS)
    MarketCheckpoint(tmp_path, market).save(market_runs(market, [0])[0])
    other = tiny_market(RIVALS, {"market.choice_scale": 3.0})
    assert MarketCheckpoint(tmp_path, other).load() == {}
    assert len(MarketCheckpoint(tmp_path, market).load()) == 1


@pytest.mark.parametrize("damage", ["firms", "switching", "per_firm", "replication"])
def test_a_damaged_market_checkpoint_is_discarded(tmp_path: Path, damage: str) -> None:
    market = tiny_market(RIVALS)
    checkpoint = MarketCheckpoint(tmp_path, market)
    checkpoint.save(market_runs(market, [1])[0])
    path = next(checkpoint.folder.glob("rep-*.json"))
    raw = json.loads(path.read_text())
    if damage == "firms":
        raw["firms"] = raw["firms"][:1]
    elif damage == "switching":
        raw["switching"] = raw["switching"][:-1]
    elif damage == "per_firm":
        raw["per_firm"]["spill_to"] = ["x", 0]
    else:
        raw["firms"][1]["replication"] = 2
    path.write_text(json.dumps(raw))
    again = MarketCheckpoint(tmp_path, market)
    assert again.load() == {}
    assert [p for p, _ in again.discarded] == [path]
    assert not path.exists()


def test_a_market_run_killed_part_way_continues_to_the_uninterrupted_files(
        tmp_path: Path) -> None:
    args = [SCENARIOS / "market.toml", "-n", "10", "-j", "1", "-q", "--set", "run.days=90",
            "--set", "run.warmup_days=10"]
    killed = tmp_path / "killed"
    kill_mid_way([*args, "--out", killed],
                 lambda: len(list(killed.glob(".checkpoint-*/rep-*.json"))) >= 2, timeout_s=120)
    kept = len(list(killed.glob(".checkpoint-*/rep-*.json")))
    assert 2 <= kept < 10, "the kill did not land part way"
    assert not (killed / "market.json").exists()
    code, out = simrun(*[a for a in args if a != "-q"], "--out", killed)
    assert code == 0, out
    assert f"Resuming: {kept} of 10 replications already stored." in out
    assert not list(killed.glob(".checkpoint-*"))
    code, out = simrun(*args, "--out", tmp_path / "whole")
    assert code == 0, out
    assert files_of(killed) == files_of(tmp_path / "whole")


def test_the_run_keeps_what_it_resumed_and_runs_only_the_rest(tmp_path: Path) -> None:
    market = tiny_market(RIVALS)
    done = {1: market_runs(market, [1])[0]}
    seen: list[int] = []
    result = run_market(market, jobs=1, done=done, progress=lambda r: seen.append(r.replication))
    assert result.runs[1] is done[1]
    assert sorted(seen) == [0, 1, 2]
    assert all(same_run(a, b) for a, b in zip(result.runs, market_runs(market, [0, 1, 2]),
                                              strict=True))


# --- --precision and --half-width: every firm's interval --------------------------------------


def test_a_market_runs_until_every_firms_interval_is_within_the_target() -> None:
    market = tiny_market(RIVALS)
    target = Precision("served", relative=0.04, min_replications=4, max_replications=40)
    result = market_to_precision(market, target, jobs=2)
    n = len(result.runs)
    assert result.precision is not None
    assert result.precision["reached"]
    assert result.scenario.run.replications == n
    widths = {name: result.firm(name).estimate("served") for name in result.names}
    for e in widths.values():
        assert e.half_width <= 0.04 * abs(e.mean)
    widest = max(widths, key=lambda name: widths[name].half_width / abs(widths[name].mean))
    assert result.precision["widest"] == widest
    assert result.precision["half_width"] == widths[widest].half_width
    assert result.precision["of"] == "firm"
    assert "of each firm's mean" in result.precision["statement"]
    looks = [target.min_replications]  # 4, 5, 6, ...: 10% more (at least one) each look
    while looks[-1] < n:
        looks.append(looks[-1] + math.ceil(0.1 * looks[-1]))
    assert looks[-1] == n
    assert len(looks) > 1
    earlier = MarketResult(market, result.runs[:looks[-2]])  # the look before: not precise
    assert any(earlier.firm(name).estimate("served").half_width
               > 0.04 * abs(earlier.firm(name).estimate("served").mean)
               for name in result.names)


def test_a_half_width_in_the_metrics_unit_stops_at_the_first_look_when_wide_enough() -> None:
    market = tiny_market(RIVALS)
    result = market_to_precision(market, Precision("profit", half_width=1e9, min_replications=3,
                                                   max_replications=9), jobs=1)
    assert len(result.runs) == 3
    assert all(same_run(a, b) for a, b in zip(result.runs, market_runs(market, [0, 1, 2]),
                                              strict=True))


def test_simrun_precision_on_a_market_writes_what_it_reached(tmp_path: Path) -> None:
    path = write_market(tmp_path)
    out = tmp_path / "out"
    code, text = simrun(path, "-j", "2", "--precision", "5%", "--metric", "served",
                        "--min-replications", "4", "--max-replications", "30", "--out", out)
    assert code == 0, text
    market = json.loads((out / "market.json").read_text())
    reached = market["precision"]
    assert (reached["metric"], reached["of"]) == ("served", "firm")
    assert market["replications"] == reached["replications"]
    assert f"replications = {reached['replications']}" in (out / "market.toml").read_text()
    assert "Precise enough after" in " ".join(text.split())


@pytest.mark.parametrize(("args", "message"), [
    (["-n", "4", "--precision", "5%"], "-n: sets a fixed number of replications"),
    (["--precision", "5%", "--events"], "--events: goes without --precision"),
    (["--metric", "served"], "--metric: is the metric of --precision"),
    (["--precision", "5%", "--metric", "profitt"], "unknown metric"),
])
def test_precision_options_that_do_not_go_together_exit_2_on_a_market(
        tmp_path: Path, args: list[str], message: str) -> None:
    code, text = simrun(write_market(tmp_path), *args, "--out", tmp_path / "out")
    assert code == 2
    assert message in " ".join(text.split())


# --- run.warmup_days = "auto": a pilot of the whole market -----------------------------------


def test_auto_warmup_on_a_market_is_the_largest_over_the_firms() -> None:
    market = tiny_market(RIVALS, {"run.warmup_days": "auto", "run.days": 90})
    assert market.warmup_auto
    resolved, found = resolve_market_auto(market, jobs=2)
    assert [w.scenario.label for w in found] == ["Alpha", "Beta"]
    pilot = tiny_market(RIVALS, {"run.warmup_days": 0, "run.days": 90})
    runs = market_runs(pilot, range(PILOT_FIRST_REPLICATION, PILOT_FIRST_REPLICATION + 10))
    by_firm = [analyse(pilot.firms[i], [r.firms[i] for r in runs]).days for i in range(2)]
    assert [w.days for w in found] == by_firm
    assert by_firm[0] < by_firm[1]  # the second firm settles later here: it decides
    assert resolved.run.warmup_days == max(by_firm)
    assert all(f.run.warmup_days == max(by_firm) and not f.warmup_auto for f in resolved.firms)
    assert not resolved.warmup_auto


def test_simrun_finds_a_markets_warmup_and_records_it(tmp_path: Path) -> None:
    path = write_market(tmp_path, {"run.warmup_days": "auto", "run.days": 60})
    out = tmp_path / "out"
    code, text = simrun(path, "-j", "2", "-n", "2", "--out", out)
    assert code == 0, text
    days = json.loads((out / "market.json").read_text())["warmup_days"]
    text = " ".join(text.split())
    assert f'Warm-up ("auto"): {days} days, by MSER-5 on each firm\'s daily profit' in text
    assert "(Alpha " in text
    assert ", Beta " in text
    assert f"warmup_days = {days}\n" in (out / "market.toml").read_text()
    fixed = tiny_market(RIVALS, {"run.warmup_days": days, "run.days": 60,
                                 "run.replications": 2})
    assert (out / "market.toml").read_text() == market_toml(fixed)


def test_a_tournament_refuses_an_auto_warmup_with_a_clear_message(tmp_path: Path) -> None:
    path = write_market(tmp_path, {"run.warmup_days": "auto"})
    code, text = simrun("tournament", path, "--strategies", "god,tiered", "--out",
                        tmp_path / "t")
    assert code == 2
    assert "run.warmup_days: \"auto\" is for 'simrun FILE'" in " ".join(text.split())


# --- simrun check on a market ---------------------------------------------------------------


def test_check_prints_the_resolved_market_and_what_it_checked(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sim.cli import main

    path = write_market(tmp_path)
    result = CliRunner().invoke(main, ["check", str(path), "--set", "firms[1].business.servers=2"])
    assert result.exit_code == 0, result.output
    market = tiny_market(RIVALS, {"firms[1].business.servers": 2})
    assert result.stdout == market_toml(market)
    err = " ".join(result.stderr.split())
    assert "a market of 2 firms" in err
    assert "Alpha: strategy god, 2 server(s)" in err
    assert "Beta: strategy tiered, 2 server(s)" in err
    # the bound by hand: 40 days x 10 a day x reputation factor x visits per customer,
    # x 2 firms tried at most (search_limit 2 of 2 firms), x 3 replications
    from sim import limits

    occasions, _ = limits.expected_visits(market.firms[0])
    assert f"up to {limits.big(2 * occasions)} visits a replication" in err
    assert f"{limits.big(6 * occasions)} in all over 3 replications" in err
    assert f"# {path}: valid" in result.stderr


def test_check_refuses_a_market_whose_whole_work_is_beyond_the_limits() -> None:
    """Each firm alone is within the limit; the market, trying two firms an occasion, is
    not."""
    args = ["check", SCENARIOS / "market.toml", "--set", "market.new_customers_per_day=4800"]
    code, text = simrun(*args)
    assert code == 2
    text = " ".join(text.split())
    assert "firms: expected work too large: up to 1.4e+08 visits a replication" in text
    assert "x up to 2 firms tried an occasion (market.search_limit 2, 3 firms)" in text
    code, text = simrun(*args, "--set", "market.search_limit=1")
    assert code == 0, text
    code, text = simrun(*args, "--force-limits")
    assert code == 0, text
    assert "the ceilings, as --force-limits lifts the limits" in " ".join(text.split())


def test_check_names_a_bad_firms_field_in_the_market_file(tmp_path: Path) -> None:
    code, text = simrun("check", write_market(tmp_path), "--set", "firms[1].business.servers=0")
    assert code == 2
    assert "firms[1].business.servers: must be >= 1, got 0" in text
