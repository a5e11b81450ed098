"""XGBoost signal-vs-background classifier (``binary:logistic``, hist trees, early stopping).

Training weights are rescaled to mean 1 on each split (the optimum does not change, but
``min_child_weight`` and the L2 penalty then mean the same for any σ·L); XGBoost cannot
use negative weights, which the thesis met by training on |w| — here the weights
module clips or drops them before they reach this class.  ``scale_pos_weight`` multiplies
the signal weights: ``auto`` sets Σw_bkg/Σw_sig so both classes weigh the same.

Scores are the sigmoid of the boosted margin computed in float64, so the extreme
signal-like tail (where the best significance cuts sit) is not flattened to 1.0 by
float32 rounding.  The folder holds XGBoost's own JSON model (``model.json``) and
``meta.json`` with the settings, best round and gain importances.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xgboost as xgb

from heplearn.config import config_to_dict, parse_config
from heplearn.errors import DataError
from heplearn.search.model_config import XGBoostSettings
from heplearn.search.models.base import (
    Classifier,
    FitSummary,
    PointQuery,
    WeightedSplit,
    normalised_weights,
)

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = ["XGBoostClassifier", "positive_class_scale", "xgboost_threads"]

Array = np.ndarray[Any, Any]

MODEL_FILE = "model.json"
#: Below this many rows OpenMP threads cost more than they gain on a small shared machine.
_THREADED_ROWS = 50_000
#: XGBoost refuses feature names containing these characters.
_BAD_NAME_CHARS = ("[", "]", "<")


def xgboost_threads(n_jobs: int, rows: int) -> int:
    """Threads for ``rows`` rows: ``n_jobs``, or with 0 one thread for small data, else all."""
    if n_jobs:
        return n_jobs
    return 1 if rows < _THREADED_ROWS else (os.cpu_count() or 1)


def positive_class_scale(setting: str | float, weights: Array, is_signal: Array) -> float:
    """The factor on signal weights: 1 (``none``), Σw_bkg/Σw_sig (``auto``) or the number."""
    if setting == "none":
        return 1.0
    if setting == "auto":
        signal = np.asarray(is_signal) == 1
        return float(weights[~signal].sum() / weights[signal].sum())
    return float(setting)


def _sigmoid(margin: Array) -> Array:
    m = np.asarray(margin, dtype=np.float64)
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * m)))  # overflow-free logistic


def _check_names(names: tuple[str, ...]) -> None:
    for name in names:
        if not name or any(c in name for c in _BAD_NAME_CHARS):
            raise DataError(
                f"feature name {name!r}",
                "the event table",
                "XGBoost needs non-empty names without '[', ']' or '<'",
                "rename the observable",
            )


class XGBoostClassifier(Classifier):
    """Boosted decision trees on the table's features; see the module docstring."""

    kind = "xgboost"

    def __init__(self, settings: XGBoostSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or XGBoostSettings()
        self.booster: xgb.Booster | None = None
        self.best_iteration = -1
        self.scale_pos_weight = 1.0

    def _params(self, rows: int) -> dict[str, Any]:
        s = self.settings
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "eta": s.learning_rate,
            "max_depth": s.max_depth,
            "min_child_weight": s.min_child_weight,
            "subsample": s.subsample,
            "colsample_bytree": s.colsample,
            "lambda": s.reg_lambda,
            "scale_pos_weight": self.scale_pos_weight,
            "seed": s.seed,
            "nthread": xgboost_threads(s.n_jobs, rows),
            "verbosity": 1,
        }

    def _fit(
        self, train: WeightedSplit, val: WeightedSplit, run_dir: Path, progress: bool
    ) -> FitSummary:
        """Boost up to ``n_estimators`` rounds, stopping early on the weighted validation loss.

        ``run_dir`` is not written (the booster lives in memory until :meth:`save`).
        """
        w_train, w_val = train.weights, val.weights
        names = tuple(train.table.names)
        _check_names(names)
        y_train, y_val = train.labels, val.labels
        self.scale_pos_weight = positive_class_scale(
            self.settings.scale_pos_weight, w_train, y_train
        )
        threads = xgboost_threads(self.settings.n_jobs, len(y_train))
        dtrain = xgb.QuantileDMatrix(
            np.asarray(train.table.features, np.float32),
            y_train,
            weight=normalised_weights(w_train),
            feature_names=list(names),
            nthread=threads,
        )
        # The validation bins come from the training set so both are cut alike.
        # The validation loss weighs signal like the training loss does, so early stopping
        # watches the objective being minimised.
        w_val = np.where(y_val == 1, w_val * self.scale_pos_weight, w_val)
        dval = xgb.QuantileDMatrix(
            np.asarray(val.table.features, np.float32),
            y_val,
            weight=normalised_weights(w_val),
            feature_names=list(names),
            nthread=threads,
            ref=dtrain,
        )
        history: dict[str, Any] = {}
        began = time.perf_counter()
        booster = xgb.train(
            self._params(len(y_train)),
            dtrain,
            num_boost_round=self.settings.n_estimators,
            evals=[(dval, "val")],
            evals_result=history,
            early_stopping_rounds=self.settings.early_stopping or None,
            verbose_eval=False,
        )
        seconds = time.perf_counter() - began
        losses = [float(v) for v in history["val"]["logloss"]]
        if self.settings.early_stopping:
            self.best_iteration = int(booster.best_iteration)
            # Slicing keeps only the best rounds, so predictions need no iteration range.
            booster = booster[: self.best_iteration + 1]
        else:
            self.best_iteration = booster.num_boosted_rounds() - 1
        self.booster = booster
        return FitSummary(
            self.kind,
            len(y_train),
            len(y_val),
            seconds,
            self.best_iteration,
            losses[self.best_iteration],
        )

    def _scores(self, x: Array, table: EventTable, point: PointQuery) -> Array:
        assert self.booster is not None
        matrix = xgb.DMatrix(
            x,
            feature_names=list(self.feature_names),
            nthread=xgboost_threads(self.settings.n_jobs, len(x)),
        )
        return _sigmoid(self.booster.predict(matrix, output_margin=True))

    def feature_importance(self) -> dict[str, float]:
        """Mean split gain per feature; features never split on get 0."""
        if self.booster is None:
            return {}
        scores = self.booster.get_score(importance_type="gain")
        return {name: float(np.asarray(scores.get(name, 0.0))) for name in self.feature_names}

    def _meta(self) -> dict[str, Any]:
        return {
            "settings": config_to_dict(self.settings),
            "best_iteration": self.best_iteration,
            "scale_pos_weight": self.scale_pos_weight,
            "importance_gain": self.feature_importance(),
        }

    def _write_files(self, tmp: Path) -> None:
        assert self.booster is not None
        (tmp / MODEL_FILE).write_bytes(bytes(self.booster.save_raw(raw_format="json")))

    @classmethod
    def _restore(
        cls, folder: Path, meta: dict[str, Any], names: tuple[str, ...]
    ) -> XGBoostClassifier:
        settings = parse_config(XGBoostSettings, meta.get("settings", {}), str(folder))
        path = folder / MODEL_FILE
        if not path.is_file():
            raise DataError("no XGBoost model", str(path), "the file is missing", "retrain")
        try:
            booster = xgb.Booster(model_file=bytearray(path.read_bytes()))
        except xgb.core.XGBoostError as err:
            why = f"XGBoost cannot read it ({str(err).splitlines()[0][:120]})"
            raise DataError("unreadable XGBoost model", str(path), why, "retrain") from err
        if tuple(booster.feature_names or ()) != names:
            raise DataError(
                "model and metadata disagree",
                str(folder),
                f"the booster's features {booster.feature_names} differ from {list(names)}",
                "retrain; the folder was edited or mixed",
            )
        model = cls(settings)
        model.booster = booster
        model.best_iteration = int(meta.get("best_iteration", booster.num_boosted_rounds() - 1))
        model.scale_pos_weight = float(meta.get("scale_pos_weight", 1.0))
        return model
