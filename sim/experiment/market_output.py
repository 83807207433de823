"""Files of a market run: results/<name>/ holds the market's files and, under
firms/<firm>/, each firm's files exactly as a run writes them.

Market files: ``market.json`` (shares, HHI, spillover, switching, outside option, each
with its CI), ``market.toml`` (the resolved market: running it reproduces the run),
``shares_daily.csv`` (each firm's share of the day's served visits, mean and CI per
day), ``switching.csv`` (mean served visits per replication from one firm to another)
and ``market_replications.csv`` (the market's counts per replication). Everything is
written at once (:func:`sim.atomic.write_atomic_many`), all or none.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import tomli_w

from sim.atomic import Data, write_atomic_many
from sim.experiment.folders import strategy_folders
from sim.experiment.market import MarketResult, hhi, served_shares
from sim.experiment.output import _estimate_dict, run_files
from sim.scenario.loader import resolved_raw
from sim.scenario.market import MarketScenario, market_raw

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


def market_toml(market: MarketScenario) -> str:
    """The resolved market as a file (market.toml, and a results folder's identity)."""
    header = ("# Resolved market: every default filled in. Running this file reproduces\n"
              "# the run exactly: simrun <this file>\n")
    return header + tomli_w.dumps(market_raw(market))


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
