"""Integrity of store files: recompute the value checksums and compare with those written.

A shard carries its checksums (``heplearn_checksum`` over all fields and, since
per-field checksums were added, ``heplearn_field_checksums``); the manifest repeats
them.  A single store file (``data import``) carries the per-field checksums only.
A mismatch, or a field that cannot be decompressed, is one DataError naming the
file and the field.  Stores written before per-field checksums are checked
against the overall checksum only (the error then cannot name the field); single
files written before then, only for being readable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from heplearn.data.checksums import CHECKSUM_ATTR, FIELD_CHECKSUMS_ATTR, hash_column
from heplearn.data.schema import Column, jagged_from_parts, schema_from_json
from heplearn.errors import DataError

__all__ = [
    "CHECKSUM_ATTR",
    "FIELD_CHECKSUMS_ATTR",
    "FileChecksums",
    "file_checksums",
    "safe_shard_path",
    "stamped_checksums",
    "verify_file",
]

_FIX = "regenerate the store (rerun the command that wrote it) or re-copy it"

FileChecksums = tuple[str, dict[str, str]]


def safe_shard_path(folder: Path, name: object, where: str) -> Path:
    """``folder / name`` for a shard name from a manifest; refuse names that leave the folder."""
    text = str(name)
    candidate = Path(text)
    if (
        not isinstance(name, str)
        or not text
        or candidate.is_absolute()
        or len(candidate.parts) != 1
        or text in {".", ".."}
        or "\\" in text
    ):
        raise DataError(
            f"shard name '{text}'",
            where,
            "it is not a plain file name inside the store folder (a path could escape it)",
            "restore the manifest written with the store, or regenerate the store",
        )
    return folder / text


def _read_field(handle: h5py.File, name: str, jagged: bool) -> Column:
    if jagged:
        return jagged_from_parts(handle[name]["offsets"][:], handle[name]["content"][:])
    return np.asarray(handle[name][:])


def file_checksums(path: Path) -> FileChecksums:
    """The overall and per-field checksums of the values now in the store file ``path``."""
    try:
        with h5py.File(path, "r") as handle:
            if "heplearn_schema" not in handle.attrs:
                raise DataError(
                    "incomplete store file", str(path), "the writer did not finish", _FIX
                )
            schema = schema_from_json(str(handle.attrs["heplearn_schema"]))
            overall = hashlib.sha256()
            fields: dict[str, str] = {}
            for name in sorted(schema):
                try:
                    column = _read_field(handle, name, schema[name].jagged)
                except (OSError, KeyError, ValueError) as err:
                    raise DataError(
                        f"corrupt field '{name}'",
                        str(path),
                        f"its data cannot be read ({type(err).__name__}: {err})".replace("\n", " "),
                        _FIX,
                    ) from err
                digest = hashlib.sha256()
                hash_column(digest, name, column)
                fields[name] = digest.hexdigest()
                hash_column(overall, name, column)  # as checksum_columns: sorted names, one stream
    except OSError as err:
        raise DataError(
            "cannot read HDF5 file",
            str(path),
            f"the file is truncated or corrupt ({err})".replace("\n", " "),
            _FIX,
        ) from err
    return overall.hexdigest(), fields


def verify_file(path: Path, checksum: str | None, fields: Mapping[str, str] | None = None) -> None:
    """Raise DataError naming the file and field whose values differ from their checksums."""
    overall, found = file_checksums(path)
    if fields:
        changed = sorted(n for n in set(fields) | set(found) if fields.get(n) != found.get(n))
        if changed:
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            raise DataError(
                f"checksum mismatch in field '{changed[0]}'{more}",
                str(path),
                "its values differ from those written (the file is corrupt or was changed)",
                _FIX,
            )
    if checksum is not None and checksum != overall:
        raise DataError(
            "checksum mismatch",
            str(path),
            "its values differ from those written (the file is corrupt or was changed)",
            _FIX,
        )


def stamped_checksums(path: Path) -> tuple[str | None, dict[str, str] | None]:
    """The checksums stamped into a store file when it was written (None where absent)."""
    try:
        with h5py.File(path, "r") as handle:
            checksum = handle.attrs.get(CHECKSUM_ATTR)
            fields = handle.attrs.get(FIELD_CHECKSUMS_ATTR)
    except OSError:
        return None, None  # unreadable: file_checksums then says so, naming the file
    try:
        stamped = None if fields is None else dict(json.loads(str(fields)))
    except (ValueError, TypeError) as err:
        raise DataError(
            f"unreadable attribute '{FIELD_CHECKSUMS_ATTR}'", str(path), f"{err}", _FIX
        ) from err
    return None if checksum is None else str(checksum), stamped
