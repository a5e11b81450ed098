"""``data inspect``: what a store holds, as one JSON-able dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heplearn.data.reader import open_store

__all__ = ["describe_store"]


def describe_store(path: str | Path, *, check_finite: bool = False) -> dict[str, Any]:
    """Rows, fields (name → dtype/shape/jagged), schema version, shards, provenance."""
    store = open_store(path)
    summary: dict[str, Any] = {
        "path": str(store.path),
        "format": "sharded" if store.is_sharded else "file",
        "schema_version": store.schema_version,
        "rows": store.rows,
        "shards": len(store.segments),
        "fields": {
            name: {"dtype": spec.dtype, "shape": list(spec.shape), "jagged": spec.jagged}
            for name, spec in store.schema.items()
        },
        "provenance": store.provenance,
    }
    if check_finite:
        summary["nonfinite"] = store.nonfinite_counts()
    return summary
