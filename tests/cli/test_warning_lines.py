"""The CLI shows heplearn's warnings as one line ``warning: <message>`` on stderr."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import pytest

from heplearn.cli.warning_lines import one_line_warnings
from heplearn.data.shards import CorruptShardWarning

from conftest import CliResult

SAMPLE = """kind: calib-sample
geometry: atlas-lar
source: gun
events: 200
shard_events: 100
seed: 5
"""


def flip_byte(shard: Path, field: str) -> None:
    with h5py.File(shard, "r") as handle:
        info = handle[field].id.get_chunk_info(0)
    with shard.open("r+b") as raw:
        raw.seek(info.byte_offset + info.size // 2)
        byte = raw.read(1)
        raw.seek(info.byte_offset + info.size // 2)
        raw.write(bytes([byte[0] ^ 0x5A]))


def test_a_command_s_warning_is_one_line(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    (tmp_path / "gun.yaml").write_text(SAMPLE)
    command = ("generate", "calib", "--config", tmp_path / "gun.yaml", "--out", tmp_path / "gun")
    assert cli(*command).code == 0
    flip_byte(tmp_path / "gun" / "shard-00001.h5", "truth/energy")
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite turns warnings into errors; a user's shell not
        result = cli(*command)
    assert result.code == 0, result
    lines = [line for line in result.err.splitlines() if "warning" in line.lower()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("warning: ") and "shard-00001.h5" in lines[0], lines
    assert "'truth/energy'" in lines[0] and "generated again" in lines[0]
    assert "CorruptShardWarning" not in result.err and "warnings.warn" not in result.err


def _warn(category: type[Warning], filename: str) -> None:
    warnings.warn_explicit("two\nlines", category, filename, 7)


def test_other_libraries_warnings_and_debug_keep_python_s_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Python's format is what the previous showwarning does: here, recording into ``shown``.
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with one_line_warnings():
            _warn(CorruptShardWarning, "/elsewhere/x.py")  # heplearn's category
            _warn(UserWarning, str(Path(warnings.__file__)))  # not heplearn's
        with one_line_warnings(debug=True):
            _warn(CorruptShardWarning, "/elsewhere/x.py")
    assert capsys.readouterr().err == "warning: two lines\n"
    assert [(w.category, w.lineno) for w in shown] == [(UserWarning, 7), (CorruptShardWarning, 7)]


def test_warning_filters_are_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    # pytest's filterwarnings = error still turns a warning into an exception inside.
    with pytest.raises(CorruptShardWarning), one_line_warnings():
        warnings.warn("x", CorruptShardWarning, stacklevel=1)
    before = warnings.showwarning
    with one_line_warnings():
        pass
    assert warnings.showwarning is before
    assert capsys.readouterr().err == ""
