"""Atomic outputs: write under a temporary name, rename when complete.

A crash, a kill or an error never leaves a file or folder that looks finished
under its final name, and never destroys an existing output unless the user
asked for ``--overwrite`` (and then only once the new one is complete).
Temporaries are named ``.NAME.tmp-PID``; only those of dead processes (or older
than :data:`STALE_AFTER_S`) are cleaned up, so two processes never delete each
other's work in flight.  :func:`write_text_atomically` and :func:`read_saved_text`
write and read back the small JSON documents saved with a model (scalers, normalisers).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heplearn.errors import DataError, OutputExistsError

__all__ = [
    "STALE_AFTER_S",
    "atomic_output",
    "check_output",
    "is_stale",
    "read_saved_text",
    "remove_path",
    "remove_stale_temporaries",
    "replace_path",
    "temporary_path",
    "write_text_atomically",
]

#: A temporary older than this (24 h) is a leftover even if its pid was reused by another process.
STALE_AFTER_S = 24 * 3600.0


def check_output(path: Path, overwrite: bool) -> None:
    """Refuse an existing output unless ``overwrite``; make sure its folder exists."""
    if path.exists() and not overwrite:
        raise OutputExistsError(
            "output exists",
            str(path),
            "refusing to overwrite it",
            "pass --overwrite or choose another output path",
        )
    path.parent.mkdir(parents=True, exist_ok=True)


def temporary_path(final: Path) -> Path:
    """A hidden sibling of ``final`` unique to this process."""
    return final.parent / f".{final.name}.tmp-{os.getpid()}"


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user holds the pid
    return True


def is_stale(path: Path, *, max_age_s: float = STALE_AFTER_S) -> bool:
    """Whether the temporary ``path`` (named ``….tmp-PID``, ``….old-PID``) is a dead process's.

    It is when its owner pid is gone, or when it is older than ``max_age_s``; the temporaries
    of this process and of other live processes are never stale before that age.
    """
    try:
        age = time.time() - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if age > max_age_s:
        return True
    suffix = path.name.rpartition("-")[2]
    if not suffix.isdigit():
        return False  # not one of ours: keep it until it is old
    pid = int(suffix)
    return pid != os.getpid() and not _pid_alive(pid)


def remove_stale_temporaries(final: Path) -> None:
    """Drop the temporaries of ``final`` left by dead processes; put back an old output
    that a process killed between its two renames (see :func:`replace_path`) left aside."""
    # Leftovers of killed runs never carry the final name; a live process's are left alone.
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        if is_stale(stale):
            remove_path(stale)
    # An old output renamed aside by a process killed before it renamed the new one in.
    for aside in final.parent.glob(f".{final.name}.old-*"):
        if is_stale(aside):
            if final.exists() or final.is_symlink():
                remove_path(aside)
            else:
                aside.replace(final)


def replace_path(new: Path, final: Path) -> None:
    """Move ``new`` to ``final``, never deleting the old output before the new one is in place.

    A folder cannot be renamed over a folder (nor a file over a folder or back), so the old
    one is renamed aside first, the new one renamed in, and only then is the old one deleted.
    """
    folders = (final.is_dir() and not final.is_symlink()) or new.is_dir()
    if folders and (final.exists() or final.is_symlink()):
        aside = final.parent / f".{final.name}.old-{os.getpid()}"
        remove_path(aside)
        final.replace(aside)
        try:
            new.replace(final)
        except BaseException:
            aside.replace(final)  # put the old output back
            raise
        remove_path(aside)
        return
    new.replace(final)


@contextmanager
def atomic_output(final: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``final``, on error it is removed."""
    final = Path(final)
    remove_stale_temporaries(final)  # first: it may put back an old output a kill left aside
    check_output(final, overwrite)
    tmp = temporary_path(final)
    try:
        yield tmp
        replace_path(tmp, final)
    except BaseException:
        remove_path(tmp)  # also when the final rename fails: no stray temporary
        raise


def write_text_atomically(path: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` under a temporary name, then rename; the path."""
    path = Path(path)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def read_saved_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of the saved ``what`` file (e.g. ``"scaler"``) at ``path``.

    A missing file is a DataError "<what> file not found", a file that is not UTF-8 text
    one "not a heplearn <what> file".
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file not found", str(path), "no such file", "check the path")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"not a heplearn {what} file",
            str(path),
            "it is not text",
            f"give the {path.name} saved with a model",
        ) from err
