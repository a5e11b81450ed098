"""Gradient-boosted regression baseline (XGBoost) of the calibration target on scalar features.

The caller chooses the target (e.g. r = E_truth/E_acc); this module regresses y on X with
either squared error or the CMS-scouting loss (y_pred/y_true − 1)², stops early on a
validation set, and saves the model in XGBoost's JSON format (never pickle) with the
feature names and the config inside the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xgboost as xgb

from heplearn.calib.bdt_objective import (
    metric_to_loss,
    scouting_gradient,
    scouting_loss,
    scouting_metric,
    scouting_objective,
)
from heplearn.config import config_to_dict, parse_config, register_config, setting
from heplearn.data.atomic import atomic_output
from heplearn.errors import DataError

__all__ = [
    "BdtConfig",
    "BdtData",
    "BdtModel",
    "fit_bdt",
    "load_bdt",
    "metric_to_loss",
    "prepare_bdt_data",
    "scouting_gradient",
    "scouting_loss",
    "train_bdt",
]

Array = np.ndarray[Any, Any]
Importance = Literal["gain", "total_gain", "weight", "cover", "total_cover"]

#: Booster attribute holding the config; its presence marks a model written by heplearn.
_CONFIG_ATTR = "heplearn_config"
_BEST_ITERATION_ATTR = "heplearn_best_iteration"
_BEST_SCORE_ATTR = "heplearn_best_score"
#: XGBoost refuses feature names containing these characters.
_BAD_NAME_CHARS = ("[", "]", "<")


@register_config("bdt")
@dataclass(frozen=True)
class BdtConfig:
    """Hyper-parameters of the gradient-boosted baseline (XGBoost names in the docs)."""

    n_estimators: int = setting(500, low=1, high=100_000, doc="maximum boosting rounds")
    learning_rate: float = setting(0.05, low=1e-4, high=1.0, doc="shrinkage (eta)")
    max_depth: int = setting(6, low=1, high=20, doc="maximum tree depth")
    min_child_weight: float = setting(1.0, low=0.0, high=1e6, doc="minimum hessian sum in a leaf")
    subsample: float = setting(0.8, low=0.01, high=1.0, doc="row fraction per tree")
    colsample_bytree: float = setting(0.8, low=0.01, high=1.0, doc="feature fraction per tree")
    reg_lambda: float = setting(1.0, low=0.0, high=1e6, doc="L2 penalty on leaf values")
    early_stopping_rounds: int = setting(
        50, low=1, high=10_000, doc="stop after this many rounds without validation gain"
    )
    loss: Literal["mse", "scouting"] = setting(
        "scouting", doc="'mse' = (p − y)², 'scouting' = (p/y − 1)² (needs y > 0)"
    )
    n_jobs: int = setting(
        0, low=0, high=1024, doc="threads; 0 = auto (1 below 50k rows, else all cores)"
    )
    seed: int = setting(1, low=0, high=2**31 - 1)

    @property
    def metric(self) -> str:
        """Name of the validation metric in XGBoost's evaluation log; see :func:`metric_to_loss`."""
        return "rmse" if self.loss == "mse" else "log_scouting"


def _check_features(x: Array, names: Sequence[str], where: str) -> None:
    if x.ndim != 2 or x.shape[1] != len(names):
        raise DataError(
            "feature matrix",
            where,
            f"its shape is {x.shape}, expected (rows, {len(names)}) for features {list(names)}",
            "pass one column per feature name",
        )
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    counts = []
    for j in np.flatnonzero(bad.any(axis=0)):
        column = x[:, j]
        n_nan = int(np.isnan(column).sum())
        n_inf = int(np.isinf(column).sum())
        parts = [f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "inf")) if n]
        counts.append(f"'{names[int(j)]}' has {' and '.join(parts)} of {len(column)} values")
    raise DataError(
        "non-finite feature values",
        where,
        "; ".join(counts),
        "drop or impute those rows before training (XGBoost would treat them as missing)",
    )


def _check_targets(y: Array, n: int, where: str, what: str) -> None:
    if y.shape != (n,):
        raise DataError(what, where, f"its shape is {y.shape}, expected ({n},)", "pass one per row")
    n_bad = int((~np.isfinite(y)).sum())
    if n_bad:
        raise DataError(what, where, f"{n_bad} of {n} values are NaN or inf", "drop those rows")


def _check_names(names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    for name in names:
        if not name or any(c in name for c in _BAD_NAME_CHARS):
            raise DataError(
                f"feature name {name!r}",
                "feature_names",
                "XGBoost needs non-empty names without '[', ']' or '<'",
                "rename the feature",
            )
    if len(set(names)) != len(names):
        doubled = sorted({n for n in names if names.count(n) > 1})
        raise DataError("feature names", "feature_names", f"{doubled} repeat", "name each once")
    return names


def _checked_split(
    x: Any, y: Any, w: Any | None, names: Sequence[str], where: str
) -> tuple[Array, Array, Array | None]:
    x_arr = np.asarray(x, dtype=np.float32)
    y_arr = np.asarray(y, dtype=np.float64)
    _check_features(x_arr, names, where)
    _check_targets(y_arr, len(x_arr), where, "target")
    if w is None:
        return x_arr, y_arr, None
    w_arr = np.asarray(w, dtype=np.float64)
    _check_targets(w_arr, len(x_arr), where, "weights")
    if (w_arr < 0).any() or w_arr.sum() <= 0:
        raise DataError(
            "weights", where, "some are negative or all are zero", "pass weights ≥ 0, not all 0"
        )
    return x_arr, y_arr, w_arr


@dataclass(frozen=True)
class BdtData:
    """Checked training and validation matrices, built once and reused by every tuning trial."""

    train: xgb.QuantileDMatrix
    val: xgb.QuantileDMatrix
    feature_names: tuple[str, ...]
    #: The scouting loss divides by y, so it needs every target > 0.
    targets_positive: bool


def prepare_bdt_data(
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    *,
    w_train: Any | None = None,
    w_val: Any | None = None,
    feature_names: Sequence[str],
    n_jobs: int = 0,
) -> BdtData:
    """Check the arrays (shapes, NaN/inf, weights) and bin them for XGBoost's hist method."""
    names = _check_names(feature_names)
    xt, yt, wt = _checked_split(x_train, y_train, w_train, names, "training set")
    xv, yv, wv = _checked_split(x_val, y_val, w_val, names, "validation set")
    if len(xt) == 0 or len(xv) == 0:
        raise DataError(
            "empty split", "training/validation set", "it has no rows", "pass non-empty sets"
        )
    nthread = threads(n_jobs, len(xt))
    train = xgb.QuantileDMatrix(xt, yt, weight=wt, feature_names=list(names), nthread=nthread)
    # Validation cuts come from the training set so both are binned alike.
    val = xgb.QuantileDMatrix(
        xv, yv, weight=wv, feature_names=list(names), nthread=nthread, ref=train
    )
    positive = bool((yt > 0).all() and (yv > 0).all())
    return BdtData(train, val, names, positive)


def _base_score(loss: str, dtrain: xgb.DMatrix) -> float:
    """The best constant prediction, so boosting starts at the optimum of the loss."""
    y = dtrain.get_label().astype(np.float64)
    w = dtrain.get_weight().astype(np.float64)
    w = np.ones_like(y) if w.size == 0 else w
    if loss == "scouting":
        return float(np.sum(w / y) / np.sum(w / y**2))
    return float(np.sum(w * y) / np.sum(w))


#: Below this many rows XGBoost's OpenMP threads cost more than they gain (measured 100× slower
#: with 2 threads on a loaded 2-core machine for 1k rows).
_THREADED_ROWS = 50_000


def threads(n_jobs: int, rows: int) -> int:
    """XGBoost threads for ``rows`` rows: ``n_jobs``, or with 0 one thread for small data."""
    if n_jobs:
        return n_jobs
    return 1 if rows < _THREADED_ROWS else (os.cpu_count() or 1)


def _params(config: BdtConfig, base_score: float, rows: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        "tree_method": "hist",
        "eta": config.learning_rate,
        "max_depth": config.max_depth,
        "min_child_weight": config.min_child_weight,
        "subsample": config.subsample,
        "colsample_bytree": config.colsample_bytree,
        "lambda": config.reg_lambda,
        "seed": config.seed,
        "base_score": base_score,
        "verbosity": 1,
    }
    params["nthread"] = threads(config.n_jobs, rows)
    if config.loss == "mse":
        params |= {"objective": "reg:squarederror", "eval_metric": "rmse"}
    else:
        # Only the custom metric, so early stopping watches the loss being minimised.
        params["disable_default_eval_metric"] = 1
    return params


class BdtModel:
    """A trained booster (truncated at its best round) with its feature names and config.

    ``best_score`` is the mean validation loss at ``best_iteration`` (the MSE for
    ``loss: mse``, the mean (p/y − 1)² for ``loss: scouting``), weighted when weights were given.
    """

    def __init__(
        self,
        booster: xgb.Booster,
        config: BdtConfig,
        feature_names: tuple[str, ...],
        best_iteration: int,
        best_score: float,
    ) -> None:
        self.booster = booster
        self.config = config
        self.feature_names = feature_names
        self.best_iteration = best_iteration
        self.best_score = best_score

    def predict(self, x: Any) -> Array:
        """Predicted target (float32), one per row of ``x`` (columns in ``feature_names`` order)."""
        x_arr = np.asarray(x, dtype=np.float32)
        _check_features(x_arr, self.feature_names, "prediction input")
        matrix = xgb.DMatrix(
            x_arr,
            feature_names=list(self.feature_names),
            nthread=threads(self.config.n_jobs, len(x_arr)),
        )
        return np.asarray(self.booster.predict(matrix))

    def feature_importance(self, kind: Importance = "gain") -> dict[str, float]:
        """Importance per feature (mean split gain by default); unused features get 0."""
        scores = self.booster.get_score(importance_type=kind)
        return {name: float(np.asarray(scores.get(name, 0.0))) for name in self.feature_names}

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write XGBoost's JSON model format (config and best round in its attributes)."""
        final = Path(path)
        raw = self.booster.save_raw(raw_format="json")
        with atomic_output(final, overwrite=overwrite) as tmp:
            tmp.write_bytes(bytes(raw))
        return final


def fit_bdt(
    config: BdtConfig,
    data: BdtData,
    *,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
) -> BdtModel:
    """Boost up to ``n_estimators`` rounds, stop early on ``data.val``, keep the best round."""
    if config.loss == "scouting" and not data.targets_positive:
        raise DataError(
            "target",
            "training/validation set",
            "the scouting loss (p/y − 1)² needs every target y > 0",
            "drop rows with y ≤ 0 or use loss: mse",
        )
    scouting = config.loss == "scouting"
    booster = xgb.train(
        _params(config, _base_score(config.loss, data.train), data.train.num_row()),
        data.train,
        num_boost_round=config.n_estimators,
        evals=[(data.val, "val")],
        obj=scouting_objective if scouting else None,
        custom_metric=scouting_metric if scouting else None,
        maximize=False,
        early_stopping_rounds=config.early_stopping_rounds,
        verbose_eval=False,
        callbacks=list(callbacks),
    )
    best_iteration = int(booster.best_iteration)
    best_score = metric_to_loss(config.loss, float(booster.best_score))
    # Slicing keeps only the best rounds, so predict() and the saved file need no iteration range.
    best = booster[: best_iteration + 1]
    best.set_attr(
        **{
            _CONFIG_ATTR: json.dumps(config_to_dict(config)),
            _BEST_ITERATION_ATTR: str(best_iteration),
            _BEST_SCORE_ATTR: repr(best_score),
        }
    )
    return BdtModel(best, config, data.feature_names, best_iteration, best_score)


# Weights follow their arrays positionally, as calib/train.py calls it.
def train_bdt(  # noqa: PLR0917
    config: BdtConfig,
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    w_train: Any | None = None,
    w_val: Any | None = None,
    *,
    feature_names: Sequence[str],
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
) -> BdtModel:
    """Regress y on X (rows × features) with early stopping on the validation set."""
    data = prepare_bdt_data(
        x_train,
        y_train,
        x_val,
        y_val,
        w_train=w_train,
        w_val=w_val,
        feature_names=feature_names,
        n_jobs=config.n_jobs,
    )
    return fit_bdt(config, data, callbacks=callbacks)


def _not_a_model(path: Path, why: str) -> DataError:
    return DataError(
        "not a heplearn XGBoost JSON model",
        str(path),
        why,
        "pass a file written by BdtModel.save (heplearn calib BDT)",
    )


def load_bdt(path: str | Path) -> BdtModel:
    """Read a model written by :meth:`BdtModel.save`; anything else is refused with DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError("model file not found", str(path), "no such file", "check the path")
    raw = path.read_bytes()
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _not_a_model(path, f"it is not JSON ({err})") from err
    learner = document.get("learner") if isinstance(document, dict) else None
    if not isinstance(learner, dict) or "version" not in document:
        raise _not_a_model(path, "the JSON has no 'learner' and 'version' of an XGBoost model")
    attributes = learner.get("attributes", {})
    if _CONFIG_ATTR not in attributes:
        raise _not_a_model(path, "it is an XGBoost model without heplearn's config attribute")
    config = parse_config(BdtConfig, json.loads(attributes[_CONFIG_ATTR]), str(path))
    try:
        booster = xgb.Booster(model_file=bytearray(raw))
    except xgb.core.XGBoostError as err:
        raise _not_a_model(path, f"XGBoost cannot read it ({str(err).splitlines()[0]})") from err
    names = booster.feature_names
    if not names:
        raise _not_a_model(path, "it stores no feature names")
    return BdtModel(
        booster,
        config,
        tuple(names),
        int(attributes.get(_BEST_ITERATION_ATTR, booster.num_boosted_rounds() - 1)),
        float(attributes.get(_BEST_SCORE_ATTR, "nan")),
    )
