"""Atomic outputs: write under a temporary name, rename when complete.

A crash, a kill or an error never leaves a file or folder that looks finished
under its final name, and never destroys an existing output unless the user
asked for ``--overwrite``.  :func:`write_text_atomically` and :func:`read_saved_text`
write and read back the small JSON documents saved with a model (scalers, normalisers).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heplearn.errors import DataError, OutputExistsError

__all__ = [
    "atomic_output",
    "check_output",
    "read_saved_text",
    "remove_path",
    "temporary_path",
    "write_text_atomically",
]


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


def _remove_stale_temporaries(final: Path) -> None:
    # Leftovers of killed runs: they never carry the final name, so they are safe to drop.
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        remove_path(stale)


@contextmanager
def atomic_output(final: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``final``, on error it is removed."""
    final = Path(final)
    check_output(final, overwrite)
    _remove_stale_temporaries(final)
    tmp = temporary_path(final)
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)
    tmp.replace(final)


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
