"""Event keys: a 64-bit hash of each row's content, to recognise the same event in any store.

Event ids cannot do this across stores: every generated sample numbers its
events from 0, so an independent Z→ee sample shares every id with the gun
sample a model was trained on.  The content of a row (every array given, byte
for byte, with its name, dtype and shape) identifies the event wherever it
was copied, moved, re-sharded or re-imported to, as long as the values are
unchanged.  BLAKE2b with an 8-byte digest keeps accidental collisions at
about N²/2⁶⁵ (10⁻⁸ for a million events).

A run records the keys of the events it trained and validated on as a sorted
``uint64`` ``.npy`` file (read with ``allow_pickle=False``);
:func:`training_overlap` marks the rows of another store found in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.atomic import atomic_output
from heplearn.errors import DataError

__all__ = ["content_keys", "load_keys", "save_keys", "training_overlap"]

Array = np.ndarray[Any, Any]


#: Rows hashed per block: bounds the copy of the row bytes to a few tens of MB.
_BLOCK_ROWS = 4096


def _layout(arrays: Mapping[str, Array], n: int) -> bytes:
    """The names, dtypes and shapes of the arrays (the hash key: other layouts never collide)."""
    lines = []
    for name in sorted(arrays):
        array = np.asarray(arrays[name])
        if array.ndim == 0 or len(array) != n:
            raise ValueError(f"array '{name}' has shape {array.shape}, expected {n} rows")
        lines.append(f"{name}:{array.dtype.str}:{array.shape[1:]}")
    return hashlib.blake2b("\n".join(lines).encode(), digest_size=16).digest()


def _row_bytes(arrays: Mapping[str, Array], start: int, stop: int) -> Array:
    """Rows ``start:stop`` of every non-empty array, as one (rows, bytes) uint8 matrix."""
    parts = []
    for name in sorted(arrays):
        block = np.ascontiguousarray(np.asarray(arrays[name])[start:stop])
        width = block.nbytes // max(len(block), 1)
        if width:
            parts.append(block.view(np.uint8).reshape(len(block), width))
    if not parts:
        return np.zeros((stop - start, 0), np.uint8)
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def content_keys(arrays: Mapping[str, Array]) -> Array:
    """One uint64 key per row: BLAKE2b of the row's bytes in every array (sorted by name)."""
    if not arrays:
        raise ValueError("content_keys needs at least one array")
    n = len(next(iter(arrays.values())))
    salt = _layout(arrays, n)
    keys = np.empty(n, dtype=np.uint64)
    for start in range(0, n, _BLOCK_ROWS):
        rows = _row_bytes(arrays, start, min(start + _BLOCK_ROWS, n))
        keys[start : start + len(rows)] = [
            int.from_bytes(hashlib.blake2b(row, digest_size=8, key=salt).digest(), "little")
            for row in rows
        ]
    return keys


def save_keys(path: Path, keys: Array) -> None:
    """Write the sorted unique keys atomically as a plain uint64 ``.npy`` file."""
    unique = np.unique(np.asarray(keys, dtype=np.uint64))
    with atomic_output(path, overwrite=True) as tmp, tmp.open("wb") as handle:
        np.save(handle, unique, allow_pickle=False)


def load_keys(path: Path) -> Array:
    """The keys saved by :func:`save_keys` (sorted uint64), refusing anything else."""
    try:
        keys = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(
            "unreadable training keys",
            str(path),
            f"not a numpy file ({err})",
            "retrain the run, or delete the file to skip the overlap check",
        ) from err
    if keys.dtype != np.uint64 or keys.ndim != 1:
        raise DataError(
            "unreadable training keys",
            str(path),
            f"expected a 1-D uint64 array, found {keys.dtype} {keys.shape}",
            "retrain the run, or delete the file to skip the overlap check",
        )
    out: Array = keys
    return out


def training_overlap(keys: Array, training: Array, groups: Array | None = None) -> Array:
    """True for rows whose key is a training key; with ``groups``, for every row of such a group.

    Pass the event id as ``groups`` where one event has several rows (the two
    clusters of a Z→ee event), so the partner of a training row is dropped too.
    """
    found: Array = np.isin(np.asarray(keys, dtype=np.uint64), training)
    if groups is None or not found.any():
        return found
    ids = np.asarray(groups)
    grouped: Array = np.isin(ids, np.unique(ids[found]))
    return grouped
