"""The command itself: version, info, usage errors, one-line user errors and --debug."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import heplearn

from conftest import CliResult

Cli = Callable[..., CliResult]


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"heplearn {heplearn.__version__}"


def test_info_lists_versions_device_and_threads(cli: Cli) -> None:
    result = cli("info")
    assert result.code == 0
    for key in ("heplearn", "python", "torch", "pythia8mc", "device", "threads"):
        assert key in result.out


def test_bad_usage_exits_2(cli: Cli) -> None:
    assert cli("no-such-command").code == 2
    assert cli("data", "import", "--out").code == 2
    assert cli("data", "import", "x.root").code == 2  # --out is required


def test_user_error_is_one_line_without_traceback(cli: Cli, tmp_path: Path) -> None:
    result = cli("data", "inspect", tmp_path / "missing.h5")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert lines == [
        f"error: store not found in {tmp_path / 'missing.h5'}: "
        "no such file or folder; check the path"
    ]
    assert "Traceback" not in result.err


def test_debug_shows_the_traceback(cli: Cli, tmp_path: Path) -> None:
    result = cli("--debug", "data", "inspect", tmp_path / "missing.h5")
    assert result.code == 1
    assert "Traceback" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: store not found")


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heplearn.cli.main", "data", "inspect", str(tmp_path / "x.h5")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: store not found")
