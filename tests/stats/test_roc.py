from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp, norm

from heplearn.stats import roc_auc, roc_curve, weighted_ks


def test_auc_of_two_gaussians_matches_the_analytic_value() -> None:
    rng = np.random.default_rng(1)
    separation = 1.5
    signal = rng.normal(separation, 1.0, 40_000)
    background = rng.normal(0.0, 1.0, 40_000)
    scores = np.r_[signal, background]
    labels = np.r_[np.ones(40_000, bool), np.zeros(40_000, bool)]
    # For unit Gaussians AUC = Φ(Δ/√2).
    assert roc_auc(scores, labels) == pytest.approx(norm.cdf(separation / np.sqrt(2)), abs=0.005)


def test_constant_scores_give_half_and_the_curve_spans_the_unit_square() -> None:
    labels = np.array([1, 0, 1, 0, 0], bool)
    curve = roc_curve(np.zeros(5), labels)
    assert curve.auc == pytest.approx(0.5)
    assert curve.false_positive_rate[[0, -1]].tolist() == [0.0, 1.0]
    assert curve.true_positive_rate[[0, -1]].tolist() == [0.0, 1.0]


def test_weights_act_as_repeated_entries() -> None:
    scores = np.array([0.9, 0.2, 0.6, 0.4])
    labels = np.array([1, 0, 1, 0], bool)
    weights = np.array([1.0, 3.0, 2.0, 1.0])
    repeated = np.repeat(np.arange(4), weights.astype(int))
    assert roc_auc(scores, labels, weights) == pytest.approx(
        roc_auc(scores[repeated], labels[repeated])
    )


def test_perfect_and_inverted_separation() -> None:
    labels = np.array([1, 1, 0, 0], bool)
    assert roc_auc(np.array([4.0, 3.0, 2.0, 1.0]), labels) == 1.0
    assert roc_auc(np.array([1.0, 2.0, 3.0, 4.0]), labels) == 0.0


def test_missing_class_is_an_error() -> None:
    with pytest.raises(ValueError, match="both classes"):
        roc_curve(np.ones(3), np.ones(3, bool))


def test_unweighted_ks_agrees_with_scipy_and_detects_a_shift() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 3000), rng.normal(0, 1, 2000)
    distance, p_value = weighted_ks(a, b)
    reference = ks_2samp(a, b, method="asymp")
    assert distance == pytest.approx(reference.statistic)
    assert p_value == pytest.approx(reference.pvalue, rel=0.05, abs=1e-3)
    _, shifted = weighted_ks(a, b + 0.3)
    assert shifted < 1e-6


def test_a_perfect_separation_is_an_area_of_exactly_one() -> None:
    # Cumulative sums of many small weights round: the trapezoids summed to 1 + 4e-15.
    rng = np.random.default_rng(1)
    scores = np.r_[rng.uniform(1, 2, 5000), rng.uniform(-2, -1, 5000)]
    labels = np.r_[np.ones(5000, bool), np.zeros(5000, bool)]
    weights = rng.uniform(0.0, 1e-3, 10_000)
    assert 0.0 <= roc_auc(scores, labels, weights) <= 1.0
    assert roc_auc(scores, labels, weights) == pytest.approx(1.0)
