from __future__ import annotations

import numpy as np
import pytest

from heplearn.dqm.metrics import (
    confusion_matrix,
    efficiency_at_false_alarm,
    false_alarm_resolution,
    localisation,
    per_class_auc,
    rate_key,
    threshold_for_rate,
)

CLASSES = ("good", "dead", "hot", "noisy", "partial")
SHAPES = ("none", "1x1", "5x5", "rbx", "depth")


def test_threshold_flags_at_most_the_requested_fraction_of_good_maps() -> None:
    good = np.random.default_rng(3).normal(size=10_000)
    for rate in (0.01, 0.001):
        threshold = threshold_for_rate(good, rate)
        assert np.mean(good > threshold) <= rate
        assert np.mean(good > threshold) > rate * 0.8
    # Exactly k/N flags k maps (no rounding down to k − 1).
    assert np.sum(good > threshold_for_rate(good, 3 / good.size)) == 3
    assert threshold_for_rate(good, 0.01, floor=100.0) == 100.0
    assert threshold_for_rate(np.zeros(0), 0.01, floor=2.0) == 2.0


def test_the_models_use_the_one_threshold_rule() -> None:
    from heplearn.dqm import qtests
    from heplearn.dqm.models import autoencoder, cnn, qtest

    for module in (qtests, autoencoder, cnn):
        assert module.threshold_for_rate is threshold_for_rate
    assert qtest.false_alarm_resolution is false_alarm_resolution


def test_efficiency_per_fault_and_size_with_binomial_intervals() -> None:
    rng = np.random.default_rng(4)
    good_val = rng.normal(0, 1, 20_000)
    scores = np.r_[rng.normal(0, 1, 2000), rng.normal(10, 1, 500), rng.normal(0, 1, 5000)]
    map_class = np.r_[np.zeros(2000), np.ones(500), 2 * np.ones(5000)].astype(int)
    shape = np.r_[np.zeros(2000), 2 * np.ones(500), np.ones(5000)].astype(int)
    table = efficiency_at_false_alarm(
        scores, map_class, shape, good_val, class_names=CLASSES, shape_names=SHAPES
    )
    assert set(table) == {"0.01", "0.001"}
    assert table["0.01"]["efficiency"]["dead_5x5"] == 1.0
    assert table["0.01"]["maps"]["dead_5x5"] == 500
    # An undetectable fault is flagged at the false-alarm rate, no more.
    hot = table["0.01"]["efficiency"]["hot_1x1"]
    low, high = table["0.01"]["interval"]["hot_1x1"]
    assert hot == pytest.approx(0.01, abs=0.005)
    assert low < hot < high and high - low == pytest.approx(2 * np.sqrt(0.01 * 0.99 / 5000), 0.2)
    assert table["0.001"]["false_alarm"] < 0.005


def test_a_rate_below_one_over_n_good_maps_is_quoted_at_one_over_n() -> None:
    rng = np.random.default_rng(5)
    good_val = rng.normal(0, 1, 225)  # the demo's sample: 0.1 % is not resolvable
    scores = np.r_[rng.normal(0, 1, 400), rng.normal(3, 1, 400)]
    map_class = np.r_[np.zeros(400), np.ones(400)].astype(int)
    shape = np.r_[np.zeros(400), np.ones(400)].astype(int)
    table = efficiency_at_false_alarm(
        scores, map_class, shape, good_val, class_names=CLASSES, shape_names=SHAPES
    )
    assert set(table) == {"0.01", rate_key(1 / 225)} and rate_key(1 / 225) == "0.00444"
    assert table["0.00444"]["requested"] == [0.001]
    assert table["0.00444"]["rate"] == pytest.approx(1 / 225)
    assert np.sum(good_val > table["0.00444"]["threshold"]) == 1  # one map flagged: 1/N
    resolution = false_alarm_resolution(225, (0.01, 0.001))
    assert resolution["smallest_rate"] == pytest.approx(1 / 225)
    assert len(resolution["notes"]) == 1 and "1000 good validation maps" in resolution["notes"][0]
    # Two requests that both fall below 1/N share one table.
    both = efficiency_at_false_alarm(
        scores, map_class, shape, good_val[:50], class_names=CLASSES, shape_names=SHAPES
    )
    assert list(both) == ["0.02"] and both["0.02"]["requested"] == [0.01, 0.001]


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
