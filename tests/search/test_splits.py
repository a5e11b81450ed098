"""Deterministic, disjoint train/validation/test splits by event-id hash."""

from __future__ import annotations

import numpy as np
import pytest
from search_synthetic import gaussian_table

from heplearn.errors import ConfigError
from heplearn.search.splits import split_labels, split_table


def test_split_is_deterministic_disjoint_and_order_independent() -> None:
    ids = np.arange(20000, dtype=np.int64) * 7 + 3
    labels = split_labels(ids)
    np.testing.assert_array_equal(labels, split_labels(ids))
    permutation = np.random.default_rng(16).permutation(ids.size)
    np.testing.assert_array_equal(split_labels(ids[permutation]), labels[permutation])
    assert set(np.unique(labels)) == {0, 1, 2}
    fractions = np.bincount(labels) / ids.size
    np.testing.assert_allclose(fractions, [0.5, 0.2, 0.3], atol=4 * np.sqrt(0.25 / ids.size))
    assert np.mean(split_labels(ids, seed=1) != labels) > 0.4  # the seed reshuffles
    other = split_labels(ids, fractions=(0.8, 0.1, 0.1))
    np.testing.assert_allclose(np.bincount(other) / ids.size, [0.8, 0.1, 0.1], atol=0.02)


def test_split_table_scales_weights_to_the_luminosity() -> None:
    table = gaussian_table(4000, 16000, np.random.default_rng(17))
    splits = split_table(table)
    ids = [set(part.event_id.tolist()) for part in splits]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert sum(len(part) for part in splits) == len(table)
    total_signal = table.weight[table.is_signal == 1].sum()
    for part, fraction in zip(splits, (0.5, 0.2, 0.3), strict=True):
        original = table.weight[np.isin(table.event_id, part.event_id)]
        np.testing.assert_allclose(np.sort(part.weight), np.sort(original / fraction))
        # Each split on its own estimates the full yield (binomial spread of the event count).
        signal = part.weight[part.is_signal == 1].sum()
        assert signal == pytest.approx(total_signal, rel=0.1)


def test_bad_fractions() -> None:
    with pytest.raises(ConfigError, match="sum to"):
        split_labels(np.arange(3), fractions=(0.5, 0.3, 0.3))
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        split_labels(np.arange(3), fractions=(1.0, 0.0, 0.0))
