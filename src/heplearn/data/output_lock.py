"""One writer per output: an exclusive lock on the hidden file ``.NAME.lock`` beside it.

Two runs into the same output would share its ``.NAME.partial`` folder and
overwrite each other's files.  ``output_lock`` takes ``fcntl.flock`` without
waiting, so the second run fails at once with the first one's pid; the kernel
releases the lock when its process ends, even on a kill, so a dead run never
blocks the next.  The lock file holds the owner's pid and is removed on release.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from heplearn.errors import OutputExistsError

__all__ = ["OutputLockedError", "lock_path", "output_lock"]

#: Tries to lock a file that the previous owner unlinked just after we opened it.
_ATTEMPTS = 5


class OutputLockedError(OutputExistsError):
    """Another process is writing the same output."""


def lock_path(final: Path) -> Path:
    """The lock file of the output ``final``: the hidden sibling ``.NAME.lock``."""
    return final.parent / f".{final.name}.lock"


def _owner(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _acquire(path: Path, command: str, final: Path) -> int:
    for _ in range(_ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"another {command} is writing",
                str(final),
                f"process {_owner(path)} holds {path.name}",
                "wait for it to finish (or stop it), or choose another --out",
            ) from None
        try:
            same = os.fstat(fd).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the previous owner removed this file on release: lock the new one
    raise OutputLockedError(
        f"another {command} is writing",
        str(final),
        f"{path.name} kept changing owner",
        "wait for the other runs to finish, or choose another --out",
    )


@contextmanager
def output_lock(final: str | Path, command: str) -> Iterator[Path]:
    """Hold the exclusive lock on ``final`` while the block runs; ``command`` names the writer
    in the error another process gets (e.g. ``"calib train"``)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(final)
    fd = _acquire(path, command, final)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        # Unlinked while still held, so a process that opened it meanwhile sees a stale inode.
        with suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
