"""Single store files (``data import``, ``write_store``) carry per-field checksums, checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from heplearn.data import StoreWriter, import_file, open_store
from heplearn.data.checksums import FIELD_CHECKSUMS_ATTR, field_checksums
from heplearn.data.integrity import file_checksums
from heplearn.errors import DataError

from conftest import CliResult, assert_one_error

PROV = {"generator": "test", "seed": 1}


def flip_byte(path: Path, dataset: str, at: int | None = None) -> None:
    """Flip byte ``at`` (default: the middle) of ``dataset``'s first chunk: data, not metadata."""
    with h5py.File(path, "r") as handle:
        info = handle[dataset].id.get_chunk_info(0)
    position = info.byte_offset + (info.size // 2 if at is None else at)
    with path.open("r+b") as raw:
        raw.seek(position)
        byte = raw.read(1)
        raw.seek(position)
        raw.write(bytes([byte[0] ^ 0x5A]))


def stamped(path: Path) -> dict[str, str]:
    with h5py.File(path, "r") as handle:
        return dict(json.loads(str(handle.attrs[FIELD_CHECKSUMS_ATTR])))


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """An ntuple (flat, image and jagged branches) imported in chunks of 300 rows."""
    rng = np.random.default_rng(4)
    n = 1000
    counts = rng.integers(0, 5, n)
    branches = {
        "p_truth_E": rng.uniform(5e3, 3e5, n).astype(np.float32),
        "runNumber": rng.integers(1, 10, n).astype(np.int32),
        "em_barrel_Lr2": rng.exponential(1.0, (n, 7, 11)).astype(np.float32),
        "tracks_pt": ak.unflatten(rng.exponential(5.0, int(counts.sum())), counts),
    }
    types: dict[str, Any] = {
        "p_truth_E": np.float32,
        "runNumber": np.int32,
        "em_barrel_Lr2": np.dtype((np.float32, (7, 11))),
        "tracks_pt": "var * float64",
    }
    with uproot.recreate(tmp_path / "n.root") as handle:
        handle.mktree("egamma", types)
        handle["egamma"].extend(branches)
    import_file(tmp_path / "n.root", tmp_path / "s.h5", step_rows=300)
    return tmp_path / "s.h5"


def test_batches_are_stamped_with_the_checksums_of_the_whole_columns(
    tmp_path: Path, columns: dict[str, Any]
) -> None:
    path = tmp_path / "s.h5"
    with StoreWriter(path, provenance=PROV) as writer:
        for start in range(0, 12, 5):  # 5 + 5 + 2 rows; jagged rows may be empty
            writer.append({name: col[start : start + 5] for name, col in columns.items()})
    assert stamped(path) == field_checksums(columns)


def test_imported_store_carries_checksums_that_match_its_values(imported: Path) -> None:
    sums = stamped(imported)
    assert {"extra/p_truth_E", "extra/tracks_pt", "extra/em_barrel_Lr2"} <= set(sums)
    assert file_checksums(imported)[1] == sums
    open_store(imported, verify=True)


def test_flipped_byte_in_uncompressed_values_is_a_checksum_mismatch(
    tmp_path: Path, columns: dict[str, Any]
) -> None:
    # Uncompressed, a flipped byte still reads back: only the checksum can catch it.
    path = tmp_path / "s.h5"
    with StoreWriter(path, provenance=PROV, compression=None) as writer:
        writer.append(columns)
    flip_byte(path, "truth/energy", at=5)  # in row 1 (the chunk has room for many more)
    open_store(path)  # headers only
    with pytest.raises(DataError, match=r"checksum mismatch in field 'truth/energy'") as caught:
        open_store(path, verify=True)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("dataset", "field"),
    [
        ("extra/em_barrel_Lr2", "extra/em_barrel_Lr2"),
        ("extra/tracks_pt/content", "extra/tracks_pt"),
    ],
)
def test_flipped_byte_in_an_imported_store_is_one_error_naming_file_and_field(
    cli: Callable[..., CliResult], imported: Path, dataset: str, field: str
) -> None:
    assert cli("data", "validate", imported, "--integrity").code == 0
    flip_byte(imported, dataset)
    assert_one_error(cli("data", "validate", imported, "--integrity"), str(imported), f"'{field}'")
