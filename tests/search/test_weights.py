"""Training-weight schemes, negative weights, and the classifier-collapse warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from heplearn.errors import ConfigError, DataError
from heplearn.search.weights import (
    ClassifierCollapseWarning,
    collapse_warning,
    signal_fraction,
    training_weights,
)


def _sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """300 signal events of tiny weight over 3000 background events with mixed weights."""
    sig = np.r_[np.ones(300, bool), np.zeros(3000, bool)]
    w = np.where(sig, rng.uniform(1e-4, 3e-4, sig.size), rng.uniform(0.5, 20.0, sig.size))
    w[300:330] *= -1  # a few negative NLO weights in the background
    return w, sig


def test_schemes_balance_the_classes() -> None:
    w, sig = _sample(np.random.default_rng(11))
    count = training_weights(w, sig, "count-balance")
    assert count[sig].sum() == pytest.approx(count[~sig].sum())
    assert np.all(count[sig] == count[sig][0])  # N-based: every signal event alike
    balance = training_weights(w, sig, "weight-balance")
    assert balance[sig].sum() == pytest.approx(balance[~sig].sum())
    # Shapes inside a class follow the MC weights.
    assert balance[5] / balance[6] == pytest.approx(w[5] / w[6])
    none = training_weights(w, sig, "none")
    assert np.all(none == 1.0)
    mc = training_weights(w, sig, "mc")
    np.testing.assert_allclose(mc / mc[400], np.maximum(w, 0) / w[400])
    for scheme in (count, balance, none, mc):
        assert scheme.mean() == pytest.approx(1.0)


def test_negative_weights_in_training_only() -> None:
    w, sig = _sample(np.random.default_rng(12))
    original = w.copy()
    clipped = training_weights(w, sig, "mc", "clip")
    assert np.all(clipped >= 0) and np.all(clipped[300:330] == 0)
    dropped = training_weights(w, sig, "count-balance", "drop")
    assert np.all(dropped[300:330] == 0) and np.all(dropped[330:] > 0)
    kept_clip = training_weights(w, sig, "count-balance", "clip")
    assert np.all(kept_clip[300:330] > 0)  # clip keeps the events in the count
    absolute = training_weights(w, sig, "mc", "abs")
    assert absolute[310] / absolute[400] == pytest.approx(abs(w[310]) / w[400])
    keep = training_weights(w, sig, "mc", "keep")
    assert np.all(keep[300:330] < 0)
    np.testing.assert_array_equal(w, original)  # evaluation weights are never modified


def test_zero_signal_and_bad_names_are_refused() -> None:
    w, sig = _sample(np.random.default_rng(13))
    with pytest.raises(DataError, match="signal with zero weight sum"):
        training_weights(np.where(sig, 0.0, w), sig)
    with pytest.raises(DataError, match="no background"):
        training_weights(w[:300], sig[:300])
    with pytest.raises(ConfigError, match="weight scheme 'sow'"):
        training_weights(w, sig, "sow")
    with pytest.raises(ConfigError, match="negative-weight treatment 'flip'"):
        training_weights(w, sig, "mc", "flip")


def test_collapse_warning_at_a_per_mille_signal_fraction() -> None:
    w, sig = _sample(np.random.default_rng(14))
    mc = training_weights(w, sig, "mc")
    assert signal_fraction(mc, sig) < 1e-3
    with pytest.warns(ClassifierCollapseWarning, match="predicting every event as background"):
        message = collapse_warning(mc, sig)
    assert message is not None and "weight-balance" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert collapse_warning(training_weights(w, sig, "weight-balance"), sig) is None


def test_raw_mc_weights_make_a_classifier_predict_only_background() -> None:
    # The thesis' failure: overlapping classes and a 0.1 % weighted signal fraction.
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(15)
    sig = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    x = rng.normal(0.0, 1.0, (sig.size, 2)) + np.where(sig, 1.5, 0.0)[:, None]
    w = np.where(sig, 0.001, 1.0)
    predicted = {}
    for scheme in ("mc", "weight-balance"):
        weights = training_weights(w, sig, scheme)
        model = LogisticRegression().fit(x, sig, sample_weight=weights)
        predicted[scheme] = model.predict(x)
    with pytest.warns(ClassifierCollapseWarning):
        collapse_warning(training_weights(w, sig, "mc"), sig)
    # Only far-tail outliers escape: the signal efficiency collapses from > 70 % to < 1 %.
    assert np.mean(predicted["mc"][sig]) < 0.01
    assert np.mean(predicted["mc"]) < 0.005
    assert np.mean(predicted["weight-balance"][sig]) > 0.7
