"""How well a monitoring method works: the figures DQM experts ask for.

- efficiency (detection rate) per fault type × size at fixed false-alarm rates,
  the thresholds chosen on good maps *not* used for the efficiency (validation),
  each with its binomial (Clopper–Pearson, 1σ) interval;
- per-class AUC of the map anomaly score (good maps vs maps of that fault);
- the confusion matrix of the predicted classes;
- localisation: the fraction of truly faulty channels flagged (recall) and of
  flagged channels truly faulty (precision), over the live channels.

N good validation maps cannot resolve a false-alarm rate below 1/N (one map
flagged): a rate requested below it is quoted at 1/N, under that rate's key, and
a note says so (:func:`false_alarm_resolution`).  :func:`threshold_for_rate` is
the one threshold rule, also used by the models for their own flag thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.stats import roc_auc
from heplearn.stats.binomial import clopper_pearson

__all__ = [
    "FALSE_ALARM_RATES",
    "confusion_matrix",
    "efficiency_at_false_alarm",
    "false_alarm_resolution",
    "localisation",
    "per_class_auc",
    "rate_key",
    "rate_label",
    "resolved_rate",
    "threshold_for_rate",
    "with_interval",
]

Array = np.ndarray[Any, Any]

#: False-alarm rates (fraction of good maps flagged) at which efficiencies are requested.
FALSE_ALARM_RATES = (0.01, 0.001)


def threshold_for_rate(good_values: Array, rate: float, floor: float = 0.0) -> float:
    """Smallest threshold T with at most ``rate`` of ``good_values`` above it, at least ``floor``.

    Maps with a value > T are flagged.  Below ``1/len(good_values)`` the rate cannot
    be resolved: T is the largest good value (true rate about 1/(N+1)), see
    :func:`resolved_rate`.  No good values: T = ``floor``.
    """
    values = np.sort(np.asarray(good_values, dtype=np.float64))
    if values.size == 0:
        return float(floor)
    # The tiny slack keeps rate = k/N from flooring to k − 1 through rounding.
    allowed = min(int(np.floor(rate * values.size * (1.0 + 1e-9))), values.size - 1)
    return float(max(values[values.size - 1 - allowed], floor))


def resolved_rate(rate: float, n_good: int) -> float:
    """The false-alarm rate ``n_good`` good maps can set a threshold at: ``rate``, at least 1/N."""
    return max(float(rate), 1.0 / max(n_good, 1))


def rate_key(rate: float) -> str:
    """The key of a rate in metrics.json ("0.01", "0.00444")."""
    return f"{rate:.3g}"


def false_alarm_resolution(n_good: int, rates: tuple[float, ...]) -> dict[str, Any]:
    """What ``n_good`` good validation maps resolve, and a note per rate they cannot."""
    smallest = resolved_rate(0.0, n_good)
    notes = [
        f"a false-alarm rate of {rate:g} needs at least {int(np.ceil(1.0 / rate))} good "
        f"validation maps; with {n_good} the smallest resolvable rate is {smallest:.3g}, "
        f"so it is quoted at {smallest:.3g}"
        for rate in rates
        if rate < smallest
    ]
    return {"validation_good_maps": int(n_good), "smallest_rate": smallest, "notes": notes}


def _fraction(flagged: Array) -> dict[str, Any]:
    k, n = int(np.count_nonzero(flagged)), int(flagged.size)
    return {
        "value": k / n if n else float("nan"),
        "interval": list(clopper_pearson(k, n)),
        "maps": n,
    }


def efficiency_at_false_alarm(
    scores: Array,
    map_class: Array,
    fault_shape: Array,
    reference_good_scores: Array,
    *,
    class_names: tuple[str, ...],
    shape_names: tuple[str, ...],
    rates: tuple[float, ...] = FALSE_ALARM_RATES,
) -> dict[str, dict[str, Any]]:
    """Efficiency per fault type × size at each resolvable false-alarm rate.

    ``{"0.01": {"rate": 0.01, "requested": [0.01], "threshold": T,
    "efficiency": {"dead_1x1": ε, …}, "interval": {"dead_1x1": [low, high]},
    "maps": {"dead_1x1": n}, "false_alarm": realised rate on these good maps,
    "false_alarm_interval": [low, high], "good_maps": n}}``; intervals are 1σ
    Clopper–Pearson.  Rates below 1/N of the N reference good maps are quoted at 1/N.
    """
    scores = np.asarray(scores, dtype=np.float64)
    reference = np.asarray(reference_good_scores, dtype=np.float64)
    if reference.size == 0:
        raise ValueError("no good maps to set a false-alarm threshold on")
    result: dict[str, dict[str, Any]] = {}
    for requested in rates:
        rate = resolved_rate(requested, reference.size)
        key = rate_key(rate)
        if key in result:  # two requests that resolve to the same rate share one table
            result[key]["requested"].append(requested)
            continue
        threshold = threshold_for_rate(reference, rate)
        flagged = scores > threshold
        table: dict[str, Any] = {
            "rate": rate,
            "requested": [requested],
            "threshold": threshold,
            "efficiency": {},
            "interval": {},
            "maps": {},
        }
        for klass in np.unique(map_class):
            if klass == 0:
                continue
            for shape in np.unique(fault_shape[map_class == klass]):
                chosen = (map_class == klass) & (fault_shape == shape)
                fault = f"{class_names[int(klass)]}_{shape_names[int(shape)]}"
                fraction = _fraction(flagged[chosen])
                table["efficiency"][fault] = fraction["value"]
                table["interval"][fault] = fraction["interval"]
                table["maps"][fault] = fraction["maps"]
        good = _fraction(flagged[map_class == 0])
        table["false_alarm"] = good["value"]
        table["false_alarm_interval"] = good["interval"]
        table["good_maps"] = good["maps"]
        result[key] = table
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


def rate_label(rate: float) -> str:
    """A false-alarm rate as the report and the CLI print it ("1 %", "0.44 %")."""
    return f"{100.0 * rate:.2g} %"


def with_interval(value: float, interval: Any) -> str:
    """``0.930 [0.85, 0.97]``: a fraction and its 1σ interval; "–" when there is none."""
    if value is None or not np.isfinite(value):
        return "–"
    low, high = interval if interval is not None else (float("nan"), float("nan"))
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.2f}, {high:.2f}]"
