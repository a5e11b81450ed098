"""The one check every ROOT reader makes first: is the file as long as its header says?

A ROOT file starts with ``root``, a version and two seek keys, ``fBEGIN`` and
``fEND`` (the end of its last record; 64-bit in large-file headers, version ≥
1000000).  uproot reads any object that lies before a cut, so a file copied to 20 %
of its size still yields its first histogram; comparing ``fEND`` with the file's
size catches it before anything is read.  Used by :class:`RootSource` (``data
import``, calibration and search inputs), the DQM map reader (``dqm check``,
``dqm train``) and ``dqm watch``.
"""

from __future__ import annotations

import struct
from pathlib import Path

from heplearn.errors import DataError

__all__ = ["check_root_complete", "root_declared_end"]

_LARGE_FILE_VERSION = 1_000_000


def root_declared_end(path: Path) -> int | None:
    """``fEND`` from the header of the ROOT file ``path``, or None if it has no ROOT header.

    A file that is not ROOT (or too short for a header) is left to the reader to refuse.
    """
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 16 or header[:4] != b"root":
        return None
    version = struct.unpack(">i", header[4:8])[0]
    if version >= _LARGE_FILE_VERSION:  # large-file header: 64-bit seek keys
        if len(header) < 20:
            return None
        return int(struct.unpack(">q", header[12:20])[0])
    return int(struct.unpack(">i", header[12:16])[0])


def check_root_complete(path: Path, size: int | None = None) -> None:
    """Refuse a ROOT file shorter than its header's ``fEND`` (cut short or still copying).

    ``size`` is the file's size as the caller saw it (``dqm watch`` passes its settled
    ``stat``); by default it is read now.
    """
    end = root_declared_end(path)
    if end is None:
        return
    actual = path.stat().st_size if size is None else size
    if actual < end:
        raise DataError(
            "truncated ROOT file",
            str(path),
            f"{actual} bytes, header says {end}",
            "the copy was cut short or is still being written: re-copy the whole file",
        )
