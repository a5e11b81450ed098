"""The worker side of ``calib study``: one trial trained into its run folder, and how a
trial that a killed driver left running is recognised.

:class:`TrialJob` is picklable (a local process pool, Dask); it trains with
``calib train``'s own code, reports the per-epoch validation eIQR to the storage when the
study prunes (TPE), and returns the run's ``validation.json``.  A pruned or failed trial
leaves no run folder.
"""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import optuna

from heplearn.calib.run_folder import RunFolder
from heplearn.calib.run_staging import partial_run
from heplearn.calib.train import EpochHook, train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.data.atomic import remove_path
from heplearn.data.output_lock import lock_path
from heplearn.data.saved_json import read_saved_json
from heplearn.errors import HeplearnError
from heplearn.training.study_storage import GRACE_S, open_storage

__all__ = [
    "Executor",
    "TrialJob",
    "TrialOutcome",
    "TrialTask",
    "driver_name",
    "median_pruner",
    "orphaned",
    "trial_folder",
    "worker_threads",
]


def trial_folder(number: int) -> str:
    return f"trial-{number:04d}"


@dataclass(frozen=True)
class TrialTask:
    """One trial for a worker (picklable)."""

    number: int
    trial_id: int
    config: CalibTrainConfig
    prune: bool


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker reports: complete (with the run's validation metrics), pruned or failed."""

    number: int
    state: str  # "complete", "pruned", "failed"
    value: float | None = None
    validation: dict[str, Any] | None = None
    seconds: float = 0.0
    error: str | None = None
    epochs: int | None = None  # pruned: the epoch it was stopped at


@dataclass(frozen=True)
class TrialJob:
    """Train one trial into ``trials/trial-NNNN`` (picklable, for a process pool or Dask)."""

    data: str
    trials: str
    threads: int | None
    storage: str
    study_name: str
    warmup_epochs: int
    startup_trials: int

    def __call__(self, task: TrialTask) -> TrialOutcome:
        import torch

        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            return self._run(task)
        finally:
            torch.set_num_threads(previous)

    def _run(self, task: TrialTask) -> TrialOutcome:
        final = Path(self.trials) / trial_folder(task.number)
        began = time.perf_counter()
        reported: list[tuple[int, float]] = []
        hook: EpochHook | None = None
        if task.prune:
            study = optuna.load_study(
                study_name=self.study_name,
                storage=open_storage(self.storage),
                pruner=median_pruner(self.startup_trials, self.warmup_epochs),
            )
            trial = optuna.Trial(study, task.trial_id)

            def report(epoch: int, value: float) -> None:
                reported.append((epoch, value))
                trial.report(value, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after epoch {epoch}")

            hook = report
        try:
            train_calib(task.config, self.data, final, overwrite=True, on_epoch=hook)
        except optuna.TrialPruned:
            remove_path(partial_run(final))
            epoch, value = reported[-1]
            took = time.perf_counter() - began
            return TrialOutcome(task.number, "pruned", value, seconds=took, epochs=epoch)
        except HeplearnError as err:
            remove_path(partial_run(final))
            took = time.perf_counter() - began
            return TrialOutcome(task.number, "failed", seconds=took, error=err.message)
        validation = read_saved_json(RunFolder(final).validation, "validation metrics")
        value = validation["objective"]["eiqr"]
        took = time.perf_counter() - began
        return TrialOutcome(task.number, "complete", value, validation, took)


def median_pruner(startup_trials: int, warmup_epochs: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.MedianPruner(
        n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs
    )


def driver_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked(path: Path) -> bool:
    """Whether a live process holds the output lock of the run folder ``path``."""
    import fcntl

    lock = lock_path(path)
    if not lock.is_file():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def orphaned(trial: optuna.trial.FrozenTrial, trials: Path) -> bool:
    """A RUNNING trial whose driver is gone (this host), or silent past the grace time."""
    host, _, pid = str(trial.user_attrs.get("driver", ":")).rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _alive(int(pid))
    started = trial.datetime_start or datetime.now()
    old = (datetime.now() - started).total_seconds() > GRACE_S
    return old and not _locked(trials / trial_folder(trial.number))


class Executor:
    """Runs TrialJob calls in-process, in a local process pool, or on Dask."""

    def __init__(self, job: TrialJob, workers: int, client: Any) -> None:
        self.job = job
        self.client = client
        self.pool: ProcessPoolExecutor | None = None
        if client is not None:
            self.slots = max(1, sum(client.nthreads().values()))
        else:
            self.slots = workers
            if workers > 1:
                # spawn: no forked copy of the driver's torch threads or database connections
                self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))

    def submit(self, task: TrialTask) -> Any:
        if self.client is not None:
            return self.client.submit(self.job, task, pure=False)
        if self.pool is not None:
            return self.pool.submit(self.job, task)
        done: Future[TrialOutcome] = Future()
        try:
            done.set_result(self.job(task))
        except Exception as err:  # reported as the trial's failure, like a worker's
            done.set_exception(err)
        return done

    def wait(self, futures: list[Any]) -> list[Any]:
        if self.client is not None:
            from distributed import wait as dask_wait

            finished = dask_wait(futures, return_when="FIRST_COMPLETED")  # type: ignore[no-untyped-call]
            return list(finished.done)
        return list(wait(futures, return_when=FIRST_COMPLETED).done)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.client is not None:
            self.client.close()


def worker_threads(workers: int) -> int:
    """Torch threads per worker so that ``workers`` workers do not oversubscribe the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(workers, 1))
