"""Splits are a pure function of the event key: re-sharding, reordering, copying change nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.data import ShardedWriter, open_store, write_store
from heplearn.data.event_keys import content_keys
from heplearn.data.splits import TEST, TRAIN, VALIDATION, split_labels, split_rows
from heplearn.errors import ConfigError

FRACTIONS = (0.7, 0.1, 0.2)


def _columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "event/id": np.arange(n, dtype=np.int64) * 3 + 100,
        "truth/energy": rng.uniform(5.0, 300.0, n).astype(np.float32),
        "images/middle": rng.exponential(1.0, (n, 7, 11)).astype(np.float32),
    }


def _sharded(folder: Path, columns: dict[str, np.ndarray], rows_per_shard: int) -> Path:
    writer = ShardedWriter(folder, fingerprint=f"layout-{rows_per_shard}", provenance={"seed": 1})
    n = len(columns["event/id"])
    starts = range(0, n, rows_per_shard)
    for index, start in enumerate(starts):
        writer.write_shard(
            index, {k: v[start : start + rows_per_shard] for k, v in columns.items()}
        )
    writer.finalize(len(starts))
    return folder


def _labels_by_id(store: Path, *, by_content: bool) -> dict[int, int]:
    data = open_store(store).read()
    if by_content:
        keys = content_keys({k: v for k, v in data.items() if k != "event/id"})
    else:
        keys = data["event/id"]
    labels = split_labels(keys, FRACTIONS, seed=5)
    return dict(zip(data["event/id"].tolist(), labels.tolist(), strict=True))


@pytest.mark.parametrize("by_content", [False, True], ids=["event-id", "row-content"])
def test_resharding_reordering_and_copying_give_the_same_split(
    tmp_path: Path, by_content: bool
) -> None:
    columns = _columns(600, seed=2)
    original = _sharded(tmp_path / "a", columns, rows_per_shard=100)
    resharded = _sharded(tmp_path / "b", columns, rows_per_shard=250)
    order = np.random.default_rng(3).permutation(600)
    shuffled = write_store(
        tmp_path / "c.h5", {k: v[order] for k, v in columns.items()}, provenance={}
    )
    reference = _labels_by_id(original, by_content=by_content)
    assert set(reference.values()) == {TRAIN, VALIDATION, TEST}
    assert _labels_by_id(resharded, by_content=by_content) == reference
    assert _labels_by_id(shuffled, by_content=by_content) == reference
    # A subset (the first shard alone) keeps each of its events in the same split.
    first = _sharded(tmp_path / "d", {k: v[:100] for k, v in columns.items()}, 100)
    subset = _labels_by_id(first, by_content=by_content)
    assert subset == {key: reference[key] for key in subset}


def test_fractions_are_honoured_within_binomial_fluctuations() -> None:
    keys = np.arange(40_000, dtype=np.int64) * 7 + 1
    for fractions in ((0.8, 0.1, 0.1), (0.5, 0.2, 0.3), (0.75, 0.25, 0.0)):
        labels = split_labels(keys, fractions, seed=9)
        observed = np.bincount(labels, minlength=3) / keys.size
        sigma = np.sqrt(np.asarray(fractions) * (1 - np.asarray(fractions)) / keys.size)
        np.testing.assert_array_less(np.abs(observed - fractions), 4 * sigma + 1e-12)
    assert np.mean(split_labels(keys, FRACTIONS, seed=1) != split_labels(keys, FRACTIONS, 2)) > 0.3


def test_rows_sharing_a_key_share_a_split_and_uint64_hashes_are_keys() -> None:
    ids = np.repeat(np.arange(500, dtype=np.int64), 2)  # two clusters per event
    train, val, test = split_rows(ids, FRACTIONS, seed=4)
    owners = [set(ids[rows].tolist()) for rows in (train, val, test)]
    assert not (owners[0] & owners[1]) and not (owners[0] & owners[2])
    assert not (owners[1] & owners[2])
    hashes = content_keys({"x": np.arange(1000.0)})
    assert hashes.dtype == np.uint64 and set(split_labels(hashes, FRACTIONS).tolist()) == {0, 1, 2}


def test_search_split_is_unchanged_by_the_move_to_data_splits() -> None:
    from heplearn.search.splits import split_labels as search_labels

    # Labels the search split gave before it moved here: runs trained then keep their test set.
    expected = [2, 2, 0, 2, 1, 2, 1, 2, 0, 0, 0, 0]
    assert search_labels(np.arange(12), None, (0.5, 0.2, 0.3), 3).tolist() == expected


def test_bad_fractions_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sum to 1\.1"):
        split_labels(np.arange(3), (0.5, 0.3, 0.3))
    with pytest.raises(ConfigError, match="three fractions"):
        split_labels(np.arange(3), (1.2, -0.2, 0.0))
