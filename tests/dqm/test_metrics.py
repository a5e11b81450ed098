from __future__ import annotations

import numpy as np
import pytest

from heplearn.dqm.metrics import (
    confusion_matrix,
    efficiency_at_false_alarm,
    localisation,
    per_class_auc,
    threshold_at_false_alarm,
)

CLASSES = ("good", "dead", "hot", "noisy", "partial")
SHAPES = ("none", "1x1", "5x5", "rbx", "depth")


def test_threshold_flags_at_most_the_requested_fraction_of_good_maps() -> None:
    good = np.random.default_rng(3).normal(size=10_000)
    for rate in (0.01, 0.001):
        threshold = threshold_at_false_alarm(good, rate)
        assert np.mean(good > threshold) <= rate
        assert np.mean(good > threshold) > rate * 0.8


def test_efficiency_per_fault_and_size() -> None:
    rng = np.random.default_rng(4)
    good_val = rng.normal(0, 1, 20_000)
    scores = np.r_[rng.normal(0, 1, 2000), rng.normal(10, 1, 500), rng.normal(0, 1, 5000)]
    map_class = np.r_[np.zeros(2000), np.ones(500), 2 * np.ones(5000)].astype(int)
    shape = np.r_[np.zeros(2000), 2 * np.ones(500), np.ones(5000)].astype(int)
    table = efficiency_at_false_alarm(
        scores, map_class, shape, good_val, class_names=CLASSES, shape_names=SHAPES
    )
    assert table["0.01"]["dead_5x5"] == 1.0
    # An undetectable fault is flagged at the false-alarm rate, no more.
    assert table["0.01"]["hot_1x1"] == pytest.approx(0.01, abs=0.005)
    assert table["0.001"]["false_alarm"] < 0.005


def test_per_class_auc_and_confusion() -> None:
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.15])
    map_class = np.array([0, 0, 1, 1, 2])
    aucs = per_class_auc(scores, map_class, CLASSES)
    assert aucs["dead"] == 1.0
    assert aucs["hot"] == 0.5
    matrix = confusion_matrix(map_class, np.array([0, 1, 1, 1, 0]), 5)
    assert matrix.sum() == 5
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[2, 0] == 1


def test_localisation_counts_live_channels_only() -> None:
    truth = np.zeros((1, 4, 4, 1), np.uint8)
    truth[0, :2, :2, 0] = 1
    flags = np.zeros((1, 4, 4, 1), bool)
    flags[0, 0, :3, 0] = True
    live = np.ones((4, 4, 1), bool)
    live[0, 2, 0] = False  # a masked channel's flag does not count as a false one
    result = localisation(flags, truth, live)
    assert result["recall"] == pytest.approx(2 / 4)
    assert result["precision"] == 1.0
