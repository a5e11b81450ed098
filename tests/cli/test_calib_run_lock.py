"""Two ``calib train`` runs into one ``--out``: the second fails at once, naming the first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from heplearn.data.output_lock import OutputLockedError, lock_path, output_lock

from conftest import CliResult, assert_one_error

# Another process in the middle of a run into sys.argv[1]: holds the lock until stdin closes.
HOLDER = """
import sys
from pathlib import Path
from heplearn.data.output_lock import output_lock
with output_lock(Path(sys.argv[1]), "calib train"):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "run")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_a_second_run_into_the_same_out_fails_at_once(
    cli: Callable[..., CliResult], holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    result = cli("calib", "train", "-d", tmp_path / "gun", "-o", run)
    assert_one_error(result, "another calib train is writing", str(run), f"{holder.pid}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.lock"]  # the holder's, only
    assert holder.stdin is not None
    holder.stdin.close()  # the first run ends ...
    assert holder.wait(timeout=30) == 0
    assert list(tmp_path.iterdir()) == []  # ... and removes its lock file


def test_a_killed_run_does_not_block_the_next(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    with pytest.raises(OutputLockedError, match=str(holder.pid)), output_lock(run, "calib train"):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert lock_path(run).is_file()  # a kill skips the clean-up, but the kernel drops the lock
    with output_lock(run, "calib train"):
        assert lock_path(run).read_text() == f"{os.getpid()}\n"
    assert not lock_path(run).exists()
