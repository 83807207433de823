"""Files of a market run: results/<name>/ holds the market's files and, under
firms/<firm>/, each firm's files exactly as a run writes them.

Market files: ``market.json`` (shares, HHI, spillover, switching, outside option, each
with its CI), ``market.toml`` (the resolved market: running it reproduces the run),
``shares_daily.csv`` (each firm's share of the day's served visits, mean and CI per
day), ``switching.csv`` (mean served visits per replication from one firm to another)
and ``market_replications.csv`` (the market's counts per replication). Everything is
written at once (:func:`sim.atomic.write_atomic_many`), all or none. Until then each
finished replication is kept in a checkpoint (:class:`MarketCheckpoint`), so an
interrupted market run loses nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import tomli_w

from sim.atomic import Data, write_atomic_many
from sim.experiment.folders import strategy_folders
from sim.experiment.market import MarketResult, hhi, served_shares
from sim.experiment.output import (
    Checkpoint,
    _estimate_dict,
    _need,
    _number,
    checked_run,
    run_files,
    run_to_dict,
)
from sim.metrics import MarketRunResult
from sim.scenario.loader import resolved_raw
from sim.scenario.market import MarketScenario, market_toml

PER_FIRM = ("first_choices", "spill_from", "spill_to", "spill_served")
MARKET_COUNTS = ("occasions", "outside", "prospects_new", "prospects_outside")


def market_dict(result: MarketResult) -> dict[str, Any]:
    s = result.scenario
    shares = result.shares()
    switched = result.switched_away()
    firms = {}
    for i, name in enumerate(result.names):
        firm = result.firm(i)
        firms[name] = {
            "strategy": firm.scenario.strategy.preset or "custom",
            "share_of_served": _estimate_dict(shares[i]),
            **{key: _estimate_dict(result.per_firm(key)[i]) for key in PER_FIRM},
            "profit": _estimate_dict(firm.estimate("profit")),
            "customer_retention": _estimate_dict(firm.estimate("customer_retention")),
            "customers_churned": _estimate_dict(firm.estimate("customers_churned")),
            "switched_away": _estimate_dict(switched[i]),
        }
    return {
        "market": s.name,
        "simrun_version": result.version,
        "seed": s.run.seed,
        "replications": len(result.runs),
        "days": s.run.days,
        "warmup_days": s.run.warmup_days,
        "currency": s.firms[0].business.currency,
        "firms": firms,
        "hhi": _estimate_dict(result.hhi()),
        **{key: _estimate_dict(result.market(key)) for key in MARKET_COUNTS},
        "switching": {"from": [*result.names, "(first purchase)"], "to": list(result.names),
                      "mean_served_visits": result.switching()},
        **({"precision": result.precision} if result.precision is not None else {}),
    }


def shares_daily_csv(result: MarketResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["day", "measured", "firm", "share_mean", "ci_low", "ci_high", "n"])
    warmup = result.scenario.run.warmup_days
    for name, series in zip(result.names, result.daily_shares(), strict=True):
        for day, e in enumerate(series):
            writer.writerow([day, int(day >= warmup), name, _cell(e.mean), _cell(e.low),
                             _cell(e.high), e.n])
    return out.getvalue()


def switching_csv(result: MarketResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["from", *result.names])
    for name, row in zip([*result.names, "(first purchase)"], result.switching(), strict=True):
        writer.writerow([name, *map(_cell, row)])
    return out.getvalue()


def market_replications_csv(result: MarketResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = result.names
    writer.writerow(["replication", *MARKET_COUNTS, "hhi",
                     *(f"{key}:{name}" for key in ("share", *PER_FIRM) for name in names)])
    for r in result.runs:
        shares = served_shares(r)
        writer.writerow([r.replication, *(int(r.market[k]) for k in MARKET_COUNTS),
                         _cell(hhi(shares)), *map(_cell, shares),
                         *(int(v) for key in PER_FIRM for v in r.per_firm[key])])
    return out.getvalue()


def _cell(x: float) -> str:
    return "" if math.isnan(x) else repr(x)


def firm_scenario_toml(result: MarketResult, i: int) -> str:
    """A firm's resolved scenario, headed by what it is: the firm alone on the market's
    shared sections (running it gives the firm as a monopoly, not its market result)."""
    header = (f"# Firm {result.names[i]!r} of the market {result.scenario.name!r}: its strategy\n"
              "# and business on the market's shared sections. Running this file simulates\n"
              "# the firm ALONE on that market; the market run is ../../market.toml.\n")
    return header + tomli_w.dumps(resolved_raw(result.firm(i).scenario))


def market_files(result: MarketResult) -> dict[str, Data]:
    """Every file of a market run, relative path -> data."""
    files: dict[str, Data] = {
        "market.json": json.dumps(market_dict(result), indent=2) + "\n",
        "market.toml": market_toml(result.scenario),
        "shares_daily.csv": shares_daily_csv(result),
        "switching.csv": switching_csv(result),
        "market_replications.csv": market_replications_csv(result),
    }
    folders = strategy_folders(result.names, "firms[].name")
    for i, name in enumerate(result.names):
        for file, data in run_files(result.firm(i)).items():
            if file == "scenario.toml":
                data = firm_scenario_toml(result, i)
            files[f"firms/{folders[name]}/{file}"] = data
    return files


def write_market_results(result: MarketResult, out_dir: Path) -> list[Path]:
    """Write every file of a market run, all or none; returns the paths written."""
    return write_atomic_many({out_dir / name: data
                              for name, data in market_files(result).items()})


class MarketCheckpoint(Checkpoint):
    """Finished replications of an unfinished market run, one JSON file each (every
    firm's replication and the market's counts), keyed by the resolved market's hash:
    a changed market never reuses them. ``most`` bounds the replication indices read
    back (a run to a precision goes beyond run.replications); a file that does not hold
    what the market makes is discarded and its replication runs again."""

    def __init__(self, out_dir: Path, market: MarketScenario, most: int | None = None) -> None:
        self.market = market
        bound = market.run.replications if most is None else most
        self.firms = tuple(dataclasses.replace(f, run=dataclasses.replace(f.run, replications=bound))
                           for f in market.firms)
        self._keyed(out_dir, market_toml(market))

    def encode(self, run: MarketRunResult) -> dict[str, Any]:
        return {"replication": run.replication,
                "firms": [run_to_dict(firm) for firm in run.firms],
                "market": run.market, "per_firm": run.per_firm, "switching": run.switching}

    def decode(self, raw: Any) -> MarketRunResult:
        n = len(self.firms)
        _need(isinstance(raw, dict) and isinstance(raw.get("firms"), list)
              and len(raw["firms"]) == n, "does not hold every firm of the market")
        firms = tuple(checked_run(one, firm) for one, firm in zip(raw["firms"], self.firms,
                                                                  strict=True))
        replication = firms[0].replication
        _need(raw.get("replication") == replication
              and all(f.replication == replication for f in firms), "mixes replications")
        market, per_firm, switching = raw.get("market"), raw.get("per_firm"), raw.get("switching")
        _need(isinstance(market, dict) and all(_number(market.get(k)) for k in MARKET_COUNTS),
              f"replication {replication}: damaged market counts")
        _need(isinstance(per_firm, dict) and all(
            isinstance(per_firm.get(k), list) and len(per_firm[k]) == n
            and all(map(_number, per_firm[k])) for k in PER_FIRM),
              f"replication {replication}: damaged counts per firm")
        _need(isinstance(switching, list) and len(switching) == n + 1 and all(
            isinstance(row, list) and len(row) == n and all(map(_number, row))
            for row in switching), f"replication {replication}: damaged switching")
        return MarketRunResult(
            replication=replication, firms=firms,
            market={k: float(market[k]) for k in MARKET_COUNTS},
            per_firm={k: tuple(float(v) for v in per_firm[k]) for k in PER_FIRM},
            switching=tuple(tuple(float(v) for v in row) for row in switching))
