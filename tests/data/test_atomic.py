"""data.atomic: the old output survives until the new one is in place; live temporaries are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from heplearn.data.atomic import (
    STALE_AFTER_S,
    atomic_output,
    is_stale,
    remove_stale_temporaries,
    replace_path,
)


def _dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                             capture_output=True, text=True)  # fmt: skip
    return int(process.stdout)


def test_folder_is_replaced_and_the_old_one_removed_after(tmp_path: Path) -> None:
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_output(final, overwrite=True) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new")
        assert (final / "old.txt").is_file()  # untouched while the new one is written
    assert [p.name for p in final.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_rename_puts_the_old_folder_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    final, new = tmp_path / "out", tmp_path / "new"
    final.mkdir()
    (final / "old.txt").write_text("old")
    new.mkdir()
    original = Path.replace

    def replace(self: Path, target: Path) -> Path:
        if self == new:
            raise OSError("disk full")
        return original(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        replace_path(new, final)
    assert (final / "old.txt").read_text() == "old"


def test_a_failed_final_rename_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    final = tmp_path / "out.json"
    final.write_text("old")
    original = Path.replace

    def replace(self: Path, target: Path) -> Path:
        if target == final:
            raise OSError("disk full")
        return original(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    with pytest.raises(OSError, match="disk full"), atomic_output(final, overwrite=True) as tmp:
        tmp.write_text("new")
    assert final.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_an_old_output_left_aside_by_a_kill_is_put_back(tmp_path: Path) -> None:
    final = tmp_path / "out"
    aside = tmp_path / f".out.old-{_dead_pid()}"
    aside.mkdir()
    (aside / "old.txt").write_text("old")
    remove_stale_temporaries(final)
    assert (final / "old.txt").read_text() == "old"
    assert not aside.exists()


def test_only_temporaries_of_dead_or_old_processes_are_removed(tmp_path: Path) -> None:
    final = tmp_path / "out.h5"
    mine = tmp_path / f".out.h5.tmp-{os.getpid()}"
    live = tmp_path / f".out.h5.tmp-{os.getppid()}"
    dead = tmp_path / f".out.h5.tmp-{_dead_pid()}"
    old = tmp_path / f".out.h5.tmp-{os.getppid()}0"
    for path in (mine, live, dead, old):
        path.write_text("partial")
    os.utime(old, (0, 0))
    assert not is_stale(mine) and not is_stale(live)
    assert is_stale(dead) and is_stale(old, max_age_s=STALE_AFTER_S)
    remove_stale_temporaries(final)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, live.name])
