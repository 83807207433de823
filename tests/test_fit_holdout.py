"""The holdout check of simrun fit: BG/NBD against published estimates, the actual
figures of a tiny log by hand, the report, and CDNOW end to end."""

from __future__ import annotations

import csv
import math
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sweep_helpers import simrun

from sim.fit.bgnbd import fit_bgnbd
from sim.fit.columns import Columns
from sim.fit.estimate import calibrate
from sim.fit.holdout import BGNBD_DRAWS, bgnbd_draws, holdout
from sim.fit.log import read_log
from sim.fit.scenario_out import build_scenario
from sim.report.fit import render_fit_report

CDNOW = Path(__file__).parent / "data" / "cdnow_sample.csv"


def cdnow_histories() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in weeks as Fader, Hardie and Lee (2005) built them: distinct purchase
    days, calibration weeks 1-39 (1997-01-01 to 1997-09-30), time to the last day."""
    days: dict[str, set[int]] = {}
    with CDNOW.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            d = row["date"]
            day = (date(int(d[:4]), int(d[4:6]), int(d[6:])) - date(1997, 1, 1)).days
            days.setdefault(row["customer_id"], set()).add(day)
    x, t_x, big_t = [], [], []
    for seen in days.values():
        cal = sorted(d for d in seen if d <= 272)
        x.append(len(cal) - 1)
        t_x.append((cal[-1] - cal[0]) / 7)
        big_t.append((272 - cal[0]) / 7)
    return np.array(x), np.array(t_x), np.array(big_t)


def test_bgnbd_reproduces_the_published_cdnow_estimates() -> None:
    """Fader, Hardie and Lee (2005), table 1: r = 0.243, alpha = 4.414, a = 0.793,
    b = 2.426, log-likelihood -9582.4, on the 2,357 customers of the 1/10 sample."""
    x, t_x, big_t = cdnow_histories()
    assert len(x) == 2357
    model = fit_bgnbd(x, t_x, big_t)
    assert model.r == pytest.approx(0.243, abs=0.0006)
    assert model.alpha == pytest.approx(4.414, abs=0.002)
    assert model.a == pytest.approx(0.793, abs=0.0006)
    assert model.b == pytest.approx(2.426, abs=0.002)
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.06)


def test_a_new_customer_is_a_customer_with_no_history() -> None:
    """Equation (10) with x = 0, t_x = 0, T = 0 is equation (9)."""
    model = fit_bgnbd(*cdnow_histories())
    t = np.array([1.0, 10.0, 39.0])
    fresh = [model.conditional(float(s), np.zeros(1), np.zeros(1), np.zeros(1))[0] for s in t]
    assert fresh == pytest.approx(model.expected(t).tolist(), rel=1e-9)
    assert np.all(np.diff(model.expected(t)) > 0)


def test_bgnbd_draws_average_to_the_conditional_expectation() -> None:
    """The simulated holdout purchases of the report's distribution have, customer by
    customer, the mean of equation (10): over 2,357 customers x 50 draws the standard
    error of the overall mean is below 0.01 purchases (sd about 1.5 / sqrt(117,850))."""
    x, t_x, big_t = cdnow_histories()
    model = fit_bgnbd(x, t_x, big_t)
    draws = bgnbd_draws(model, x, t_x, big_t, 39.0, seed=3)
    assert len(draws) == len(x) * BGNBD_DRAWS
    se = draws.std() / math.sqrt(len(draws))
    assert abs(draws.mean() - model.conditional(39.0, x, t_x, big_t).mean()) < 4 * se
    heavy = x >= 7  # the few heavy buyers too
    mine = draws.reshape(len(x), BGNBD_DRAWS)[heavy]
    assert abs(mine.mean() - model.conditional(39.0, x[heavy], t_x[heavy], big_t[heavy]).mean()) \
        < 4 * mine.std() / math.sqrt(mine.size)


TINY = """customer_id,timestamp,amount
a,2024-01-01,10
a,2024-01-08,10
a,2024-01-29,20
b,2024-01-02,5
b,2024-02-05,5
c,2024-01-03,8
c,2024-01-04,8
c,2024-01-05,8
d,2024-01-10,30
e,2024-02-01,7
e,2024-02-10,7
""" + "".join(f"{who},2024-01-15,4\n" for who in "fghijk")
"""Calibration 2024-01-01 to 2024-01-29 (4 weeks; weeks end on days 7, 14, ...), holdout
to 2024-02-11 (the end of the last day: 6 weeks in all). Cohort a, b, c, d (e starts in
the holdout; f to k buy once on day 14). Repeat purchases: a on days 7 and 28, b on 35,
c on 3 and 4 (and e's on day 40, not in the cohort). Holdout purchases: a 1 (day 28),
b 1, the other eight 0."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.csv"
    path.write_text(TINY, encoding="utf-8")
    cal = calibrate(read_log(path), datetime(2024, 1, 29))
    return holdout(build_scenario(cal, "tiny"), replications=2)


def test_the_actual_figures_of_a_tiny_log_by_hand(tiny) -> None:
    h = tiny
    assert h.calibration_weeks == 4.0
    assert h.weeks.tolist() == [1, 2, 3, 4, 5, 6]  # 41 days: the last week is short
    # repeats by week: c's days 3, 4 in week 0; a's day 7 in week 1; a's day 28 in week 4;
    # b's day 35 in week 5
    assert h.tracking["actual"].tolist() == [2, 3, 3, 3, 4, 5]
    assert h.counts["actual"].tolist() == [0.8, 0.2, 0, 0, 0, 0, 0, 0]
    # calibration repeats: a 1, c 2, the others 0; holdout: a 1, b 1, the others 0
    assert h.group_sizes.tolist() == [8, 1, 1, 0, 0, 0, 0, 0]
    assert h.conditional["actual"][:3].tolist() == [0.125, 1.0, 0.0]
    assert h.spend["actual"] == pytest.approx(12.5)  # a's 20 and b's 5
    assert h.revenue["actual"] == pytest.approx(25.0)
    assert h.totals["actual"] == 2  # a's and b's
    total = next(e for e in h.errors if e.what == "repeat purchases in the holdout, total")
    assert total.simrun == pytest.approx((h.totals["simrun"] - 2) / 2 * 100)
    assert all(np.isfinite(h.tracking[name]).all() for name in h.tracking)


def test_the_report_is_one_self_contained_page(tiny) -> None:
    html = render_fit_report(tiny)
    assert html.startswith("<!DOCTYPE html>")
    assert len(re.findall(r'<img src="data:image/svg\+xml;base64,', html)) == 4
    assert not re.search(r"(src|href)=\"(http|//)", html)
    for heading in ("Errors in the holdout period", "Assumed, not fitted", "BG/NBD"):
        assert heading in html
    assert render_fit_report(tiny) == html  # the same results give the same bytes


def test_cdnow_end_to_end(tmp_path: Path) -> None:
    """The real data: CDNOW's sample fitted by the command line with the report, on the
    calibration of the literature (39 weeks). The actual holdout figures are counted
    here again from the file; BG/NBD is the paper's up to the last calibration day
    counting as observed (T one day longer)."""
    out = tmp_path / "cdnow.toml"
    code, output = simrun("fit", CDNOW, "--timestamp-column", "date", "--keep-duplicates",
                          "--calibration-end", "1997-10-01", "--out", out, "--report", "-n", "2",
                          "-j", "1")
    assert code == 0, output
    html = (tmp_path / "cdnow-fit.html").read_text(encoding="utf-8")
    assert "r = 0.242, alpha = 4.394, a = 0.815, b = 2.477" in html
    code, output = simrun("check", out)
    assert code == 0, output
    log = read_log(CDNOW, Columns(timestamp="date"), keep_duplicates=True)
    assert len(log.customers) == 2357
    x, _, _ = cdnow_histories()
    assert int(x.sum()) == 2457  # calibration repeats, the figure in the tracking plot


def test_the_report_needs_nothing_written_on_a_bad_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,timestamp,amount\nc1,2024-01-01,3\n", encoding="utf-8")
    code, output = simrun("fit", bad, "--out", tmp_path / "s.toml", "--report")
    assert code == 2, output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
