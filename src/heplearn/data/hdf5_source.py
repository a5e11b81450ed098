"""Plain HDF5 files (not heplearn stores) and heplearn stores as a chunked column source.

In a plain file every numeric dataset whose first axis has the common event
count is a column (``images/em_barrel`` …, as in the DeepCalo files); a
heplearn store is read through the store reader, so its jagged fields survive.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np

from heplearn.data.reader import open_store
from heplearn.data.schema import Column
from heplearn.data.sources import SourceColumn
from heplearn.errors import DataError

__all__ = ["Hdf5Source"]


class Hdf5Source:
    """Datasets of an HDF5 file that share the leading (event) axis."""

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        self._path = path
        try:
            with h5py.File(path, "r") as handle:
                self._is_store = "heplearn_schema_version" in handle.attrs
                datasets: dict[str, h5py.Dataset] = {}
                handle.visititems(
                    lambda name, node: (
                        datasets.__setitem__(name, node) if isinstance(node, h5py.Dataset) else None
                    )
                )
                self._shapes = {n: (d.shape, d.dtype) for n, d in datasets.items()}
        except OSError as err:
            raise DataError(
                "cannot read HDF5 file",
                str(path),
                f"the file is truncated or corrupt ({err})",
                "re-copy or regenerate it",
            ) from err
        if self._is_store:
            self._store = open_store(path)
            self.rows: int | None = self._store.rows
            return
        leading = [shape[0] for shape, _ in self._shapes.values() if len(shape) >= 1]
        if not leading:
            raise DataError("no datasets", str(path), "the file holds no arrays", "check the file")
        # The event count is the most common first-axis length among the datasets.
        values, counts = np.unique(leading, return_counts=True)
        self.rows = int(values[np.argmax(counts)])

    def columns(self) -> list[SourceColumn]:
        if self._is_store:
            return [SourceColumn(n, s.describe()) for n, s in self._store.schema.items()]
        return [
            SourceColumn(
                name,
                f"{dtype} {shape}",
                len(shape) >= 1 and shape[0] == self.rows and np.dtype(dtype).kind in "biuf",
            )
            for name, (shape, dtype) in self._shapes.items()
        ]

    def native_fields(self) -> dict[str, str]:
        """For a heplearn store, each field keeps its own name."""
        if self._is_store:
            return {name: name for name in self._store.schema}
        return {}

    def iter_chunks(self, names: Sequence[str], step_rows: int) -> Iterator[dict[str, Column]]:
        if self._is_store:
            yield from self._store.iter_batches(batch_size=step_rows, fields=names)
            return
        assert self.rows is not None
        with h5py.File(self._path, "r") as handle:
            for start in range(0, self.rows, step_rows):
                stop = min(start + step_rows, self.rows)
                yield {name: np.asarray(handle[name][start:stop]) for name in names}
