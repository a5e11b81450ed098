"""Optuna tuning of the BDT baseline: seeded TPE, median pruning per chunk of rounds, resumable.

With a storage URL (``sqlite:///path/study.db``) a killed study resumes where it stopped:
finished trials (complete or pruned) count towards ``n_trials`` and are not rerun.  One
process drives a study at a time; trials a killed process left "running" are marked failed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import xgboost as xgb
from optuna.trial import TrialState

from heplearn.calib.bdt import BdtConfig, BdtData, fit_bdt, metric_to_loss, prepare_bdt_data
from heplearn.config import config_to_dict
from heplearn.errors import ConfigError
from heplearn.progress import progress_bar
from heplearn.training.study_storage import check_identity

__all__ = ["SEARCH_SPACE", "TuneResult", "tune_bdt"]

#: Tuned settings: (low, high, log scale).  ``n_estimators`` is the base config's upper bound;
#: early stopping picks the number of rounds.
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "learning_rate": (0.01, 0.3, True),
    "max_depth": (2, 10, False),
    "min_child_weight": (0.1, 100.0, True),
    "subsample": (0.5, 1.0, False),
    "colsample_bytree": (0.5, 1.0, False),
    "reg_lambda": (1e-3, 100.0, True),
}
_INTEGER = {"max_depth"}
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: Study attribute holding what must not change when a study is resumed.


@dataclass(frozen=True)
class TuneResult:
    """The best config found, its validation loss and how many trials the study holds."""

    config: BdtConfig
    #: Mean validation loss of the best trial (MSE or mean (p/y − 1)², see BdtModel.best_score).
    best_value: float
    #: Boosting rounds the best trial kept (early stopping); ≤ ``config.n_estimators``.
    best_rounds: int
    #: Finished (complete or pruned) trials in the study, this call's and earlier ones.
    n_trials: int
    #: Trials run by this call.
    n_new_trials: int
    n_pruned: int
    study_name: str


class _PruningCallback(xgb.callback.TrainingCallback):
    """Report the validation loss every ``every`` rounds; stop the booster when Optuna prunes."""

    def __init__(self, trial: optuna.Trial, config: BdtConfig, every: int) -> None:
        super().__init__()
        self.trial = trial
        self.config = config
        self.every = every
        self.pruned_at: int | None = None

    def after_iteration(
        self, model: Any, epoch: int, evals_log: xgb.callback.TrainingCallback.EvalsLog
    ) -> bool:
        step = epoch + 1
        if step % self.every:
            return False
        value = float(evals_log["val"][self.config.metric][-1])  # type: ignore[arg-type]
        self.trial.report(metric_to_loss(self.config.loss, value), step)
        if self.trial.should_prune():
            self.pruned_at = step
            return True
        return False


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, (low, high, log) in SEARCH_SPACE.items():
        if name in _INTEGER:
            params[name] = trial.suggest_int(name, int(low), int(high), log=log)
        else:
            params[name] = trial.suggest_float(name, low, high, log=log)
    return params


def _storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """An RDB storage for ``url``, or a ConfigError saying what is wrong with it."""
    if url is None:
        return None

    def bad(why: str) -> ConfigError:
        return ConfigError(
            "Optuna storage URL",
            repr(url),
            why,
            "give a database URL such as 'sqlite:///path/to/study.db' (three slashes, then "
            "the file path; four for an absolute path)",
        )

    if "://" not in url:
        raise bad("it is not a URL")
    if url.startswith("sqlite:///"):
        database = url.removeprefix("sqlite:///")
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise bad(f"its folder cannot be created ({err})") from err
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as err:
        # SQLAlchemy's errors (bad URL, unknown dialect, unreadable file) and a missing database
        # driver (ImportError) are the URL's fault; anything else is a bug and propagates.
        if isinstance(err, ImportError | ValueError) or type(err).__module__.startswith(
            "sqlalchemy"
        ):
            raise bad(f"Optuna cannot open it ({str(err).splitlines()[0]})") from err
        raise


def _identity(base: BdtConfig, data: BdtData) -> str:
    # The thread count changes speed, not results, so a study may resume on another machine.
    settings = {k: v for k, v in config_to_dict(base).items() if k != "n_jobs"}
    shapes = {"n_train": data.train.num_row(), "n_val": data.val.num_row()}
    return json.dumps({"base": settings, "features": list(data.feature_names), **shapes})


def _fail_orphans(study: optuna.Study) -> None:
    """Trials left RUNNING by a killed process would never finish; mark them failed."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)


@contextmanager
def _optuna_verbosity(level: int) -> Iterator[None]:
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(level)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def tune_bdt(
    base: BdtConfig,
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    *,
    n_trials: int,
    storage: str | None,
    study_name: str,
    seed: int,
    timeout_s: float | None = None,
    progress: bool = False,
    w_train: Any | None = None,
    w_val: Any | None = None,
    feature_names: Sequence[str] | None = None,
    report_every: int = 10,
    verbose: bool = False,
) -> TuneResult:
    """Search :data:`SEARCH_SPACE` for the config with the lowest validation loss.

    ``n_trials`` is the total the study should hold: on resuming from ``storage`` only the
    missing trials run.  ``timeout_s`` stops starting new trials after that many seconds.
    Intermediate losses are reported every ``report_every`` rounds so that the median pruner
    stops trials that are worse than the median of earlier ones at the same round.
    ``storage=None`` keeps the study in memory (no resuming).  ``feature_names`` only name
    columns in error messages; ``progress`` draws a bar of trials; ``verbose`` lets Optuna log
    each trial (its logging is at warning level otherwise, and restored afterwards).
    """
    if n_trials < 1 or report_every < 1 or not study_name:
        raise ConfigError(
            "tuning options",
            "tune_bdt",
            f"n_trials={n_trials}, report_every={report_every}, study_name={study_name!r}",
            "give n_trials ≥ 1, report_every ≥ 1 and a non-empty study name",
        )
    rdb = _storage(storage)
    names = feature_names or [f"x{i}" for i in range(np.shape(x_train)[-1])]
    data = prepare_bdt_data(
        x_train,
        y_train,
        x_val,
        y_val,
        w_train=w_train,
        w_val=w_val,
        feature_names=names,
        n_jobs=base.n_jobs,
    )
    with _optuna_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING):
        study = optuna.create_study(
            storage=rdb,
            study_name=study_name,
            direction="minimize",
            load_if_exists=True,
            # Early rounds of a small learning rate look bad; judge after a fifth of the budget.
            pruner=optuna.pruners.MedianPruner(n_warmup_steps=base.n_estimators // 5),
        )
        # Seeded after loading, offset by the trials already there, so that a resumed run
        # does not replay the random start-up suggestions of the first run.
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
        check_identity(
            study,
            _identity(base, data),
            storage or "memory",
            "base config, feature list or data size",
            "use a new study_name (or another storage) for a different tuning problem",
            show=True,
        )
        _fail_orphans(study)
        done = len(study.get_trials(deepcopy=False, states=_FINISHED))
        remaining = max(0, n_trials - done)

        def objective(trial: optuna.Trial) -> float:
            config = dataclasses.replace(base, **_suggest(trial))
            pruning = _PruningCallback(trial, config, report_every)
            model = fit_bdt(config, data, callbacks=[pruning])
            if pruning.pruned_at is not None:
                raise optuna.TrialPruned(f"pruned at round {pruning.pruned_at}")
            trial.set_user_attr("best_rounds", model.best_iteration + 1)
            return model.best_score

        with progress_bar(f"tuning {study_name}", remaining, enabled=progress) as advance:
            if remaining:
                study.optimize(
                    objective,
                    n_trials=remaining,
                    timeout=timeout_s,
                    callbacks=[lambda _study, _trial: advance(1)],
                )
    finished = study.get_trials(deepcopy=False, states=_FINISHED)
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    if not complete:
        raise ConfigError(
            f"study '{study_name}'",
            storage or "memory",
            "no trial completed (all were pruned or the timeout came first)",
            "raise n_trials or timeout_s",
        )
    best = study.best_trial
    assert best.value is not None  # a COMPLETE single-objective trial has a value
    return TuneResult(
        config=dataclasses.replace(base, **best.params),
        best_value=float(best.value),
        best_rounds=int(best.user_attrs["best_rounds"]),
        n_trials=len(finished),
        n_new_trials=len(finished) - done,
        n_pruned=len(finished) - len(complete),
        study_name=study_name,
    )
