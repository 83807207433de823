"""Tune one scenario: simulation optimisation with Optuna, on common random numbers, with
the winner re-evaluated on fresh seeds against the starting point.

The study lives in ``results/<name>/tune.sqlite`` (Optuna's RDB storage, SQLite in WAL
mode). Trials are asked in batches of ``tune.batch`` (Optuna's ask-and-tell interface);
each trial is ``replications`` replications of the search seed, so two trials differ only
by their knobs (common random numbers), and all the batch's replications run at once over
local processes or a Dask cluster (:mod:`sim.experiment.executors`). Parallel trials
rather than parallel replications within a trial: one pool per batch instead of one per
trial, and every worker busy even when a trial has fewer replications than there are
workers. A trial is told as soon as its replications are in, so a kill loses at most the
unfinished trials of one batch.

Reproducible: the sampler of each trial is seeded from (search seed, trial slot), and a
batch is asked only when the previous one is told, so the study depends on the file, the
seed and the batch size, never on --jobs, --dask or the order in which runs finish. On
--resume, trials left RUNNING are run again under their own number with the parameters
they were given, so a study killed at any point ends exactly as an uninterrupted one.

Against the optimiser's curse, the best few distinct trials (``finalists``) and the
starting point are re-evaluated with ``final_replications`` replications on the final
seed, never used in the search; the winner is the best of them there, reported with the
paired interval of its difference to the start on those same fresh customers.

Optuna is imported here only, lazily: ``pip install 'simrun[tune]'``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sim.experiment.compare import ComparisonResult
from sim.experiment.executors import Outcome, Task, run_dask, run_local
from sim.experiment.output import Checkpoint
from sim.experiment.runner import ScenarioResult
from sim.experiment.tune_spec import Knob, TuneSpec
from sim.metrics import Estimate, RunResult, estimate
from sim.model.engine import run_replication
from sim.scenario import Issue, Scenario, ScenarioError, scenario_toml

STUDY_NAME = "simrun-tune"
SLOT = "slot"
"""User attribute of a trial: its place in the plan (0, 1, ...), which seeds its sampler."""
MIN_TRIALS_FOR_IMPORTANCE = 10


class Progress(Protocol):
    """What a caller hears while a tune runs: ``start(stage, total, done)`` once per stage
    ('trials', then 'final runs'), ``advance(stage, failed)`` per finished unit."""

    def start(self, stage: str, total: int, done: int) -> None:
        """A stage begins: ``total`` units, ``done`` of them already stored."""

    def advance(self, stage: str, failed: bool = False) -> None:
        """One unit of the stage finished."""


class Silent:
    """A :class:`Progress` that says nothing."""

    def start(self, stage: str, total: int, done: int) -> None:
        pass

    def advance(self, stage: str, failed: bool = False) -> None:
        pass


@dataclass(frozen=True)
class TrialRecord:
    """One trial of the search as stored: its knobs and the means of its replications."""

    number: int
    slot: int
    state: str
    """'complete' or 'failed'."""
    params: dict[str, Any]
    value: float
    """Mean of the metric over the trial's replications (NaN when failed)."""
    sd: float
    replications: int
    means: dict[str, float]
    """Means of the constraint metrics."""
    feasible: bool
    error: str = ""
    same_as: int | None = None
    """The earlier trial with the same knobs whose replications this one reuses."""


@dataclass(frozen=True)
class Finalist:
    """A candidate re-evaluated on the final seed, against the starting point."""

    name: str
    trial: int
    params: dict[str, Any]
    search_mean: float
    final: Estimate
    difference: Estimate
    """Paired (finalist - start) on the final seed."""
    means: dict[str, float]
    """Constraint metrics' means on the final seed."""
    feasible: bool


@dataclass(frozen=True)
class TuneResult:
    """A finished tune: every trial, the finalists and the winner against the start."""

    spec: TuneSpec
    trials: tuple[TrialRecord, ...]
    finalists: tuple[Finalist, ...]
    start: ScenarioResult | None
    """The starting point on the final seed (None when nothing was feasible)."""
    winner: Finalist | None
    tuned: ScenarioResult | None
    """The winner's runs on the final seed."""
    importance: dict[str, float] | None
    ran: int
    """Trials run by this call (the rest came from the store)."""

    def comparison(self) -> ComparisonResult:
        """The winner against the start on the final seed, as a two-strategy comparison
        (the start is the baseline): what the results folder and the report hold."""
        if self.start is None or self.tuned is None:
            raise ValueError("nothing was tuned: no trial met the constraints")
        return ComparisonResult(self.spec.name, (self.start, self.tuned), "start",
                                self.spec.metric)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ScenarioError("tune", [Issue("", "needs Optuna: pip install 'simrun[tune]'")]
                            ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def fingerprint(spec: TuneSpec) -> str:
    """What a study belongs to: the start, the knobs, the metric, the constraints and the
    search's seed, replications, sampler and batch (trials may grow on --resume)."""
    s = spec.settings
    digest = hashlib.sha256(scenario_toml(spec.start).encode())
    digest.update(json.dumps({
        "knobs": [k.describe() for k in spec.knobs], "metric": s.metric,
        "constraints": [str(c) for c in spec.constraints], "seed": spec.search_seed,
        "replications": s.replications, "sampler": s.sampler, "batch": s.batch,
        "start": spec.start_params}, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def open_study(spec: TuneSpec, folder: Path, *, resume: bool = False,
               fresh: bool = False) -> Any:
    """The study in ``folder/tune.sqlite``: new, or the one stored there (``resume``)."""
    optuna = _optuna()
    path = folder / "tune.sqlite"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    _wal(path)
    storage = optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
    _synchronous_normal(storage)
    summaries = optuna.study.get_all_study_summaries(storage) if existed else []
    if any(s.study_name == STUDY_NAME and s.n_trials for s in summaries) and not resume:
        raise ScenarioError(path, [Issue("", "holds the trials of an earlier tune: add "
                                         "--resume to continue it, or --fresh to start over")])
    study = optuna.create_study(storage=storage, study_name=STUDY_NAME, load_if_exists=True,
                                direction="maximize" if spec.maximise else "minimize")
    mark = fingerprint(spec)
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", mark)
    elif stored != mark:
        raise ScenarioError(path, [Issue("", "belongs to a different tune (the scenario, a knob, "
                                         "the metric, a constraint, the seed, the replications, "
                                         "the sampler or the batch changed): use --fresh")])
    return study


def _wal(path: Path) -> None:
    """WAL mode, set once in the file: a commit survives kill -9 without an fsync each."""
    import sqlite3

    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()


def _synchronous_normal(storage: Any) -> None:
    from sqlalchemy import event

    def pragma(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(storage.engine, "connect", pragma)
    storage.engine.dispose()


def sampler_for(spec: TuneSpec, slot: int) -> Any:
    """The sampler that asks for slot ``slot``: seeded from (search seed, slot), so what it
    proposes depends only on the stored trials, never on how earlier processes ran."""
    optuna = _optuna()
    seed = int(np.random.SeedSequence(spec.search_seed, spawn_key=(slot,)).generate_state(1)[0])
    if spec.settings.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)


def suggest(trial: Any, k: Knob) -> Any:
    if k.choices:
        return trial.suggest_categorical(k.path, list(k.choices))
    if k.integer:
        return trial.suggest_int(k.path, round(k.low), round(k.high), step=round(k.step) or 1)
    return trial.suggest_float(k.path, k.low, k.high, step=k.step or None)


def run_tune(spec: TuneSpec, folder: Path, *, jobs: int = 1, dask: str | None = None,
             resume: bool = False, fresh: bool = False,
             progress: Progress | None = None) -> TuneResult:
    """Search, re-evaluate the finalists and the start on the final seed, pick the winner."""
    progress = progress or Silent()
    study = open_study(spec, folder, resume=resume, fresh=fresh)
    ran = search(study, spec, jobs=jobs, dask=dask, progress=progress)
    trials = records(study, spec)
    importance = importances(study, spec)
    chosen = candidates(trials, spec)
    if not chosen:
        return TuneResult(spec, trials, (), None, None, None, importance, ran)
    runs = final_runs(spec, chosen, folder, jobs=jobs, dask=dask, progress=progress)
    finalists, start, winner = judge(spec, chosen, runs)
    tuned = None if winner is None else _renamed(runs[winner.name], "tuned",
                                                 f"{spec.start.label} (tuned)")
    shutil.rmtree(folder / "final", ignore_errors=True)  # the checkpoints of the final runs
    return TuneResult(spec, trials, finalists, start if winner else None, winner, tuned,
                      importance, ran)


def _renamed(result: ScenarioResult, name: str, label: str) -> ScenarioResult:
    s = result.scenario
    return replace(result, scenario=replace(s, run=replace(s.run, name=name),
                                            strategy=replace(s.strategy, label=label)))


def search(study: Any, spec: TuneSpec, *, jobs: int, dask: str | None,
           progress: Progress) -> int:
    """Run the slots the study does not hold yet, batch after batch; returns trials run."""
    optuna = _optuna()
    total = spec.settings.trials
    progress.start("trials", total, len(_done_slots(study)))
    ran = 0
    for first in range(0, total, spec.settings.batch):
        slots = range(first, min(first + spec.settings.batch, total))
        done = _done_slots(study)
        if all(s in done for s in slots):
            continue
        batch = _ask_batch(study, spec, slots, done, optuna)
        ran += _run_batch(study, spec, batch, jobs=jobs, dask=dask, progress=progress)
    return ran


def _done_slots(study: Any) -> set[int]:
    return {t.user_attrs[SLOT] for t in _finished(study) if SLOT in t.user_attrs}


def _ask_batch(study: Any, spec: TuneSpec, slots: range, done: set[int],
               optuna: Any) -> list[tuple[int, int, dict[str, Any], Any]]:
    """(slot, trial number, params, trial) of every slot of the batch still to run: the
    trials a killed process left RUNNING (with all their knobs) and new asks, in slot
    order, so each ask sees what it saw the first time."""
    state = optuna.trial.TrialState
    running: dict[int, Any] = {}
    for t in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        slot = t.user_attrs.get(SLOT)
        if slot in slots and all(k.path in t.params for k in spec.knobs):
            running[slot] = t
        else:  # asked but not all its knobs suggested when the process died
            study.tell(t.number, state=state.FAIL)
    batch = []
    for slot in slots:
        if slot in done:
            continue
        if slot in running:
            t = running[slot]
            batch.append((slot, t.number, dict(t.params), optuna.Trial(study, t._trial_id)))
            continue
        waiting = study.get_trials(deepcopy=False, states=(state.WAITING,))
        if slot == 0 and spec.start_params and not waiting:
            study.enqueue_trial(spec.start_params, user_attrs={"start": True})
        study.sampler = sampler_for(spec, slot)
        trial = study.ask()
        trial.set_user_attr(SLOT, slot)
        params = {k.path: suggest(trial, k) for k in spec.knobs}
        batch.append((slot, trial.number, params, trial))
    return batch


def _run_batch(study: Any, spec: TuneSpec, batch: list[tuple[int, int, dict[str, Any], Any]],
               *, jobs: int, dask: str | None, progress: Progress) -> int:
    """Run every replication of the batch's trials; tell each trial once it is complete.

    A trial whose knobs equal an earlier trial's is not run again: on the same customers
    it would give the same numbers. It is told the earlier trial's means (``same_as``)."""
    n = spec.settings.replications
    evaluated = {_key(t.params): t for t in _finished(study)}
    work: list[tuple[Task, Scenario]] = []
    groups: dict[int, list[Any]] = {}
    """The trial whose replications run -> every trial of the batch with its knobs."""
    leaders: dict[str, int] = {}
    for _slot, number, params, trial in batch:
        key = _key(params)
        if key in evaluated:
            progress.advance("trials", failed=_copy(study, spec, trial, evaluated[key]))
            continue
        if key in leaders:
            trial.set_user_attr("same_as", leaders[key])
            groups[leaders[key]].append(trial)
            continue
        try:
            scenario = spec.scenario(params, seed=spec.search_seed, replications=n)
        except ScenarioError as error:  # knobs that are valid alone but not together
            _fail(study, trial, "; ".join(map(str, error.issues)))
            progress.advance("trials", failed=True)
            continue
        leaders[key] = number
        groups[number] = [trial]
        work += [((number, "", rep), scenario) for rep in range(n)]
    outcomes: dict[int, list[Outcome]] = {number: [] for number in groups}
    stream = (run_dask(work, dask) if dask
              else run_local(work, max(1, min(jobs, len(work)))) if work else iter(()))
    for outcome in stream:
        number = outcome.task[0]
        outcomes[number].append(outcome)
        if len(outcomes[number]) == n:
            for trial in groups[number]:
                progress.advance("trials", failed=_tell(study, spec, trial, outcomes[number]))
    return len(batch)


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _finished(study: Any) -> list[Any]:
    """Trials that ran: complete, or failed running (not the ones a kill interrupted)."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False)
            if t.state == TrialState.COMPLETE
            or (t.state == TrialState.FAIL and "error" in t.user_attrs)]


def _copy(study: Any, spec: TuneSpec, trial: Any, source: Any) -> bool:
    """Tell ``trial`` what ``source`` (same knobs, same customers) found; True: failed."""
    from optuna.trial import TrialState

    trial.set_user_attr("same_as", source.user_attrs.get("same_as", source.number))
    if source.state == TrialState.FAIL:
        _fail(study, trial, source.user_attrs["error"])
        return True
    means = source.user_attrs["means"]
    for key in ("sd", "replications", "means"):
        trial.set_user_attr(key, source.user_attrs[key])
    for c in spec.constraints:
        trial.set_constraint(str(c), c.violation(means[c.metric]))
    study.tell(trial, source.value)
    return False


def _tell(study: Any, spec: TuneSpec, trial: Any, outcomes: list[Outcome]) -> bool:
    """Store a trial's means (metric and constraints) and tell it; True when it failed."""
    errors = [o.error for o in outcomes if o.metrics is None]
    if errors:
        _fail(study, trial, (errors[0] or "").strip().splitlines()[-1] if errors[0] else
              "a replication failed")
        return True
    runs = sorted(outcomes, key=lambda o: o.task[2])
    values = [o.metrics[spec.metric] for o in runs if o.metrics is not None]
    e = estimate(values)
    means = {c.metric: estimate([o.metrics[c.metric] for o in runs if o.metrics is not None]).mean
             for c in spec.constraints}
    undefined = [m for m, v in {spec.metric: e.mean, **means}.items() if math.isnan(v)]
    if undefined:
        _fail(study, trial, f"{', '.join(undefined)} undefined in every replication (too few "
                            "measured days?)")
        return True
    trial.set_user_attr("sd", e.sd)
    trial.set_user_attr("replications", e.n)
    trial.set_user_attr("means", means)
    for c in spec.constraints:
        trial.set_constraint(str(c), c.violation(means[c.metric]))
    study.tell(trial, e.mean)
    return False


def _fail(study: Any, trial: Any, error: str) -> None:
    from optuna.trial import TrialState

    trial.set_user_attr("error", error)
    study.tell(trial, state=TrialState.FAIL)


def records(study: Any, spec: TuneSpec) -> tuple[TrialRecord, ...]:
    """Every trial that finished (complete, or failed running), by trial number."""
    from optuna.trial import TrialState

    found = []
    for t in _finished(study):
        complete = t.state == TrialState.COMPLETE
        means = dict(t.user_attrs.get("means", {}))
        feasible = complete and all(c.violation(means[c.metric]) <= 0 for c in spec.constraints)
        found.append(TrialRecord(
            number=t.number, slot=int(t.user_attrs.get(SLOT, -1)),
            state="complete" if complete else "failed", params=dict(t.params),
            value=float(t.value) if complete else math.nan,
            sd=float(t.user_attrs.get("sd", math.nan)),
            replications=int(t.user_attrs.get("replications", 0)), means=means,
            feasible=feasible, error=str(t.user_attrs.get("error", "")),
            same_as=t.user_attrs.get("same_as")))
    return tuple(found)


def candidates(trials: Sequence[TrialRecord], spec: TuneSpec) -> list[TrialRecord]:
    """The best feasible trials with distinct knobs, best first (at most ``finalists``)."""
    sign = 1.0 if spec.maximise else -1.0
    ranked = sorted((t for t in trials if t.state == "complete" and t.feasible),
                    key=lambda t: (-sign * t.value, t.number))
    chosen: list[TrialRecord] = []
    seen: set[str] = set()
    for t in ranked:
        key = json.dumps(t.params, sort_keys=True)
        if key not in seen:
            seen.add(key)
            chosen.append(t)
        if len(chosen) == spec.settings.finalists:
            break
    return chosen


@dataclass(frozen=True, slots=True)
class Replicated:
    """One replication with every result (for the report), or its failure."""

    task: Task
    run: RunResult | None
    error: str | None = None


def replicate(task: Task, scenario: Scenario) -> Replicated:
    """Run one replication in a worker and keep the whole result."""
    try:
        return Replicated(task, run_replication(scenario, task[2]))
    except Exception:  # noqa: BLE001 -- reported with its traceback by the caller
        return Replicated(task, None, traceback.format_exc())


def final_scenarios(spec: TuneSpec, chosen: Sequence[TrialRecord]) -> dict[str, Scenario]:
    """The start and each finalist on the final seed, with ``final_replications``."""
    s = spec.settings
    label = spec.start.label
    scenarios = {"start": spec.scenario({}, seed=spec.final_seed,
                                        replications=s.final_replications, name="start",
                                        label=f"{label} (start)")}
    for i, t in enumerate(chosen, start=1):
        scenarios[f"finalist-{i}"] = spec.scenario(
            t.params, seed=spec.final_seed, replications=s.final_replications,
            name=f"finalist-{i}", label=f"{label} (finalist {i})")
    return scenarios


def final_runs(spec: TuneSpec, chosen: Sequence[TrialRecord], folder: Path, *, jobs: int,
               dask: str | None, progress: Progress) -> dict[str, ScenarioResult]:
    """Every final replication, checkpointed one by one in ``folder/final`` (a kill loses
    none of them); the results by name: 'start', 'finalist-1', ..."""
    scenarios = final_scenarios(spec, chosen)
    names = list(scenarios)
    checkpoints = {n: Checkpoint(folder / "final" / n, s) for n, s in scenarios.items()}
    done = {n: c.load() for n, c in checkpoints.items()}
    m = spec.settings.final_replications
    work = [((i, name, rep), scenarios[name]) for i, name in enumerate(names)
            for rep in range(m) if rep not in done[name]]
    progress.start("final runs", m * len(names), m * len(names) - len(work))
    stream: Iterator[Any] = (run_dask(work, dask, replicate) if dask
                             else run_local(work, max(1, min(jobs, len(work) or 1)), replicate))
    for item in stream:
        name = item.task[1]
        run = getattr(item, "run", None)
        if run is None:
            raise RuntimeError(f"final replication {item.task[2]} of {name} failed:\n"
                               f"{item.error}")
        checkpoints[name].save(run)
        done[name][run.replication] = run
        progress.advance("final runs")
    return {n: ScenarioResult(scenarios[n], tuple(done[n][r] for r in range(m))) for n in names}


def judge(spec: TuneSpec, chosen: Sequence[TrialRecord], runs: Mapping[str, ScenarioResult]
          ) -> tuple[tuple[Finalist, ...], ScenarioResult, Finalist | None]:
    """Each finalist against the start on the final seed; the winner is the best mean
    among those that meet the constraints there too (None: none does)."""
    start = runs["start"]
    metric = spec.metric
    base = [r.metrics[metric] for r in start.runs]
    finalists = []
    for i, t in enumerate(chosen, start=1):
        result = runs[f"finalist-{i}"]
        mine = [r.metrics[metric] for r in result.runs]
        means = {c.metric: estimate([r.metrics[c.metric] for r in result.runs]).mean
                 for c in spec.constraints}
        feasible = all(c.violation(means[c.metric]) <= 0 for c in spec.constraints)
        finalists.append(Finalist(f"finalist-{i}", t.number, t.params, t.value,
                                  estimate(mine),
                                  estimate([a - b for a, b in zip(mine, base, strict=True)]),
                                  means, feasible))
    sign = 1.0 if spec.maximise else -1.0
    ok = [f for f in finalists if f.feasible and not math.isnan(f.final.mean)]
    winner = max(ok, key=lambda f: sign * f.final.mean) if ok else None
    return tuple(finalists), start, winner


def importances(study: Any, spec: TuneSpec) -> dict[str, float] | None:
    """Each knob's share of the importance (PED-ANOVA: which knobs the best trials need;
    it needs no package beyond Optuna), or None with fewer than
    :data:`MIN_TRIALS_FOR_IMPORTANCE` complete trials."""
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return None
    if len(spec.knobs) == 1:
        return {spec.knobs[0].path: 1.0}
    quantile = min(0.5, max(0.1, 5 / len(complete)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = get_param_importances(
            study, evaluator=PedAnovaImportanceEvaluator(target_quantile=quantile),
            params=[k.path for k in spec.knobs])
    if not any(found.values()):
        return None
    return {k.path: float(found.get(k.path, 0.0)) for k in spec.knobs}


def closest(trials: Sequence[TrialRecord], spec: TuneSpec) -> TrialRecord | None:
    """The complete trial nearest to meeting every constraint (for an infeasible search)."""
    complete = [t for t in trials if t.state == "complete"]
    if not complete:
        return None
    return min(complete, key=lambda t: sum(max(0.0, c.violation(t.means[c.metric]))
                                           / (abs(c.bound) or 1.0) for c in spec.constraints))
