"""Training weights for the signal/background classifiers, and the collapse warning.

The thesis (§5.2.3–5.2.4) trained on four schemes; here (``w`` = the event's
MC weight, σ·L/N × generator weight, after the negative-weight treatment):

- ``none``: every event 1 — the "unweighted" training, which separates well
  but ignores cross sections;
- ``mc``: w — raw MC weights.  In the thesis this gave accuracy ≈ 1 and
  AUC = 0.5: the weighted signal fraction was ~10⁻⁵, so predicting "background"
  for every event is the loss minimum and the network collapses to it
  (:func:`collapse_warning` catches this before training);
- ``count-balance``: signal 1, background N_sig/N_bkg (the "data analyst"
  balancing that worked in the thesis): both classes have equal totals;
- ``weight-balance``: w with the signal scaled by Σw_bkg/Σw_sig (the thesis'
  best balanced scheme): cross-section shapes kept inside each class, classes
  balanced.

Every scheme is normalised to a mean training weight of 1 over kept events
(so learning rates do not depend on the luminosity).

Negative MC weights (NLO generators) in *training*: ``clip`` (set to 0, the
event stays), ``drop`` (the event gets weight 0 and is not counted in N),
``abs`` (|w|, what the thesis did for XGBoost) or ``keep`` (as is; only for
models that accept negative weights).  *Evaluation* always keeps them: the
``EventTable.weight`` is never modified here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from heplearn.errors import ConfigError, DataError

__all__ = [
    "COLLAPSE_THRESHOLD",
    "NEGATIVE_WEIGHTS",
    "WEIGHT_SCHEMES",
    "ClassifierCollapseWarning",
    "collapse_warning",
    "signal_fraction",
    "training_weights",
]

Array = np.ndarray[Any, Any]

WEIGHT_SCHEMES = ("none", "mc", "count-balance", "weight-balance")
NEGATIVE_WEIGHTS = ("clip", "drop", "abs", "keep")
#: Below this weighted signal fraction a classifier minimises its loss by calling everything
#: background (the thesis' AUC-0.5 failure).
COLLAPSE_THRESHOLD = 0.01


class ClassifierCollapseWarning(UserWarning):
    """The weighted signal fraction is so small that a classifier will predict only background."""


def _choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{what} '{value}'",
            "the search config",
            f"it is not one of {', '.join(allowed)}",
            "choose one of them",
        )


def _mc_weights(weight: Array, negative: str) -> tuple[Array, Array]:
    """MC weights after the negative-weight treatment, and the mask of events kept."""
    w = np.asarray(weight, dtype=np.float64)
    kept = np.ones(w.shape, dtype=bool)
    if negative == "clip":
        w = np.maximum(w, 0.0)
    elif negative == "drop":
        kept = w >= 0
        w = np.where(kept, w, 0.0)
    elif negative == "abs":
        w = np.abs(w)
    return w, kept


def training_weights(
    weight: Array,
    is_signal: Array,
    scheme: str = "weight-balance",
    negative: str = "clip",
) -> Array:
    """Per-event training weights (float64, mean 1 over kept events, 0 for dropped ones).

    ``weight`` are the evaluation (MC) weights and ``is_signal`` the labels.
    Raises DataError if the signal has no events or a non-positive weight sum,
    or if there is no background.
    """
    _choice(scheme, WEIGHT_SCHEMES, "weight scheme")
    _choice(negative, NEGATIVE_WEIGHTS, "negative-weight treatment")
    sig = np.asarray(is_signal).astype(bool)
    raw_signal_sum = float(np.asarray(weight, dtype=np.float64)[sig].sum())
    if not np.any(sig) or not raw_signal_sum > 0:
        raise DataError(
            "signal with zero weight sum",
            "the training events",
            f"{int(np.count_nonzero(sig))} signal events with weight sum {raw_signal_sum:.3g}",
            "check the signal sample's cross section and generator weights",
        )
    w, kept = _mc_weights(weight, negative)
    n_sig = int(np.count_nonzero(kept & sig))
    n_bkg = int(np.count_nonzero(kept & ~sig))
    if n_bkg == 0:
        raise DataError(
            "no background events",
            "the training events",
            "a classifier needs both classes",
            "add background samples to the store",
        )
    if scheme == "none":
        out = kept.astype(np.float64)
    elif scheme == "mc":
        out = w.copy()
    elif scheme == "count-balance":
        out = np.where(sig, 1.0, n_sig / n_bkg) * kept
    else:
        sum_sig, sum_bkg = float(w[sig].sum()), float(w[~sig].sum())
        if not (sum_sig > 0 and sum_bkg > 0):
            raise DataError(
                "non-positive class weight sum",
                "the training events",
                f"signal {sum_sig:.3g}, background {sum_bkg:.3g} after '{negative}'",
                "use negative 'clip' or 'drop', or the 'count-balance' scheme",
            )
        out = np.where(sig, w * (sum_bkg / sum_sig), w)
    total = float(out[kept].sum())
    if not total > 0:
        raise DataError(
            "non-positive training weight sum",
            "the training events",
            f"the '{scheme}' weights sum to {total:.3g}",
            "use negative 'clip' or 'drop'",
        )
    normalised: Array = out * (n_sig + n_bkg) / total
    return normalised


def signal_fraction(weights: Array, is_signal: Array) -> float:
    """Σw_sig / (Σw_sig + Σw_bkg) (negative weights counted as they are)."""
    w = np.asarray(weights, dtype=np.float64)
    sig = np.asarray(is_signal).astype(bool)
    total = float(w.sum())
    return float(w[sig].sum()) / total if total != 0 else 0.0


def collapse_warning(
    weights: Array, is_signal: Array, threshold: float = COLLAPSE_THRESHOLD
) -> str | None:
    """Warn (ClassifierCollapseWarning) and return the message if the signal fraction is tiny.

    ``weights`` are the *training* weights.  Returns None when the weighted
    signal fraction is at least ``threshold``.
    """
    fraction = signal_fraction(weights, is_signal)
    if fraction >= threshold:
        return None
    message = (
        f"weighted signal fraction {fraction:.3g} is below {threshold:g}: a classifier trained "
        "with these weights minimises its loss by predicting every event as background "
        "(the thesis' AUC = 0.5 failure with raw MC weights); use the 'weight-balance' or "
        "'count-balance' scheme"
    )
    warnings.warn(message, ClassifierCollapseWarning, stacklevel=2)
    return message
