"""The CMS-scouting loss (p/y − 1)² as an XGBoost objective and validation metric."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xgboost as xgb

__all__ = [
    "metric_to_loss",
    "scouting_gradient",
    "scouting_loss",
    "scouting_metric",
    "scouting_objective",
]

Array = np.ndarray[Any, Any]
#: Floor of the scouting loss before its logarithm (a perfect fit has loss 0).
_TINY = 1e-300


def metric_to_loss(loss: str, value: float) -> float:
    """The mean validation loss from a value of :attr:`BdtConfig.metric` in the evaluation log."""
    return value**2 if loss == "mse" else math.exp(value)


def scouting_loss(pred: Array, truth: Array, weight: Array | None = None) -> float:
    """Weighted mean of (pred/truth − 1)²."""
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    w = np.ones_like(truth) if weight is None or np.size(weight) == 0 else np.asarray(weight)
    return float(np.sum(w * (pred / truth - 1.0) ** 2) / np.sum(w))


def scouting_gradient(
    pred: Array, truth: Array, weight: Array | None = None
) -> tuple[Array, Array]:
    """Per-sample gradient and hessian of w·(pred/truth − 1)² with respect to pred."""
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    w = np.ones_like(truth) if weight is None or np.size(weight) == 0 else np.asarray(weight)
    grad = 2.0 * w * (pred / truth - 1.0) / truth
    hess = 2.0 * w / truth**2
    return grad, hess


def scouting_objective(pred: Array, dtrain: xgb.DMatrix) -> tuple[Array, Array]:
    return scouting_gradient(pred, dtrain.get_label(), dtrain.get_weight())


def scouting_metric(pred: Array, dval: xgb.DMatrix) -> tuple[str, float]:
    # XGBoost formats custom metrics with "%f" (6 decimals), which rounds a loss of ~1e-5 to
    # 1 digit; the logarithm keeps 6 significant digits for early stopping at any scale.
    value = scouting_loss(pred, dval.get_label(), dval.get_weight())
    return "log_scouting", math.log(max(value, _TINY))
