"""Streaming writer of one columnar HDF5 store file.

Columns arrive in batches (``append``), so a store larger than memory can be
written from a chunked source.  The file is written under a temporary name and
renamed to its final name only when the ``with`` block completes.  It is stamped
with the checksum of each field's values (``heplearn_field_checksums``), so
``open_store(..., verify=True)`` can tell a flipped byte from intact data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from heplearn.data.atomic import (
    check_output,
    remove_path,
    remove_stale_temporaries,
    replace_path,
    temporary_path,
)
from heplearn.data.checksums import (
    FIELD_CHECKSUMS_ATTR,
    FieldDigests,
    checksum_columns,
    field_checksums,
    hash_column,
)
from heplearn.data.schema import (
    SCHEMA_VERSION,
    Column,
    FieldSpec,
    Schema,
    jagged_to_parts,
    schema_to_json,
    spec_of,
    valid_field_name,
)
from heplearn.errors import SchemaError

__all__ = ["StoreWriter", "checksum_columns", "field_checksums", "hash_column", "write_store"]

#: Target size of one HDF5 chunk; ~1 MiB balances compression ratio and random access.
CHUNK_BYTES = 1 << 20


def _chunk_rows(spec: FieldSpec) -> int:
    row_bytes = np.dtype(spec.dtype).itemsize * int(np.prod(spec.shape, dtype=np.int64))
    return max(1, min(CHUNK_BYTES // max(row_bytes, 1), 65536))


class StoreWriter:
    """Write a store file batch by batch: ``with StoreWriter(path, ...) as w: w.append(cols)``."""

    def __init__(
        self,
        path: str | Path,
        *,
        provenance: Mapping[str, Any],
        overwrite: bool = False,
        compression: str | None = "lzf",
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.provenance = dict(provenance)
        self.overwrite = overwrite
        self.compression = compression
        self.attributes = dict(attributes or {})
        self.schema: Schema = {}
        self.rows = 0
        self._tmp = temporary_path(self.path)
        self._file: h5py.File | None = None
        self._digests: FieldDigests | None = None

    def __enter__(self) -> StoreWriter:
        check_output(self.path, self.overwrite)
        remove_stale_temporaries(self.path)  # what killed writers of this file left behind
        remove_path(self._tmp)
        self._file = h5py.File(self._tmp, "w", track_order=True)
        self._file.attrs["heplearn_schema_version"] = SCHEMA_VERSION
        self._file.attrs["heplearn_provenance"] = json.dumps(self.provenance, sort_keys=True)
        for key, value in self.attributes.items():
            self._file.attrs[key] = value
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._file is not None
        if exc_type is None:
            self._file.attrs["heplearn_schema"] = schema_to_json(self.schema)
            self._file.attrs["heplearn_rows"] = self.rows
            sums = self._digests.finish(self._file) if self._digests else {}
            self._file.attrs[FIELD_CHECKSUMS_ATTR] = json.dumps(sums, sort_keys=True)
        self._file.close()
        self._file = None
        if exc_type is not None:
            remove_path(self._tmp)
            return
        replace_path(self._tmp, self.path)

    def _create(self, name: str, spec: FieldSpec) -> None:
        assert self._file is not None
        options: dict[str, Any] = {}
        if self.compression:
            options = {"compression": self.compression, "shuffle": True}
        if spec.jagged:
            group = self._file.create_group(name)
            group.attrs["heplearn_jagged"] = 1
            group.create_dataset(
                "offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(16384,), **options
            )
            group.create_dataset(
                "content",
                shape=(0,),
                dtype=spec.dtype,
                maxshape=(None,),
                chunks=(65536,),
                **options,
            )
            return
        self._file.create_dataset(
            name,
            shape=(0, *spec.shape),
            dtype=spec.dtype,
            maxshape=(None, *spec.shape),
            chunks=(_chunk_rows(spec), *spec.shape),
            **options,
        )

    def _check_batch(self, columns: Mapping[str, Column]) -> tuple[int, dict[str, FieldSpec]]:
        specs: dict[str, FieldSpec] = {}
        lengths = set()
        for name, column in columns.items():
            if not valid_field_name(name):
                raise SchemaError(
                    f"field name '{name}'",
                    str(self.path),
                    "names are 'group/name' paths of letters, digits, '_', '.', '-'",
                    "rename the column",
                )
            try:
                specs[name] = spec_of(column)
            except TypeError as err:
                raise SchemaError(
                    f"field '{name}'", str(self.path), str(err), "convert it to numbers"
                ) from err
            lengths.add(len(column))
        if len(lengths) > 1:
            raise SchemaError(
                "columns of different lengths",
                str(self.path),
                f"row counts {sorted(lengths)}",
                "give every field one entry per event",
            )
        if self.schema and specs != self.schema:
            changed = sorted({name for name, _ in set(specs.items()) ^ set(self.schema.items())})
            raise SchemaError(
                "batch does not match the store schema",
                str(self.path),
                f"differs in {', '.join(changed)}",
                "write the same fields with the same dtypes and shapes in every batch",
            )
        return (lengths.pop() if lengths else 0), specs

    def append(self, columns: Mapping[str, Column]) -> None:
        """Append one batch: every field with the same number of rows."""
        assert self._file is not None, "use StoreWriter as a context manager"
        n, specs = self._check_batch(columns)
        if not self.schema:
            for name, spec in specs.items():
                self._create(name, spec)
            self.schema = specs
            self._digests = FieldDigests(specs)
        assert self._digests is not None
        self._digests.update(columns)
        for name, column in columns.items():
            if specs[name].jagged:
                self._append_jagged(name, column)
            else:
                dataset = self._file[name]
                dataset.resize(self.rows + n, axis=0)
                dataset[self.rows : self.rows + n] = column
        self.rows += n

    def _append_jagged(self, name: str, column: Column) -> None:
        assert self._file is not None
        offsets, content = jagged_to_parts(column)
        group = self._file[name]
        stored_offsets, stored_content = group["offsets"], group["content"]
        base = int(stored_offsets[-1])
        stored_offsets.resize(self.rows + len(offsets), axis=0)
        stored_offsets[self.rows + 1 :] = offsets[1:] + base
        stored_content.resize(base + len(content), axis=0)
        stored_content[base:] = content


def write_store(
    path: str | Path,
    columns: Mapping[str, Column],
    *,
    provenance: Mapping[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write in-memory columns to one store file atomically and return its path."""
    with StoreWriter(path, provenance=provenance, overwrite=overwrite) as writer:
        writer.append(columns)
    return Path(path)
