"""Store writer and reader: columnar layout, batches, schema validation, NaN/inf reporting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pytest

from heplearn.data import FieldSpec, StoreWriter, open_store, write_store
from heplearn.data.schema import SCHEMA_VERSION
from heplearn.errors import DataError, OutputExistsError, SchemaError

from conftest import assert_columns_equal

PROV = {"seed": 1}


def test_round_trip_in_batches_is_exact(tmp_path: Path, columns: dict[str, Any]) -> None:
    path = tmp_path / "s.h5"
    with StoreWriter(path, provenance=PROV) as writer:
        for start in range(0, 12, 5):
            writer.append({k: v[start : start + 5] for k, v in columns.items()})
    store = open_store(path)
    assert store.rows == 12
    assert store.schema["images/lr2"] == FieldSpec("float32", (7, 11))
    assert store.schema["tracks/pt"] == FieldSpec("float32", jagged=True)
    assert_columns_equal(store.read(), columns)
    assert store.provenance == PROV


def test_iter_batches_covers_every_row_once(tmp_path: Path, columns: dict[str, Any]) -> None:
    write_store(tmp_path / "s.h5", columns, provenance=PROV)
    store = open_store(tmp_path / "s.h5")
    batches = list(store.iter_batches(batch_size=5, fields=["event/id", "tracks/pt"]))
    assert [len(b["event/id"]) for b in batches] == [5, 5, 2]
    ids = np.concatenate([b["event/id"] for b in batches])
    np.testing.assert_array_equal(ids, columns["event/id"])
    tracks = ak.concatenate([b["tracks/pt"] for b in batches])
    assert ak.to_list(tracks) == ak.to_list(columns["tracks/pt"])


def test_datasets_are_chunked_along_events_and_compressed(
    tmp_path: Path, columns: dict[str, Any]
) -> None:
    write_store(tmp_path / "s.h5", columns, provenance=PROV)
    with h5py.File(tmp_path / "s.h5") as handle:
        images = handle["images/lr2"]
        assert images.chunks[1:] == (7, 11)
        assert images.compression == "lzf"
        assert int(handle.attrs["heplearn_schema_version"]) == SCHEMA_VERSION
        assert json.loads(handle.attrs["heplearn_provenance"]) == PROV


def test_existing_output_is_refused_and_untouched(tmp_path: Path, columns: dict[str, Any]) -> None:
    path = tmp_path / "s.h5"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_store(path, columns, provenance=PROV)
    assert path.read_bytes() == b"precious"
    write_store(path, columns, provenance=PROV, overwrite=True)
    assert open_store(path).rows == 12


def test_error_while_writing_leaves_no_file(tmp_path: Path, columns: dict[str, Any]) -> None:
    path = tmp_path / "s.h5"
    with pytest.raises(RuntimeError), StoreWriter(path, provenance=PROV) as writer:
        writer.append(columns)
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_batch_with_other_fields_is_refused(tmp_path: Path, columns: dict[str, Any]) -> None:
    with (
        pytest.raises(SchemaError, match="differs in images/lr2"),
        StoreWriter(tmp_path / "s.h5", provenance=PROV) as writer,
    ):
        writer.append(columns)
        writer.append({**columns, "images/lr2": columns["images/lr2"][:, :3]})


def _damage(path: Path, action: str) -> None:
    with h5py.File(path, "r+") as handle:
        if action == "drop":
            del handle["truth/energy"]
        elif action == "newer":
            handle.attrs["heplearn_schema_version"] = SCHEMA_VERSION + 1
        elif action == "reshape":
            del handle["images/lr2"]
            handle.create_dataset("images/lr2", data=np.zeros((12, 5, 11), np.float32))


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("drop", r"missing field 'truth/energy'"),
        ("newer", r"schema version 2 .*newer heplearn.*upgrade heplearn"),
        ("reshape", r"field 'images/lr2'.*expected float32 \(7, 11\).*found float32 \(12, 5, 11\)"),
    ],
)
def test_damaged_store_is_reported_by_name(
    tmp_path: Path, columns: dict[str, Any], action: str, expected: str
) -> None:
    path = write_store(tmp_path / "s.h5", columns, provenance=PROV)
    _damage(path, action)
    with pytest.raises(SchemaError, match=expected):
        open_store(path)


def test_required_fields_are_named_when_missing(tmp_path: Path, columns: dict[str, Any]) -> None:
    path = write_store(tmp_path / "s.h5", columns, provenance=PROV)
    with pytest.raises(SchemaError, match=r"missing fields scalars/e_acc, truth/eta"):
        open_store(path, required={"truth/energy": None, "scalars/e_acc": None, "truth/eta": None})
    with pytest.raises(SchemaError, match=r"'truth/energy'.*expected float64"):
        open_store(path, required={"truth/energy": FieldSpec("float64")})


def test_nonfinite_values_are_counted_per_field(tmp_path: Path, columns: dict[str, Any]) -> None:
    columns["truth/energy"][[1, 4]] = [np.nan, np.inf]
    columns["tracks/pt"] = ak.Array([[np.nan], *ak.to_list(columns["tracks/pt"])[1:]])
    path = write_store(tmp_path / "s.h5", columns, provenance=PROV)
    store = open_store(path)
    assert store.nonfinite_counts() == {"truth/energy": 2, "tracks/pt": 1}
    with pytest.raises(DataError, match=r"tracks/pt \(1\), truth/energy \(2\)"):
        open_store(path, check_finite=True)


def test_files_that_are_not_stores(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(DataError, match="not an HDF5 file"):
        open_store(text)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as handle:
        handle["x"] = np.zeros(3)
    with pytest.raises(SchemaError, match="not a heplearn store"):
        open_store(plain)
    with pytest.raises(DataError, match="store not found"):
        open_store(tmp_path / "missing.h5")


def test_truncated_store_is_reported(tmp_path: Path, columns: dict[str, Any]) -> None:
    path = write_store(tmp_path / "s.h5", columns, provenance=PROV)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        open_store(path).read()
