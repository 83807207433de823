"""Sweeps over markets: each firm of a market file is a strategy of the sweep, and a
firm-level path (firms[1].business.servers) is a parameter like any other."""

from __future__ import annotations

from pathlib import Path

import tomli_w
from market_helpers import tiny_market_raw

from sim.experiment.sweep import load_sweep
from sim.experiment.sweep_runner import run_sweep
from sim.model.market import run_market_replication
from sim.scenario.market import FirmOfMarket

SWEEP = """
[sweep]
scenarios = ["rivals.toml"]
replications = 2
seed = 5

[[parameters]]
path = "firms[1].business.servers"
values = [1, 3]

[[expect]]
name = "a rival with more staff serves more"
metric = "served"
left = "B"
op = ">"
right = "A"
where = [{ path = "firms[1].business.servers", op = ">=", value = 3 }]
"""


def test_a_sweep_sets_a_firms_field_and_reports_each_firm(tmp_path: Path) -> None:
    raw = tiny_market_raw([("A", "god"), ("B", "god")], {"run.days": 20})
    (tmp_path / "rivals.toml").write_text(tomli_w.dumps(raw))
    (tmp_path / "s.toml").write_text(SWEEP)
    sweep = load_sweep(tmp_path / "s.toml")
    assert sweep.strategies == ("A", "B")
    for point, servers in ((0, 1), (1, 3)):
        firm = sweep.scenarios[point, "B"]
        assert isinstance(firm, FirmOfMarket)
        assert [f.business.servers for f in firm.market.firms] == [2, servers]
        assert sweep.scenarios[point, "A"].market == firm.market  # one market per point
    result = run_sweep(sweep, tmp_path / "out", jobs=1)
    assert not result.failures
    market = sweep.scenarios[1, "B"].market  # type: ignore[union-attr]
    direct = run_market_replication(market, 1)
    assert result.values[1, "B"][1]["profit"] == direct.firms[1].metrics["profit"]
    assert result.values[1, "A"][1]["profit"] == direct.firms[0].metrics["profit"]
    assert [v.passed for v in result.verdicts] == [True]
