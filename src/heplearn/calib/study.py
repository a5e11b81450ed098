"""``heplearn calib study``: many ``calib train`` runs of one config over a search space.

The driver (this process) holds the Optuna study and hands trials to workers (in-process,
a local process pool, or a Dask cluster sharing the file system); each trial is a
``calib train`` run folder ``OUT/trials/trial-NNNN`` scored by the network's validation
eIQR (its ``validation.json``; the test split is never read).  Grid and random points are
enqueued in the storage (user attribute ``point``) before they run, so they and their
results do not depend on the number of workers; TPE asks its seeded sampler one trial per
free worker and prunes by the median rule.  The storage (``OUT/study.db`` by default) is
written trial by trial: rerunning resumes, finished trials are not rerun, and a trial a
killed driver left running is failed (or completed from its whole run folder) and its
point run again.  ``study.json`` and ``report.html`` are rewritten whole at every call.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from heplearn.calib.models import build_model
from heplearn.calib.run_folder import RunFolder
from heplearn.calib.run_staging import partial_run
from heplearn.calib.study_config import StudyPlan
from heplearn.calib.study_trials import (
    Executor,
    TrialJob,
    TrialOutcome,
    TrialTask,
    driver_name,
    median_pruner,
    orphaned,
    trial_folder,
    worker_threads,
)
from heplearn.calib.train import network_config, prepare_split, shapes_of
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.data.atomic import remove_path
from heplearn.data.fingerprint import store_fingerprint
from heplearn.data.saved_json import read_saved_json
from heplearn.errors import ConfigError, OutputExistsError
from heplearn.generate.runner import dask_client
from heplearn.training.study_storage import (
    check_identity,
    network_filesystem,
    open_storage,
    sqlite_path,
)

__all__ = ["STUDY_DB", "TRIALS", "StudyRun", "default_storage", "run_calib_study"]

STUDY_DB = "study.db"
TRIALS = "trials"
_DATA_ATTR = "heplearn_data"


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / STUDY_DB).resolve()}"


@dataclass
class StudyRun:
    """What one call of :func:`run_calib_study` did."""

    study: optuna.Study
    storage: str
    new: list[TrialOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    threads: int | None = None
    workers: int = 1


def _is_study_folder(out: Path) -> bool:
    return any((out / name).exists() for name in (STUDY_DB, TRIALS, "study.json"))


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_study_folder(out))):
        raise OutputExistsError(
            "output exists",
            str(out),
            "it is not a calib study folder (no study.db, trials/ or study.json)",
            "choose another --out, or remove it",
        )


def _check_trials_build(plan: StudyPlan, data: Path) -> None:
    """The store is readable and every fixed trial's network fits its inputs."""
    split = prepare_split(plan.base, data, str(data))
    shapes = shapes_of(split.features)
    del split
    configs: list[tuple[CalibTrainConfig, str]] = []
    if plan.sampler == "tpe":
        configs.append((plan.base, str(plan.base_path)))
        for axis in plan.axes:
            for value, label in zip(
                axis.values or (), axis.labels if axis.values else [], strict=True
            ):
                where = f"{plan.path} with {axis.key}={label}"
                configs.append((plan.config_for({axis.key: value}, where), where))
    else:
        for params in plan.points(plan.config.n_trials):
            settings = plan.settings(params)
            text = ", ".join(f"{k}={params[k]}" for k in params)
            where = f"{plan.path} with {text}"
            configs.append((plan.config_for(settings, where), where))
    for config, where in configs:
        if config.network != "none":
            build_model(network_config(config), shapes, where=where)


def _suggest(trial: optuna.Trial, plan: StudyPlan) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for axis in plan.axes:
        if axis.values is not None:
            params[axis.key] = trial.suggest_categorical(axis.key, axis.labels)
        elif axis.integer:
            assert axis.low is not None and axis.high is not None
            params[axis.key] = trial.suggest_int(
                axis.key, int(axis.low), int(axis.high), log=axis.log
            )
        else:
            assert axis.low is not None and axis.high is not None
            params[axis.key] = trial.suggest_float(axis.key, axis.low, axis.high, log=axis.log)
    return params


def _check_identity(study: optuna.Study, plan: StudyPlan, data: Path, where: str) -> None:
    fingerprint = store_fingerprint(data)
    new = check_identity(
        study,
        plan.identity_text(),
        where,
        "base config, search space, sampler or seed",
        "use another --out (or study_name / --storage) for a different study",
    )
    if new:
        study.set_user_attr(_DATA_ATTR, fingerprint)
    elif study.user_attrs.get(_DATA_ATTR) != fingerprint:
        raise ConfigError(
            f"study '{study.study_name}'",
            where,
            f"it was started on another store than {data}",
            "resume with the same --data, or start another study",
        )


def _settle_orphans(study: optuna.Study, trials: Path, say: Callable[[str], None]) -> None:
    """Trials a killed driver left RUNNING: completed from a whole run folder, else failed."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not orphaned(trial, trials):
            continue
        folder = trials / trial_folder(trial.number)
        metrics = RunFolder(folder).validation
        if metrics.is_file():
            validation = read_saved_json(metrics, "validation metrics")
            _set_attrs(study, trial.number, **_validation_attrs(validation))
            study.tell(trial.number, validation["objective"]["eiqr"])
            say(f"trial {trial.number}: finished before the driver stopped, kept")
        else:
            remove_path(partial_run(folder))
            _set_attrs(study, trial.number, error="its driver stopped")
            study.tell(trial.number, state=TrialState.FAIL)
            say(f"trial {trial.number}: its driver stopped; failed, its point runs again")


def _set_attrs(study: optuna.Study, number: int, **attrs: Any) -> None:
    """Set user attributes of a running trial (by number)."""
    trial = optuna.Trial(study, study.get_trials(deepcopy=False)[number]._trial_id)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _validation_attrs(validation: dict[str, Any]) -> dict[str, Any]:
    keys = ("eiqr", "eiqr95", "reiqr75_vs_bdt", "reiqr95_vs_bdt", "clusters")
    return {key: validation[key] for key in keys}


def _states(study: optuna.Study, *states: TrialState) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=states)


def run_calib_study(
    plan: StudyPlan,
    data: str | Path,
    out: str | Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    storage: str | None = None,
    threads: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> StudyRun:
    """Run the trials the study still misses; the study and what this call did.

    Everything is checked (output folder, store, every fixed trial's network, Dask address,
    storage URL) before anything is written.
    """
    data, out = Path(data), Path(out)
    say = echo or (lambda _line: None)
    began = time.perf_counter()
    _check_out(out)
    _check_trials_build(plan, data)
    url = storage or default_storage(out)
    notes: list[str] = []
    database = sqlite_path(url)
    if database is not None:
        kind = network_filesystem(database)
        if kind is not None:
            notes.append(
                f"the SQLite storage {database} lies on a network file system ({kind}): "
                "SQLite's locking fails there and concurrent writers corrupt it; use "
                "--storage journal:PATH on a shared file system, or a database server URL"
            )
    opened = open_storage(url) if storage is not None else None  # a bad URL: nothing written
    client = dask_client(dask) if dask is not None else None
    try:
        out.mkdir(parents=True, exist_ok=True)
        trials = out / TRIALS
        trials.mkdir(exist_ok=True)
        config = plan.config
        tpe = plan.sampler == "tpe"
        sampler = optuna.samplers.TPESampler(
            seed=config.seed, n_startup_trials=config.startup_trials
        )
        pruner = (
            median_pruner(config.startup_trials, config.pruning_warmup_epochs)
            if tpe and config.pruning
            else optuna.pruners.NopPruner()
        )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            storage=opened or open_storage(url),
            study_name=config.study_name,
            direction="minimize",
            load_if_exists=True,
            sampler=sampler,
            pruner=pruner,
        )
        if tpe:  # offset by the trials there: a resumed driver does not replay the first's
            study.sampler = optuna.samplers.TPESampler(
                seed=config.seed + len(study.trials), n_startup_trials=config.startup_trials
            )
        _check_identity(study, plan, data, url)
        _settle_orphans(study, trials, say)
        if threads is None and client is None:
            threads = worker_threads(workers)
        job = TrialJob(
            str(data.resolve()),
            str(trials.resolve()),
            threads,
            url,
            config.study_name,
            config.pruning_warmup_epochs,
            config.startup_trials,
        )
        executor = Executor(job, workers, client)
        client = None  # the executor closes it
        run = StudyRun(study, url, warnings=notes, threads=threads, workers=executor.slots)
        try:
            with warnings.catch_warnings():  # ask-and-tell: the heartbeat is not used
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                _drive(plan, study, executor, run, prune=tpe and config.pruning, say=say)
        finally:
            executor.close()
    finally:
        if client is not None:
            client.close()
    run.wall_seconds = time.perf_counter() - began
    return run


def _pending_points(plan: StudyPlan, study: optuna.Study) -> int:
    """Enqueue the grid/random points not yet complete or queued; how many wait to run."""
    points = plan.points(plan.config.n_trials)
    complete = {t.user_attrs.get("point") for t in _states(study, TrialState.COMPLETE)}
    queued = {
        t.user_attrs.get("point") for t in _states(study, TrialState.WAITING, TrialState.RUNNING)
    }
    missing = {i for i in range(len(points)) if i not in complete}
    for index in sorted(missing - queued):
        study.enqueue_trial(points[index], user_attrs={"point": index})
    return sum(t.user_attrs.get("point") in missing for t in _states(study, TrialState.WAITING))


def _drive(
    plan: StudyPlan,
    study: optuna.Study,
    executor: Executor,
    run: StudyRun,
    *,
    prune: bool,
    say: Callable[[str], None],
) -> None:
    if plan.sampler == "tpe":
        finished = len(_states(study, TrialState.COMPLETE, TrialState.PRUNED))
        assert plan.config.n_trials is not None
        remaining = max(0, plan.config.n_trials - finished)
    else:
        remaining = _pending_points(plan, study)
    running: dict[Any, int] = {}
    while remaining or running:
        while remaining and len(running) < executor.slots:
            task = _ask(plan, study, prune)
            remaining -= 1
            if task is None:
                remaining = 0  # the queue ran dry (another driver took the points)
                break
            running[executor.submit(task)] = task.number
        if not running:
            break
        for future in executor.wait(list(running)):
            number = running.pop(future)
            try:
                outcome = future.result()
            except Exception as err:  # a worker that died or a bug: the trial failed
                outcome = TrialOutcome(number, "failed", error=f"{type(err).__name__}: {err}")
            _tell(study, outcome, say)
            run.new.append(outcome)


def _ask(plan: StudyPlan, study: optuna.Study, prune: bool) -> TrialTask | None:
    trial = study.ask()
    if plan.sampler != "tpe" and "point" not in trial.user_attrs:
        study.tell(trial, state=TrialState.FAIL)  # not from the queue: nothing was left
        return None
    params = _suggest(trial, plan)
    settings = plan.settings(params)
    text = ", ".join(f"{k}={params[k]}" for k in params)
    config = plan.config_for(settings, f"{plan.path} with {text}")
    trial.set_user_attr("driver", driver_name())
    trial.set_user_attr("folder", f"{TRIALS}/{trial_folder(trial.number)}")
    return TrialTask(trial.number, trial._trial_id, config, prune)


def _tell(study: optuna.Study, outcome: TrialOutcome, say: Callable[[str], None]) -> None:
    number = outcome.number
    _set_attrs(study, number, seconds=outcome.seconds)
    if outcome.state == "complete":
        assert outcome.validation is not None and outcome.value is not None
        _set_attrs(study, number, **_validation_attrs(outcome.validation))
        study.tell(number, outcome.value)
        say(f"trial {number}: validation eIQR {outcome.value:.5f} in {outcome.seconds:.1f} s")
    elif outcome.state == "pruned":
        _set_attrs(study, number, pruned_at_epoch=outcome.epochs)
        study.tell(number, state=TrialState.PRUNED)
        say(f"trial {number}: pruned after epoch {outcome.epochs} ({outcome.seconds:.1f} s)")
    else:
        _set_attrs(study, number, error=outcome.error)
        study.tell(number, state=TrialState.FAIL)
        say(f"trial {number}: failed: {outcome.error}")
