"""Weighted ROC curves and the area under them.

Scores are "higher = more signal-like" (or more anomalous).  Events may carry
weights, negative ones included (they are kept: an MC sample's negative weights
cancel in the yields, and the curve is built from cumulative weighted sums).
Ties are treated as one threshold, so the AUC of a constant score is 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RocCurve", "roc_auc", "roc_curve"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class RocCurve:
    """False- and true-positive rates at each distinct threshold, from (0, 0) to (1, 1)."""

    false_positive_rate: Array
    true_positive_rate: Array
    thresholds: Array

    @property
    def auc(self) -> float:
        """Area under the curve by the trapezoid rule (exact for the step-with-ties curve)."""
        area = float(np.trapezoid(self.true_positive_rate, self.false_positive_rate))
        # Rounding of the cumulative sums can step past 0 or 1 by ~1e-16; larger excursions
        # (negative weights) are kept as they are.
        return min(max(area, 0.0), 1.0) if -1e-9 < area < 1.0 + 1e-9 else area


def roc_curve(scores: Array, is_positive: Array, weights: Array | None = None) -> RocCurve:
    """The ROC curve of ``scores`` for the positive class ``is_positive`` (bool per entry)."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(is_positive, dtype=bool)
    w = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=np.float64)
    if not (scores.shape == positive.shape == w.shape):
        raise ValueError("scores, labels and weights need the same shape")
    total_pos = float(w[positive].sum())
    total_neg = float(w[~positive].sum())
    if total_pos <= 0 or total_neg <= 0:
        raise ValueError("a ROC curve needs a positive weight sum in both classes")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    tp = np.cumsum(np.where(positive[order], w[order], 0.0))
    fp = np.cumsum(np.where(positive[order], 0.0, w[order]))
    # Keep the last entry of each run of equal scores: ties move the curve diagonally.
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    tpr = np.r_[0.0, tp[last_of_tie] / total_pos]
    fpr = np.r_[0.0, fp[last_of_tie] / total_neg]
    thresholds = np.r_[np.inf, sorted_scores[last_of_tie]]
    return RocCurve(fpr, tpr, thresholds)


def roc_auc(scores: Array, is_positive: Array, weights: Array | None = None) -> float:
    """Area under the weighted ROC curve: the probability a positive outranks a negative."""
    return roc_curve(scores, is_positive, weights).auc
