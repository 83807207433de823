"""simrun on a market file: the firm-by-firm table, the market's files and each firm's
files as a run's; bad market files exit 2 naming the field."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import tomli_w
from market_helpers import tiny_market, tiny_market_raw
from sweep_helpers import simrun

from sim.experiment.market import MarketResult, hhi, run_market
from sim.experiment.output import load_results


def write_market(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "rivals.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def test_a_market_run_writes_the_market_files_and_each_firm_as_a_run(tmp_path: Path) -> None:
    raw = tiny_market_raw([("Alpha", "god"), ("Beta", "tiered", {"servers": 1})],
                          {"run.retention_period_days": 10})
    out = tmp_path / "out"
    code, output = simrun("run", write_market(tmp_path, raw), "-n", "3", "-j", "1",
                          "--out", out)
    assert code == 0, output
    for text in ("Alpha", "Beta", "Share of served visits"):
        assert text in output
    summary = json.loads((out / "market.json").read_text())
    shares = [summary["firms"][name]["share_of_served"]["mean"] for name in ("Alpha", "Beta")]
    assert math.isclose(sum(shares), 1.0)
    for name in ("Alpha", "Beta"):
        firm = load_results(out / "firms" / name)
        assert len(firm.runs) == 3
        for key in ("profit", "customer_retention", "customers_churned"):
            assert firm.estimate(key).mean == summary["firms"][name][key]["mean"]
    with (out / "shares_daily.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * raw["run"]["days"]
    with (out / "switching.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["from", "Alpha", "Beta"]
    # switched away: the firm's row of the switching matrix less its own column
    assert math.isclose(summary["firms"]["Alpha"]["switched_away"]["mean"], float(rows[1][2]))
    assert math.isclose(summary["firms"]["Beta"]["switched_away"]["mean"], float(rows[2][1]))
    again, output = simrun("run", out / "market.toml", "-n", "3", "-j", "1", "--out",
                           tmp_path / "again", "--format", "json")
    assert again == 0
    assert json.loads(output)["firms"] == summary["firms"]  # the resolved market reproduces


def test_a_bad_market_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    raw = tiny_market_raw([("A", "god"), ("B", {"preset": "tiered", "screening_accuracy": 2})])
    code, output = simrun("run", write_market(tmp_path, raw), "--out", tmp_path / "out")
    assert code == 2
    assert "firms[1].strategy.screening_accuracy: must be <= 1, got 2" in output


def test_a_bad_imitation_group_exits_2_with_a_suggestion(tmp_path: Path) -> None:
    raw = tiny_market_raw([("A", "god"), ("B", "tiered")],
                          {"market.imitation_groups": ["prices", "refunds"]})
    code, output = simrun("run", write_market(tmp_path, raw), "--out", tmp_path / "out")
    assert code == 2
    assert ("market.imitation_groups[0]: unknown knob group, got \"prices\" (did you mean "
            "'prices and tiers'? known: all, prices and tiers,") in " ".join(output.split())
    assert "Traceback" not in output
    assert not (tmp_path / "out").exists()


def test_market_numbers_are_what_their_names_say() -> None:
    """Shares and the switching matrix recomputed from the firms' own counts; the HHI on
    cases computed by hand."""
    result: MarketResult = run_market(tiny_market([("A", "god"), ("B", "partner")]),
                                      replications=range(2), jobs=1)
    share_a = result.shares()[0]
    assert math.isclose(share_a.mean, sum(
        r.firms[0].metrics["served"] / sum(f.metrics["served"] for f in r.firms)
        for r in result.runs) / 2)
    switching = result.switching()
    assert math.isclose(sum(row[0] for row in switching),
                        sum(r.firms[0].metrics["served"] for r in result.runs) / 2)
    assert hhi([0.5, 0.5]) == 5000.0
    assert hhi([1.0]) == 10000.0
    assert math.isclose(hhi([0.7, 0.2, 0.1]), 4900 + 400 + 100)


def test_net_switching_is_what_a_firm_gains_at_a_rivals_expense() -> None:
    """By hand: 7 visits now at A were served before at B, 2 the other way: A gains 5."""
    from sim.metrics import MarketRunResult

    run = MarketRunResult(0, (), {}, {}, ((5.0, 2.0), (7.0, 1.0), (10.0, 10.0)))
    market = tiny_market([("A", "god"), ("B", "god")])
    result = MarketResult(market, (run, run))
    net = result.net_switching()
    assert net[0][1].mean == 5.0
    assert net[1][0].mean == -5.0
    assert net[0][0].mean == 0.0
    # customers lost to switching: A's row less its own column (2), B's (7)
    assert [e.mean for e in result.switched_away()] == [2.0, 7.0]


def test_charts_and_the_report_say_who_gains_at_whose_expense(tmp_path: Path) -> None:
    raw = tiny_market_raw([("Alpha", "god"), ("Beta", "tiered")])
    out = tmp_path / "out"
    code, output = simrun("run", write_market(tmp_path, raw), "-n", "2", "-j", "1",
                          "--out", out, "--charts", "-q")
    assert code == 0, output
    names = sorted(p.name for p in (out / "charts").iterdir())
    assert names == sorted(f"{n}.{ext}" for n in ("market_shares", "market_profit",
                                                  "switching_flows", "spillover")
                           for ext in ("png", "svg"))
    page = (out / "report.html").read_text()
    assert "Who gains at whose expense" in page
    assert "served visits a replication from customers switching" in page or (
        "switching is balanced" in page)


def test_the_reports_firm_table_has_each_way_a_firm_loses_a_customer(tmp_path: Path) -> None:
    """Churned (left the market) and lost to rivals (served at a rival next), firm by
    firm, as market.json has them."""
    import sim
    from sim.formats import format_value
    from sim.report.market import render_market_page

    raw = tiny_market_raw([("A", "god"), ("B", "tiered")], {"run.days": 40})
    result = sim.run_market(write_market(tmp_path, raw), replications=2, jobs=1)
    page = render_market_page(result)
    assert "<th>Customers churned</th>" in page
    assert "<th>Customers lost to rivals (switches)</th>" in page
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("</tr>")
    for i, name in enumerate(result.names):
        row = next(r for r in rows if f"<td>{name}</td>" in r)
        churned, lost = result.firm(i).estimate("customers_churned"), result.switched_away()[i]
        assert lost.mean > 0
        for e in (churned, lost):
            assert f"<td>{format_value(e.mean, 'count')} (" in row


def test_the_notebook_api_runs_a_market_file(tmp_path: Path) -> None:
    import sim

    raw = tiny_market_raw([("A", "god"), ("B", "tiered")], {"run.days": 20})
    path = write_market(tmp_path, raw)
    result = sim.run_market(path, replications=2, jobs=1)
    assert result.names == ("A", "B")
    assert len(result.runs) == 2
    assert result.firm("B").scenario.strategy.preset == "tiered"
    assert sim.load_market(path).names == ("A", "B")
