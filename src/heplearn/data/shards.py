"""Sharded stores: a folder of ``shard-NNNNN.h5`` files plus ``manifest.json``.

Each shard is written atomically and stamped with the run's *fingerprint* (a
hash of everything that determines its content: resolved config, seed, shard
layout).  A rerun of the same command skips shards already complete, so a
killed run resumes; a different run into the same folder is refused unless
``overwrite``.  The manifest, written last, marks the store as complete.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py

from heplearn.data.atomic import atomic_output, remove_path
from heplearn.data.schema import SCHEMA_VERSION, Column
from heplearn.data.writer import StoreWriter, checksum_columns
from heplearn.errors import OutputExistsError, SchemaError

__all__ = ["CONFIG_FILE", "MANIFEST", "ShardedWriter", "run_fingerprint", "shard_name"]

MANIFEST = "manifest.json"
#: The fully resolved config of the run, written beside the shards.
CONFIG_FILE = "config.yaml"
_FINGERPRINT = "heplearn_fingerprint"
_CHECKSUM = "heplearn_checksum"


def run_fingerprint(resolved_config: str) -> str:
    """Hash of a run's resolved config (YAML text, seed included): equal hashes, same shards."""
    return hashlib.sha256(resolved_config.encode()).hexdigest()[:16]


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


def _read_attr(path: Path, key: str) -> str | None:
    try:
        with h5py.File(path, "r") as handle:
            value = handle.attrs.get(key)
    except OSError:
        return None
    return None if value is None else str(value)


class ShardedWriter:
    """Writes the shards of one run into ``folder`` and, at the end, its manifest."""

    def __init__(
        self,
        folder: str | Path,
        *,
        fingerprint: str,
        provenance: Mapping[str, Any],
        overwrite: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.provenance = dict(provenance)
        self._prepare(overwrite)

    @classmethod
    def attach(
        cls, folder: str | Path, *, fingerprint: str, provenance: Mapping[str, Any]
    ) -> ShardedWriter:
        """A writer for a worker process: the folder was prepared by the coordinating process,
        so nothing is checked or cleaned (other workers' temporary files are in flight)."""
        writer = cls.__new__(cls)
        writer.folder = Path(folder)
        writer.fingerprint = fingerprint
        writer.provenance = dict(provenance)
        return writer

    def _prepare(self, overwrite: bool) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            if not overwrite:
                raise OutputExistsError(
                    "output exists",
                    str(self.folder),
                    "it is a file, not a store folder",
                    "pass --overwrite or choose another output path",
                )
            remove_path(self.folder)
        if self.folder.is_dir() and not self._is_this_run():
            if not overwrite:
                raise OutputExistsError(
                    "output exists",
                    str(self.folder),
                    "it holds other files or a run with a different config or seed",
                    "pass --overwrite or choose another output folder",
                )
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # Half-written shards of a killed run: never under a final name, safe to drop.
        for stale in self.folder.glob(".shard-*.tmp-*"):
            remove_path(stale)

    def _is_this_run(self) -> bool:
        entries = [p for p in self.folder.iterdir() if not p.name.startswith(".")]
        for entry in entries:
            if entry.name == CONFIG_FILE:
                continue  # rewritten by every run with the same fingerprint
            if entry.name == MANIFEST:
                manifest = json.loads(entry.read_text())
                if manifest.get("fingerprint") != self.fingerprint:
                    return False
            elif entry.name.startswith("shard-") and entry.suffix == ".h5":
                if _read_attr(entry, _FINGERPRINT) != self.fingerprint:
                    return False
            else:
                return False
        return True

    def shard_path(self, index: int) -> Path:
        return self.folder / shard_name(index)

    def is_done(self, index: int) -> bool:
        """Whether shard ``index`` of this run is already complete (so a rerun skips it)."""
        path = self.shard_path(index)
        return path.is_file() and _read_attr(path, _FINGERPRINT) == self.fingerprint

    def write_shard(self, index: int, columns: Mapping[str, Column]) -> Path:
        """Write one shard atomically (replacing a stale one of the same index)."""
        attributes = {_FINGERPRINT: self.fingerprint, _CHECKSUM: checksum_columns(columns)}
        path = self.shard_path(index)
        with StoreWriter(
            path, provenance=self.provenance, overwrite=True, attributes=attributes
        ) as writer:
            writer.append(columns)
        return path

    def finalize(self, n_shards: int) -> Path:
        """Check that shards ``0..n_shards-1`` are complete and consistent; write the manifest."""
        entries = []
        schema_json = None
        rows = 0
        for index in range(n_shards):
            path = self.shard_path(index)
            if not self.is_done(index):
                raise SchemaError(
                    f"shard {index} missing",
                    str(self.folder),
                    "the run did not write it",
                    "rerun the same command to resume",
                )
            with h5py.File(path, "r") as handle:
                shard_schema = str(handle.attrs["heplearn_schema"])
                shard_rows = int(handle.attrs["heplearn_rows"])
                checksum = str(handle.attrs[_CHECKSUM])
            if schema_json is None:
                schema_json = shard_schema
            elif shard_schema != schema_json:
                raise SchemaError(
                    f"shard {index} schema",
                    str(path),
                    "its fields differ from shard 0",
                    "write the same fields in every shard",
                )
            entries.append({"file": path.name, "rows": shard_rows, "checksum": checksum})
            rows += shard_rows
        manifest = {
            "format": "heplearn-sharded",
            "schema_version": SCHEMA_VERSION,
            "schema": json.loads(schema_json or "{}"),
            "rows": rows,
            "fingerprint": self.fingerprint,
            "provenance": self.provenance,
            "shards": entries,
        }
        if "config" in self.provenance:
            with atomic_output(self.folder / CONFIG_FILE, overwrite=True) as tmp:
                tmp.write_text(str(self.provenance["config"]))
        final = self.folder / MANIFEST
        with atomic_output(final, overwrite=True) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return final
