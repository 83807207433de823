"""The Python API for notebooks: ``sim.run``, ``sim.compare`` and ``sim.explain``.

The CLI is a thin layer over the same calls. Results are plain objects
(:class:`~sim.experiment.runner.ScenarioResult`,
:class:`~sim.experiment.compare.ComparisonResult`) with ``.summary()`` tables and
the chart functions of :mod:`sim.charts` as ``.charts``.

This module is the top of the house: it wires the charts to the results (the
experiment layer below never imports them), and loads matplotlib only when a chart
is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.atomic import Data
from sim.experiment.compare import ComparisonResult, load_comparison
from sim.experiment.compare import compare as _compare
from sim.experiment.explain import Attribution
from sim.experiment.explain import explain as _explain
from sim.experiment.runner import ScenarioResult, attach_charts, run_scenario
from sim.scenario import Scenario, load_scenario
from sim.scenario.loader import run_overrides

ScenarioLike = str | Path | Scenario


def _chart_book(result: ScenarioResult | ComparisonResult | Attribution) -> Any:
    """``result.charts`` of a run or a comparison (a ChartBook); an explanation's
    ``.chart()`` (its waterfall, a Figure)."""
    if isinstance(result, Attribution):
        from sim.charts.explain import explain_waterfall
        from sim.experiment.explain_output import explain_dict

        return explain_waterfall(explain_dict(result))
    from sim.charts import ChartBook

    return ChartBook(result)


attach_charts(_chart_book)


def _load(scenario: ScenarioLike, extra: list[str]) -> Scenario:
    if isinstance(scenario, Scenario):
        if extra:
            from sim.scenario import resolved_raw, scenario_from_raw

            return scenario_from_raw(resolved_raw(scenario), source=scenario.source,
                                     default_name=scenario.name, overrides=extra)
        return scenario
    return load_scenario(scenario, extra)


def run(scenario: ScenarioLike, *, replications: int | None = None, seed: int | None = None,
        overrides: Iterable[str] = (), jobs: int | None = None,
        out: str | Path | None = None, progress: bool = False,
        events: bool = False) -> ScenarioResult:
    """Run a scenario (a path or a loaded Scenario); write its files when ``out`` is given.

    ``events=True`` (with ``out``) also writes the event log, one row per visit
    (events.parquet, or events.csv without pyarrow), and transactions.csv, the log
    ``simrun fit`` reads; the results are the same as without it. ``progress=True``
    shows a progress bar (in a terminal or a notebook). Replications run on every
    core; a script that calls this at its top level without
    ``if __name__ == "__main__":`` runs them in this one process, with a warning.

    >>> result = sim.run("scenarios/tiered.toml", replications=5, jobs=2)
    >>> result.summary()          # a DataFrame with pandas installed
    """
    _check_jobs(jobs)
    if events and out is None:
        raise ValueError("events=True writes the event log into a folder: give out=")
    spec = _load(scenario, run_overrides(overrides, replications, seed))
    if events:
        return _run_with_events(spec, Path(str(out)), jobs, progress)
    with _bar(progress) as bar:
        bar.start(spec.run.replications)
        result = run_scenario(spec, jobs=jobs, progress=lambda _: bar.advance())
    if out is not None:
        from sim.experiment.folders import same_run
        from sim.experiment.output import run_files
        from sim.scenario import scenario_toml

        _write(run_files(result), Path(out), same_run(scenario_toml(spec)))
    return result


def _run_with_events(spec: Scenario, out: Path, jobs: int | None,
                     progress: bool) -> ScenarioResult:
    """Run and write the result files and the event log into ``out`` (locked)."""
    import tempfile
    import warnings

    from sim.atomic import write_atomic_many
    from sim.experiment.events import event_files, join_parts
    from sim.experiment.folders import results_target, same_run
    from sim.experiment.lock import locked
    from sim.experiment.output import run_files
    from sim.scenario import scenario_toml

    target, notes = results_target(out.name, out, same_run(scenario_toml(spec)))
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    with locked(target), tempfile.TemporaryDirectory(
            dir=target, prefix=".events-", ignore_cleanup_errors=True) as parts:
        log = event_files(Path(parts))
        with _bar(progress) as bar:
            bar.start(spec.run.replications)
            result = run_scenario(spec, jobs=jobs, progress=lambda _: bar.advance(), events=log)
        write_atomic_many({target / name: text for name, text in run_files(result).items()})
        join_parts(log, range(spec.run.replications), target)
    return result


def run_market(market: str | Path | Any, *, replications: int | None = None,
               seed: int | None = None, overrides: Iterable[str] = (),
               jobs: int | None = None, out: str | Path | None = None,
               events: bool = False) -> Any:
    """Run a market file (a path, or a loaded MarketScenario) and return its
    MarketResult: ``result.firm("Tiers")`` is a firm's results as a run,
    ``result.shares()``, ``result.hhi()``, ``result.switching()`` the market's.

    ``out`` writes the files of ``simrun run MARKET`` there (market.json, the market's
    CSV files, firms/<firm>/ as a run); ``events=True`` (with ``out``) also writes the
    event log with its ``firm`` column and each firm's transactions.csv. The results
    are the same with and without them.

    >>> result = sim.run_market("scenarios/market.toml", replications=4, jobs=2)
    """
    from sim.experiment.market import run_market as run_market_replications
    from sim.scenario.market import MarketScenario, load_market

    _check_jobs(jobs)
    if events and out is None:
        raise ValueError("events=True writes the event log into a folder: give out=")
    extra = run_overrides(overrides, replications, seed)
    if isinstance(market, MarketScenario):
        if extra:
            raise TypeError("overrides, replications and seed apply to a market file; "
                            "give a path, or change the loaded market")
        spec = market
    else:
        spec = load_market(market, extra)
    if out is None:
        return run_market_replications(spec, jobs=jobs)
    return _run_market_into(spec, Path(str(out)), jobs, events)


def _run_market_into(spec: Any, out: Path, jobs: int | None, events: bool) -> Any:
    """Run a market and write its files (and its event log) into ``out`` (locked), as
    ``simrun run MARKET --out OUT`` does."""
    import tempfile
    import warnings

    from sim.experiment.folders import results_target, same_market, strategy_folders
    from sim.experiment.lock import locked
    from sim.experiment.market import run_market as run_market_replications
    from sim.experiment.market_events import join_market_parts, market_event_files
    from sim.experiment.market_output import market_toml, write_market_results

    folders = strategy_folders(spec.names, "firms[].name")
    if spec.warmup_auto:  # resolved first: the folder's market.toml records the days found
        from sim.experiment.warmup import resolve_market_auto

        spec = resolve_market_auto(spec, jobs=jobs)[0]
    target, notes = results_target(out.name, out, same_market(market_toml(spec)))
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    with locked(target), tempfile.TemporaryDirectory(
            dir=target, prefix=".events-", ignore_cleanup_errors=True) as parts:
        log = market_event_files(Path(parts), len(spec.names)) if events else None
        result = run_market_replications(spec, jobs=jobs, events=log)
        write_market_results(result, target)
        if log is not None:
            join_market_parts(log, range(spec.run.replications), target,
                              [folders[name] for name in spec.names])
    return result


def compare(*scenarios: ScenarioLike, baseline: str | None = None, metric: str | None = None,
            replications: int | None = None, seed: int | None = None,
            overrides: Iterable[str] = (), jobs: int | None = None, name: str | None = None,
            allow_different_markets: bool = False,
            out: str | Path | None = None, progress: bool = False) -> ComparisonResult:
    """Several strategies on the same customers: files, Scenarios, or one [compare] file.

    >>> cmp = sim.compare("scenarios/god.toml", "scenarios/tiered.toml", replications=10)
    >>> cmp.summary()
    >>> cmp.paired_difference("tiered", "profit")
    """
    _check_jobs(jobs)
    extra = run_overrides(overrides, replications, seed)
    settings: dict[str, str] = {}
    if len(scenarios) == 1 and not isinstance(scenarios[0], Scenario):
        specs, settings = load_comparison([Path(scenarios[0])], extra)
    else:
        specs = [_load(s, extra) for s in scenarios]
    with _bar(progress) as bar:
        bar.start(sum(s.run.replications for s in specs))
        result = _compare(specs, name=name or settings.get("name"),
                          baseline=baseline or settings.get("baseline"),
                          metric=metric or settings.get("metric") or "profit",
                          jobs=jobs, allow_different_markets=allow_different_markets,
                          progress=lambda *_: bar.advance())
    if out is not None:
        from sim.experiment.folders import same_comparison, strategy_folders
        from sim.experiment.output import comparison_files
        from sim.scenario import scenario_toml

        folders = strategy_folders(result.names)
        _write(comparison_files(result), Path(out), same_comparison(
            {folders[one.scenario.name]: scenario_toml(one.scenario) for one in result.results}))
    return result


def _check_jobs(jobs: int | None) -> None:
    from sim import limits

    problem = limits.jobs_problem(jobs)
    if problem:
        raise ValueError(f"jobs={jobs}: {problem.replace('--force-limits', 'sim.limits.lifted()')}")


def _bar(progress: bool) -> Any:
    from sim.progress import Progress

    return Progress("replications", progress, force=True)


def _write(files: Mapping[str, Data], out: Path, identity: Any) -> None:
    """Write result files into ``out`` (locked), or into a sibling when ``out`` holds the
    results of a different scenario, with a warning that says where."""
    import warnings

    from sim.atomic import write_atomic_many
    from sim.experiment.folders import results_target
    from sim.experiment.lock import locked

    target, notes = results_target(out.name, out, identity)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    with locked(target):
        write_atomic_many({target / name: text for name, text in files.items()})


def explain(a: ScenarioLike, b: ScenarioLike, *, metric: str = "profit",
            replications: int | None = None, seed: int | None = None,
            overrides: Iterable[str] = (), jobs: int | None = None,
            out: str | Path | None = None) -> Attribution:
    """Why B beats (or trails) A: the paired difference in ``metric`` split among the
    knob groups in which the strategies differ, as Shapley values with 95% CIs.

    >>> why = sim.explain("scenarios/god.toml", "scenarios/tiered.toml", replications=10)
    >>> why.contributions["prices and tiers"]     # Estimate(mean, sd, n, low, high)
    >>> why.total, why.summary(), why.chart()
    """
    extra = run_overrides(overrides, replications, seed)
    result = _explain(_load(a, extra), _load(b, extra), metric=metric, jobs=jobs)
    if out is not None:
        from sim.experiment.explain_output import write_explanation

        write_explanation(result, Path(out))
    return result
