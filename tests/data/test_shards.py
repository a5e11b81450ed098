"""Sharded stores: manifest, resume after a kill, refusing a different run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from heplearn.config import parse_config
from heplearn.data import ShardedWriter, open_store
from heplearn.errors import DataError, OutputExistsError
from heplearn.generate.calib import CalibSampleConfig, calib_dataset

from conftest import assert_columns_equal


def gun(seed: int) -> CalibSampleConfig:
    """A small particle-gun sample: 5 shards of 100 events (no pileup, so no Pythia)."""
    return parse_config(CalibSampleConfig, {"events": 500, "shard_events": 100, "seed": seed})


CONFIG = gun(3)

KILL_MID_SHARD = textwrap.dedent(
    """
    import os, signal, sys
    from heplearn.data import writer
    from heplearn.config import parse_config
    from heplearn.generate.calib import CalibSampleConfig, calib_dataset

    original = writer.StoreWriter.append

    def append_then_die(self, columns):
        original(self, columns)
        if self.path.name == "shard-00002.h5":
            self._file.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # killed with the shard half-written

    writer.StoreWriter.append = append_then_die
    config = {"events": 500, "shard_events": 100, "seed": 3}
    calib_dataset(parse_config(CalibSampleConfig, config), sys.argv[1])
    """
)


def test_manifest_lists_shards_rows_and_checksums(tmp_path: Path) -> None:
    out = calib_dataset(CONFIG, tmp_path / "sample")
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["file"] for s in manifest["shards"]] == [f"shard-{i:05d}.h5" for i in range(5)]
    assert manifest["rows"] == 500
    assert all(len(s["checksum"]) == 64 for s in manifest["shards"])
    assert open_store(out).rows == 500


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    clean = calib_dataset(CONFIG, tmp_path / "clean")
    killed = tmp_path / "killed"
    result = subprocess.run([sys.executable, "-c", KILL_MID_SHARD, str(killed)], check=False)
    assert result.returncode == -9
    # Nothing under the final name; the shards done so far wait in the partial folder.
    assert not killed.exists()
    partial = tmp_path / ".killed.partial"
    assert sorted(p.name for p in partial.iterdir() if not p.name.startswith(".")) == [
        "shard-00000.h5",
        "shard-00001.h5",
    ]
    assert any(p.name.startswith(".shard-00002.h5.tmp-") for p in partial.iterdir())
    with pytest.raises(DataError, match="store not found"):
        open_store(killed)
    done_before = {p.name: p.stat().st_mtime_ns for p in partial.glob("shard-*.h5")}

    calib_dataset(CONFIG, killed)

    assert {p.name: p.stat().st_mtime_ns for p in killed.glob("shard-0000[01].h5")} == done_before
    assert not [p for p in killed.iterdir() if p.name.startswith(".")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (clean, killed)]
    assert [s["checksum"] for s in manifests[0]["shards"]] == [
        s["checksum"] for s in manifests[1]["shards"]
    ]
    assert_columns_equal(open_store(clean).read(), open_store(killed).read())


def test_same_seed_gives_identical_arrays_and_other_seed_differs(tmp_path: Path) -> None:
    first = open_store(calib_dataset(CONFIG, tmp_path / "a")).read(["truth/energy"])
    again = open_store(calib_dataset(CONFIG, tmp_path / "b")).read(["truth/energy"])
    other = gun(4)
    different = open_store(calib_dataset(other, tmp_path / "c")).read(["truth/energy"])
    assert first["truth/energy"].tobytes() == again["truth/energy"].tobytes()
    assert not np.array_equal(first["truth/energy"], different["truth/energy"])


def test_folder_of_a_different_run_is_refused(tmp_path: Path) -> None:
    out = calib_dataset(CONFIG, tmp_path / "sample")
    before = (out / "manifest.json").read_text()
    other = gun(99)
    with pytest.raises(OutputExistsError, match="different config or seed"):
        calib_dataset(other, out)
    assert (out / "manifest.json").read_text() == before
    calib_dataset(other, out, overwrite=True)
    assert json.loads((out / "manifest.json").read_text()) != json.loads(before)


def test_folder_with_foreign_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "thesis.pdf").write_text("keep me")
    with pytest.raises(OutputExistsError):
        ShardedWriter(tmp_path / "sample", fingerprint="f", provenance={})
    assert (tmp_path / "sample" / "thesis.pdf").read_text() == "keep me"
