"""Reading a store: one HDF5 file or a sharded folder, validated, iterated in batches.

``open_store`` checks the schema version and that every field the file
declares is present with its dtype and shape; ``Store.require`` checks the
fields a workflow needs; ``Store.nonfinite_counts`` finds NaN/inf by field.
Batches are read shard by shard, so memory stays bounded by the batch size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np

from heplearn.data.integrity import safe_shard_path, stamped_checksums, verify_file
from heplearn.data.schema import (
    SCHEMA_VERSION,
    Column,
    FieldSpec,
    Schema,
    count_nonfinite,
    jagged_from_parts,
    schema_from_json,
)
from heplearn.data.shards import MANIFEST
from heplearn.errors import DataError, SchemaError

__all__ = ["HDF5_SIGNATURE", "Store", "open_store"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class Segment:
    """One file of a store, its row count and the checksums the manifest lists for it."""

    path: Path
    rows: int
    checksum: str | None = None
    field_checksums: dict[str, str] | None = None


@dataclass
class Store:
    """An opened, validated store.  Data are read lazily, batch by batch."""

    path: Path
    schema: Schema
    rows: int
    provenance: dict[str, Any]
    schema_version: int
    segments: list[Segment] = field(default_factory=list)

    @property
    def is_sharded(self) -> bool:
        return self.path.is_dir()

    def _fields(self, fields: Sequence[str] | None) -> list[str]:
        names = list(self.schema) if fields is None else list(fields)
        self.require(dict.fromkeys(names))
        return names

    def require(self, fields: Mapping[str, FieldSpec | None]) -> None:
        """Raise SchemaError naming every required field that is missing or has the wrong type."""
        missing = sorted(name for name in fields if name not in self.schema)
        if missing:
            raise SchemaError(
                f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                str(self.path),
                "the workflow needs them",
                "regenerate the sample or map the columns with 'heplearn data import --mapping'",
            )
        for name, expected in fields.items():
            if expected is not None and self.schema[name] != expected:
                raise SchemaError(
                    f"field '{name}'",
                    str(self.path),
                    f"has type {self.schema[name].describe()}, expected {expected.describe()}",
                    "regenerate the sample with this heplearn version",
                )

    def iter_batches(
        self, batch_size: int = 65536, fields: Sequence[str] | None = None
    ) -> Iterator[dict[str, Column]]:
        """Yield dicts of columns with at most ``batch_size`` rows, in row order."""
        names = self._fields(fields)
        for segment in self.segments:
            with h5py.File(segment.path, "r") as handle:
                for start in range(0, segment.rows, batch_size):
                    stop = min(start + batch_size, segment.rows)
                    yield {name: self._read(handle, name, start, stop) for name in names}

    def read(self, fields: Sequence[str] | None = None) -> dict[str, Column]:
        """Read whole fields into memory (use ``iter_batches`` for large stores)."""
        names = self._fields(fields)
        parts: dict[str, list[Column]] = {name: [] for name in names}
        for batch in self.iter_batches(batch_size=max(self.rows, 1), fields=names):
            for name in names:
                parts[name].append(batch[name])
        return {name: _concatenate(parts[name], self.schema[name]) for name in names}

    def _read(self, handle: h5py.File, name: str, start: int, stop: int) -> Column:
        if self.schema[name].jagged:
            offsets = handle[name]["offsets"][start : stop + 1]
            content = handle[name]["content"][int(offsets[0]) : int(offsets[-1])]
            return jagged_from_parts(offsets, content)
        return np.asarray(handle[name][start:stop])

    def nonfinite_counts(self, fields: Sequence[str] | None = None) -> dict[str, int]:
        """Number of NaN/inf values per float field (only fields with at least one)."""
        names = [n for n in self._fields(fields) if self.schema[n].is_float]
        counts = dict.fromkeys(names, 0)
        for batch in self.iter_batches(fields=names):
            for name in names:
                counts[name] += count_nonfinite(batch[name])
        return {name: n for name, n in counts.items() if n}

    def verify(self) -> None:
        """Read every value back and compare with the checksums written with the store.

        Raises one DataError naming the file and the field whose values changed (a flipped
        byte, a truncated copy).  A single store file is checked against the per-field
        checksums its writer stamped; one written before writers stamped them, only for
        every field being readable.
        """
        for segment in self.segments:
            if self.is_sharded:
                verify_file(segment.path, segment.checksum, segment.field_checksums)
            else:
                verify_file(segment.path, *stamped_checksums(segment.path))

    def check_finite(self, fields: Sequence[str] | None = None) -> None:
        """Raise DataError naming each field with NaN/inf and its count."""
        bad = self.nonfinite_counts(fields)
        if bad:
            listed = ", ".join(f"{name} ({n})" for name, n in sorted(bad.items()))
            raise DataError(
                "NaN/inf values",
                str(self.path),
                f"found in {listed}",
                "clean or regenerate the input",
            )


def _concatenate(parts: list[Column], spec: FieldSpec) -> Column:
    if spec.jagged:
        return (
            ak.concatenate(parts)
            if parts
            else jagged_from_parts(np.zeros(1, np.int64), np.zeros(0, spec.dtype))
        )
    if not parts:
        return np.zeros((0, *spec.shape), dtype=spec.dtype)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _header(path: Path) -> dict[str, Any]:
    """Read and check the store attributes of one file."""
    with path.open("rb") as raw:
        if raw.read(8) != HDF5_SIGNATURE:
            raise DataError(
                "not an HDF5 file",
                str(path),
                "the file does not start with the HDF5 signature",
                "import it with 'heplearn data import' or check the path",
            )
    try:
        with h5py.File(path, "r") as handle:
            attrs = dict(handle.attrs)
            if "heplearn_schema_version" not in attrs:
                raise SchemaError(
                    "not a heplearn store",
                    str(path),
                    "it has no heplearn schema version",
                    "convert it with 'heplearn data import'",
                )
            version = int(attrs["heplearn_schema_version"])
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    f"schema version {version}",
                    str(path),
                    f"written by a newer heplearn (this one reads up to {SCHEMA_VERSION})",
                    "upgrade heplearn",
                )
            if "heplearn_schema" not in attrs:
                raise SchemaError(
                    "incomplete store",
                    str(path),
                    "the writer did not finish",
                    "rerun the command that wrote it",
                )
            schema = schema_from_json(str(attrs["heplearn_schema"]))
            rows = int(attrs["heplearn_rows"])
            _check_datasets(handle, schema, rows, path)
            return {
                "schema": schema,
                "rows": rows,
                "version": version,
                "provenance": json.loads(str(attrs.get("heplearn_provenance", "{}"))),
            }
    except OSError as err:
        raise DataError(
            "cannot read HDF5 file",
            str(path),
            f"the file is truncated or corrupt ({err})",
            "regenerate or re-copy it",
        ) from err


def _check_datasets(handle: h5py.File, schema: Schema, rows: int, path: Path) -> None:
    for name, spec in schema.items():
        if name not in handle:
            raise SchemaError(
                f"missing field '{name}'",
                str(path),
                "the schema lists it but the file lacks it",
                "regenerate the store",
            )
        node = handle[name]
        if spec.jagged:
            ok = isinstance(node, h5py.Group) and "offsets" in node and "content" in node
            ok = (
                ok
                and node["offsets"].shape == (rows + 1,)
                and str(node["content"].dtype) == spec.dtype
            )
        else:
            ok = (
                isinstance(node, h5py.Dataset)
                and node.shape == (rows, *spec.shape)
                and str(node.dtype) == spec.dtype
            )
        if not ok:
            found = f"{getattr(node, 'dtype', 'group')} {getattr(node, 'shape', '')}".strip()
            raise SchemaError(
                f"field '{name}'",
                str(path),
                f"expected {spec.describe()} with {rows} rows, found {found}",
                "regenerate the store",
            )


def _open_sharded(folder: Path) -> Store:
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise DataError(
            "incomplete sharded store",
            str(folder),
            f"there is no {MANIFEST}",
            "rerun the command that wrote it to resume",
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        version = int(manifest["schema_version"])
        entries = list(manifest["shards"])
        shards = [
            Segment(
                safe_shard_path(folder, s["file"], str(manifest_path)),
                int(s["rows"]),
                None if s.get("checksum") is None else str(s["checksum"]),
                None if s.get("field_checksums") is None else dict(s["field_checksums"]),
            )
            for s in entries
        ]
        schema = schema_from_json(json.dumps(manifest["schema"]))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(
            "unreadable manifest",
            str(manifest_path),
            f"bad JSON or missing entry ({err})",
            "rerun the command that wrote the store",
        ) from err
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"schema version {version}",
            str(folder),
            f"written by a newer heplearn (this one reads up to {SCHEMA_VERSION})",
            "upgrade heplearn",
        )
    segments = []
    for segment in shards:
        path, rows = segment.path, segment.rows
        if not path.is_file():
            raise DataError(
                "missing shard",
                str(path),
                "the manifest lists it",
                "rerun the command that wrote it",
            )
        header = _header(path)
        if header["schema"] != schema or header["rows"] != rows:
            raise SchemaError(
                "shard does not match the manifest",
                str(path),
                "different fields or row count",
                "regenerate the store",
            )
        segments.append(segment)
    return Store(
        path=folder,
        schema=schema,
        rows=sum(s.rows for s in segments),
        provenance=dict(manifest.get("provenance", {})),
        schema_version=version,
        segments=segments,
    )


def open_store(
    path: str | Path,
    *,
    required: Mapping[str, FieldSpec | None] | None = None,
    check_finite: bool = False,
    verify: bool = False,
) -> Store:
    """Open a store file or sharded folder, validate it, and optionally check fields and NaN/inf.

    ``verify`` reads every value back and compares it with the store's checksums
    (:meth:`Store.verify`); it costs one full read of the store.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("store not found", str(path), "no such file or folder", "check the path")
    if path.is_dir():
        store = _open_sharded(path)
    else:
        header = _header(path)
        store = Store(
            path=path,
            schema=header["schema"],
            rows=header["rows"],
            provenance=header["provenance"],
            schema_version=header["version"],
            segments=[Segment(path, header["rows"])],
        )
    if required:
        store.require(required)
    if verify:
        store.verify()
    if check_finite:
        store.check_finite()
    return store
