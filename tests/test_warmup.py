"""Warm-up found, not guessed: MSER-5 on series whose warm-up is known.

The reference is a queue started empty, whose transient is known exactly: the model
reduced to a plain M/M/c queue (sim/checks/validate.py's plain_queue) with services of
days, so that the queue fills over weeks and a 5-day batch sees it. The expected visits
served on day d are mu x 24 h x E[min(N, c)] over that day, from the exact transient of
the birth-death chain started empty (sim/checks/theory.py: window_means_from_empty).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import tiny_file

from sim.checks.theory import window_means_from_empty
from sim.checks.validate import plain_queue
from sim.cli import main
from sim.experiment.warmup import analyse, mser, pilot, welch_average
from sim.scenario import ScenarioError, load_scenario, scenario_toml

ARRIVALS_PER_DAY, SERVICE_DAYS, SERVERS, DAYS = 10.0, 5.0, 55, 160
"""Offered load 50 on 55 servers (91%): the queue fills over about three weeks."""


def exact_bias(day: int) -> float:
    """The exact expected visits served on ``day`` of the queue started empty, relative
    to the steady state: mu x 24 h x E[min(N, c)] over the day, over lambda x 24 h."""
    lam, mu = ARRIVALS_PER_DAY / 24, 1 / (SERVICE_DAYS * 24)
    w = window_means_from_empty(lam, mu, SERVERS, 0.0, 24.0 * day, 24.0 * (day + 1))
    return abs(mu * (w.in_system - w.waiting) / lam - 1)


def first_day_below(share: float) -> int:
    """The first day whose exact bias is below ``share``: the chain started empty rises
    monotonically to its steady state, so the bias falls and bisection finds it."""
    low, high = 0, DAYS
    while low < high:
        middle = (low + high) // 2
        if exact_bias(middle) < share:
            high = middle
        else:
            low = middle + 1
    return low


def test_mser_keeps_a_settled_series_whole() -> None:
    """Independent noise, no transient: the truncation is near 0 on average (a tenth of
    the search range at most over 200 series; a single series may cut deep by chance,
    which is why the pilot averages over replications)."""
    rng = np.random.default_rng(1)
    cuts = [mser(rng.normal(size=300)) for _ in range(200)]
    assert np.mean(cuts) <= 15
    assert all(c % 5 == 0 for c in cuts)


def test_mser_cuts_a_start_that_differs() -> None:
    rng = np.random.default_rng(2)
    series = np.r_[np.full(50, 10.0), np.zeros(250)] + rng.normal(0, 0.1, 300)
    assert mser(series) == 50


def test_mser_searches_the_first_half_only() -> None:
    """A series that never settles (a trend) is cut at the end of the search: half of it."""
    assert mser(np.arange(300.0)) == 150


def test_mser5_on_an_mmc_queue_started_empty_cuts_where_the_transient_has_decayed() -> None:
    """The recommended warm-up lies between two days read off the exact transient.

    Early bound: the day the exact bias falls below the noise of one replication's
    5-day batch mean (measured on the pilot's second half; about 14% of the level here).
    MSER-5 weighs the bias of each batch against that noise, so it cuts the batches
    whose bias clearly exceeds it, at least. Late bound: the day the exact bias falls
    below 1% of the level, plus one batch: beyond it MSER-5 would be throwing settled
    days away. MSER-5 on one replication is noisy (its cut ranges from 5 to 45 days
    here); the mean of 20 replications' cuts has a standard error of about 3 days,
    against a band of about 25.
    """
    scenario = plain_queue(arrivals_per_h=ARRIVALS_PER_DAY / 24, service_h=SERVICE_DAYS * 24,
                           servers=SERVERS, days=DAYS, warmup_days=0, replications=20,
                           seed=5)
    runs = pilot([scenario], 20, jobs=2)[0]
    found = analyse(scenario, runs, ["served"])
    served = np.array([run.daily["served"] for run in runs])[:, DAYS // 2:]
    batches = served.reshape(len(runs), -1, 5).mean(axis=2)
    noise = float(batches.std(ddof=1)) / ARRIVALS_PER_DAY
    early, late = first_day_below(noise), first_day_below(0.01) + 5
    assert early <= found.days <= late, (early, found.days, late, noise)
    assert found.settled


def test_welch_average_narrows_its_window_at_the_start() -> None:
    series = np.arange(10.0)
    average = welch_average(series, 2)
    assert average[0] == 0.0
    assert average[1] == pytest.approx(1.0)  # days 0..2
    assert average[4] == pytest.approx(4.0)  # days 2..6
    assert np.isnan(average[-1])


def write_tiny(path: Path, settings: dict[str, object]) -> Path:
    return tiny_file(path, "god", settings)


def test_auto_warmup_is_accepted_and_other_words_are_not(tmp_path: Path) -> None:
    spec = load_scenario(write_tiny(tmp_path / "auto.toml", {"run.warmup_days": "auto"}))
    assert spec.warmup_auto
    assert spec.run.warmup_days == 0
    assert 'warmup_days = "auto"' in scenario_toml(spec)
    with pytest.raises(ScenarioError) as error:
        load_scenario(write_tiny(tmp_path / "typo.toml", {"run.warmup_days": "autom"}))
    assert str(error.value.issues[0]) == ('run.warmup_days: must be a whole number of days or '
                                          '"auto", got "autom" (did you mean \'auto\'?)')


def test_an_auto_warmup_run_records_the_days_it_found(tmp_path: Path) -> None:
    """The pilot finds the warm-up, the run uses it, and the resolved scenario records
    the number: running that file again gives the same results."""
    source = write_tiny(tmp_path / "auto.toml", {"run.warmup_days": "auto",
                                                  "run.replications": 2})
    out = tmp_path / "out"
    first = CliRunner().invoke(main, [str(source), "-j", "1", "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    assert 'Warm-up ("auto")' in first.output
    resolved = load_scenario(out / "scenario.toml")
    assert not resolved.warmup_auto
    assert 0 < resolved.run.warmup_days < resolved.run.days
    summary = json.loads((out / "summary.json").read_text())
    assert summary["warmup_days"] == resolved.run.warmup_days
    again = CliRunner().invoke(main, [str(out / "scenario.toml"), "-j", "1", "--out",
                                      str(tmp_path / "again"), "-q"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again" / "summary.json").read_text() == (out / "summary.json").read_text()


def test_simrun_warmup_draws_the_series_and_names_the_days(tmp_path: Path) -> None:
    source = write_tiny(tmp_path / "tiny.toml", {"run.days": 60})
    result = CliRunner().invoke(main, ["warmup", str(source), "-n", "3", "-j", "1", "--out",
                                       str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert "Recommended warm-up:" in result.output
    written = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert written == ["tiny.csv", "tiny.json", "tiny.png", "tiny.svg"]
    found = json.loads((tmp_path / "w" / "tiny.json").read_text())
    assert found["warmup_days"] == max(s["recommended"] for s in found["series"].values())
    assert len(found["series"]["profit"]["per_replication"]) == 3


def test_simrun_warmup_refuses_an_unknown_series(tmp_path: Path) -> None:
    source = write_tiny(tmp_path / "tiny.toml", {})
    result = CliRunner().invoke(main, ["warmup", str(source), "--metric", "proft"])
    assert result.exit_code == 2
    assert "did you mean 'profit'?" in result.output


def test_strategies_compared_together_share_auto_or_not(tmp_path: Path) -> None:
    """One strategy finding its warm-up and another measuring from day 0 would measure
    different windows: that is a different market."""
    from sim.experiment.compare import check_comparison

    auto = load_scenario(tiny_file(tmp_path / "a.toml", "god", {"run.warmup_days": "auto",
                                                                "run.name": "a"}))
    fixed = load_scenario(tiny_file(tmp_path / "b.toml", "tiered", {"run.warmup_days": 0,
                                                                    "run.name": "b"}))
    with pytest.raises(ScenarioError, match=r'run.warmup_days \("auto" or not\) differs'):
        check_comparison([auto, fixed], baseline=None, metric="profit")
