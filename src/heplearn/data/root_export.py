"""``data export``: a store → one ROOT TTree (uproot), batch by batch.

Field paths become branch names with ``/`` replaced by ``_`` (``truth/energy``
→ ``truth_energy``); fixed-shape fields become fixed-size array branches and
jagged fields variable-length branches with an ``n<name>`` counter.  The
branch → field names are stored beside the tree in a ``TObjString`` so that
``data import`` restores the original field names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import uproot

from heplearn.data.atomic import atomic_output
from heplearn.data.reader import open_store
from heplearn.data.root_source import FIELDS_OBJECT
from heplearn.data.schema import FieldSpec
from heplearn.errors import DataError
from heplearn.progress import progress_bar

__all__ = ["branch_names", "export_root"]


def branch_names(fields: list[str]) -> dict[str, str]:
    """Store field → unique ROOT branch name."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for field in fields:
        branch = field.replace("/", "_").replace("-", "_").replace(".", "_")
        while branch in taken or f"n{branch}" in taken:
            branch += "_"
        names[field] = branch
        taken.add(branch)
    return names


def _branch_type(spec: FieldSpec) -> np.dtype[np.generic] | str:
    if spec.jagged:
        return f"var * {spec.dtype}"
    if spec.shape:
        return np.dtype((np.dtype(spec.dtype), spec.shape))
    return np.dtype(spec.dtype)


def export_root(
    store_path: str | Path,
    out: str | Path,
    *,
    tree: str = "events",
    overwrite: bool = False,
    batch_size: int = 50_000,
    progress: bool = False,
) -> Path:
    """Write every field of a store to TTree ``tree`` of a new ROOT file ``out``."""
    out = Path(out)
    store = open_store(store_path)
    if store.rows == 0:
        raise DataError("empty store", str(store_path), "it has no rows", "nothing to export")
    names = branch_names(list(store.schema))
    with (
        atomic_output(out, overwrite=overwrite) as tmp,
        uproot.recreate(tmp) as handle,
        progress_bar(f"export {out.name}", store.rows, enabled=progress) as advance,
    ):
        handle.mktree(tree, {names[f]: _branch_type(s) for f, s in store.schema.items()})
        for batch in store.iter_batches(batch_size=batch_size):
            handle[tree].extend({names[f]: column for f, column in batch.items()})
            advance(len(next(iter(batch.values()))))
        handle[FIELDS_OBJECT] = json.dumps({b: f for f, b in names.items()}, sort_keys=True)
    return out
