"""Sharded stores: a folder of ``shard-NNNNN.h5`` files plus ``manifest.json``.

A new store is written into the hidden sibling ``.NAME.partial`` and renamed to
``NAME`` when its manifest is written, so a store under its final name is always
complete and an older store it replaces stays intact until then.  Each shard is
written atomically and stamped with the run's *fingerprint* (a hash of
everything that determines its content: resolved config, seed, shard layout)
and its value checksums.  A rerun of the same command skips shards already
complete whose checksums still hold (a corrupt one is regenerated), so a killed
run resumes; a different run into the same folder is refused unless ``overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py

from heplearn.data.atomic import (
    atomic_output,
    is_stale,
    remove_path,
    remove_stale_temporaries,
    replace_path,
)
from heplearn.data.checksums import CHECKSUM_ATTR, FIELD_CHECKSUMS_ATTR, checksum_columns
from heplearn.data.integrity import stamped_checksums, verify_file
from heplearn.data.schema import SCHEMA_VERSION, Column
from heplearn.data.writer import StoreWriter
from heplearn.errors import DataError, OutputExistsError, SchemaError

__all__ = [
    "CONFIG_FILE",
    "MANIFEST",
    "CorruptShardWarning",
    "ShardedWriter",
    "partial_folder",
    "run_fingerprint",
    "shard_name",
]

MANIFEST = "manifest.json"
#: The fully resolved config of the run, written beside the shards.
CONFIG_FILE = "config.yaml"
_FINGERPRINT = "heplearn_fingerprint"


class CorruptShardWarning(UserWarning):
    """A finished shard failed its checksums on a rerun and is written again."""


def run_fingerprint(resolved_config: str) -> str:
    """Hash of a run's resolved config (YAML text, seed included): equal hashes, same shards."""
    return hashlib.sha256(resolved_config.encode()).hexdigest()[:16]


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


def partial_folder(final: Path) -> Path:
    """The hidden sibling a store is written into before it is renamed to ``final``."""
    return final.parent / f".{final.name}.partial"


def _read_attr(path: Path, key: str) -> str | None:
    try:
        with h5py.File(path, "r") as handle:
            value = handle.attrs.get(key)
    except OSError:
        return None
    return None if value is None else str(value)


class ShardedWriter:
    """Writes the shards of one run and, at the end, its manifest; then renames it to ``folder``.

    ``self.folder`` is where the shards go: the hidden ``.NAME.partial`` sibling, or the
    final folder itself when it already holds this run (a rerun repairs it in place).
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        fingerprint: str,
        provenance: Mapping[str, Any],
        overwrite: bool = False,
    ) -> None:
        self.final = Path(folder)
        self.folder = partial_folder(self.final)
        self.fingerprint = fingerprint
        self.provenance = dict(provenance)
        self._prepare(overwrite)

    @classmethod
    def attach(
        cls, folder: str | Path, *, fingerprint: str, provenance: Mapping[str, Any]
    ) -> ShardedWriter:
        """A writer for a worker process writing into ``folder`` (the coordinator's
        ``writer.folder``): nothing is checked or cleaned (other workers' files are in flight)."""
        writer = cls.__new__(cls)
        writer.final = writer.folder = Path(folder)
        writer.fingerprint = fingerprint
        writer.provenance = dict(provenance)
        return writer

    def _prepare(self, overwrite: bool) -> None:
        final = self.final
        remove_stale_temporaries(final)
        if final.exists() and not final.is_dir() and not overwrite:
            raise OutputExistsError(
                "output exists",
                str(final),
                "it is a file, not a store folder",
                "pass --overwrite or choose another output path",
            )
        if final.is_dir() and self._is_this_run(final):
            self.folder = final  # the same run again: check its shards and repair in place
        elif final.is_dir() and not overwrite:
            raise OutputExistsError(
                "output exists",
                str(final),
                "it holds other files or a run with a different config or seed",
                "pass --overwrite or choose another output folder",
            )
        # The partial folder is private to runs into this output: another run's is dropped.
        partial = partial_folder(final)
        if partial.exists() and (self.folder != partial or not self._is_this_run(partial)):
            remove_path(partial)
        self.folder.mkdir(parents=True, exist_ok=True)
        # Half-written shards of a killed run: never under a final name, safe to drop.
        for stale in self.folder.glob(".shard-*.tmp-*"):
            if is_stale(stale):
                remove_path(stale)

    def _is_this_run(self, folder: Path) -> bool:
        if not folder.is_dir():
            return False
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        return all(self._of_this_run(entry) for entry in entries)

    def _of_this_run(self, entry: Path) -> bool:
        if entry.name == CONFIG_FILE:
            return True  # rewritten by every run with the same fingerprint
        if entry.name == MANIFEST:
            try:
                manifest = json.loads(entry.read_text())
            except ValueError:
                return False
            return isinstance(manifest, dict) and manifest.get("fingerprint") == self.fingerprint
        if entry.name.startswith("shard-") and entry.suffix == ".h5":
            return _read_attr(entry, _FINGERPRINT) == self.fingerprint
        return False

    def shard_path(self, index: int) -> Path:
        return self.folder / shard_name(index)

    def _stamped(self, index: int) -> bool:
        path = self.shard_path(index)
        return path.is_file() and _read_attr(path, _FINGERPRINT) == self.fingerprint

    def is_done(self, index: int) -> bool:
        """Whether shard ``index`` of this run is complete and intact (so a rerun skips it).

        Its values are read back and checked against the checksums stamped when it was
        written: a shard that fails is not trusted, and the rerun writes it again.
        """
        if not self._stamped(index):
            return False
        path = self.shard_path(index)
        try:
            verify_file(path, *stamped_checksums(path))
        except (DataError, OSError) as err:
            message = err.message if isinstance(err, DataError) else str(err)
            warnings.warn(f"{message}: it is generated again", CorruptShardWarning, stacklevel=2)
            return False
        return True

    def write_shard(self, index: int, columns: Mapping[str, Column]) -> Path:
        """Write one shard atomically (replacing a stale one of the same index)."""
        # The writer stamps the per-field checksums; the overall one is the manifest's.
        attributes = {_FINGERPRINT: self.fingerprint, CHECKSUM_ATTR: checksum_columns(columns)}
        path = self.shard_path(index)
        with StoreWriter(
            path, provenance=self.provenance, overwrite=True, attributes=attributes
        ) as writer:
            writer.append(columns)
        return path

    def finalize(self, n_shards: int) -> Path:
        """Check that shards ``0..n_shards-1`` are complete and consistent, write the manifest
        and rename the store to its final name; the path of the manifest."""
        entries = []
        schema_json = None
        rows = 0
        for index in range(n_shards):
            path = self.shard_path(index)
            if not self._stamped(index):
                raise SchemaError(
                    f"shard {index} missing",
                    str(self.folder),
                    "the run did not write it",
                    "rerun the same command to resume",
                )
            with h5py.File(path, "r") as handle:
                shard_schema = str(handle.attrs["heplearn_schema"])
                shard_rows = int(handle.attrs["heplearn_rows"])
                checksum = str(handle.attrs[CHECKSUM_ATTR])
                fields = handle.attrs.get(FIELD_CHECKSUMS_ATTR)
            if schema_json is None:
                schema_json = shard_schema
            elif shard_schema != schema_json:
                raise SchemaError(
                    f"shard {index} schema",
                    str(path),
                    "its fields differ from shard 0",
                    "write the same fields in every shard",
                )
            entry: dict[str, Any] = {"file": path.name, "rows": shard_rows, "checksum": checksum}
            if fields is not None:
                entry["field_checksums"] = json.loads(str(fields))
            entries.append(entry)
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
        with atomic_output(self.folder / MANIFEST, overwrite=True) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if self.folder != self.final:
            replace_path(self.folder, self.final)
            self.folder = self.final
        return self.final / MANIFEST
