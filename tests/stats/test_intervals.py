"""Binomial intervals and the AUC error: the errors the reports and the demo print."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heplearn.stats import roc_auc
from heplearn.stats.auc_error import auc_error
from heplearn.stats.binomial import binomial_error, clopper_pearson


def test_clopper_pearson_covers_the_edges_and_matches_the_gaussian_in_the_middle() -> None:
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    # 1σ one-sided at k = 0: (1 − p)^n = (1 − 0.6827)/2.
    assert clopper_pearson(0, 10)[1] == pytest.approx(1 - 0.15865 ** (1 / 10), rel=1e-4)
    assert binomial_error(500, 1000) == pytest.approx(math.sqrt(0.25 / 1000), rel=0.05)
    assert all(math.isnan(x) for x in clopper_pearson(0, 0))


def test_binomial_interval_covers_about_68_percent() -> None:
    rng = np.random.default_rng(1)
    n, p = 40, 0.9
    hits = [
        low <= p <= high for low, high in (clopper_pearson(k, n) for k in rng.binomial(n, p, 2000))
    ]
    assert 0.68 <= np.mean(hits) <= 0.85  # exact intervals over-cover, never under


def test_auc_error_matches_the_spread_of_repeated_samples() -> None:
    rng = np.random.default_rng(2)
    n_pos, n_neg = 60, 90
    aucs = []
    for _ in range(300):
        scores = np.r_[rng.normal(1.0, 1, n_pos), rng.normal(0.0, 1, n_neg)]
        labels = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(bool)
        aucs.append(roc_auc(scores, labels))
    error = auc_error(float(np.mean(aucs)), n_pos, n_neg)
    assert error == pytest.approx(np.std(aucs), rel=0.2)
    assert math.isnan(auc_error(0.9, 0, 10))
