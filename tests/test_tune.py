"""simrun tune as a user meets it: the [tune] table and its errors, a search that finds a
known optimum, the fresh seeds of the final re-evaluation, constraints, the files, the
charts and the report, and a study killed with SIGKILL that resumes to the same result.

Every study is tiny: a market of 14 days whose runs take a few hundredths of a second.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from helpers import tiny_raw
from sweep_helpers import kill_mid_way, simrun

from sim.experiment.output import load_any
from sim.experiment.tune import candidates, final_scenarios, run_tune
from sim.experiment.tune_output import tune_dict
from sim.experiment.tune_spec import load_tune
from sim.scenario import load_scenario

WTP = 100.0
"""Every customer's willingness to pay: no customer pays more, every one pays up to it."""


def priced_market(price: float = 70.0) -> dict[str, Any]:
    """One tier in a market where the price changes nothing but the price: every customer
    values a visit at exactly WTP, waiting costs nothing, and neither coming back, word of
    mouth nor reputation depends on satisfaction. So every price up to WTP meets the same
    customers making the same visits (common random numbers) and profit rises with it;
    above WTP nobody buys. Profit is highest at price = WTP."""
    return tiny_raw({"tiers": [{"name": "only", "price": price}]}, {
        "run.days": 14, "run.warmup_days": 2, "run.replications": 2,
        "segments[*].wtp": WTP, "segments[*].value_of_time_per_h": 0.0,
        "segments[*].referral_propensity": 0.0,
        "behaviour.return_satisfaction_weight": 0.0, "behaviour.return_top_weight": 0.0,
        "market.reputation_sensitivity": 0.0, "market.image_sensitivity": 0.0})


def scenario_file(folder: Path, tune: dict[str, Any] | None = None,
                  raw: dict[str, Any] | None = None, name: str = "priced") -> Path:
    body = dict(raw or priced_market())
    if tune is not None:
        body["tune"] = tune
    path = folder / f"{name}.toml"
    path.write_text(tomli_w.dumps(body))
    return path


PRICE = {"path": "strategy.tiers[0].price", "low": 50, "high": 150, "step": 10}
BUDGET = {"trials": 20, "batch": 4, "replications": 2, "final_replications": 3,
          "finalists": 2, "seed": 6}
"""Twenty trials find the best price on each of the search seeds 1 to 9 (16 trials on 8
of them); seed 6 tries it on the third trial."""


# --- the [tune] table: every error names the file, the field and the rule; exit 2 ---

BAD_TABLES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "unknown key": ({**BUDGET, "knbs": [PRICE]}, ["tune.knbs: unknown key", "'knobs'"]),
    "no knobs": (dict(BUDGET), ["tune.knobs: needs at least one knob"]),
    "high not above low": ({"knobs": [{**PRICE, "low": 150, "high": 50}]},
                           ["tune.knobs[0].high: must be > low (150)"]),
    "unknown path": ({"knobs": [{**PRICE, "path": "strategy.tiers[0].prise"}]},
                     ["tune.knobs[0].path", "strategy.tiers[0].prise: unknown key",
                      "did you mean 'price'?"]),
    "index out of range": ({"knobs": [{**PRICE, "path": "strategy.tiers[3].price"}]},
                           ["tune.knobs[0].path", "index 3 out of range"]),
    "value refused": ({"knobs": [{**PRICE, "low": -20, "high": 40, "step": 0}]},
                      ["tune.knobs[0].path", "strategy.tiers[0].price = -20.0",
                       "must be >= 0"]),
    "step does not divide": ({"knobs": [{**PRICE, "step": 30}]},
                             ["tune.knobs[0].step: must divide high - low (100)"]),
    "fraction on a whole-number field": (
        {"knobs": [{"path": "business.servers", "low": 1.5, "high": 4}]},
        ["tune.knobs[0].low: must be a whole number"]),
    "run is no knob": ({"knobs": [{"path": "run.days", "low": 10, "high": 30}]},
                       ["tune.knobs[0].path: run settings are not knobs"]),
    "one choice": ({"knobs": [{"path": "strategy.recovery", "choices": ["fix"]}]},
                   ["tune.knobs[0].choices: needs at least two different values"]),
    "unknown metric": ({"knobs": [PRICE], "metric": "proft"},
                       ["tune.metric: unknown metric", "did you mean 'profit'?"]),
    "impossible constraint": ({"knobs": [PRICE], "constraints": ["customer_retention >= 1.5"]},
                              ["tune.constraints[0]: can never hold: customer_retention "
                               + "is a share (0 to 1)"]),
    "malformed constraint": ({"knobs": [PRICE], "constraints": ["retention high"]},
                             ["tune.constraints[0]: must look like METRIC >= NUMBER"]),
    "strict constraint": ({"knobs": [PRICE], "constraints": ["profit > 0"]},
                          ["'>' is not allowed: use >= or <="]),
    "cmaes with choices": ({"sampler": "cmaes", "knobs": [
        PRICE, {"path": "strategy.recovery", "choices": ["fix", "none"]}]},
        ["tune.sampler: 'cmaes' cannot search choices"]),
    "search seed is the run seed": ({"knobs": [PRICE], "seed": 11},
                                    ["tune.seed: must differ from run.seed (11)"]),
    "fewer final replications": ({"knobs": [PRICE], "replications": 5,
                                  "final_replications": 3},
                                 ["tune.final_replications: must be >= replications (5)"]),
}


@pytest.mark.parametrize("case", BAD_TABLES)
def test_a_bad_tune_table_exits_2_naming_file_field_and_rule(tmp_path: Path, case: str) -> None:
    table, expected = BAD_TABLES[case]
    path = scenario_file(tmp_path, table)
    code, out = simrun("tune", path, "--out", tmp_path / "out", "-q")
    assert code == 2, out
    assert str(path) in out
    for text in expected:
        assert text in out
    assert not (tmp_path / "out").exists(), "nothing runs before the table is valid"


@pytest.mark.parametrize(("option", "expected"), [
    ("strategy.tiers[0].price", "--knob: must look like PATH=LOW..HIGH"),
    ("strategy.tiers[0].price=80", "needs a range LOW..HIGH or at least two choices"),
])
def test_a_bad_knob_option_exits_2(tmp_path: Path, option: str, expected: str) -> None:
    code, out = simrun("tune", scenario_file(tmp_path), "--knob", option, "-q")
    assert code == 2
    assert expected in out


def test_knob_options_take_ranges_steps_choices_and_whole_numbers(tmp_path: Path) -> None:
    spec = load_tune(scenario_file(tmp_path), knobs=[
        "strategy.tiers[0].price=50..150:10", "business.servers=1..4",
        "strategy.recovery=fix,none"], constraints=["customers_served>=10"])
    price, servers, recovery = spec.knobs
    assert (price.low, price.high, price.step, price.integer) == (50, 150, 10, False)
    assert servers.integer, "servers is a whole-number field"
    assert recovery.choices == ("fix", "none")
    assert [str(c) for c in spec.constraints] == ["customers_served >= 10"]
    assert spec.start_params == {"strategy.tiers[0].price": 70.0, "business.servers": 2,
                                 "strategy.recovery": "fix"}


def test_a_scenario_with_a_tune_table_still_runs(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, {**BUDGET, "knobs": [PRICE]})
    code, _ = simrun(path, "-n", "2", "-j", "1", "-q", "--out", tmp_path / "run")
    assert code == 0


# --- a search with a known optimum ---


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The priced market tuned from price 70 over 50..150 in steps of 10 (optimum: WTP)."""
    folder = tmp_path_factory.mktemp("tuned")
    path = scenario_file(folder, {**BUDGET, "knobs": [PRICE]})
    out = folder / "out"
    code, text = simrun("tune", path, "--out", out, "-j", "1", "--report")
    assert code == 0, text
    return path, out, text


def test_the_search_finds_the_known_best_price(tuned: tuple[Path, Path, str]) -> None:
    _, out, text = tuned
    summary = json.loads((out / "tune.json").read_text())
    assert summary["winner"]["params"] == {"strategy.tiers[0].price": WTP}
    assert "Winner strategy.tiers[0].price = 100" in text
    d = summary["winner"]["difference"]
    assert d["ci95"][0] > 0, "at 100 every customer still buys: clearly above the start (70)"
    prices = [t["params"]["strategy.tiers[0].price"] for t in summary["trials_run"]]
    assert summary["trials_run"][0]["params"]["strategy.tiers[0].price"] == 70.0, \
        "the start is the first trial"
    best = max(summary["trials_run"], key=lambda t: t["value"])
    assert best["params"]["strategy.tiers[0].price"] == WTP
    assert len(prices) == BUDGET["trials"]


def test_the_files_of_a_tune(tuned: tuple[Path, Path, str]) -> None:
    _, out, _ = tuned
    rows = list(csv.DictReader(io.StringIO((out / "tune.csv").read_text())))
    assert len(rows) == BUDGET["trials"]
    assert list(rows[0]) == ["trial", "slot", "state", "strategy.tiers[0].price", "profit",
                             "profit_sd", "feasible", "replications", "same_as", "error"]
    assert {r["state"] for r in rows} == {"complete"}
    firsts = {}
    for r in rows:  # a trial with an earlier trial's knobs reuses its runs and numbers
        price = r["strategy.tiers[0].price"]
        first = firsts.setdefault(price, r)
        assert r["same_as"] == ("" if first is r else first["trial"])
        assert r["profit"] == first["profit"]
    assert {r["replications"] for r in rows} == {"2"}
    charts = sorted(p.name for p in (out / "charts").iterdir())
    assert charts == sorted(f"tune_{n}.{x}" for n in ("history", "importance", "knobs")
                            for x in ("png", "svg"))
    page = (out / "report.html").read_text()
    assert '<section id="tuning">' in page
    assert "never used in the search" in page
    assert not (out / "final").exists(), "the checkpoints of the final runs are cleared"


def test_tuned_toml_extends_the_original_and_runs(tuned: tuple[Path, Path, str]) -> None:
    path, out, _ = tuned
    text = (out / "tuned.toml").read_text()
    assert 'extends = "../priced.toml"' in text
    tuned_scenario = load_scenario(out / "tuned.toml")
    assert tuned_scenario.strategy.tiers[0].price == WTP
    original = load_scenario(path)
    assert tuned_scenario.market == original.market
    assert tuned_scenario.run.seed == original.run.seed, "later runs keep the scenario's seed"
    code, _ = simrun(out / "tuned.toml", "-n", "2", "-j", "1", "-q", "--out", out / "again")
    assert code == 0
    read_back = load_any(out)
    assert read_back.names == ("start", "tuned")
    assert read_back.tuning is not None, "simrun report finds the tuning in tune.json"


def test_the_winner_is_judged_on_seeds_the_search_never_used(tmp_path: Path) -> None:
    """The search runs the search seed, the finalists and the start the final seed, and
    later runs the scenario's own seed: three different sets of customers."""
    spec = load_tune(scenario_file(tmp_path, {**BUDGET, "knobs": [PRICE], "trials": 4,
                                              "finalists": 1}))
    assert len({spec.search_seed, spec.final_seed, spec.start.run.seed}) == 3
    result = run_tune(spec, tmp_path / "out", jobs=1)
    assert result.start is not None
    assert result.start.scenario.run.seed == spec.final_seed
    first = result.trials[0]
    assert first.params == spec.start_params, "trial 0 is the start, on the search seed"
    search_profit = first.value
    final_start = [r.metrics["profit"] for r in result.start.runs[:spec.settings.replications]]
    assert sum(final_start) / len(final_start) != pytest.approx(search_profit), \
        "the start's fresh replications are other customers than the search's"
    for scenario in final_scenarios(spec, candidates(result.trials, spec)).values():
        assert scenario.run.seed == spec.final_seed != spec.search_seed


def test_a_constraint_no_trial_meets_says_so_and_exits_1(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, {**BUDGET, "trials": 4, "knobs": [PRICE],
                                    "constraints": ["customers_served <= 1"]})
    code, out = simrun("tune", path, "--out", tmp_path / "out", "-j", "1", "--no-charts")
    assert code == 1
    assert "No trial met customers_served <= 1: nothing tuned" in out
    assert "Closest: trial" in out
    assert not (tmp_path / "out" / "tuned.toml").exists()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "tune.csv").read_text())))
    assert {r["feasible"] for r in rows} == {"0"}
    assert all(float(r["customers_served_mean"]) > 1 for r in rows)


def test_the_charts_draw_from_the_summary_alone(tuned: tuple[Path, Path, str]) -> None:
    from sim.charts.tune import TUNE_CHARTS

    _, out, _ = tuned
    summary = json.loads((out / "tune.json").read_text())
    summary["importance"] = None
    for make in TUNE_CHARTS.values():
        assert make(summary).axes


# --- a study killed with SIGKILL resumes to the same result ---


def _complete_trials(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"
                                  ).fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_study_killed_with_sigkill_resumes_to_the_same_result(tmp_path: Path) -> None:
    raw = priced_market()
    raw["run"]["days"] = 40
    path = scenario_file(tmp_path, {**BUDGET, "trials": 12, "knobs": [PRICE]}, raw=raw)
    killed = tmp_path / "killed"
    kill_mid_way(["tune", path, "--out", killed, "-j", "1", "-q", "--no-charts"],
                 lambda: _complete_trials(killed / "tune.sqlite") >= 5)
    stored = _complete_trials(killed / "tune.sqlite")
    assert 5 <= stored < 12, "the kill did not land mid-search"

    code, out = simrun("tune", path, "--out", killed, "-j", "1", "-q")
    assert code == 2
    assert "--resume" in out

    spec = load_tune(path)
    result = run_tune(spec, killed, jobs=1, resume=True)
    assert result.ran <= 12 - stored + 4, "finished trials are not run again"
    whole = run_tune(spec, tmp_path / "whole", jobs=1)
    assert [(t.number, t.params, t.value) for t in records_of(result)] == \
        [(t.number, t.params, t.value) for t in records_of(whole)]
    assert tune_dict(result)["winner"] == tune_dict(whole)["winner"]


def records_of(result: Any) -> list[Any]:
    return [t for t in result.trials if t.state == "complete"]


@pytest.mark.slow
def test_the_study_is_the_same_whatever_the_jobs(tmp_path: Path) -> None:
    spec = load_tune(scenario_file(tmp_path, {**BUDGET, "trials": 8, "knobs": [PRICE],
                                              "finalists": 1}))
    one = run_tune(spec, tmp_path / "one", jobs=1)
    two = run_tune(spec, tmp_path / "two", jobs=2)
    assert [(t.params, t.value) for t in one.trials] == [(t.params, t.value) for t in two.trials]



# --- compare --tune: each strategy at its best, then compared ---


def compare_file(folder: Path, own: dict[str, Any] | None = None,
                 shared: dict[str, Any] | None = None) -> Path:
    """Two one-tier strategies of the priced market: 'cheap' (price 60) tuned on its
    price, 'dear' (price 130: nobody buys) compared as written (no knobs of its own)."""
    raw = priced_market()
    raw["compare"] = {"tune": True, "strategies": {
        "cheap": {"tiers": [{"name": "only", "price": 60.0}]},
        "dear": {"tiers": [{"name": "only", "price": 130.0}], "tune": own or {"knobs": []}}}}
    raw["tune"] = shared or {**BUDGET, "trials": 8, "finalists": 1, "final_replications": 2,
                             "knobs": [PRICE]}
    path = folder / "cmp.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def test_compare_tune_tunes_each_strategy_then_compares_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, text = simrun("compare", compare_file(tmp_path), "--out", out, "-n", "2", "-j", "1")
    assert code == 0, text
    assert "cheap: Winner strategy.tiers[0].price" in text
    summary = json.loads((out / "tune.json").read_text())
    assert summary["strategies"]["dear"] is None
    winner = summary["strategies"]["cheap"]["winner"]["params"]["strategy.tiers[0].price"]
    assert winner != 60.0
    assert (out / "tune" / "cheap" / "tune.sqlite").is_file()
    assert not (out / "tune" / "cheap" / "tuned.toml").exists(), "no file can extend cmp.toml"
    cmp = json.loads((out / "comparison.json").read_text())
    assert cmp["seed"] == 11, "compared on the scenario's own seed, which the tune never used"
    # the tuned comparison file reproduces the comparison
    code, again = simrun("compare", out / "tuned.toml", "--out", tmp_path / "again", "-n", "2",
                         "-j", "1")
    assert code == 0, again
    other = json.loads((tmp_path / "again" / "comparison.json").read_text())
    assert other["strategies"] == cmp["strategies"]


@pytest.mark.parametrize(("own", "shared", "expected"), [
    ({"knobs": [PRICE], "trials": 3}, None,
     "compare.strategies.dear.tune.trials: a strategy's tune table holds its knobs only"),
    (None, {"knobs": [{"path": "market.alternatives", "low": 0.1, "high": 0.9}]},
     "tune.knobs[0].path: compare --tune tunes strategies: a knob must be a strategy.* path"),
])
def test_compare_tune_refuses_what_it_cannot_tune_fairly(tmp_path: Path, own: Any, shared: Any,
                                                         expected: str) -> None:
    code, out = simrun("compare", compare_file(tmp_path, own, shared), "-q")
    assert code == 2
    assert expected in out


def test_the_tuned_workshop_declares_knobs_the_scenarios_accept() -> None:
    from sim.experiment.tune_compare import load_comparison_tunes

    root = Path(__file__).resolve().parent.parent
    plan = load_comparison_tunes([root / "scenarios" / "workshop-tuned.toml"], [])
    assert [n for n, spec in plan.specs.items() if spec is not None] == ["tiered", "scarcity"]
    tiered = plan.specs["tiered"]
    assert tiered is not None
    assert tiered.start_params["strategy.tiers[2].price"] == 95.0


def test_tune_has_help_with_examples() -> None:
    code, out = simrun("tune", "--help")
    assert code == 0
    assert "Examples:" in out
    assert "--knob PATH=LOW..HIGH" in out


@pytest.mark.slow
def test_a_study_on_dask_equals_the_local_one(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    spec = load_tune(scenario_file(tmp_path, {**BUDGET, "trials": 8, "knobs": [PRICE],
                                              "finalists": 1}))
    local = run_tune(spec, tmp_path / "local", jobs=1)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=":0") as cluster:
        remote = run_tune(spec, tmp_path / "dask", dask=cluster.scheduler_address)
    assert [(t.params, t.value) for t in remote.trials] == \
        [(t.params, t.value) for t in local.trials]
    assert tune_dict(remote)["winner"] == tune_dict(local)["winner"]


@pytest.mark.slow
def test_cma_es_tunes_two_knobs_and_repeats_itself(tmp_path: Path) -> None:
    knobs = [PRICE, {"path": "strategy.tiers[0].delight_chance", "low": 0.0, "high": 0.5}]
    spec = load_tune(scenario_file(tmp_path, {**BUDGET, "sampler": "cmaes", "trials": 12,
                                              "knobs": knobs, "finalists": 1}))
    first = run_tune(spec, tmp_path / "first", jobs=1)
    again = run_tune(spec, tmp_path / "again", jobs=2)
    assert [(t.params, t.value) for t in first.trials] == \
        [(t.params, t.value) for t in again.trials]
    assert first.winner is not None
    assert first.winner.params["strategy.tiers[0].price"] == WTP


def test_a_winner_at_the_end_of_its_range_is_flagged(tmp_path: Path) -> None:
    from sim.experiment.tune_output import at_edge
    from sim.views_tune import edge_cautions

    spec = load_tune(scenario_file(tmp_path, {**BUDGET, "knobs": [
        {"path": "strategy.tiers[0].price", "low": 50, "high": 100}]}))
    assert at_edge(spec, {"strategy.tiers[0].price": 75.0}) == []
    edges = at_edge(spec, {"strategy.tiers[0].price": 99.0})
    assert edges == [{"path": "strategy.tiers[0].price", "end": "high", "bound": 100.0}]
    assert "widen the range" in edge_cautions({"at_edge": edges})[0]


def test_docs_tune_describes_every_field_of_the_tune_table() -> None:
    from dataclasses import fields

    from sim.experiment.tune_spec import Knob, TuneSettings

    text = (Path(__file__).resolve().parent.parent / "docs" / "tune.md").read_text()
    for cls in (TuneSettings, Knob):
        for f in fields(cls):
            assert f"| `{f.name}`" in text or f"`{f.name}` |" in text, f.name


def test_a_winner_that_is_the_start_is_called_the_start_not_a_change() -> None:
    from sim.views_tune import verdict

    start = {"strategy.tiers[0].price": 70.0}
    tuning = {"metric": "profit", "retention_period_days": 90, "currency": "EUR",
              "final_replications": 20, "final_seed": 2026, "start": start,
              "winner": {"params": {"strategy.tiers[0].price": 70},
                         "difference": {"mean": 0.0, "sd": 0.0, "n": 20, "ci95": [0.0, 0.0]}}}
    assert verdict(tuning).startswith("The start (strategy.tiers[0].price = 70) is the best")
    tuning["winner"]["params"] = {"strategy.tiers[0].price": 90}
    assert verdict(tuning).startswith("Winner strategy.tiers[0].price = 90: Profit")
