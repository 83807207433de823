"""simrun fit: a transaction log in, an ordinary scenario out; bad logs refused clearly."""

from __future__ import annotations

import csv
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from sweep_helpers import simrun

from sim.fit.estimate import calibrate
from sim.fit.log import read_log
from sim.scenario import load_scenario

HEADER = "customer_id,timestamp,amount\n"


def shop_log(days: int = 60, customers: int = 30) -> str:
    """Customer i buys every (3 + i % 5) days from day i % 7, for 20.00 + i."""
    lines = [HEADER]
    for i in range(customers):
        for day in range(i % 7, days, 3 + i % 5):
            lines.append(f"c{i},2024-01-{1 + day:02d}T10:00:00,{20 + i:.2f}\n"
                         if day < 31 else
                         f"c{i},2024-02-{day - 30:02d}T10:00:00,{20 + i:.2f}\n")
    return "".join(lines)


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fit_fails(tmp_path: Path, text: str, *options: str) -> str:
    path = write(tmp_path, text)
    out = tmp_path / "out.toml"
    code, output = simrun("fit", path, "--out", out, *options)
    assert code == 2, output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]  # nothing written, no temporary left
    return output


@pytest.mark.parametrize(("text", "options", "message"), [
    ("custmer_id,timestamp,amount\nc1,2024-01-01,3\n", (),
     ("column 'customer_id': missing (the customer id); the header has 'custmer_id', "
     "'timestamp', 'amount' (did you mean 'custmer_id'?)")),
    (HEADER + "c1,2024-01-01,3\nc1,2024-02-30,4\n", (),
     "line 3, column 'timestamp': is not an ISO date or time"),
    (HEADER + "c1,2024-01-01,3\nc2,2024-01-02,-4\n", (),
     "line 3, column 'amount': is negative"),
    (HEADER + "c1,2024-01-01,3\nc2,2024-01-02,x\n", (),
     "line 3, column 'amount': is not a number, got \"x\""),
    (HEADER + "c1,2024-01-01,3\nc2,2024-01-02,4\nc1,2024-01-01,3\n", (),
     "line 4: repeats line 2 exactly"),
    ("", (), "the file is empty"),
    (HEADER, (), "the file has a header but no rows"),
    (HEADER + "c1,2024-01-01,3\nc2,2024-01-02\n", (), "line 3: has 2 cells, the header 3"),
    (HEADER + "c1,2024-01-01,3\nc2,2024-01-20,3\n", (), ("too short to split: the log runs 20 "
                                                        "days from 2024-01-01")),
    (HEADER + "c1,2024-01-01,3\n", ("--segments", "region"),
     "column 'region': missing (the customer's segment)"),
    (HEADER + "c1,2024-01-01,3\n", ("--rating-column", "stars"),
     "column 'stars': missing (a rating 0-10)"),
    ("customer_id,timestamp,amount,rating\nc1,2024-01-01,3,11\n", (),
     "line 2, column 'rating': must be 0 to 10, got 11.0"),
])
def test_a_bad_log_is_refused_with_its_line_and_column(tmp_path: Path, text: str,
                                                       options: tuple[str, ...],
                                                       message: str) -> None:
    output = fit_fails(tmp_path, text, *options)
    assert message in output
    assert "Traceback" not in output


def test_the_log_is_never_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path, shop_log())
    code, output = simrun("fit", path, "--out", path)
    assert code == 2
    assert "is the transaction log itself" in output
    assert path.read_text(encoding="utf-8") == shop_log()


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    output = fit_fails(tmp_path, HEADER + "c1,yesterday,3\nc2,2024-01-02,-1\n")
    assert "2 problems" in output
    assert "line 2" in output
    assert "line 3" in output


def test_columns_are_mapped_by_option(tmp_path: Path) -> None:
    text = shop_log().replace(HEADER, "client,date,paid\n")
    path = write(tmp_path, text)
    code, output = simrun("fit", path, "--out", tmp_path / "s.toml", "--customer-column",
                          "client", "--timestamp-column", "date", "--amount-column", "paid")
    assert code == 0, output
    assert load_scenario(tmp_path / "s.toml").market.new_customers_per_day > 0


def test_the_reader_merges_a_customers_purchases_at_one_moment(tmp_path: Path) -> None:
    """Dates only: c1's two purchases on 2 January are one occasion of 7.00 on day 1."""
    path = write(tmp_path, HEADER + "c1,2024-01-02,3\nc2,20240101,1.5\nc1,2024-01-02,4\n"
                                    "c1,2024-01-05,2\n")
    log = read_log(path)
    assert not log.has_time
    assert log.customers == ["c1", "c2"]
    assert log.customer.tolist() == [0, 0, 1]
    assert log.day.tolist() == [1.0, 4.0, 0.0]
    assert log.amount.tolist() == [7.0, 2.0, 1.5]


def test_estimates_come_from_the_calibration_period_only(tmp_path: Path) -> None:
    """Changing what happens after --calibration-end changes nothing in the scenario."""
    text = shop_log()
    later = "".join(line.rsplit(",", 1)[0] + ",999.00\n" if "2024-02" in line else line
                    for line in text.splitlines(keepends=True))  # amounts of February
    assert later != text
    outputs = []
    for i, body in enumerate((text, later)):
        path = write(tmp_path, body, f"t{i}.csv")
        out = tmp_path / f"s{i}.toml"
        code, output = simrun("fit", path, "--out", out, "--calibration-end", "2024-02-01")
        assert code == 0, output
        outputs.append(out.read_text(encoding="utf-8").replace(f"t{i}.csv", "t.csv")
                       .replace(f's{i}"', 's"'))
    assert outputs[0] == outputs[1]


def test_the_output_is_an_ordinary_scenario_that_lists_what_is_assumed(tmp_path: Path) -> None:
    path = write(tmp_path, shop_log())
    out = tmp_path / "my-shop.toml"
    code, output = simrun("fit", path, "--out", out)
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    assert "# Assumed, not fitted (documented defaults):" in text
    assert "#   - opening hours" not in text  # the log has times of day
    code, output = simrun("check", out)
    assert code == 0, output
    s = load_scenario(out)
    assert s.name == "my-shop"
    assert s.business.open_hour == 10.0
    assert s.business.close_hour == 11.0
    # price: the mean amount of the calibration purchases, by hand from shop_log
    log = read_log(path)
    cal = calibrate(log)
    rows = log.day < cal.calibration_days
    assert s.strategy.tiers[0].price == pytest.approx(round(float(log.amount[rows].mean()), 2))
    assert s.market.new_customers_per_day == pytest.approx(
        30 / cal.calibration_days, abs=1e-4)  # every customer starts in the first week


# ------------------------------------------------------------------ parameter recovery

KNOWN = {
    "run": {"name": "known", "days": 360, "warmup_days": 0, "replications": 1, "seed": 5},
    "business": {"servers": 40, "open_hour": 9, "close_hour": 17, "failure_rate": 0.0},
    "market": {"new_customers_per_day": 12.0, "reputation_sensitivity": 0.0,
               "image_sensitivity": 0.0},
    "behaviour": {"return_satisfaction_weight": 0.0, "return_top_weight": 0.0},
    "segments": [{"name": "all", "share": 1.0, "wtp": 100.0, "value_of_time_per_h": 0.0,
                  "service_time": {"dist": "gamma", "mean": "40 min", "cv": 0.5},
                  "visit_interval": {"dist": "gamma", "mean": "12 d", "cv": 0.5},
                  "loyalty": {"dist": "normal", "mean": 0.7, "sd": 0.8},
                  "referral_propensity": 0.0, "request_rate": 0.0,
                  "abuse_propensity": 0.0}],
    "strategy": {"tiers": [{"name": "standard", "price": 50.0}]},
}
"""Every arrival buys (WTP 100 against a price of 50, no image effects, no queue: 40
staff, no value of time), so the log holds the model's customers as they are. The return
logit is the market's 0.5 (intercept 1 + lock-in 2 x 0.25 - alternatives 2 x 0.5) plus
loyalty ~ normal(0.7, 0.8): mean 1.2, sd 0.8, with no satisfaction part."""


def simulate_and_fit(folder: Path, raw: dict, *options: str) -> str:
    """Run the scenario ``raw`` with --events, fit its transactions.csv into
    folder/fitted.toml with ``options``; the fitted file's text."""
    known = folder / "known.toml"
    known.write_text(tomli_w.dumps(raw), encoding="utf-8")
    code, output = simrun(known, "-q", "-j", "1", "--events", "--out", folder / "run")
    assert code == 0, output
    out = folder / "fitted.toml"
    code, output = simrun("fit", folder / "run" / "transactions.csv", "--out", out, *options)
    assert code == 0, output
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    text = simulate_and_fit(tmp_path_factory.mktemp("recovery"), KNOWN,
                            "--calibration-end", "2024-06-29")  # day 180
    return tomllib.loads(text), text


def header(text: str, label: str) -> list[tuple[float, float]]:
    """The (value, standard error) pairs of the header line starting '#   LABEL:'."""
    import re

    line = next(x for x in text.splitlines() if x.startswith(f"#   {label}:"))
    return [(float(v), float(se)) for v, se in
            re.findall(r"([-\d.e]+) \(standard error ([-\d.e]+)\)", line)]


def test_known_parameters_are_recovered_within_their_standard_errors(recovered) -> None:
    """About 2,160 customers arrive in 180 days of calibration. Each fitted number must lie
    within 4 of its standard errors (the curvature of the likelihood; Poisson for the
    arrival rate) of the truth: a 1-in-16,000 miss per number if the estimator is
    unbiased and its errors are right. The visit interval gets 0.1 day more: the model
    moves a return into the opening hours and a purchase is stamped when the visit
    starts, which lengthens the gap between purchases by about 2 hours on average."""
    raw, text = recovered
    (rate, rate_se), = header(text, "new customers per day")
    assert abs(rate - 12.0) < 4 * rate_se
    (mean, mean_se), (cv, cv_se) = header(text, "customers: visit interval")
    assert abs(mean - 12.0) < 4 * mean_se + 0.1
    assert abs(cv - 0.5) < 4 * cv_se
    (mu, mu_se), (sd, sd_se) = header(text, "customers: return logit")
    assert abs(mu - 1.2) < 4 * mu_se
    assert abs(sd - 0.8) < 4 * sd_se
    assert mu_se < 0.15
    assert mean_se < 0.2
    segment = raw["segments"][0]
    assert raw["strategy"]["tiers"][0]["price"] == 50.0
    service = float(segment["service_time"]["mean"].removesuffix(" min"))
    assert abs(service - 40.0) < 4 * 40 * 0.5 / math.sqrt(2160)  # sd / sqrt(n), n >= 2160


def test_the_fitted_scenario_runs_and_keeps_the_customers_coming_back(recovered,
                                                                      tmp_path: Path) -> None:
    raw, _ = recovered
    path = tmp_path / "fitted.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    code, output = simrun(path, "-n", "1", "-j", "1", "-q", "--out", tmp_path / "r")
    assert code == 0, output
    assert np.isfinite(load_scenario(path).market.new_customers_per_day)


TWO_CLASSES = {**KNOWN, "run": {**KNOWN["run"], "days": 300},
               "segments": [
                   {**KNOWN["segments"][0], "name": "often", "share": 0.3,
                    "visit_interval": {"dist": "gamma", "mean": "4 d", "cv": 0.5},
                    "loyalty": {"dist": "normal", "mean": 1.0, "sd": 0.5}},
                   {**KNOWN["segments"][0], "name": "seldom", "share": 0.7,
                    "visit_interval": {"dist": "gamma", "mean": "20 d", "cv": 0.5},
                    "loyalty": {"dist": "normal", "mean": 0.0, "sd": 0.5}}]}
"""Two kinds of customer the log does not name: 30% who come back every 4 days with
return logit 1.5 on average, 70% every 20 days with logit 0.5."""


def test_latent_classes_recover_two_kinds_of_customer(tmp_path: Path) -> None:
    """--segments 2 finds them without being told who is who. About 1,800 customers in
    150 days of calibration. The shares, intervals and return logits must lie within 4
    standard errors (+0.1 day for the interval, as above)."""
    text = simulate_and_fit(tmp_path, TWO_CLASSES, "--segments", "2")
    raw = tomllib.loads(text)
    assert [s["name"] for s in raw["segments"]] == ["class 1", "class 2"]
    (share, share_se), = header(text, "class 1: share")
    assert abs(share - 0.3) < 4 * share_se
    assert share_se > 0.011  # the binomial error it would have if every class were known
    for label, interval, logit in (("class 1", 4.0, 1.5), ("class 2", 20.0, 0.5)):
        (mean, mean_se), _ = header(text, f"{label}: visit interval")
        assert abs(mean - interval) < 4 * mean_se + 0.1
        (mu, mu_se), _ = header(text, f"{label}: return logit")
        assert abs(mu - logit) < 4 * mu_se


QUEUE = {**KNOWN, "run": {**KNOWN["run"], "days": 120, "seed": 7},
         "business": {**KNOWN["business"], "servers": 2},
         "segments": [{**KNOWN["segments"][0],
                       "patience": {"dist": "exponential", "mean": "30 min"}}]}
"""Two staff for about 1.3 hours of service an hour: a queue most of the day, visits
that give up after an exponential patience of 30 minutes (no one balks: no value of
time)."""


def test_patience_is_recovered_with_a_served_wait_as_censored(tmp_path: Path) -> None:
    """The exponential's maximum-likelihood mean: time queued (served and abandoned
    visits) / abandonments. Its standard error is mean / sqrt(abandonments); the estimate
    must lie within 4 of them of 30 minutes. The report then shows waits and ratings."""
    text = simulate_and_fit(tmp_path, QUEUE, "--report", "-n", "1", "-j", "1")
    with (tmp_path / "run" / "transactions.csv").open(encoding="utf-8") as handle:
        abandoned = sum(row["abandoned"] == "1" and row["timestamp"] < "2024-03-01"
                        for row in csv.DictReader(handle))  # in the calibration period
    line = next(x for x in text.splitlines() if x.startswith("#   customers: patience"))
    minutes = float(line.split("mean ")[1].split(" min")[0])
    assert abandoned > 100
    assert abs(minutes - 30.0) < 4 * 30.0 / math.sqrt(abandoned) + 0.1
    html = (tmp_path / "fitted-fit.html").read_text(encoding="utf-8")
    assert "minutes waited per purchase" in html
    assert "rating per purchase" in html
    assert "baseline satisfaction" in text
