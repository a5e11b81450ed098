"""Store fingerprints, content keys and the held-out decision: by identity, never by path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from heplearn.data import ShardedWriter, write_store
from heplearn.data.event_keys import content_keys, load_keys, save_keys, training_overlap
from heplearn.data.fingerprint import store_fingerprint
from heplearn.data.held_out import TRAINING_KEYS, TrainingStore, exclude_training, record_training
from heplearn.errors import DataError


def _columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "event/id": np.arange(n, dtype=np.int64),
        "truth/energy": rng.uniform(5.0, 300.0, n),
    }


def _sharded(folder: Path, columns: dict[str, np.ndarray], seed: int = 1) -> Path:
    writer = ShardedWriter(folder, fingerprint="f", provenance={"seed": seed})
    writer.write_shard(0, columns)
    writer.finalize(1)
    return folder


def test_a_copied_store_has_the_same_fingerprint_and_other_content_another(
    tmp_path: Path,
) -> None:
    sharded = _sharded(tmp_path / "a", _columns(50, seed=1))
    copy = tmp_path / "elsewhere" / "a-copy"
    shutil.copytree(sharded, copy)
    assert store_fingerprint(copy) == store_fingerprint(sharded)
    other = _sharded(tmp_path / "b", _columns(50, seed=2))
    assert store_fingerprint(other) != store_fingerprint(sharded)
    reseeded = _sharded(tmp_path / "c", _columns(50, seed=1), seed=2)
    assert store_fingerprint(reseeded) != store_fingerprint(sharded)

    single = write_store(tmp_path / "s.h5", _columns(50, seed=1), provenance={"seed": 1})
    shutil.copy(single, tmp_path / "s-copy.h5")
    assert store_fingerprint(tmp_path / "s-copy.h5") == store_fingerprint(single)
    with h5py.File(tmp_path / "s-copy.h5", "r+") as handle:
        handle["truth/energy"][3] = 1.0  # one value changed in place
    assert store_fingerprint(tmp_path / "s-copy.h5") != store_fingerprint(single)


def test_content_keys_follow_the_values_not_the_order_or_the_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heplearn.data import event_keys

    columns = {"a": np.arange(30.0).reshape(10, 3), "b": np.arange(10, dtype=np.int32)}
    keys = content_keys(columns)
    assert len(np.unique(keys)) == 10
    order = np.random.default_rng(1).permutation(10)
    np.testing.assert_array_equal(
        content_keys({k: v[order] for k, v in columns.items()}), keys[order]
    )
    monkeypatch.setattr(event_keys, "_BLOCK_ROWS", 3)
    np.testing.assert_array_equal(content_keys(columns), keys)
    # Equal bytes under another name or dtype are another event.
    assert not np.isin(content_keys({"c": columns["a"], "b": columns["b"]}), keys).any()
    as_int = {"a": columns["a"].view(np.int64), "b": columns["b"]}
    assert not np.isin(content_keys(as_int), keys).any()


def test_training_keys_round_trip_and_refuse_anything_but_uint64(tmp_path: Path) -> None:
    keys = np.array([5, 3, 3, 2**63 + 1], dtype=np.uint64)
    save_keys(tmp_path / "k.npy", keys)
    np.testing.assert_array_equal(load_keys(tmp_path / "k.npy"), [3, 5, 2**63 + 1])
    np.save(tmp_path / "bad.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="unreadable training keys"):
        load_keys(tmp_path / "bad.npy")
    np.save(tmp_path / "float.npy", np.ones(3))
    with pytest.raises(DataError, match="1-D uint64"):
        load_keys(tmp_path / "float.npy")


def test_overlap_with_groups_drops_the_partner_of_a_training_row() -> None:
    keys = np.array([10, 11, 12, 13, 14], dtype=np.uint64)
    event = np.array([0, 0, 1, 1, 2])
    training = np.array([11], dtype=np.uint64)
    assert training_overlap(keys, training).tolist() == [False, True, False, False, False]
    grouped = training_overlap(keys, training, groups=event)
    assert grouped.tolist() == [True, True, False, False, False]


def _run(tmp_path: Path, data: Path, keys: np.ndarray) -> tuple[Path, dict[str, object]]:
    run = tmp_path / "run"
    run.mkdir()
    info = record_training(data, keys, run)
    (run / "run.json").write_text(json.dumps(info))
    return run, info


def test_a_copy_is_the_training_store_and_a_partial_overlap_is_named(tmp_path: Path) -> None:
    columns = _columns(40, seed=1)
    store = _sharded(tmp_path / "store", columns)
    keys = content_keys(columns)
    run, info = _run(tmp_path, store, keys[:25])
    assert info["training_keys"] == TRAINING_KEYS and (run / TRAINING_KEYS).is_file()
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    assert TrainingStore.identify(info, copy) == TrainingStore(True, "fingerprint")

    mixed_columns = {
        k: np.concatenate([v[20:], _columns(15, seed=9)[k]]) for k, v in columns.items()
    }
    mixed = _sharded(tmp_path / "mixed", mixed_columns)
    assert not TrainingStore.identify(info, mixed).same
    overlap = exclude_training(run, info, content_keys(mixed_columns), mixed)
    assert overlap.left_out == 5 and int(overlap.keep.sum()) == 30
    assert overlap.warnings == [
        f"5 of the 35 events of {mixed} were used to train or validate the run; "
        "they are left out and the other 30 evaluated"
    ]
    assert overlap.as_dict("events")["events_left_out_as_training"] == 5

    inside = _sharded(tmp_path / "inside", {k: v[:10] for k, v in columns.items()})
    with pytest.raises(DataError, match="all 10 events were used to train"):
        exclude_training(run, info, content_keys({k: v[:10] for k, v in columns.items()}), inside)


def test_a_run_without_a_fingerprint_falls_back_to_the_path_with_a_warning(
    tmp_path: Path,
) -> None:
    store = _sharded(tmp_path / "store", _columns(10, seed=1))
    old = {"data": str(store.resolve())}
    same = TrainingStore.identify(old, store)
    assert same.same and same.basis == "path" and "no fingerprint" in same.warnings[0]
    shutil.copytree(store, tmp_path / "copy")
    assert not TrainingStore.identify(old, tmp_path / "copy").same
    overlap = exclude_training(tmp_path, old, np.zeros(10, np.uint64), tmp_path / "copy")
    assert overlap.keep.all() and not overlap.checked
    assert "cannot be checked" in overlap.warnings[0]
