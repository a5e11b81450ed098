"""``heplearn search tune``: Optuna hyper-parameter search for the search's XGBoost or MLP.

Each trial sets the method's settings in the ``search-train`` config (:data:`SPACES`, by
dotted path), trains one classifier per signal point on the training split, exactly as
``search train`` does (same split, weights and inputs), and scores the validation split.
The objective, maximised, is the mean over the points of the validation Asimov Z at the
best score threshold (``z``: what ``search train`` maximises when it picks a threshold,
MC statistics and σ_b included) or of the weighted validation AUC (``auc``).  The test
split is never read.  Sampler: seeded TPE; no pruning (XGBoost stops early, the MLP has
its patience).

Storage (:mod:`heplearn.training.study_storage`): SQLite by default, so a killed study
resumes; ``n_trials`` is the number of completed trials the study should hold, counted
over every worker, so several workers given one shared storage share the work.  A study
remembers its method, objective, base config and data; resuming it with others is refused.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from heplearn.config import config_to_dict
from heplearn.errors import ConfigError
from heplearn.search.models import build_classifier
from heplearn.search.observables import EventTable
from heplearn.search.padding import JetMeans
from heplearn.search.signal_points import (
    SignalPoint,
    declared_signal,
    point_events,
    resolve_points,
    score_events,
)
from heplearn.search.significance import best_threshold
from heplearn.search.splits import split_table
from heplearn.search.study_variants import with_settings
from heplearn.search.train import load_events
from heplearn.search.train_config import SearchTrainConfig
from heplearn.search.weights import training_weights
from heplearn.stats import roc_auc
from heplearn.training.study_storage import check_identity, open_storage

__all__ = [
    "OBJECTIVES",
    "SPACES",
    "TuneData",
    "TuneResult",
    "check_options",
    "prepare_tuning",
    "tune_search",
]

Array = np.ndarray[Any, Any]

#: Per method, each tuned field: ("int" | "float", low, high, log) or ("choice", values).
SPACES: dict[str, dict[str, tuple[Any, ...]]] = {
    "xgboost": {
        "models.xgboost.max_depth": ("int", 2, 10, False),
        "models.xgboost.learning_rate": ("float", 0.01, 0.3, True),
        "models.xgboost.min_child_weight": ("float", 0.01, 100.0, True),
        "models.xgboost.subsample": ("float", 0.5, 1.0, False),
        "models.xgboost.colsample": ("float", 0.5, 1.0, False),
        "models.xgboost.reg_lambda": ("float", 1e-3, 100.0, True),
    },
    "nn": {
        "models.nn.hidden_layers": ("choice", (1, 3)),
        "models.nn.width": ("int", 8, 256, True),
        "models.nn.dropout": ("float", 0.0, 0.5, False),
        "models.nn.activation": ("choice", ("relu", "elu", "silu", "tanh")),
        "models.nn.trainer.lr_max": ("float", 1e-3, 0.05, True),
        "models.nn.trainer.batch_size": ("choice", (128, 256, 512, 1024, 4096)),
    },
}
OBJECTIVES = ("z", "auc")


@dataclass(frozen=True)
class TuneData:
    """The training and validation split of a store, as ``search train`` makes them."""

    train: EventTable
    val: EventTable
    points: list[SignalPoint]
    rows: dict[str, int]


@dataclass(frozen=True)
class TuneResult:
    """The best config found and the study's trials."""

    config: SearchTrainConfig
    best_value: float
    best_params: dict[str, Any]
    n_trials: int
    n_new_trials: int
    trials: list[dict[str, Any]]


def check_options(method: str, objective: str) -> None:
    """A ConfigError unless ``method`` can be tuned and ``objective`` is known."""
    _check_choice(method, tuple(SPACES), "method")
    _check_choice(objective, OBJECTIVES, "objective")


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{what} '{value}'",
            "the command line",
            f"'search tune' takes {', '.join(allowed)}",
            f"choose one of {', '.join(allowed)}",
        )


def prepare_tuning(config: SearchTrainConfig, data: Path) -> TuneData:
    """Load and split the store (mean padding fitted on the training split); check the points."""
    table = load_events(data, config)
    points = resolve_points(table, config.signal_points, declared_signal(data), str(data))
    splits = split_table(table, config.split_fractions, config.split_seed)
    train, val = splits.train, splits.val
    if config.padding == "mean":
        means = JetMeans.fit(train)
        train, val = means.apply(train), means.apply(val)
    return TuneData(train, val, points, {"train": len(train), "val": len(val)})


def _suggest(trial: optuna.Trial, method: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in SPACES[method].items():
        if spec[0] == "choice":
            values[name] = trial.suggest_categorical(name, list(spec[1]))
        elif spec[0] == "int":
            values[name] = trial.suggest_int(name, spec[1], spec[2], log=spec[3])
        else:
            values[name] = trial.suggest_float(name, spec[1], spec[2], log=spec[3])
    return values


def trial_config(base: SearchTrainConfig, values: dict[str, Any]) -> SearchTrainConfig:
    """``base`` with a trial's values (the MLP's lr_min lowered below a smaller lr_max)."""
    settings = dict(values)
    lr_max = settings.get("models.nn.trainer.lr_max")
    if lr_max is not None and base.models.nn.trainer.lr_min > lr_max:
        settings["models.nn.trainer.lr_min"] = lr_max / 10
    return with_settings(base, settings, "a tuning trial")


def point_value(
    config: SearchTrainConfig, data: TuneData, point: SignalPoint, method: str, objective: str
) -> float:
    """Train ``method`` for ``point`` on the training split; the validation objective."""
    train, val = point_events(data.train, point.name), point_events(data.val, point.name)
    scheme, negative = config.weights.scheme, config.weights.negative
    w_train = training_weights(train.weight, train.is_signal, scheme, negative)
    w_val = training_weights(val.weight, val.is_signal, scheme, negative)
    features = config.input_features
    model = build_classifier(method, config.models)
    with tempfile.TemporaryDirectory(prefix="heplearn-tune-") as folder:
        model.fit(train.select(features), val.select(features), w_train, w_val, Path(folder))
    scores = score_events(model, val.select(features), point)
    if objective == "auc":
        return float(roc_auc(scores, val.is_signal == 1, val.weight))
    return float(best_threshold(scores, val.weight, val.is_signal, config.sigma_b).z)


def _identity(base: SearchTrainConfig, method: str, objective: str, data: TuneData) -> str:
    # Thread counts change speed, not results: a study may resume on another machine.
    settings = {k: v for k, v in config_to_dict(base).items() if k != "n_jobs"}
    settings["models"] = {m: s for m, s in settings["models"].items() if m == method}
    points = [p.name for p in data.points]
    return json.dumps(
        {"method": method, "objective": objective, "base": settings, "points": points, **data.rows},
        sort_keys=True,
        default=str,
    )


@contextmanager
def _quiet() -> Iterator[None]:
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "per_point": t.user_attrs.get("per_point"),
            "seconds": None if t.duration is None else t.duration.total_seconds(),
        }
        for t in study.get_trials(deepcopy=False)
    ]


def tune_search(
    base: SearchTrainConfig,
    data: TuneData,
    *,
    method: str,
    objective: str,
    n_trials: int,
    storage: str,
    study_name: str,
    seed: int = 0,
    timeout_s: float | None = None,
    echo: Callable[[str], None] | None = None,
) -> TuneResult:
    """Run trials until the study holds ``n_trials`` completed ones; the best config."""
    check_options(method, objective)
    say = echo or (lambda _line: None)
    with _quiet():
        study = optuna.create_study(
            storage=open_storage(storage),
            study_name=study_name,
            direction="maximize",
            load_if_exists=True,
        )
        # Seeded after loading, offset by the trials there, so a resumed or second worker
        # does not replay the first one's random start-up suggestions.
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
        check_identity(
            study,
            _identity(base, method, objective, data),
            storage,
            "method, objective, base config or store",
            "use another --study name (or storage) for a different tuning problem",
        )
        complete = (TrialState.COMPLETE,)
        done = len(study.get_trials(deepcopy=False, states=complete))

        def run_trial(trial: optuna.Trial) -> float:
            config = with_threads(trial_config(base, _suggest(trial, method)))
            values = {p.name: point_value(config, data, p, method, objective) for p in data.points}
            trial.set_user_attr("per_point", values)
            mean = float(np.mean(list(values.values())))
            say(f"trial {trial.number}: {objective} = {mean:.4g}")
            return mean

        if done < n_trials:
            study.optimize(
                run_trial,
                n_trials=n_trials - done,
                timeout=timeout_s,
                callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=complete)],
            )
    finished = study.get_trials(deepcopy=False, states=complete)
    if not finished:
        raise ConfigError(
            f"study '{study_name}'",
            storage,
            "no trial completed before the timeout",
            "raise --timeout or --trials",
        )
    best = study.best_trial
    assert best.value is not None  # a COMPLETE single-objective trial has a value
    return TuneResult(
        config=trial_config(base, dict(best.params)),
        best_value=float(best.value),
        best_params=dict(best.params),
        n_trials=len(finished),
        n_new_trials=len(finished) - done,
        trials=_trial_rows(study),
    )


def with_threads(config: SearchTrainConfig) -> SearchTrainConfig:
    """``n_jobs`` passed on to XGBoost, as ``search train`` does."""
    if not config.n_jobs:
        return config
    xgb = dataclasses.replace(config.models.xgboost, n_jobs=config.n_jobs)
    return dataclasses.replace(config, models=dataclasses.replace(config.models, xgboost=xgb))
