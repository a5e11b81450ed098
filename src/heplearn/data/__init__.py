"""The data store: schema'd columnar HDF5, sharded atomic writes, ROOT/CSV/HDF5 in and out."""

from __future__ import annotations

from heplearn.data.importer import ImportSummary, import_file
from heplearn.data.inspect import describe_store
from heplearn.data.mapping import ImportMapping
from heplearn.data.reader import Store, open_store
from heplearn.data.root_export import export_root
from heplearn.data.schema import SCHEMA_VERSION, FieldSpec
from heplearn.data.shards import ShardedWriter
from heplearn.data.writer import StoreWriter, write_store

__all__ = [
    "SCHEMA_VERSION",
    "FieldSpec",
    "ImportMapping",
    "ImportSummary",
    "ShardedWriter",
    "Store",
    "StoreWriter",
    "describe_store",
    "export_root",
    "import_file",
    "open_store",
    "write_store",
]
