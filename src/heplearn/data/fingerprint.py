"""The fingerprint of a store: a hash of what it holds, not of where it lies.

Two paths with equal fingerprints hold the same events, so a copied, moved or
re-mounted training store is still recognised as the training store, and a
store rewritten in place is not.  The fingerprint hashes

- a sharded store (folder with ``manifest.json``): the schema, each shard's row
  count and value checksum from the manifest, and the provenance seed (no shard
  is read, so this costs one small JSON read);
- a single store file: the schema, row count, the value checksum stamped in the
  file when its writer stamped one (otherwise the file's bytes, a full read at
  disk speed) and the provenance seed;
- any other file (e.g. a user's ROOT or HDF5 maps): the file's bytes.

The manifest's checksums are trusted here; ``open_store(..., verify=True)``
checks them against the values.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import h5py

from heplearn.data.shards import MANIFEST
from heplearn.errors import DataError

__all__ = ["store_fingerprint"]

#: Attributes of a store file that the fingerprint reads.
_SCHEMA, _ROWS, _CHECKSUM, _PROVENANCE = (
    "heplearn_schema",
    "heplearn_rows",
    "heplearn_checksum",
    "heplearn_provenance",
)


def _digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]


def _file_bytes(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _seed(provenance: Any) -> Any:
    if isinstance(provenance, str):
        try:
            provenance = json.loads(provenance)
        except ValueError:
            return None
    return provenance.get("seed") if isinstance(provenance, dict) else None


def _sharded(folder: Path) -> str:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
        record = {
            "schema": manifest["schema"],
            "shards": [[int(s["rows"]), str(s["checksum"])] for s in manifest["shards"]],
            "seed": _seed(manifest.get("provenance")),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(
            "unreadable manifest",
            str(path),
            f"the store's fingerprint needs its schema and shard checksums ({err})",
            "rerun the command that wrote the store",
        ) from err
    return _digest(record)


def _single(path: Path) -> str:
    try:
        with h5py.File(path, "r") as handle:
            attrs = {key: handle.attrs.get(key) for key in (_SCHEMA, _ROWS, _CHECKSUM, _PROVENANCE)}
    except OSError:
        return _digest({"bytes": _file_bytes(path)})  # not HDF5: a user's ROOT file, say
    if attrs[_SCHEMA] is None:
        return _digest({"bytes": _file_bytes(path)})  # plain HDF5, not a heplearn store
    checksum = attrs[_CHECKSUM]
    return _digest(
        {
            "schema": json.loads(str(attrs[_SCHEMA])),
            "rows": int(attrs[_ROWS]),
            # Values when the writer stamped them; bytes otherwise (equal for a copy).
            "values" if checksum is not None else "bytes": (
                str(checksum) if checksum is not None else _file_bytes(path)
            ),
            "seed": _seed(None if attrs[_PROVENANCE] is None else str(attrs[_PROVENANCE])),
        }
    )


def store_fingerprint(path: str | Path) -> str:
    """A 128-bit hex digest of the store's content (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return _sharded(path)
    if not path.is_file():
        raise DataError("store not found", str(path), "no such file or folder", "check the path")
    return _single(path)
