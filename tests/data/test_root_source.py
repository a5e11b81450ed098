"""ROOT input: damage is one DataError, a bug is not disguised as damage, files get closed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import uproot

from heplearn.data import root_source
from heplearn.data.root_source import RootSource
from heplearn.errors import DataError


def _ntuple(path: Path, compression: object = uproot.ZLIB(1)) -> Path:
    rng = np.random.default_rng(0)
    with uproot.recreate(path, compression=compression) as handle:
        handle.mktree("t", {"e": np.float32, "n": np.int32})
        handle["t"].extend(
            {
                "e": rng.exponential(10.0, 4000).astype(np.float32),
                "n": np.arange(4000, dtype=np.int32),
            }
        )
    return path


def _read_all(path: Path) -> int:
    source = RootSource(path, None)
    return sum(len(chunk["e"]) for chunk in source.iter_chunks(["e", "n"], 1000))


def _open_fds(path: Path) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
def test_the_file_is_closed_after_reading_and_after_an_early_stop(tmp_path: Path) -> None:
    path = _ntuple(tmp_path / "n.root")
    source = RootSource(path, None)
    assert _open_fds(path) == 0
    assert _read_all(path) == 4000
    chunks = source.iter_chunks(["e"], 1000)
    next(chunks)
    chunks.close()
    assert _open_fds(path) == 0


@pytest.mark.parametrize("compression", [uproot.ZLIB(1), uproot.LZ4(1), None], ids=str)
def test_flipped_bytes_are_a_data_error_or_read(tmp_path: Path, compression: object) -> None:
    data = bytearray(_ntuple(tmp_path / "n.root", compression).read_bytes())
    rng = np.random.default_rng(1)
    for trial in range(40):
        damaged = bytearray(data)
        start = int(rng.integers(0, len(data) - 8))
        damaged[start : start + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
        path = tmp_path / f"bad{trial}.root"
        path.write_bytes(bytes(damaged))
        try:
            _read_all(path)  # a flip in padding or an unread field is harmless
        except DataError as err:
            assert "cannot read ROOT file" in str(err) and str(path) in str(err)


def test_a_bug_is_not_reported_as_a_corrupt_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _ntuple(tmp_path / "n.root")

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a bug in our conversion")

    monkeypatch.setattr(root_source, "_to_column", broken)
    with pytest.raises(TypeError, match="a bug"):
        _read_all(path)
