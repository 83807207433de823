"""The ``simrun`` command: a thin shell over the library.

It parses options, calls :mod:`sim.scenario`, :mod:`sim.experiment` and the views,
and maps errors to exit codes (2: bad input, a folder in use, damaged results, a write
that failed; never a traceback). SIGTERM and SIGHUP stop a command as Ctrl-C does:
finished work is kept. Heavy imports stay inside commands.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from sim import __version__, blas
from sim.scenario.errors import ScenarioError, SimrunError


class DefaultGroup(click.Group):
    """A group where ``simrun FILE`` means ``simrun run FILE``; a word that is neither a
    command nor a file gets click's "No such command" with a suggestion. Errors meant
    for people (:class:`~sim.scenario.errors.SimrunError`, a failed write) end the
    command with their message and exit code 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-") \
                and _names_a_file(args[0]):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SimrunError as error:
            click.echo(f"Error: {error.format()}", err=True)
            ctx.exit(2)
        except BrokenPipeError:
            raise
        except OSError as error:  # a full disk, a read-only folder, a file-size limit
            where = f"{error.filename}: " if error.filename else ""
            click.echo(f"Error: {where}{error.strerror or error}", err=True)
            ctx.exit(2)


def _names_a_file(word: str) -> bool:
    """Whether ``simrun WORD`` means a scenario file rather than a mistyped command."""
    return "/" in word or "\\" in word or "." in word or Path(word).exists()


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the command stops as it does on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_like_ctrl_c(ctx: click.Context) -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` until the command ends."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        raise Terminated(signum)

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            previous = signal.signal(number, stop)
            ctx.call_on_close(lambda n=number, p=previous: signal.signal(n, p))


@contextmanager
def interruptible(kept: str) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP inside the block: say so and what was kept, and exit
    with 128 + the signal's number."""
    try:
        yield
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, Terminated) else signal.SIGINT
        what = "Terminated" if isinstance(stop, Terminated) else "Interrupted"
        click.echo(f"\n{what}: {kept}", err=True)
        sys.exit(128 + signum)


def say(text: str) -> None:
    click.echo(text, err=True)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simrun")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Test service strategies with numbers: a discrete-event simulation of
    heterogeneous customers served under "customer is God", tiered, scarcity or
    partner strategies, with confidence intervals.

    \b
    Examples:
      simrun scenarios/tiered.toml              run a scenario ('simrun run FILE')
      simrun scenarios/god.toml -n 40 --jobs 2  40 replications on 2 processes
      simrun scenarios/tiered.toml --set market.alternatives=0.2
      simrun check scenarios/partner.toml       validate, print it resolved
      simrun strategies                         list presets and their knobs
      simrun validate                           the engine against queueing theory

    \b
    Shell completion (bash; zsh and fish likewise):
      eval "$(_SIMRUN_COMPLETE=bash_source simrun)"
      simrun tune scenarios/tiered.toml --knob 'strategy.tiers[2].price=80..140'
                                                tune a knob (needs simrun[tune])
    """
    os.environ.update(blas.unset())  # before any command loads NumPy (sim/blas.py)
    _stop_like_ctrl_c(ctx)


force_option = click.option(
    "--force-limits", is_flag=True,
    help="Go beyond the size limits (replications, days, expected work, sweep size, "
         "jobs beyond the cores); see sim/limits.py.")
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE",
    help="Override any field, e.g. --set market.alternatives=0.2 "
         "--set strategy.tiers[0].price=45 (repeatable; VALUE is TOML).")


def stored_run_options(function: Any) -> Any:
    """Options of the commands that store each run as it finishes (sweep, tournament)."""
    for option in reversed((
        click.option("-j", "--jobs", type=click.IntRange(min=1),
                     help="Local worker processes (default: all cores)."),
        click.option("--dask", metavar="ADDRESS",
                     help="Run on a Dask cluster: tcp://HOST:8786, or 'local' for a "
                          "LocalCluster."),
        click.option("--resume", is_flag=True,
                     help="Continue: skip runs already in runs.sqlite."),
        click.option("--fresh", is_flag=True, help="Discard runs.sqlite and start over."),
    )):
        function = option(function)
    return function


def run_options(function: Any) -> Any:
    """Options shared by run and compare."""
    for option in reversed((
        click.option("-n", "--replications", type=click.IntRange(min=1),
                     help="Replications (default: the scenario's run.replications)."),
        click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: run.seed)."),
        click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
                     help="Folder for the result files (default: results/<name>)."),
        click.option("-j", "--jobs", type=click.IntRange(min=1),
                     help="Replications in parallel over local processes (default: all cores)."),
        set_option,
        click.option("-q", "--quiet", is_flag=True, help="No progress and no table."),
        click.option("--format", "output_format", type=click.Choice(["table", "json"]),
                     default="table", show_default=True, help="What to print when done."),
        force_option,
    )):
        function = option(function)
    return function


def check_jobs(jobs: int | None, *, local: bool = True, runs: int | None = None) -> None:
    """Refuse more worker processes than cores (unless limits are lifted). When the
    command's work goes to ``jobs`` local worker processes (``local``), start their fork
    server now (:func:`sim.experiment.pool.start_ahead`): it imports the model while the
    command loads its input, and the first pool's workers are ready. It imports this
    module too, which each worker imports again when it runs the ``simrun`` script.
    ``runs``: how many runs the command will make, when it knows before reading its
    input (``-n 1``): a single run is made in this process, with no pool to start."""
    from sim import limits

    problem = limits.jobs_problem(jobs)
    if problem:
        raise click.BadParameter(problem, param_hint="'-j' / '--jobs'")
    if local and (runs is None or runs > 1):
        from sim.experiment.pool import start_ahead

        start_ahead(jobs, __name__)


def precision_options(function: Any) -> Any:
    """Options of sequential runs, shared by run and compare."""
    for option in reversed((
        click.option("--precision", "precision_text", metavar="PERCENT",
                     help="Add replications in batches until the 95% CI half-width of the "
                          "metric is at most this share of its mean, e.g. 2% (compare: of "
                          "each paired difference to the baseline, as a share of the "
                          "baseline's mean)."),
        click.option("--half-width", type=float, metavar="AMOUNT",
                     help="Like --precision, with the half-width in the metric's unit, "
                          "e.g. 500."),
        click.option("--min-replications", type=int,
                     help="Replications before the first look of --precision (default 10)."),
        click.option("--max-replications", type=int,
                     help="Cap of --precision and --select, replications per strategy "
                          "(default 200)."),
    )):
        function = option(function)
    return function


def _precision_target(metric: str, text: str | None, half_width: float | None,
                      least: int | None, most: int | None, replications: int | None) -> Any:
    """The Precision asked for on the command line, or None; a ScenarioError for options
    that do not go together or values that cannot be."""
    from sim.scenario import Issue

    if text is None and half_width is None:
        if least is not None:
            raise ScenarioError("--min-replications", [Issue(
                "--min-replications", "goes with --precision or --half-width")])
        return None
    from sim.experiment.precision import MAX_REPLICATIONS, MIN_REPLICATIONS, Precision
    from sim.experiment.sequential import check_target  # numpy and the model: only here
    if replications is not None:
        raise ScenarioError("-n", [Issue("-n", "sets a fixed number of replications; "
                                         "--precision and --half-width find it (bound it with "
                                         "--min-replications and --max-replications)")])
    relative = None
    if text is not None:
        from sim.experiment.precision import parse_relative

        try:
            relative = parse_relative(text)
        except ValueError:
            raise ScenarioError("--precision", [Issue(
                "--precision", "must be a percentage such as 2% (or a share such as 0.02)",
                text)]) from None
    target = Precision(metric, relative, half_width,
                       MIN_REPLICATIONS if least is None else least,
                       MAX_REPLICATIONS if most is None else most)
    check_target(target)
    return target


def _found_warmups(specs: list[Any], jobs: int | None, show: bool) -> list[Any]:
    """The scenarios with run.warmup_days = "auto" found by a pilot (progress and what
    was found on stderr); the others as they are."""
    if not any(s.warmup_auto for s in specs):
        return specs
    from sim.experiment.warmup import PILOT_REPLICATIONS, resolve_auto
    from sim.progress import Progress

    with interruptible("nothing was written (the warm-up was being found)."), \
            Progress("pilot replications (warm-up)", show, say=say) as bar:
        bar.start(PILOT_REPLICATIONS * sum(1 for s in specs if s.warmup_auto))
        resolved, found = resolve_auto(specs, jobs=jobs, progress=lambda _run: bar.advance())
    days = resolved[0].run.warmup_days
    each = ", ".join(f"{w.scenario.name} {w.days}" for w in found) if len(found) > 1 else ""
    say(f'Warm-up ("auto"): {days} days, by MSER-5 on {PILOT_REPLICATIONS} pilot '
               f"replications{' (' + each + ')' if each else ''}; the resolved scenario "
               "records it ('simrun warmup' draws the chart).")
    for w in found:
        for series in w.series:
            if not series.settled:
                say(f"Warning: {w.scenario.name}'s {series.column} has not settled "
                           f"within the first half of the horizon ({series.search_days} days): "
                           "simulate longer.")
    return resolved


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@run_options
@precision_options
@click.option("--metric", help="Metric of --precision and --half-width (default: profit).")
@click.option("--events", is_flag=True,
              help="Also write the event log: events.parquet (events.csv without pyarrow), "
                   "one row per visit, and transactions.csv, the till's view that "
                   "'simrun fit' reads.")
@click.option("--charts", is_flag=True,
              help="Also write the charts to charts/ (a market: shares over time, profit "
                   "per firm, switching, spillover, and report.html with who gains at whose "
                   "expense).")
def run(scenario: Path, replications: int | None, seed: int | None, out_dir: Path | None,
        jobs: int | None, overrides: tuple[str, ...], quiet: bool, output_format: str,
        force_limits: bool, precision_text: str | None = None, half_width: float | None = None,
        min_replications: int | None = None, max_replications: int | None = None,
        metric: str | None = None, events: bool = False, charts: bool = False) -> None:
    """Run SCENARIO's replications, print the results and write results/<name>/.

    \b
    Writes summary.json (every metric: mean, sd, 95% CI, n), replications.csv,
    daily.csv and scenario.toml (the resolved scenario: 'simrun' on it reproduces
    the run exactly); with --events also events.parquet and transactions.csv
    (docs/columns.md). An interrupted run (Ctrl-C, SIGTERM) keeps its finished
    replications and picks them up when the same command runs again. A folder that
    holds the results of a different scenario is left as it is: the run goes to
    results/<name>-2/ and says so.

    \b
    With --precision 2% (or --half-width 500) it adds replications in batches
    until the 95% CI of --metric is that narrow, from --min-replications (10) up
    to --max-replications (200), and says how narrow it got.

    \b
    Examples:
      simrun run scenarios/tiered.toml -n 10 --seed 7 \\
          --set market.alternatives=0.2
      simrun scenarios/tiered.toml --precision 2% --metric profit
    """
    from sim import limits

    with limits.lifted(force_limits):  # first, so that the fork server starts importing
        check_jobs(jobs, runs=replications)  # (-n never goes with --precision)
    from sim.experiment.folders import results_target, same_run
    from sim.experiment.lock import locked
    from sim.experiment.output import Checkpoint, summary_dict, write_results
    from sim.experiment.runner import run_scenario
    from sim.scenario import scenario_toml
    from sim.scenario.loader import run_overrides
    from sim.scenario.market import MarketScenario, load_any

    show = not quiet and output_format == "table"
    with limits.lifted(force_limits):
        spec = load_any(scenario, run_overrides(overrides, replications, seed))
        target_precision = _precision_target(metric or "profit", precision_text, half_width,
                                             min_replications, max_replications, replications)
    if target_precision is None:
        from sim.scenario import Issue

        if metric is not None:
            raise ScenarioError("--metric", [Issue("--metric", "is the metric of --precision "
                                                   "or --half-width; a run reports every "
                                                   "metric")])
        if max_replications is not None:
            raise ScenarioError("--max-replications", [Issue(
                "--max-replications", "goes with --precision or --half-width")])
    elif events:
        from sim.scenario import Issue

        raise ScenarioError("--events", [Issue(
            "--events", "goes without --precision or --half-width (the replications are not "
            "known in advance): run with -n N to log N replications")])
    if isinstance(spec, MarketScenario):
        _run_market(spec, out_dir, jobs, quiet, output_format, charts, target_precision, events)
        return
    spec = _found_warmups([spec], jobs, show)[0]
    target, notes = results_target(spec.name, out_dir, same_run(scenario_toml(spec)))
    for note in notes:
        say(note)
    with locked(target):
        checkpoint = Checkpoint(target, spec)
        log = None
        if events:
            from sim.experiment.events import event_files

            log = event_files(checkpoint.folder / "events")
        with _kept(checkpoint, log, spec.run.replications if target_precision is None
                   else target_precision.min_replications, show) as (done, bar, finished):
            if target_precision is None:
                result = run_scenario(spec, jobs=jobs, progress=finished, done=done,
                                      events=log, meanwhile=_import_ahead(
                                          "sim.views" if show else "",
                                          "sim.charts" if charts else ""))
            else:
                from sim.experiment.sequential import run_to_precision

                result = run_to_precision(spec, target_precision, jobs=jobs, done=done,
                                          progress=finished, plan=bar.plan)
        paths = write_results(result, target)
        if log is not None:
            from sim.experiment.events import join_parts

            paths += join_parts(log, range(spec.run.replications), target)
        checkpoint.clear()
    if charts:
        from sim.charts import write_charts
        from sim.experiment.compare import ComparisonResult

        paths += write_charts(ComparisonResult.of_one(result), target / "charts")
    if output_format == "json":
        _echo_json(summary_dict(result))
    elif not quiet:
        from sim.views import results_table

        _print_run(results_table(result), result.precision,
                   f"Results written to {target}/ ({', '.join(p.name for p in paths)})")


def _import_ahead(*modules: str) -> Callable[[], None]:
    """What a run imports while its replications run in worker processes (the pool's
    ``meanwhile``), off the serial end of the command: what the result files need
    (:func:`sim.experiment.output.import_for_results`) and the named modules (the
    table's views, the charts; empty names are skipped)."""
    def work() -> None:
        from sim.experiment.output import import_for_results

        import_for_results()
        for module in filter(None, modules):
            importlib.import_module(module)

    return work


@contextmanager
def _kept(checkpoint: Any, log: Any, total: int, show: bool) -> Iterator[tuple[Any, Any, Any]]:
    """The replications a checkpoint kept (those whose event log is kept too, with
    ``log``), a progress bar, and the hook that keeps each new one as it finishes; an
    interruption inside says that finished work is kept."""
    from sim.progress import Progress

    done = checkpoint.load()
    for path, reason in checkpoint.discarded:
        say(f"Warning: discarded {path} ({reason}); that replication runs again.")
    if log is not None:
        done = {r: run for r, run in done.items() if log.has(r)}
    with interruptible("finished replications are kept; run the same command again to "
                       "continue."), Progress("replications", show, say=say) as bar:
        bar.start(total, len(done))

        def finished(run_result: Any) -> None:
            if run_result.replication not in done:
                checkpoint.save(run_result)
                bar.advance()

        yield done, bar, finished


def _run_market(spec: Any, out_dir: Path | None, jobs: int | None, quiet: bool,
                output_format: str, charts: bool = False, target_precision: Any = None,
                events: bool = False) -> None:
    """``simrun run`` on a market file: every firm's results and the market's. Each
    replication is kept as it finishes (a checkpoint), so an interrupted market run
    continues where it stopped when the same command runs again."""
    from sim.experiment.folders import results_target, same_market, strategy_folders
    from sim.experiment.lock import locked
    from sim.experiment.market import run_market
    from sim.experiment.market_output import (
        MarketCheckpoint,
        market_dict,
        market_toml,
        write_market_results,
    )

    show = not quiet and output_format == "table"
    strategy_folders(spec.names, "firms[].name")
    spec = _found_market_warmup(spec, jobs, show)
    target, notes = results_target(spec.name, out_dir, same_market(market_toml(spec)))
    for note in notes:
        say(note)
    with locked(target):
        checkpoint = MarketCheckpoint(target, spec, None if target_precision is None
                                      else max(target_precision.max_replications,
                                               spec.run.replications))
        log = None
        if events:
            from sim.experiment.market_events import market_event_files

            log = market_event_files(checkpoint.folder / "events", len(spec.names))
        with _kept(checkpoint, log, spec.run.replications if target_precision is None
                   else target_precision.min_replications, show) as (done, bar, finished):
            if target_precision is not None:
                from sim.experiment.sequential import market_to_precision

                result = market_to_precision(spec, target_precision, jobs=jobs, done=done,
                                             progress=finished, plan=bar.plan)
            else:
                result = run_market(spec, jobs=jobs, progress=finished, done=done, events=log,
                                    meanwhile=_import_ahead(
                                        "sim.views" if show else "",
                                        *(("sim.charts.market", "sim.report.market")
                                          if charts else ())))
        paths = write_market_results(result, target)
        if log is not None:
            from sim.experiment.market_events import join_market_parts

            folders = strategy_folders(spec.names, "firms[].name")
            paths += join_market_parts(log, range(spec.run.replications), target,
                                       [folders[name] for name in spec.names])
        checkpoint.clear()
    if charts:
        from sim.atomic import write_atomic
        from sim.charts.market import write_market_charts
        from sim.report.market import render_market_page

        paths += write_market_charts(result, target / "charts")
        paths.append(write_atomic(target / "report.html", render_market_page(result)))
    if output_format == "json":
        _echo_json(market_dict(result))
    elif not quiet:
        from sim.views import market_table

        _print_run(market_table(result), result.precision,
                   f"Results written to {target}/ ({len(paths)} files: market.json, "
                   "market.toml, shares_daily.csv, switching.csv, market_replications.csv, "
                   + ("events and each firm's transactions.csv, " if events else "")
                   + "and firms/<firm>/ as a run)")


def _echo_json(payload: Any) -> None:
    import json

    click.echo(json.dumps(payload, indent=2))


def _print_run(table: Any, precision: Any, written: str) -> None:
    """A run's or a market's table, what its precision target did, where it wrote."""
    from rich.console import Console

    console = Console()
    console.print(table)
    if precision is not None:
        from sim.views import precision_view

        console.print(precision_view(precision))
    console.print(written)


def _found_market_warmup(spec: Any, jobs: int | None, show: bool) -> Any:
    """The market with run.warmup_days = "auto" found by a pilot of the whole market
    (progress and what was found on stderr); any other market as it is."""
    if not spec.warmup_auto:
        return spec
    from sim.experiment.warmup import PILOT_REPLICATIONS, resolve_market_auto
    from sim.progress import Progress

    with interruptible("nothing was written (the warm-up was being found)."), \
            Progress("pilot replications of the market (warm-up)", show, say=say) as bar:
        bar.start(PILOT_REPLICATIONS)
        resolved, found = resolve_market_auto(spec, jobs=jobs,
                                              progress=lambda _run: bar.advance())
    each = ", ".join(f"{w.scenario.label} {w.days}" for w in found)
    say(f'Warm-up ("auto"): {resolved.run.warmup_days} days, by MSER-5 on each firm\'s daily '
        f"profit and customers alive over {PILOT_REPLICATIONS} pilot replications of the "
        f"market, the largest over the firms ({each}); market.toml records it.")
    for w in found:
        for series in w.series:
            if not series.settled:
                say(f"Warning: {w.scenario.label}'s {series.column} has not settled within the "
                    f"first half of the horizon ({series.search_days} days): simulate longer.")
    return resolved


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@run_options
@click.option("--baseline", help="Strategy the others are compared with (default: the first).")
@click.option("--metric", help="Metric for 'probability of being best' (default: profit).")
@click.option("--name", help="Name of the comparison; results go to results/<name>/.")
@click.option("--allow-different-markets", is_flag=True,
              help="Compare scenarios whose markets differ (the pairing is then weaker).")
@click.option("--all-metrics", is_flag=True, help="Show every metric in the table.")
@click.option("--charts", is_flag=True, help="Also write the workshop charts (PNG and SVG).")
@click.option("--report", is_flag=True, help="Also write report.html (charts included).")
@click.option("--explain/--no-explain", "explain_winner", default=None,
              help="Explain why the winner wins (knob groups, Shapley; 2^k runs per "
                   "replication). Default: with --report.")
@click.option("--tune", "tune_first", is_flag=True,
              help="Tune each strategy on its own knobs with the same budget first (the "
                   "[tune] tables; see 'simrun tune'), then compare them at their best.")
@click.option("--trials", type=click.IntRange(min=1),
              help="With --tune: trials per strategy (default: the [tune] table's).")
@click.option("--select", "select_best", is_flag=True,
              help="Select the best on --metric with a stated confidence (Kim and Nelson's "
                   "KN on common random numbers): -n replications of every strategy, then "
                   "one more per stage for those still in contention.")
@click.option("--delta", type=float, metavar="AMOUNT",
              help="--select: the smallest difference in the metric worth telling apart, "
                   "in its unit (e.g. 2000 of profit).")
@click.option("--confidence", type=float,
              help="--select: the probability of a correct selection (default 0.95).")
@click.option("--subset", is_flag=True,
              help="--select: the subset of strategies that cannot be ruled out as the "
                   "best (screening on -n replications; needs no --delta).")
@precision_options
def compare(scenarios: tuple[Path, ...], replications: int | None, seed: int | None,
            out_dir: Path | None, jobs: int | None, overrides: tuple[str, ...], quiet: bool,
            output_format: str, force_limits: bool, baseline: str | None, metric: str | None,
            name: str | None, allow_different_markets: bool, all_metrics: bool, charts: bool,
            report: bool, explain_winner: bool | None, tune_first: bool = False,
            trials: int | None = None, select_best: bool = False, delta: float | None = None,
            confidence: float | None = None, subset: bool = False,
            precision_text: str | None = None, half_width: float | None = None,
            min_replications: int | None = None, max_replications: int | None = None) -> None:
    """Run several strategies on the same customers and compare them.

    SCENARIOS are several files (one strategy each, same market), or one file with
    a [compare] table naming the strategies (docs/compare.md). Every strategy meets
    the same customers in each replication (common random numbers), so differences
    are paired. Writes results/<name>/: each strategy's files in its own folder,
    comparison.json and comparison.csv; charts/ and report.html when asked.

    \b
    --select names the best on --metric with a stated probability of being right:
    with probability at least --confidence it is the best whenever the best leads
    every other by --delta or more. --select --subset keeps every strategy that
    cannot be ruled out. --precision 2% (or --half-width 500) adds replications
    until every paired difference to the baseline is that precise.

    \b
    Examples:
      simrun compare scenarios/god.toml scenarios/tiered.toml \\
          scenarios/scarcity.toml scenarios/partner.toml --charts --report
      simrun compare scenarios/workshop.toml --baseline god \\
          --metric customer_retention
      simrun compare scenarios/workshop.toml --select --delta 2000 \\
          --confidence 0.95
      simrun compare scenarios/workshop.toml --select --subset
      simrun compare scenarios/workshop.toml --precision 5%
    """
    from sim import limits
    from sim.experiment.compare import check_comparison, comparison_name, load_comparison
    from sim.experiment.compare import compare as run_compare
    from sim.experiment.folders import (
        folder_name,
        results_target,
        same_comparison,
        strategy_folders,
    )
    from sim.experiment.lock import locked
    from sim.experiment.output import Checkpoint, comparison_dict, write_comparison
    from sim.progress import Progress
    from sim.scenario import scenario_toml
    from sim.scenario.loader import run_overrides

    extra = run_overrides(overrides, replications, seed)
    show = not quiet and output_format == "table"
    with limits.lifted(force_limits):
        check_jobs(jobs)
        specs, settings = load_comparison(list(scenarios), extra)
        metric = metric or settings.get("metric") or "profit"
        baseline = baseline or settings.get("baseline")
        target_precision = _precision_target(metric, precision_text, half_width,
                                             min_replications, None if select_best
                                             else max_replications, replications)
        _check_select_options(select_best, subset, delta, confidence, target_precision,
                              max_replications)
        most = max_replications or _max_replications()
        if select_best:
            from sim.experiment.sequential import check_selection

            check_selection(specs, metric=metric, delta=delta, confidence=confidence or 0.95,
                            subset=subset, max_replications=most, baseline=baseline,
                            allow_different_markets=allow_different_markets)
        sequential = select_best or target_precision is not None
        issues = limits.work_issues(specs[0], (most if sequential else specs[0].run.replications)
                                    * len(specs))
        if issues:
            raise ScenarioError("compare", issues)
    label = name or settings.get("name") or comparison_name(specs)
    tuned = _tune_strategies(list(scenarios), specs, settings, extra,
                             out_dir or Path("results") / folder_name(label), label,
                             tune_first, trials, jobs, quiet or output_format != "table")
    tuning = None
    if tuned is not None:
        specs, tuning = tuned
    check_comparison(specs, baseline=baseline, metric=metric,
                     allow_different_markets=allow_different_markets)
    specs = _found_warmups(specs, jobs, show)
    folders = strategy_folders([s.name for s in specs])
    target, notes = results_target(label, out_dir, same_comparison(
        {folders[s.name]: scenario_toml(s) for s in specs}), "comparison")
    for note in notes:
        say(note)
    with locked(target):
        checkpoints = {s.name: Checkpoint(target / folders[s.name], s) for s in specs}
        done = {n: c.load() for n, c in checkpoints.items()}
        for path, reason in (d for c in checkpoints.values() for d in c.discarded):
            say(f"Warning: discarded {path} ({reason}); that replication runs again.")
        with interruptible("finished replications are kept; run the same command again to "
                           "continue."), \
                Progress("replications", show, say=say) as bar:
            first = (target_precision.min_replications if target_precision is not None
                     else specs[0].run.replications)
            bar.start(first * len(specs), sum(len(runs) for runs in done.values()))

            def finished(strategy: str, run_result: Any) -> None:
                if run_result.replication not in done[strategy]:
                    checkpoints[strategy].save(run_result)
                    bar.advance()

            if select_best:
                from sim.experiment.sequential import select_best as run_select

                result = run_select(
                    specs, metric=metric, delta=delta, confidence=confidence or 0.95,
                    subset=subset, max_replications=most, baseline=baseline, name=label,
                    jobs=jobs, allow_different_markets=allow_different_markets, done=done,
                    progress=finished, plan=bar.plan)
            elif target_precision is not None:
                from sim.experiment.sequential import compare_to_precision

                result = compare_to_precision(
                    specs, target_precision, baseline=baseline, name=label, jobs=jobs,
                    allow_different_markets=allow_different_markets, done=done,
                    progress=finished, plan=bar.plan)
            else:
                result = run_compare(
                    specs, name=label, baseline=baseline, metric=metric,
                    jobs=jobs, allow_different_markets=allow_different_markets,
                    progress=finished, done=done)
        if tuning is not None:
            from dataclasses import replace

            result = replace(result, tuning=tuning)
        write_comparison(result, target)
        for checkpoint in checkpoints.values():
            checkpoint.clear()
        if report if explain_winner is None else explain_winner:
            result = _explained(result, target, jobs, quiet or output_format != "table")
        if charts or report:
            from sim.charts import write_charts

            write_charts(result, target / "charts")
        if report:
            from sim.report import write_report

            write_report(result, target / "report.html")
    if output_format == "json":
        import json

        click.echo(json.dumps(comparison_dict(result), indent=2))
    elif not quiet:
        from rich.console import Console

        from sim.views import comparison_table

        console = Console()
        console.print(comparison_table(result, all_metrics))
        if result.selection is not None:
            from sim.views import selection_view

            console.print(selection_view(result))
        if result.precision is not None:
            from sim.views import precision_view

            console.print(precision_view(result.precision))
        click.echo(f"Results written to {target}/")


def _max_replications() -> int:
    from sim.experiment.precision import MAX_REPLICATIONS

    return MAX_REPLICATIONS


def _check_select_options(select_best: bool, subset: bool, delta: float | None,
                          confidence: float | None, target_precision: Any,
                          max_replications: int | None) -> None:
    """A ScenarioError for selection options without --select, or with --precision."""
    from sim.scenario import Issue

    issues = []
    if not select_best:
        for flag, given in (("--subset", subset), ("--delta", delta is not None),
                            ("--confidence", confidence is not None)):
            if given:
                issues.append(Issue(flag, "goes with --select"))
        if max_replications is not None and target_precision is None:
            issues.append(Issue("--max-replications", "goes with --select, --precision or "
                                                      "--half-width"))
    elif target_precision is not None:
        issues.append(Issue("--select", "decides its own replications: leave out "
                                        "--precision and --half-width"))
    if issues:
        raise ScenarioError("compare", issues)


def _tune_strategies(paths: list[Path], specs: list[Any], settings: dict[str, Any],
                     extra: list[str], target: Path, label: str, flag: bool, trials: int | None,
                     jobs: int | None, quiet: bool) -> tuple[list[Any], dict[str, Any]] | None:
    """compare --tune: tune each strategy first; the tuned scenarios and tune.json's
    content (None: no tuning asked)."""
    from sim.experiment.tune_compare import (
        load_comparison_tunes,
        tune_strategies,
        tuned_scenarios,
        wants_tuning,
        write_comparison_tuning,
    )

    if not wants_tuning(settings, flag, str(paths[0])):
        return None
    from sim.experiment.runner import default_jobs
    from sim.progress import StageProgress

    plan = load_comparison_tunes(paths, extra, options={"trials": trials})
    with interruptible("finished trials are stored; run the same command again to "
                       "continue."), StageProgress(not quiet, say=say) as progress:
        results = tune_strategies(plan, target, jobs=jobs or default_jobs(), progress=progress)
    paths_written = write_comparison_tuning(plan, results, target, label)
    if not quiet:
        from sim.views_tune import verdict

        for strategy, result in results.items():
            from sim.experiment.tune_output import tune_dict

            click.echo(f"{strategy}: {verdict(tune_dict(result))}")
        click.echo(f"Tuned: {', '.join(str(p) for p in paths_written)}")
    from sim.experiment.tune_compare import comparison_tuning

    return tuned_scenarios(specs, plan, results), comparison_tuning(plan, results)


def _explained(result: Any, target: Path, jobs: int | None, quiet: bool) -> Any:
    """The comparison with why its winner wins (explain.json and .csv written), or as it
    was when that cannot be explained (one strategy, different markets, a tie of knobs)."""
    from dataclasses import replace

    from sim.experiment.explain import explain_winner
    from sim.experiment.explain_output import as_written, explain_dict, write_explanation
    from sim.progress import Progress

    if len(result.names) < 2:
        return result
    with interruptible("the comparison is written; the explanation is not."), \
            Progress("runs to explain the winner", not quiet, say=say) as bar:
        try:
            why = explain_winner(result, jobs=jobs, on_start=bar.start, progress=bar.advance)
        except ScenarioError as error:
            say(f"Not explained: {error.format()}")
            return result
    write_explanation(why, target)
    return replace(result, why=as_written(explain_dict(why)))


@main.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@run_options
@click.option("--metric", default="profit", show_default=True,
              help="Metric whose difference is explained.")
@click.option("--charts", is_flag=True, help="Also write the waterfall chart (PNG and SVG).")
def explain(a: Path, b: Path, replications: int | None, seed: int | None,
            out_dir: Path | None, jobs: int | None, overrides: tuple[str, ...], quiet: bool,
            output_format: str, force_limits: bool, metric: str, charts: bool) -> None:
    """Explain why strategy B beats (or trails) strategy A on one metric.

    A and B are two files on the same market. The paired difference B - A is split
    among the strategy's knob groups in which they differ (prices and tiers, requests,
    refunds, screening, service level, delight, recovery, admission and capacity,
    scarcity pricing, adaptation) as Shapley values: each mix of groups from A and B
    runs on the same customers, and the contributions add up to the difference.
    Writes explain.json and explain.csv to results/<A>-vs-<B>-explained/.

    \b
    Example:
      simrun explain scenarios/god.toml scenarios/tiered.toml -n 10 --charts
    """
    from sim import limits
    from sim.experiment.explain import explain as run_explain
    from sim.experiment.explain_output import (
        explain_dict,
        explain_folder_name,
        write_explanation,
    )
    from sim.experiment.lock import locked
    from sim.progress import Progress
    from sim.scenario import load_scenario
    from sim.scenario.loader import run_overrides

    extra = run_overrides(overrides, replications, seed)
    with limits.lifted(force_limits):
        check_jobs(jobs)
        specs = [load_scenario(path, extra) for path in (a, b)]
    with interruptible("nothing was written."), \
            Progress("runs", not quiet and output_format == "table", say=say) as bar:
        result = run_explain(specs[0], specs[1], metric=metric, jobs=jobs,
                             on_start=bar.start, progress=bar.advance)
    target = out_dir or Path("results") / explain_folder_name(result)
    with locked(target):
        write_explanation(result, target)
    if charts:
        from sim.charts.explain import write_explain_chart

        write_explain_chart(explain_dict(result), target / "charts")
    if output_format == "json":
        import json

        click.echo(json.dumps(explain_dict(result), indent=2))
    elif not quiet:
        from rich.console import Console

        from sim.views import explain_table

        Console().print(explain_table(result))
        click.echo(f"Results written to {target}/")


@main.command()
@click.argument("market_file", type=click.Path(path_type=Path))
@click.option("--strategies", metavar="A,B,...",
              help="Presets every firm slot takes in turn (default: the file's "
                   "[tournament] strategies).")
@click.option("-n", "--replications", type=click.IntRange(min=1),
              help="Replications per pairing (default: the market's run.replications).")
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: run.seed).")
@stored_run_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Results folder (default: results/<market name>-tournament).")
@set_option
@click.option("--charts", is_flag=True, help="Also write the payoff heat map.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no table.")
def tournament(market_file: Path, strategies: str | None, replications: int | None,
               seed: int | None, jobs: int | None, dask: str | None, resume: bool,
               fresh: bool, out_dir: Path | None, overrides: tuple[str, ...], charts: bool,
               force_limits: bool, quiet: bool) -> None:
    """Every pairing of strategies on MARKET_FILE's firms: payoff matrix, best
    responses, pure Nash equilibria and the strategy that survives imitation.

    Each firm slot takes each strategy (self-pairings included; each firm keeps its
    own business), every pairing on the same customers (common random numbers). Runs
    are stored in runs.sqlite as they finish (--resume skips them); writes
    tournament.json and payoffs.csv, and with --charts charts/payoffs.png and .svg.

    \b
    Examples:
      simrun tournament scenarios/market-duel.toml \\
          --strategies god,tiered,scarcity,partner
      simrun tournament scenarios/market-duel.toml -n 4 --set run.days=200 \\
          --jobs 2
    """
    from sim import limits
    from sim.atomic import check_folder
    from sim.experiment.folders import folder_name
    from sim.experiment.runner import default_jobs
    from sim.experiment.tournament import build_tournament, run_tournament, tournament_strategies
    from sim.experiment.tournament_output import write_tournament
    from sim.progress import Progress
    from sim.scenario.loader import read_with_extends, run_overrides
    from sim.scenario.market import market_from_raw

    with limits.lifted(force_limits):
        check_jobs(jobs)
        raw = read_with_extends(market_file)
        names = tournament_strategies(
            raw.get("tournament"), str(market_file),
            [s.strip() for s in strategies.split(",")] if strategies else None)
        if "firms" not in raw:
            from sim.scenario import Issue, ScenarioError

            raise ScenarioError(market_file, [Issue("firms", "a tournament needs a market file "
                                                    "with [[firms]] (one slot per firm)")])
        market = market_from_raw(raw, source=str(market_file), default_name=market_file.stem,
                                 base=market_file.parent,
                                 overrides=run_overrides(overrides, replications, seed))
        spec = build_tournament(market, names)
    target = out_dir or Path("results") / folder_name(f"{market.name}-tournament")
    check_folder(target)
    bar = Progress("runs", not quiet, say=say)
    with interruptible("finished runs are stored; add --resume to continue."), bar:
        result = run_tournament(spec, target, jobs=jobs or default_jobs(), dask=dask,
                                resume=resume, fresh=fresh,
                                progress=lambda o: bar.advance(failed=o.metrics is None),
                                on_start=bar.start)
    for point, _, replication, trace in result.failures:
        last = trace.strip().splitlines()[-1] if trace else "unknown error"
        say(f"run failed: pairing {point}, replication {replication}: {last}")
    if not result.complete():
        say(f"Not every run finished: run again with --resume (results in {target}/).")
        raise SystemExit(1)
    paths = write_tournament(result, target)
    if charts:
        from sim.charts.files import write_figures
        from sim.charts.tournament import payoff_heatmap

        paths += write_figures({"payoffs": lambda: payoff_heatmap(result)}, target / "charts")
    if not quiet:
        from rich.console import Console

        from sim.views import tournament_table

        Console().print(tournament_table(result))
    click.echo(f"{len(spec.profiles)} pairings x {market.run.replications} replications "
               f"({result.ran} run now); results in {target}/")


@main.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@stored_run_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Results folder (default: results/<sweep name>).")
@click.option("-n", "--replications", type=click.IntRange(min=1),
              help="Replications per point (default: the sweep's replications).")
@set_option
@click.option("--check", is_flag=True, help="Exit 1 if an expectation fails (for CI).")
@click.option("--junit", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              help="Write the expectations as JUnit XML to this file ('-': standard output).")
@click.option("--charts", is_flag=True, help="Also write the sweep charts.")
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def sweep(sweep_file: Path, jobs: int | None, dask: str | None, resume: bool, fresh: bool,
          out_dir: Path | None, replications: int | None, overrides: tuple[str, ...],
          check: bool, junit: Path | None, charts: bool, force_limits: bool,
          quiet: bool) -> None:
    """Run a parameter sweep: every point of the design, its strategies, replications.

    Each finished run is committed to results/<name>/runs.sqlite at once; --resume
    skips what is there. Writes sweep.csv (one row per point, strategy and
    replication), summary.csv (means and 95% CIs), Parquet too when pyarrow is
    installed, and judges the sweep's expectations. The file format: docs/sweep.md.
    -n and --set make a quick smoke run of a big sweep (--set joins sweep.set).

    \b
    Examples:
      simrun sweep scenarios/sweeps/tiered-price.toml --jobs 2
      simrun sweep scenarios/sweeps/abuse.toml -n 1 --set run.days=60 \\
          --out /tmp/smoke
      simrun sweep scenarios/sweeps/abuse.toml --check --junit results/abuse.xml
      simrun sweep scenarios/sweeps/scarcity-alternatives.toml \\
          --dask tcp://10.0.0.5:8786
    """
    from sim import limits

    with limits.lifted(force_limits):  # first, so that the fork server starts importing
        check_jobs(jobs, local=dask is None)
    from sim.atomic import check_folder, check_target
    from sim.experiment.executors import Outcome
    from sim.experiment.expect import junit_xml
    from sim.experiment.folders import folder_name
    from sim.experiment.runner import default_jobs
    from sim.experiment.sweep import load_sweep
    from sim.experiment.sweep_runner import run_sweep
    from sim.progress import Progress

    to_stdout = junit is not None and str(junit) == "-"
    if junit is not None and not to_stdout:
        check_target(junit)
    with limits.lifted(force_limits):
        spec = load_sweep(sweep_file, replications=replications, overrides=overrides)
    target = out_dir or Path("results") / folder_name(spec.name)
    if out_dir is None and target.name != spec.name:
        say(f"{spec.name!r} is not a folder name: results go to {target}/")
    check_folder(target)
    bar = Progress("runs", not quiet, say=say)
    with interruptible("finished runs are stored; add --resume to continue."), bar:
        def finished(outcome: Outcome) -> None:
            bar.advance(failed=outcome.metrics is None)

        result = run_sweep(spec, target, jobs=jobs or default_jobs(), dask=dask,
                           resume=resume, fresh=fresh, progress=finished, on_start=bar.start)
    if charts:
        from sim.charts.sweep import write_sweep_charts

        write_sweep_charts(result, target / "charts")
    echo = say if to_stdout else click.echo
    for point, strategy, replication, trace in result.failures:
        last = trace.strip().splitlines()[-1] if trace else "unknown error"
        say(f"run failed: point {point}, {strategy}, replication {replication}: {last}")
    echo(f"{spec.task_count} runs ({result.ran} run now), {len(spec.points)} points x "
         f"{len(spec.strategies)} strategies x {spec.settings.replications} replications; "
         f"results in {target}/")
    for verdict in result.verdicts:
        mark = "PASS" if verdict.passed else "FAIL"
        points = "point" if verdict.checked == 1 else "points"
        echo(f"  {mark}  {verdict.expectation.describe()}  ({verdict.checked} {points} checked)")
        for line in verdict.failures[:20]:
            echo(f"          {line}")
        if len(verdict.failures) > 20:
            echo(f"          ... and {len(verdict.failures) - 20} more")
    if junit is not None:
        xml = junit_xml(spec, result.verdicts)
        if to_stdout:
            click.echo(xml, nl=False)
        else:
            from sim.atomic import write_atomic

            write_atomic(junit, xml)
    if check and (not all(v.passed for v in result.verdicts) or result.failures):
        sys.exit(1)


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--knob", "knobs", multiple=True, metavar="PATH=LOW..HIGH",
              help="A knob to tune (repeatable; replaces the file's [tune] knobs): a range "
                   "LOW..HIGH, with a step LOW..HIGH:STEP, or choices A,B,C. Whole-number "
                   "fields are tried at whole numbers.")
@click.option("--metric", help="Metric to optimise, in its direction (default: profit).")
@click.option("--constraint", "constraints", multiple=True, metavar="METRIC>=VALUE",
              help="A condition on a trial's means, e.g. customer_retention>=0.6 "
                   "(repeatable; replaces the file's).")
@click.option("--trials", type=click.IntRange(min=1), help="Trials of the search.")
@click.option("-n", "--replications", type=click.IntRange(min=2),
              help="Replications per trial (common random numbers).")
@click.option("--final-replications", type=click.IntRange(min=2),
              help="Replications of each finalist and of the start on fresh seeds.")
@click.option("--sampler", type=click.Choice(["tpe", "cmaes"]), help="Optuna's sampler.")
@click.option("--seed", type=click.IntRange(min=0),
              help="Search seed (default: run.seed + 1); finalists are re-evaluated on seed + 1.")
@set_option
@click.option("-j", "--jobs", type=click.IntRange(min=1),
              help="Local worker processes (default: all cores).")
@click.option("--dask", metavar="ADDRESS",
              help="Run on a Dask cluster: tcp://HOST:8786, or 'local' for a LocalCluster.")
@click.option("--resume", is_flag=True, help="Continue the study in tune.sqlite.")
@click.option("--fresh", is_flag=True, help="Discard tune.sqlite and start over.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Results folder (default: results/<name>-tune).")
@click.option("--charts/--no-charts", default=True, show_default=True,
              help="Write the tuning charts (history, importance, metric against each knob).")
@click.option("--report", is_flag=True, help="Also write report.html (winner against start).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]),
              default="table", show_default=True, help="What to print when done.")
@force_option
def tune(scenario: Path, knobs: tuple[str, ...], metric: str | None,
         constraints: tuple[str, ...], trials: int | None, replications: int | None,
         final_replications: int | None, sampler: str | None, seed: int | None,
         overrides: tuple[str, ...], jobs: int | None, dask: str | None, resume: bool,
         fresh: bool, out_dir: Path | None, charts: bool, report: bool, quiet: bool,
         output_format: str, force_limits: bool) -> None:
    """Tune SCENARIO's knobs for the best metric: simulation optimisation with Optuna.

    Knobs and budget come from the file's [tune] table or the options. Every trial
    runs the same replications of the search seed (common random numbers); the best
    few trials and the start are then re-evaluated on a seed never used in the
    search, and the winner is reported with a paired 95% CI against the start. The
    study lives in results/<name>/tune.sqlite: --resume continues it after any
    interruption. Writes tune.csv, tune.json, tuned.toml (the original with the
    chosen values), start/ and tuned/ (the final runs), and charts/.

    \b
    Examples:
      simrun tune scenarios/tiered.toml --knob 'strategy.tiers[2].price=80..140' \\
          --trials 20 -n 4 -j 2
      simrun tune scenarios/tiered.toml --constraint 'customer_retention>=0.6' \\
          --report
      simrun tune scenarios/tiered.toml --resume
    """
    from sim import limits
    from sim.atomic import check_folder
    from sim.experiment.folders import folder_name
    from sim.experiment.lock import locked
    from sim.experiment.runner import default_jobs
    from sim.experiment.tune import run_tune
    from sim.experiment.tune_output import tune_dict, write_tune
    from sim.experiment.tune_spec import load_tune
    from sim.progress import StageProgress

    options = {"metric": metric, "trials": trials, "replications": replications,
               "final_replications": final_replications, "sampler": sampler, "seed": seed}
    with limits.lifted(force_limits):
        check_jobs(jobs)
        spec = load_tune(scenario, overrides, options=options, knobs=knobs,
                         constraints=constraints)
    target = out_dir or Path("results") / folder_name(spec.name)
    if out_dir is None and target.name != spec.name:
        say(f"{spec.name!r} is not a folder name: results go to {target}/")
    check_folder(target)
    with locked(target), interruptible("finished trials are stored in tune.sqlite; add "
                                       "--resume to continue."), \
            StageProgress(not quiet and output_format == "table", say=say) as progress:
        result = run_tune(spec, target, jobs=jobs or default_jobs(), dask=dask,
                          resume=resume, fresh=fresh, progress=progress)
        write_tune(result, target)
    summary = tune_dict(result)
    if charts:
        from sim.charts.tune import write_tune_charts

        write_tune_charts(summary, target / "charts")
    if report and result.winner is not None:
        from dataclasses import replace

        from sim.report import write_report

        write_report(replace(result.comparison(), tuning=summary), target / "report.html")
    if output_format == "json":
        import json

        click.echo(json.dumps(summary, indent=2))
    elif not quiet:
        from rich.console import Console

        from sim.views_tune import tune_view

        Console().print(tune_view(summary))
        click.echo(f"Results written to {target}/")
    if result.winner is None:
        sys.exit(1)


def _column_options(function: Any) -> Any:
    """--customer-column and the others: which column of the log holds what."""
    from sim.fit.columns import Columns

    for role in reversed((*Columns.REQUIRED, *Columns.OPTIONAL)):
        default = getattr(Columns, role)
        function = click.option(f"--{role}-column", f"{role}_column", metavar="NAME",
                                help=f"Column of the {role} (default: {default}).")(function)
    return function


@main.command()
@click.argument("transactions", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False),
              required=True, help="The scenario file to write, e.g. scenarios/my-shop.toml.")
@click.option("--calibration-end", metavar="DATE",
              help="First day of the holdout period (ISO date); the fit uses only what "
                   "happened before it. Default: the middle of the log.")
@click.option("--segments", default="1", show_default=True, metavar="K|COLUMN",
              help="K segments found by k-means on recency, frequency and spend, or the "
                   "name of a column that gives each customer's segment.")
@click.option("--report", is_flag=True,
              help="Also write the fit report (HTML, beside --out): simulated, BG/NBD and "
                   "actual in the holdout period.")
@click.option("-n", "--replications", type=click.IntRange(min=1, max=200), default=10,
              show_default=True, help="Replications of the holdout simulation (--report).")
@click.option("-j", "--jobs", type=click.IntRange(min=1),
              help="Processes for the holdout simulation (default: all cores).")
@click.option("--seed", type=click.IntRange(min=0), default=2024, show_default=True,
              help="Seed of the fitted scenario, the latent classes' start and the holdout "
                   "simulation.")
@click.option("--keep-duplicates", is_flag=True,
              help="Keep rows that repeat another exactly (separate purchases, not a double "
                   "export).")
@_column_options
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def fit(transactions: Path, out_file: Path, calibration_end: str | None, segments: str,
        report: bool, replications: int, jobs: int | None, seed: int, keep_duplicates: bool,
        quiet: bool, **column_names: str | None) -> None:
    """Fit a scenario to a firm's transaction log (CSV) and check it on a holdout period.

    TRANSACTIONS has one row per purchase: customer id, timestamp (ISO date or date
    and time), amount; optionally segment, service_minutes, waited_minutes, abandoned
    (1 for a visit given up in the queue), rating (0-10), tier. Everything is
    estimated from the calibration period only; what the data cannot identify keeps
    its documented default and is listed as "assumed, not fitted" at the top of the
    scenario. The scenario is an ordinary one: 'simrun check', 'simrun', 'simrun
    compare' take it. docs/calibrate.md explains every number.

    \b
    Examples:
      simrun fit transactions.csv --out scenarios/my-shop.toml --report
      simrun fit orders.csv --out scenarios/shop.toml --customer-column client \\
          --timestamp-column date --calibration-end 2024-07-01 --segments 3 -j 2
    """
    from sim.atomic import check_target, write_atomic_many
    from sim.fit.columns import Columns
    from sim.fit.estimate import calibrate
    from sim.fit.log import parse_time, read_log
    from sim.fit.scenario_out import build_scenario, scenario_text

    check_target(out_file)
    check_jobs(jobs)
    if out_file.resolve() == transactions.resolve():
        raise click.BadParameter("is the transaction log itself: give the scenario to write",
                                 param_hint="'--out'")
    roles = {key.removesuffix("_column"): value for key, value in column_names.items()
             if value is not None}
    columns = Columns(**roles, explicit=frozenset(r for r in roles if r in Columns.OPTIONAL))
    end = None
    if calibration_end is not None:
        issues: list[Any] = []
        end, _ = parse_time(calibration_end, 0, "", issues)
        if end is None:
            raise click.BadParameter(f"{calibration_end!r} is not an ISO date (2024-07-01)",
                                     param_hint="'--calibration-end'")
    count: int | str = int(segments) if segments.isdigit() else segments
    if isinstance(count, int) and not 1 <= count <= 10:
        raise click.BadParameter("give 1 to 10 segments, or a column name",
                                 param_hint="'--segments'")
    if isinstance(count, str):
        columns = Columns(**{**roles, "segment": count},
                          explicit=columns.explicit | {"segment"})
    log = read_log(transactions, columns, keep_duplicates=keep_duplicates)
    if not quiet:
        say(f"{transactions}: {log.rows:,} rows, {len(log.customers):,} customers, "
            f"{len(log.day):,} purchase occasions; fitting"
            + (f" {count} latent classes (this can take minutes)" if count != 1 else ""))
    with interruptible("nothing was written."):
        cal = calibrate(log, end, count, seed)
        fitted = build_scenario(cal, folder_safe_stem(out_file), seed)
    files: dict[Path, str] = {out_file: scenario_text(fitted)}
    if report:
        from sim.experiment.runner import default_jobs
        from sim.fit.holdout import holdout
        from sim.report.fit import render_fit_report

        target = out_file.with_name(out_file.stem + "-fit.html")
        check_target(target)
        if not quiet:
            say(f"Simulating the holdout period ({replications} replications) and fitting "
                "BG/NBD")
        with interruptible("nothing was written."):
            files[target] = render_fit_report(holdout(
                fitted, replications=replications, jobs=min(jobs or default_jobs(), replications),
                seed=seed))
    write_atomic_many(files)
    if not quiet:
        for path in files:
            click.echo(f"Written {path}")


def folder_safe_stem(path: Path) -> str:
    """The scenario's run name: the output file's stem as a safe folder name."""
    from sim.experiment.folders import folder_name

    return folder_name(path.stem)


@main.command()
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              help="Where to write the report (default: FOLDER/report.html; '-': standard "
                   "output).")
def report(folder: Path, output: Path | None) -> None:
    """Write one self-contained HTML report of a finished run, comparison or sweep.

    FOLDER is what 'simrun', 'simrun compare' or 'simrun sweep' wrote
    (results/<name>). The report embeds the charts and tables, says in plain words
    who wins on what (a sweep: its expectations and where each strategy wins), and
    lists the key parameters, seed and version; it opens offline and prints cleanly.

    \b
    Examples:
      simrun report results/workshop
      simrun report results/tiered-price -o /tmp/tiered-price.html
    """
    from sim.atomic import check_target, write_atomic
    from sim.experiment.lock import locked

    to_stdout = output is not None and str(output) == "-"
    target = folder / "report.html" if output is None else output
    if not to_stdout:
        check_target(target)
    if (folder / "runs.sqlite").exists():
        from sim.experiment.sweep_runner import load_stored_sweep
        from sim.report.sweep import render_sweep_report

        html = render_sweep_report(load_stored_sweep(folder))
    else:
        from sim.experiment.output import load_any
        from sim.report import render_report

        html = render_report(load_any(folder))
    if to_stdout:
        click.echo(html, nl=False)
        return
    if output is None:
        with locked(folder):
            write_atomic(target, html)
    else:
        write_atomic(target, html)
    click.echo(f"Report written to {target}")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("-n", "--replications", type=click.IntRange(min=2), default=10,
              show_default=True, help="Pilot replications.")
@click.option("--metric", "columns", multiple=True, metavar="SERIES",
              help="Daily series to judge (repeatable; default: profit and customers_alive).")
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: run.seed).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the files (default: results/<name>/warmup).")
@click.option("-j", "--jobs", type=click.IntRange(min=1),
              help="Pilot replications in parallel (default: all cores).")
@set_option
@click.option("-q", "--quiet", is_flag=True, help="No progress and no table.")
@force_option
def warmup(scenario: Path, replications: int, columns: tuple[str, ...], seed: int | None,
           out_dir: Path | None, jobs: int | None, overrides: tuple[str, ...],
           quiet: bool, force_limits: bool) -> None:
    """Find the warm-up: MSER-5 on the daily series of pilot replications.

    Simulates SCENARIO (a file with a [compare] table: each of its strategies) with no
    warm-up, cuts each replication's daily series into batch means of 5 days and finds
    the truncation that minimises their marginal standard error (MSER-5, searched over
    the first half of the horizon); the recommended warm-up is the mean over the
    replications, the largest over the series (and the strategies). Writes
    <strategy>.json, .csv, .png and .svg (the daily series, their mean, Welch's moving
    average and the cut) to results/<name>/warmup/. run.warmup_days = "auto" in a
    scenario does the same before a run.

    \b
    Examples:
      simrun warmup scenarios/tiered.toml
      simrun warmup scenarios/workshop.toml -n 20 --metric profit --metric served
    """
    from sim import limits
    from sim.atomic import check_folder
    from sim.experiment.compare import load_comparison
    from sim.experiment.folders import folder_name
    from sim.experiment.lock import locked
    from sim.experiment.warmup import SERIES, check_columns, find_warmup, write_warmup
    from sim.progress import Progress
    from sim.scenario import load_scenario
    from sim.scenario.loader import read_with_extends, run_overrides

    extra = run_overrides(overrides, None, seed)
    with limits.lifted(force_limits):
        check_jobs(jobs)
        if "compare" in read_with_extends(scenario):
            specs, settings = load_comparison([scenario], extra)
            name = settings.get("name") or scenario.stem
        else:
            specs = [load_scenario(scenario, extra)]
            name = specs[0].name
        check_columns(columns or SERIES)
        issues = limits.work_issues(specs[0], replications * len(specs))
        if issues:
            raise ScenarioError(str(scenario), issues)
    folder = out_dir or Path("results") / folder_name(name) / "warmup"
    check_folder(folder)
    with interruptible("nothing was written."), \
            Progress("pilot replications", not quiet, say=say) as bar:
        bar.start(replications * len(specs))
        found = find_warmup(specs, replications, columns=columns or SERIES, jobs=jobs,
                            progress=lambda _run: bar.advance())
    from sim.charts.warmup import write_warmup_chart

    with locked(folder):
        for one in found:
            write_warmup(one, folder, one.scenario.name)
            write_warmup_chart(one, folder, one.scenario.name)
    if not quiet:
        from rich.console import Console

        from sim.views import warmup_view

        Console().print(warmup_view(found))
        click.echo(f"Files written to {folder}/")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@set_option
@force_option
def check(scenario: Path, overrides: tuple[str, ...], force_limits: bool) -> None:
    """Validate SCENARIO and print it resolved, every default filled in (nothing is
    written; the resolved scenario goes to standard output).

    A market file (with [[firms]]) is checked firm by firm, each firm a whole
    scenario, and as a whole market against the limits of expected work; the
    resolved market goes to standard output, and what was checked to standard
    error.

    \b
    Examples:
      simrun check scenarios/tiered.toml --set strategy.tiers[0].price=45
      simrun check scenarios/market.toml --set firms[1].business.servers=2
    """
    from sim import limits
    from sim.scenario import scenario_toml
    from sim.scenario.market import MarketScenario, load_any, market_toml

    with limits.lifted(force_limits):
        spec = load_any(scenario, overrides)
        if isinstance(spec, MarketScenario):
            click.echo(market_toml(spec), nl=False)
            for line in market_checked(spec):
                click.echo(f"# {line}", err=True)
    if not isinstance(spec, MarketScenario):
        click.echo(scenario_toml(spec), nl=False)
    click.echo(f"# {scenario}: valid", err=True)


def market_checked(market: Any) -> list[str]:
    """What ``simrun check`` checked on a market, a line each: every firm (a whole
    scenario) and the whole market's expected work against the limits."""
    from sim import limits

    run = market.run
    warmup = "auto" if market.warmup_auto else run.warmup_days
    lines = [(f"a market of {len(market.names)} firms on one stream of customers "
              f"({run.days} days, warm-up {warmup}, {run.replications} replications, seed "
              f"{run.seed}); each firm checked as a whole scenario (its strategy and "
              "business on the shared sections):")]
    for name, firm in zip(market.names, market.firms, strict=True):
        strategy = firm.strategy.preset or "custom"
        tiers = ", ".join(f"{t.name} {t.price:g}" for t in firm.strategy.tiers)
        lines.append(f"  {name}: strategy {strategy}, {firm.servers} server(s), "
                     f"open {firm.business.open_hour:g}-{firm.business.close_hour:g} h, "
                     f"tiers {tiers}")
    visits, formula = limits.market_work(market.firms)
    total = visits * run.replications
    lines.append(f"expected work: up to {limits.big(visits)} visits a replication ({formula}); "
                 f"{limits.big(total)} in all over {run.replications} replications")
    if limits.is_lifted():
        per, whole, how = (limits.CEILING_VISITS_PER_REPLICATION, limits.CEILING_VISITS,
                           "the ceilings, as --force-limits lifts the limits")
    else:
        per, whole, how = limits.MAX_VISITS_PER_REPLICATION, limits.MAX_VISITS, limits.FORCE_HINT
    lines.append(f"within the limits on the whole market: {per:.0e} visits a replication, "
                 f"{whole:.0e} in all ({how})")
    return lines


@main.command()
def strategies() -> None:
    """List the strategy presets and every knob with its default.

    A scenario picks a preset with [strategy] preset = "tiered" and overrides any
    knob; without a preset it builds the strategy from scratch.

    \b
    Example:
      simrun strategies | less
    """
    from sim.scenario.reference import render_catalogue

    click.echo(render_catalogue())


@main.command()
@click.option("-n", "--replications", type=click.IntRange(min=2), default=20, show_default=True,
              help="Replications per check.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Processes (default: all cores).")
@click.option("--seed", type=click.IntRange(min=0), default=20240601, show_default=True)
def validate(replications: int, jobs: int | None, seed: int) -> None:
    """Check the installed engine against queueing theory and economics.

    Runs the model reduced to textbook cases (Erlang C, Erlang A, Cobham's priority
    queue, Little's law, purchase shares, the geometric series of returns, Naor's
    threshold) and prints theory against simulation, each check's tolerance (a
    t-interval at 1% family-wise over the checks, plus derived allowances), the
    smallest bias it detects and a verdict. Exit code 1 if any check fails.

    \b
    Example:
      simrun validate -n 20 --jobs 2
    """
    from rich.console import Console

    from sim.checks.validate import render_checks, run_checks

    check_jobs(jobs)
    checks = run_checks(replications=replications, jobs=jobs, seed=seed)
    Console().print(render_checks(checks))
    if not all(c.passed for c in checks):
        sys.exit(1)
