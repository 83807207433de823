"""simrun tournament: every pairing on the same customers, stored as it runs, resumable;
the payoff table symmetric where the pairing is."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import tomli_w
from market_helpers import tiny_market, tiny_market_raw
from sweep_helpers import simrun

from sim.experiment.tournament import build_tournament, run_tournament
from sim.metrics import estimate
from sim.scenario import ScenarioError


@pytest.fixture(scope="module")
def duel(tmp_path_factory: pytest.TempPathFactory):
    market = tiny_market([("A", "god"), ("B", "god")], {"run.replications": 6})
    t = build_tournament(market, ["god", "tiered"])
    folder = tmp_path_factory.mktemp("duel")
    return folder, t, run_tournament(t, folder, jobs=2)


def test_every_pairing_runs_self_pairings_included(duel) -> None:
    _, t, result = duel
    assert [tuple(t.strategies[s] for s in p) for p in t.profiles] == [
        ("god", "god"), ("god", "tiered"), ("tiered", "god"), ("tiered", "tiered")]
    assert result.complete()
    assert [m.firms[1].strategy.preset for m in t.markets] == ["god", "tiered", "god", "tiered"]


def test_the_payoff_table_is_symmetric_where_the_pairing_is(duel) -> None:
    """The two firms have the same business, so A's payoff playing a against b is B's
    playing a against A's b, up to noise (the firms draw different uniforms). Paired
    over the same seeds; we allow 4 standard errors of the paired difference."""
    _, _, result = duel
    for a, b in ((0, 1), (1, 0), (0, 0), (1, 1)):
        diffs = [x - y for x, y in zip(result.values[result.tournament.profiles.index((a, b))][0],
                                      result.values[result.tournament.profiles.index((b, a))][1],
                                      strict=True)]
        e = estimate(diffs)
        assert abs(e.mean) <= 4 * e.sd / math.sqrt(e.n), (a, b, e)


def test_a_tournament_resumes_without_running_again(duel) -> None:
    folder, t, result = duel
    with pytest.raises(ScenarioError, match="add --resume"):
        run_tournament(t, folder, jobs=1)
    again = run_tournament(t, folder, jobs=1, resume=True)
    assert again.ran == 0
    assert again.values == result.values


def test_the_cli_reads_the_tournament_table_and_writes_its_files(tmp_path: Path) -> None:
    raw = tiny_market_raw([("A", "god"), ("B", "tiered")], {"run.days": 20})
    raw["tournament"] = {"strategies": ["god", "scarcity"]}
    path = tmp_path / "duel.toml"
    path.write_text(tomli_w.dumps(raw))
    code, output = simrun("tournament", path, "-n", "2", "-j", "1", "--out", tmp_path / "t",
                          "--charts", "-q")
    assert code == 0, output
    summary = json.loads((tmp_path / "t" / "tournament.json").read_text())
    assert summary["strategies"] == ["god", "scarcity"]
    assert len(summary["table"]) == 4
    assert summary["imitation"]["survivor"] in ("god", "scarcity")
    assert (tmp_path / "t" / "charts" / "payoffs.png").stat().st_size > 0
    code, output = simrun("tournament", path, "--strategies", "god,tierd", "--out",
                          tmp_path / "u")
    assert code == 2
    assert "--strategies: unknown preset, got \"tierd\" (did you mean 'tiered'?)" in output
