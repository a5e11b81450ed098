"""The checksum format of store files, computed from columns in memory or while streaming.

A field's checksum is the SHA-256 of ``"NAME:TYPE\\n"`` followed by its values'
bytes (a jagged field: its offsets from 0, then its content); the overall
checksum feeds every field, in sorted order, into one stream.  The format does
not depend on the HDF5 layout (chunks, compression), so the values read back
from a file can be compared with those written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from heplearn.data.schema import Column, FieldSpec, jagged_to_parts, spec_of

__all__ = [
    "CHECKSUM_ATTR",
    "FIELD_CHECKSUMS_ATTR",
    "FieldDigests",
    "checksum_columns",
    "field_checksums",
    "hash_column",
]

#: File attribute with the overall checksum (shards; the manifest repeats it).
CHECKSUM_ATTR = "heplearn_checksum"
#: File attribute with the JSON object ``{field: checksum}``.
FIELD_CHECKSUMS_ATTR = "heplearn_field_checksums"

#: Elements of a jagged field's content read back per step when its checksum is finished.
_READ_BACK = 1 << 22


def _header(name: str, spec: FieldSpec) -> bytes:
    return f"{name}:{spec.describe()}\n".encode()


def hash_column(digest: Any, name: str, column: Column) -> None:
    """Feed one column's name, type and values into ``digest`` (the checksum format)."""
    spec = spec_of(column)
    digest.update(_header(name, spec))
    if spec.jagged:
        offsets, content = jagged_to_parts(column)
        digest.update(np.ascontiguousarray(offsets).tobytes())
        digest.update(np.ascontiguousarray(content).tobytes())
    else:
        digest.update(np.ascontiguousarray(column).tobytes())


def checksum_columns(columns: Mapping[str, Column]) -> str:
    """SHA-256 of the columns' names, types and values (independent of HDF5 file layout)."""
    digest = hashlib.sha256()
    for name in sorted(columns):
        hash_column(digest, name, columns[name])
    return digest.hexdigest()


def field_checksums(columns: Mapping[str, Column]) -> dict[str, str]:
    """SHA-256 of each column's name, type and values, so that a mismatch names its field."""
    sums = {}
    for name in sorted(columns):
        digest = hashlib.sha256()
        hash_column(digest, name, columns[name])
        sums[name] = digest.hexdigest()
    return sums


class FieldDigests:
    """Per-field checksums of columns appended batch by batch (equal to ``field_checksums``
    of the concatenated columns).

    A fixed field is hashed as it arrives.  A jagged field's format puts all offsets before
    all content, so its offsets are hashed as they arrive and its content is read back from
    the written file by ``finish`` (one pass over that field only).
    """

    def __init__(self, schema: Mapping[str, FieldSpec]) -> None:
        self.schema = dict(schema)
        self._digests = {name: hashlib.sha256(_header(name, spec)) for name, spec in schema.items()}
        self._ends = dict.fromkeys(schema, 0)  # last offset so far, per jagged field
        for name, spec in schema.items():
            if spec.jagged:
                self._digests[name].update(np.zeros(1, np.int64).tobytes())

    def update(self, columns: Mapping[str, Column]) -> None:
        """Hash one batch (every field of the schema)."""
        for name, column in columns.items():
            digest = self._digests[name]
            if self.schema[name].jagged:
                offsets, _ = jagged_to_parts(column)
                digest.update(np.ascontiguousarray(offsets[1:] + self._ends[name]).tobytes())
                self._ends[name] += int(offsets[-1])
            else:
                digest.update(np.ascontiguousarray(column).tobytes())

    def finish(self, handle: h5py.File) -> dict[str, str]:
        """The checksums, reading the jagged fields' content back from ``handle``."""
        for name, spec in self.schema.items():
            if spec.jagged:
                content = handle[name]["content"]
                for start in range(0, self._ends[name], _READ_BACK):
                    block = content[start : min(start + _READ_BACK, self._ends[name])]
                    self._digests[name].update(np.ascontiguousarray(block).tobytes())
        return {name: self._digests[name].hexdigest() for name in sorted(self._digests)}
