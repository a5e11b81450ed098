"""Stores prove their integrity: checksums checked on resume, on request, and safe shard names."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from heplearn.config import parse_config
from heplearn.data import ShardedWriter, open_store
from heplearn.data.integrity import file_checksums
from heplearn.data.shards import CorruptShardWarning
from heplearn.errors import DataError
from heplearn.generate.calib import CalibSampleConfig, calib_dataset

from conftest import CliResult, assert_columns_equal, assert_one_error

CONFIG = parse_config(CalibSampleConfig, {"events": 300, "shard_events": 100, "seed": 5})


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-shard gun store, never modified (tests copy it)."""
    return calib_dataset(CONFIG, tmp_path_factory.mktemp("integrity") / "clean")


def flip_byte(shard: Path, field: str) -> None:
    """Flip one byte inside the stored data of ``field`` (its first chunk), not in metadata."""
    with h5py.File(shard, "r") as handle:
        dataset = handle[field]
        offset = dataset.id.get_chunk_info(0).byte_offset
        size = dataset.id.get_chunk_info(0).size
    with shard.open("r+b") as raw:
        raw.seek(offset + size // 2)
        byte = raw.read(1)
        raw.seek(offset + size // 2)
        raw.write(bytes([byte[0] ^ 0x5A]))


@pytest.fixture
def corrupt(clean: Path, tmp_path: Path) -> Path:
    """A copy of the clean store with one byte of shard 1's 'truth/energy' data flipped."""
    copy = Path(shutil.copytree(clean, tmp_path / "store"))
    flip_byte(copy / "shard-00001.h5", "truth/energy")
    return copy


def test_shards_carry_per_field_checksums_that_match_their_values(clean: Path) -> None:
    manifest = json.loads((clean / "manifest.json").read_text())
    for entry in manifest["shards"]:
        overall, fields = file_checksums(clean / entry["file"])
        assert overall == entry["checksum"]
        assert fields == entry["field_checksums"]
        assert "truth/energy" in fields
    open_store(clean, verify=True)  # an intact store passes


def test_flipped_byte_is_named_by_open_store_verify(corrupt: Path) -> None:
    open_store(corrupt)  # the cheap open reads headers only
    with pytest.raises(DataError) as caught:
        open_store(corrupt, verify=True)
    message = str(caught.value)
    assert "shard-00001.h5" in message and "'truth/energy'" in message


def test_flipped_byte_is_named_by_data_validate_integrity(
    cli: Callable[..., CliResult], corrupt: Path, clean: Path
) -> None:
    result = cli("data", "validate", corrupt, "--integrity")
    assert_one_error(result, "shard-00001.h5", "'truth/energy'")
    ok = cli("data", "validate", clean, "--integrity")
    assert ok.code == 0 and "checksums match" in ok.out


def test_validate_needs_out_or_integrity(cli: Callable[..., CliResult], clean: Path) -> None:
    assert_one_error(cli("data", "validate", clean), "--out", "--integrity")


def test_rerun_regenerates_a_corrupt_shard(corrupt: Path, clean: Path) -> None:
    untouched = {p.name: p.stat().st_mtime_ns for p in corrupt.glob("shard-0000[02].h5")}
    with pytest.warns(CorruptShardWarning, match=r"'truth/energy'.*shard-00001\.h5"):
        calib_dataset(CONFIG, corrupt)  # the same command again: checks and repairs
    assert {p.name: p.stat().st_mtime_ns for p in corrupt.glob("shard-0000[02].h5")} == untouched
    open_store(corrupt, verify=True)
    assert_columns_equal(open_store(clean).read(), open_store(corrupt).read())


def test_resume_regenerates_a_corrupt_shard_of_a_killed_run(clean: Path, tmp_path: Path) -> None:
    # A killed run: shards in the partial folder, no manifest; one of them then corrupted.
    partial = tmp_path / ".store.partial"
    shutil.copytree(clean, partial)
    (partial / "manifest.json").unlink()
    (partial / "config.yaml").unlink()
    flip_byte(partial / "shard-00000.h5", "truth/energy")
    with pytest.warns(CorruptShardWarning, match=r"shard-00000\.h5.*generated again"):
        store = calib_dataset(CONFIG, tmp_path / "store")
    assert not partial.exists()
    open_store(store, verify=True)
    assert_columns_equal(open_store(clean).read(), open_store(store).read())


@pytest.mark.parametrize("name", ["../outside.h5", "/etc/passwd", "sub/../../x.h5", "..", ""])
def test_manifest_shard_names_cannot_escape_the_store(
    clean: Path, tmp_path: Path, name: str
) -> None:
    copy = Path(shutil.copytree(clean, tmp_path / "store"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["shards"][0]["file"] = name
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="shard name") as caught:
        open_store(copy)
    assert "manifest.json" in str(caught.value)


def test_store_written_before_per_field_checksums_still_verifies(
    clean: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(clean, tmp_path / "store"))
    manifest = json.loads((copy / "manifest.json").read_text())
    for entry in manifest["shards"]:
        del entry["field_checksums"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    open_store(copy, verify=True)
    flip_byte(copy / "shard-00002.h5", "truth/energy")
    with pytest.raises(DataError, match=r"shard-00002\.h5"):
        open_store(copy, verify=True)


def test_sharded_writer_renames_the_store_into_place_when_complete(tmp_path: Path) -> None:
    writer = ShardedWriter(tmp_path / "s", fingerprint="f", provenance={})
    writer.write_shard(0, {"x": np.arange(3.0)})
    assert not (tmp_path / "s").exists()
    writer.finalize(1)
    assert open_store(tmp_path / "s").rows == 3
    assert [p.name for p in tmp_path.iterdir()] == ["s"]
