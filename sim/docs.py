"""Reference pages generated from the code: the sweep file format (docs/sweep.md) and
the data dictionary of every output column (docs/columns.md).

Tests compare the files in docs/ with what these functions render, so neither can
drift from the code: a new sweep setting, metric or daily column fails the test until
the page is regenerated::

    python -m sim.docs sweep > docs/sweep.md
    python -m sim.docs columns > docs/columns.md

The meanings of the daily, segment and tier columns live here (the engine only names
them); a test checks that every column the engine writes has one.
"""

from __future__ import annotations

import sys
import typing

from sim.experiment.events import COLUMNS as EVENT_COLUMNS
from sim.experiment.events import TRANSACTIONS
from sim.experiment.market_events import MARKET_COLUMNS
from sim.experiment.sweep import Condition, Expectation, Parameter, SweepSettings
from sim.metrics import DAILY_COLUMNS, METRICS, SEGMENT_COLUMNS, TIER_COLUMNS
from sim.scenario.reference import takes
from sim.scenario.schema import describe, hints

UNITS = {"money": "money (the scenario's currency)", "share": "share, 0 to 1",
         "hours": "hours", "count": "count", "number": "number", "ratio": "ratio",
         "score": "score, 0 to 10", "nps": "score, -100 to +100"}

DAILY: dict[str, tuple[str, str]] = {
    "revenue": ("money", "Revenue booked that day: prices of visits served, less refunds."),
    "profit": ("money", ("Cash flow of the day: revenue less every cost booked that day "
                        "(staff, materials, requests, recovery, delight, return losses, "
                        "acquisition).")),
    "served": ("count", "Visits served that day."),
    "abandoned": ("count", "Visits that left the queue that day before being served."),
    "turned_away": ("count", ("Visits turned away that day (admission, a full waiting "
                             "room).")),
    "waitlisted": ("count", "Visits offered a later day that day."),
    "prospects": ("count", ("New prospects (new and referred) that made a first visit that "
                           "day.")),
    "mean_satisfaction": ("score", ("Mean satisfaction of the visits served that day (empty "
                                   "when none was).")),
    "reputation": ("score", "Reputation at the end of the day."),
    "image": ("ratio", ("Perceived-value multiplier from reputation at the end of the day "
                       "(1 at the market's norm).")),
    "service_level": ("ratio", ("The adaptive service-level multiplier at the end of the "
                               "day (1 unless the strategy adapts).")),
    "customers_alive": ("count", ("Customers who have bought and not left, at the end of the "
                                 "day (on a market: bought at the firm, still on the "
                                 "market).")),
}
SEGMENTS: dict[str, tuple[str, str]] = {
    "prospects": ("count", "Prospects of the segment reached in the measured window."),
    "customers_won": ("count", "Of those, prospects who bought."),
    "lost_prospects": ("count", "Of those, prospects who left without buying."),
    "served": ("count", "Visits served."),
    "revenue": ("money", "Revenue after refunds."),
    "variable_cost": ("money", ("Costs of the visits themselves (materials, requests, "
                               "recovery, delight, refunds' goods), before staff and "
                               "acquisition.")),
    "profit": ("money", "Contribution: revenue less the visits' own costs."),
    "churned": ("count", ("Customers who had bought and left for good (on a market: left "
                         "the market as the firm's customers, last served there).")),
    "abuse_claims": ("count", "Undeserved refund claims."),
    "promoters": ("count", ("Served visits with a satisfaction at or above the promoter "
                           "threshold.")),
    "detractors": ("count", ("Served visits with a satisfaction at or below the detractor "
                            "threshold.")),
    "abandoned": ("count", "Visits that left the queue before being served."),
    "balked": ("count", "Visits that saw the queue and did not join."),
    "priced_out": ("count", "Visits whose customer found no tier worth its price."),
    "turned_away": ("count", "Visits turned away by admission or a full waiting room."),
    "wait_h": ("hours", "Total wait of the served visits."),
    "clv": ("money", ("Customer lifetime value of the segment's customers won in the window "
                     "(discounted, with censoring).")),
    "customer_retention": ("share", ("The segment's customer retention: as the metric, for "
                                     "the segment's customers alone.")),
}
TIERS: dict[str, tuple[str, str]] = {
    "served": ("count", "Visits served in the tier."),
    "abandoned": ("count", "Visits of the tier that left the queue before being served."),
    "balked": ("count", "Visits offered the tier that did not join the queue."),
    "revenue": ("money", "Revenue of the tier after refunds."),
    "wait_h": ("hours", "Total wait of the tier's served visits."),
    "mean_wait_h": ("hours", "Mean wait of the tier's served visits."),
}


# --- docs/sweep.md ---------------------------------------------------------------------

SWEEP_INTRO = """# Sweep file reference

A sweep runs one or more scenarios (several: strategies compared at each point, on the
same customers) over a design of parameter values, with replications at every point,
and judges expectations on the results. It is a TOML file with a `[sweep]` table, one
`[[parameters]]` table per swept parameter and any number of `[[expect]]` tables.

```toml
[sweep]
scenarios = ["../god.toml", "../tiered.toml"]   # relative to this file
design = "grid"
replications = 4
seed = 11
set = ["run.days=360", "run.warmup_days=120"]

[[parameters]]
path = "strategy.tiers[2].price"
strategies = ["tiered"]          # only tiered has a third tier
values = [80, 110, 140]

[[parameters]]
path = "market.alternatives"
low = 0.2
high = 0.8
steps = 4

[[expect]]
name = "tiered out-earns god wherever the premium tier costs at most 110"
metric = "profit"
left = "tiered"
op = ">"
right = "god"
judge = "ci"
where = [{ path = "strategy.tiers[2].price", op = "<=", value = 110 }]
```

Run it with `simrun sweep FILE`; `-n N` and `--set PATH=VALUE` change the replications
and add to `set` for a quick smoke run (`simrun sweep FILE -n 1 --set run.days=60`).
Every point's scenarios are built and checked before anything runs, with the same
messages as a scenario file. Each point gets `run.seed` from (`seed`, point index), and
the strategies at one point share it, so they meet the same customers. Strategy names
are the scenarios' `run.name`s. A market file (one with `[[firms]]`) gives one strategy
per firm, named by the firm, and firm-level paths (`firms[1].business.servers`) can be
swept ([market.md](market.md)).

Where it writes: `results/<name>/` (or `--out DIR`): `runs.sqlite` (every finished run,
committed at once; `--resume` continues, `--fresh` starts over), `sweep.csv`,
`summary.csv` (and Parquet with pyarrow), `charts/` with `--charts`, and `report.html`
from `simrun report results/<name>`. The columns are in [columns.md](columns.md).
`--check` exits 1 when an expectation fails, `--junit FILE` (or `-`) writes JUnit XML
([ci.md](ci.md)).

Limits, each refused before anything runs with its own message: at most 10,000 points,
1,000,000 runs (points x strategies x replications) and an expected 1e10 visits in all;
`--force-limits` goes beyond them, up to a ceiling. `run.seed`, `run.replications` and
`run.name` are the sweep's own: sweeping them or fixing them in `set` is an error.
"""


def render_sweep_reference() -> str:
    parts = [SWEEP_INTRO]
    tables = (("[sweep]", SweepSettings, ""),
              ("[[parameters]]", Parameter, ("Give `values`, or `low` and `high` (with `steps` "
               "for a grid); the sampling designs need a range. Each path is swept by one "
               "table only.")),
              ("[[expect]]", Expectation, ("`left.metric OP right.metric` (paired over the "
               "replications both strategies finished) or `left.metric OP value`, at every "
               "point that meets `where`. Judged on the means, or with `judge = \"ci\"` on "
               "the 95% CI of the difference. The metric keys are those of "
               "[columns.md](columns.md).")),
              ("where = [{ path, op, value }]", Condition, ("A condition on a swept "
               "parameter; an expectation applies where all its conditions hold.")))
    for title, cls, note in tables:
        parts.append(f"## {title}\n")
        if note:
            parts.append(f"{note}\n")
        parts.append("| field | takes | default | meaning |\n| --- | --- | --- | --- |")
        for name, default, doc in describe(cls):
            shown = "(none)" if default == "nan" else default.replace("|", "\\|")
            parts.append(f"| `{name}` | {_takes(cls, name)} | `{shown}` | {doc} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _takes(cls: type, name: str) -> str:
    hint = hints(cls)[name]
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(f"`{c}`" for c in typing.get_args(hint))
    if "scalar" in typing.get_args(hint):
        return "number, text or true/false"
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return {str: "list of text", Condition: "list of conditions"}.get(item, "list")
    return takes(cls, name)


# --- docs/columns.md ---------------------------------------------------------------------

COLUMNS_INTRO = """# Data dictionary: every output column

What each file of a results folder holds, column by column, with units. Money is in the
scenario's currency (`business.currency`), over the measured days (after
`run.warmup_days`) unless a column says otherwise; a share runs from 0 to 1; hours are
hours. An undefined ratio (nothing to divide by) is `nan` in CSV files, `null` in
summary.json and comparison.json, and `NaN` in details.json. Floats are written with all
their digits, so they read back exactly.
"""


MARKET_METRICS_NOTE = """\
On a market of rival firms each firm's metrics (its `firms/<firm>/` files, its entries
in `market.json`) come from its own books, and the firm's customers are those alive on
the market whose last served visit was at it (docs/model.md, "Market of rival firms").
So a firm's `customer_retention` is, per period, 1 - (its customers at the period's
start whom it lost in the period, by churn or by switching to a rival) / (its customers
at the start), the mean over complete periods; its `customers_churned` counts its
customers who left the market (a customer who had switched to a rival is that rival's
churn); `market.json` adds `switched_away`, the served visits at rivals of customers
last served at the firm (customers lost to switching, not churn). A firm's CLV and
`survival_by_week` follow the customers it won over their life on the market (wherever
they buy). With one firm these are the single-firm metrics exactly."""


def render_columns() -> str:
    parts = [COLUMNS_INTRO,
             "## Metrics\n",
             ("One value per replication: the columns of `replications.csv` and `sweep.csv`, "
             "the keys of `summary.json` (with mean, sd, `ci95` and n over replications) "
             "and of `comparison.json`, the rows of `comparison.csv`, and `METRIC_mean`, "
             "`METRIC_ci_low`, `METRIC_ci_high` in a sweep's `summary.csv`. `{period}` is "
             "`run.retention_period_days`. The files hold every metric; the tables in "
             "the terminal and in a report leave out those 0 by construction in every "
             "strategy they show, rows of zeros that would read as findings: "
             "`imitation_cost` unless `market.imitation_rate` is above 0 (without "
             "imitation it is 0 by construction), and those a strategy's own rules hold at "
             "0, which a note under the table names with the rule: `turned_away` under "
             "admission `everyone` with no limit to the waiting room "
             "(`business.max_waiting = -1`), `waitlisted` under admission `everyone`, or "
             "`daily_slots` with `waitlist = false`, `genuine_claims` under recovery "
             "`fix` (only a failure left unrepaired brings a genuine claim), the requests "
             "refused when every tier's requests are `all`, those honoured when every "
             "tier's are `none`, and `abuse_refunded` when every tier's refunds are "
             "`never`. A policy from an installed package is never taken to hold a metric "
             "at 0.\n"),
             "| metric | unit | section | meaning |\n| --- | --- | --- | --- |"]
    parts += [f"| `{m.key}` | {UNITS[m.unit]} | {m.group} | {m.label} |" for m in METRICS]
    parts += ["", MARKET_METRICS_NOTE]
    parts += ["", "## daily.csv\n",
              ("One row per replication and simulated day, the warm-up included: "
              "`replication`, `day` (0 is the first simulated day), `measured` (1 from "
              "`run.warmup_days` on, 0 in the warm-up), then:\n"),
              "| column | unit | meaning |\n| --- | --- | --- |"]
    parts += [f"| `{c}` | {UNITS[DAILY[c][0]]} | {DAILY[c][1]} |" for c in DAILY_COLUMNS]
    parts += ["", "## details.json: segments\n",
              "Per replication, per customer segment (by name), over the measured window:\n",
              "| column | unit | meaning |\n| --- | --- | --- |"]
    parts += [f"| `{c}` | {UNITS[SEGMENTS[c][0]]} | {SEGMENTS[c][1]} |" for c in SEGMENT_COLUMNS]
    parts += ["", ("The other keys of each replication in `details.json`: `replication`, "
              "`metrics` (as above), `distributions` (`satisfaction`: served visits by whole "
              "score 0-10; `wait_minutes`: served visits per 5-minute bin of waiting up to "
              "2 h, then one bin for 2 h and more; `retention_by_period` and "
              "`repeat_rate_by_period`: shares per complete retention period; "
              "`survival_by_week`: share of the customers won in the window still "
              "customers, by week since their first purchase), `checks` (counts for the "
              "model checks) and `visits_simulated` (count, the warm-up included)."), "",
              "## Tiers (Python API)\n",
              ("`RunResult.tiers` holds per tier (by name), over the measured window; no "
              "file holds them:\n"),
              "| column | unit | meaning |\n| --- | --- | --- |"]
    parts += [f"| `{c}` | {UNITS[TIERS[c][0]]} | {TIERS[c][1]} |" for c in TIER_COLUMNS]
    parts += ["", "## Tables of a comparison and a sweep\n",
              ("- `comparison.csv`: one row per strategy and metric: `strategy`, `metric`, "
              "`label`, `unit`, `mean`, `ci_low`, `ci_high`, `n`, `baseline`, `diff_mean`, "
              "`diff_ci_low`, `diff_ci_high` (the paired difference to the baseline, in the "
              "metric's unit), `probability_best` (share of bootstrap resamples in which the "
              "strategy has the best mean, on the comparison's metric only)."),
              ("- `sweep.csv`: one row per point, strategy and replication: `point`, "
              "`strategy`, `replication`, one column per swept parameter (its path), then "
              "every metric."),
              ("- `summary.csv` (a sweep's): one row per point and strategy: `point`, "
              "`strategy`, the parameters, `replications` (finished), then "
              "`METRIC_mean`, `METRIC_ci_low`, `METRIC_ci_high` for every metric."),
              ("- `summary.json` (a run's): `scenario`, `simrun_version`, `seed`, "
              "`replications`, `days`, `warmup_days`, `strategy` (the preset, or custom) "
              "and `metrics`."),
              ("- Result objects in Python: `result.replications()` (columns replication, "
              "metric, unit, value) and `result.daily()` (replication, day, measured, "
              "series, value) are these same numbers as long tables; a comparison's have a "
              "`strategy` column first."), "",
              "## events.parquet (or events.csv)\n",
              ("`simrun FILE --events` (`sim.run(..., events=True, out=...)`): one row per "
               "visit that ended by the horizon, every replication, the warm-up included "
               "(a visit still waiting or in the chair at the horizon has no row). Parquet "
               "when pyarrow is installed, else CSV (an empty cell: undefined). A "
               "waitlisted visit is not an outcome of its own: it ends in one of the "
               "others, with `waitlisted` true.\n"),
              "| column | type | meaning |\n| --- | --- | --- |"]
    parts += [f"| `{name}` | {kind} | {meaning} |" for name, kind, meaning in EVENT_COLUMNS]
    parts += ["", "## transactions.csv\n",
              ("Written with the event log: replication 0's served and abandoned visits as "
               "a till or booking system records them, in the order they ended; the file "
               "`simrun fit` reads (docs/calibrate.md).\n"),
              "| column | meaning |\n| --- | --- |"]
    parts += [f"| `{name}` | {meaning} |" for name, meaning in TRANSACTIONS]
    firm = next(meaning for name, _, meaning in MARKET_COLUMNS if name == "firm")
    parts += ["", "## A market's event log\n",
              ("`simrun MARKET --events` (a file with `[[firms]]`, docs/market.md) writes "
               "`events.parquet` (or `.csv`) with every column above and one more after "
               f"`replication`: `firm` (str), {firm}. A row is one try of one visit occasion "
               "at one firm: a customer turned away or balking at one firm who tries another "
               "the same day (`market.search_limit`) has a row at each, with the same "
               "`visit` number (the customer's occasion on the market, from 0). `churned` "
               "is true on the last try of the occasion after which the customer left the "
               "market; false on every other row. Rows by outcome at a firm, in the "
               "measured window, are that firm's counts in `firms/<firm>/replications.csv`. "
               "Each firm's till, replication 0's served and abandoned visits there with the "
               "columns of transactions.csv, is `firms/<firm>/transactions.csv`.")]
    return "\n".join(parts).rstrip() + "\n"


PAGES = {"sweep": render_sweep_reference, "columns": render_columns}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in PAGES:
        sys.exit(f"usage: python -m sim.docs {{{'|'.join(PAGES)}}}")
    print(PAGES[sys.argv[1]](), end="")
