"""``simrun compare ... --tune``: each strategy tuned on its own knobs with the same
budget, then the strategies at their best compared on the same customers.

Where the knobs come from: in a file with a [compare] table, a strategy's own
``[compare.strategies.NAME.tune]`` table (which holds ``knobs`` only) or else the file's
``[tune]`` table; with several files, each file's ``[tune]``. The budget (metric,
constraints, trials, replications, sampler, seed, finalists, final replications, batch)
is the same for every strategy: the file's ``[tune]``, or every file's, which must then
agree. A strategy with no knobs is compared as it is written. Knobs must be ``strategy.``
paths: the strategies share the market.

Each strategy's study lives in ``results/<comparison>/tune/<strategy>/``. The search and
the finalists use the tune's seeds; the comparison afterwards runs on the scenarios' own
``run.seed``, which neither used, so no strategy is flattered by the customers it was
tuned on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

from sim.atomic import write_atomic
from sim.experiment.compare import strategy_raws
from sim.experiment.tune import Progress, Silent, TuneResult, run_tune
from sim.experiment.tune_output import tune_dict, tuned_raw, write_tune
from sim.experiment.tune_spec import TuneSettings, TuneSpec, tune_spec
from sim.scenario import Issue, Scenario, ScenarioError
from sim.scenario.loader import deep_merge, read_with_extends

BUDGET = tuple(f.name for f in fields(TuneSettings) if f.name not in ("knobs", "name"))
"""The [tune] fields every strategy of a comparison shares."""


@dataclass(frozen=True)
class ComparisonTune:
    """What ``compare --tune`` tunes: a spec per strategy (None: compared as written)."""

    specs: dict[str, TuneSpec | None]
    source: Path | None
    """The file with the [compare] table (None: several files, one strategy each)."""
    compare_table: dict[str, Any] | None = None


def wants_tuning(settings: Mapping[str, Any], flag: bool, source: str) -> bool:
    """``--tune``, or ``tune = true`` in the [compare] table."""
    value = settings.get("tune", False)
    if not isinstance(value, bool):
        raise ScenarioError(source, [Issue("compare.tune", "must be true or false", value)])
    return flag or value


def load_comparison_tunes(paths: Sequence[Path], overrides: Sequence[str], *,
                          options: Mapping[str, Any] | None = None) -> ComparisonTune:
    """Each strategy's tune spec, every knob tried on its scenario before anything runs."""
    overrides = list(overrides)
    if len(paths) == 1:
        return _from_compare_file(paths[0], overrides, options)
    specs: dict[str, TuneSpec | None] = {}
    budgets: dict[Path, dict[str, Any]] = {}
    for path in paths:
        raw = read_with_extends(path)
        table = raw.pop("tune", {})
        if not isinstance(table, dict):
            raise ScenarioError(path, [Issue("tune", "must be a table", table)])
        budgets[path] = {k: table[k] for k in BUDGET if k in table}
        if not table.get("knobs"):
            from sim.scenario import load_scenario

            specs[load_scenario(path, overrides).name] = None
            continue
        spec = tune_spec(path, raw, table, overrides, options=options)
        specs[spec.start.name] = _named(spec)
    _same_budget(budgets, options or {})
    return ComparisonTune(specs, None)


def _from_compare_file(path: Path, overrides: list[str],
                       options: Mapping[str, Any] | None) -> ComparisonTune:
    raw = read_with_extends(path)
    table = raw.pop("compare")
    shared = raw.pop("tune", {})
    if not isinstance(shared, dict):
        raise ScenarioError(path, [Issue("tune", "must be a table", shared)])
    written = table.get("strategies") if isinstance(table, dict) else None
    specs: dict[str, TuneSpec | None] = {}
    for name, one in strategy_raws(path, raw, table).items():
        own = written.get(name, {}).get("tune") if isinstance(written, dict) else None
        where = f"compare.strategies.{name}.tune" if own is not None else "tune"
        if own is not None:
            if not isinstance(own, dict):
                raise ScenarioError(path, [Issue(where, "must be a table", own)])
            extra = [Issue(f"{where}.{key}", "a strategy's tune table holds its knobs only: "
                           "the budget is shared, set it in [tune]") for key in own
                     if key != "knobs"]
            if extra:
                raise ScenarioError(path, extra)
        knobs = own.get("knobs", []) if own is not None else shared.get("knobs", [])
        if not knobs:
            specs[name] = None
            continue
        source = f"{path} [compare.strategies.{name}]"
        try:
            spec = tune_spec(path, one, {**shared, "knobs": knobs}, overrides,
                             options=options, where=where, name=name)
        except ScenarioError as error:
            raise ScenarioError(source, error.issues) from None
        specs[name] = _strategy_knobs_only(spec, Path(source), where)
    return ComparisonTune(specs, path, table)


def _named(spec: TuneSpec) -> TuneSpec:
    return _strategy_knobs_only(spec, spec.source, "tune")


def _strategy_knobs_only(spec: TuneSpec, path: Path, where: str) -> TuneSpec:
    bad = [Issue(f"{where}.knobs[{i}].path", "compare --tune tunes strategies: a knob must be "
                 "a strategy.* path (the strategies share the market)", k.path)
           for i, k in enumerate(spec.knobs) if not k.path.startswith("strategy.")]
    if bad:
        raise ScenarioError(path, bad)
    from dataclasses import replace

    return replace(spec, name=spec.start.name)


def _same_budget(budgets: Mapping[Path, Mapping[str, Any]], options: Mapping[str, Any]) -> None:
    issues = []
    first_path, first = next(iter(budgets.items()))
    for path, budget in budgets.items():
        for key in BUDGET:
            if options.get(key) is not None:
                continue
            if budget.get(key) != first.get(key):
                issues.append(Issue(f"tune.{key}", f"differs from {first_path.name}'s "
                                    f"({first.get(key, 'the default')}): the strategies are "
                                    "tuned with the same budget", budget.get(key, "the default")))
        if issues:
            raise ScenarioError(path, issues)


class _Named:
    """A progress that names the strategy being tuned."""

    def __init__(self, inner: Progress, name: str) -> None:
        self.inner, self.name = inner, name

    def start(self, stage: str, total: int, done: int) -> None:
        self.inner.start(f"{stage} ({self.name})", total, done)

    def advance(self, stage: str, failed: bool = False) -> None:
        self.inner.advance(f"{stage} ({self.name})", failed)


def tune_strategies(plan: ComparisonTune, folder: Path, *, jobs: int = 1,
                    dask: str | None = None, progress: Progress | None = None
                    ) -> dict[str, TuneResult]:
    """Tune every strategy that has knobs, each in ``folder/tune/<name>/`` (continuing a
    study stored there), and write its files."""
    results = {}
    for name, spec in plan.specs.items():
        if spec is None:
            continue
        where = folder / "tune" / name
        result = run_tune(spec, where, jobs=jobs, dask=dask, resume=True,
                          progress=_Named(progress or Silent(), name))
        write_tune(result, where, scenario_file=plan.source is None)
        results[name] = result
    return results


def tuned_scenarios(scenarios: Sequence[Scenario], plan: ComparisonTune,
                    results: Mapping[str, TuneResult]) -> list[Scenario]:
    """The comparison's scenarios with each tuned winner's knobs (its own seed and
    replications: those of the comparison)."""
    tuned = []
    for s in scenarios:
        spec, result = plan.specs.get(s.name), results.get(s.name)
        if spec is None or result is None or result.winner is None:
            tuned.append(s)
            continue
        tuned.append(spec.scenario(result.winner.params, seed=s.run.seed,
                                   replications=s.run.replications, name=s.name,
                                   label=f"{s.label} (tuned)"))
    return tuned


def comparison_tuning(plan: ComparisonTune, results: Mapping[str, TuneResult]
                      ) -> dict[str, Any]:
    """tune.json of a comparison: each strategy's tune summary (None: not tuned)."""
    return {"strategies": {name: (tune_dict(results[name]) if name in results else None)
                           for name in plan.specs}}


def tuned_compare_toml(plan: ComparisonTune, results: Mapping[str, TuneResult],
                       folder: Path, name: str) -> str:
    """tuned.toml of a [compare] file: extends it, every strategy written as a table with
    the tuned values of those that were tuned; running it compares them at their best."""
    assert plan.source is not None
    assert plan.compare_table is not None
    written = plan.compare_table.get("strategies")
    strategies = ({str(n): {"preset": n} for n in written} if isinstance(written, list)
                  else {k: {x: y for x, y in v.items() if x != "tune"} if isinstance(v, dict)
                        else v for k, v in (written or {}).items()})
    body: dict[str, Any] = {}
    lines = []
    for strategy, result in results.items():
        spec = plan.specs[strategy]
        if spec is None or result.winner is None:
            continue
        chosen = tuned_raw(spec, result.winner.params)
        mine = chosen.pop("strategy", {})
        mine["label"] = f"{spec.start.label} (tuned)"
        current = strategies.get(strategy, {})
        strategies[strategy] = deep_merge(current if isinstance(current, dict) else {}, mine)
        body = deep_merge(body, chosen)
        lines.append(f"#   {strategy}: " + ", ".join(f"{p} = {v!r}"
                                                    for p, v in result.winner.params.items()))
    head = {"extends": os.path.relpath(plan.source.resolve(), folder.resolve()),
            "compare": {"name": f"{name}-tuned", "tune": False, "strategies": strategies}}
    header = ("# The comparison with each strategy at its best: written by simrun compare "
              "--tune.\n# Chosen:\n" + "\n".join(lines) + "\n")
    return header + tomli_w.dumps({**head, **body})


def write_comparison_tuning(plan: ComparisonTune, results: Mapping[str, TuneResult],
                            folder: Path, name: str) -> list[Path]:
    """tune.json (every strategy's tune) and, for a [compare] file, tuned.toml."""
    paths = [write_atomic(folder / "tune.json",
                          json.dumps(comparison_tuning(plan, results), indent=2) + "\n")]
    if plan.source is not None and any(r.winner for r in results.values()):
        paths.append(write_atomic(folder / "tuned.toml",
                                  tuned_compare_toml(plan, results, folder, name)))
    return paths
