"""How well a monitoring method works: the figures DQM experts ask for.

- efficiency (detection rate) per fault type × size at fixed false-alarm rates,
  the thresholds chosen on good maps *not* used for the efficiency (validation);
- per-class AUC of the map anomaly score (good maps vs maps of that fault);
- the confusion matrix of the predicted classes;
- localisation: the fraction of truly faulty channels flagged (recall) and of
  flagged channels truly faulty (precision), over the live channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.stats import roc_auc

__all__ = [
    "FALSE_ALARM_RATES",
    "confusion_matrix",
    "efficiency_at_false_alarm",
    "localisation",
    "per_class_auc",
    "threshold_at_false_alarm",
]

Array = np.ndarray[Any, Any]

#: False-alarm rates (fraction of good maps flagged) at which efficiencies are quoted.
FALSE_ALARM_RATES = (0.01, 0.001)


def threshold_at_false_alarm(good_scores: Array, rate: float) -> float:
    """The smallest threshold that flags at most ``rate`` of ``good_scores`` (score > threshold)."""
    scores = np.sort(np.asarray(good_scores, dtype=np.float64))
    if scores.size == 0:
        raise ValueError("no good maps to set a false-alarm threshold on")
    allowed = int(np.floor(rate * scores.size))
    # Flag strictly above the (allowed+1)-th largest good score.
    return float(scores[scores.size - 1 - allowed])


def efficiency_at_false_alarm(
    scores: Array,
    map_class: Array,
    fault_shape: Array,
    reference_good_scores: Array,
    *,
    class_names: tuple[str, ...],
    shape_names: tuple[str, ...],
    rates: tuple[float, ...] = FALSE_ALARM_RATES,
) -> dict[str, dict[str, float]]:
    """{"0.01": {"dead_1x1": efficiency, …, "false_alarm": realised rate on these good maps}}."""
    scores = np.asarray(scores, dtype=np.float64)
    result: dict[str, dict[str, float]] = {}
    for rate in rates:
        threshold = threshold_at_false_alarm(reference_good_scores, rate)
        flagged = scores > threshold
        table: dict[str, float] = {}
        for klass in np.unique(map_class):
            for shape in np.unique(fault_shape[map_class == klass]):
                if klass == 0:
                    continue
                chosen = (map_class == klass) & (fault_shape == shape)
                key = f"{class_names[int(klass)]}_{shape_names[int(shape)]}"
                table[key] = float(flagged[chosen].mean())
        good = map_class == 0
        if good.any():
            table["false_alarm"] = float(flagged[good].mean())
        result[f"{rate:g}"] = table
    return result


def per_class_auc(
    scores: Array, map_class: Array, class_names: tuple[str, ...]
) -> dict[str, float]:
    """AUC of the anomaly score separating good maps from each fault class present."""
    good = map_class == 0
    aucs: dict[str, float] = {}
    for klass in np.unique(map_class):
        if klass == 0 or not good.any():
            continue
        chosen = good | (map_class == klass)
        aucs[class_names[int(klass)]] = roc_auc(scores[chosen], map_class[chosen] == klass)
    return aucs


def confusion_matrix(true_class: Array, predicted_class: Array, n_classes: int) -> Array:
    """Counts (true row, predicted column)."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true_class, int), np.asarray(predicted_class, int)), 1)
    return matrix


def localisation(flags: Array, channel_class: Array, live: Array | None = None) -> dict[str, float]:
    """Recall and precision of flagged channels against the channel truth (live channels only)."""
    faulty = np.asarray(channel_class) > 0
    flagged = np.asarray(flags, dtype=bool)
    if live is not None:
        live_all = np.broadcast_to(np.asarray(live, dtype=bool), flagged.shape)
        faulty = faulty & live_all
        flagged = flagged & live_all
    hits = np.count_nonzero(flagged & faulty)
    n_faulty, n_flagged = np.count_nonzero(faulty), np.count_nonzero(flagged)
    return {
        "recall": hits / n_faulty if n_faulty else float("nan"),
        "precision": hits / n_flagged if n_flagged else float("nan"),
        "faulty_channels": float(n_faulty),
        "flagged_channels": float(n_flagged),
    }
