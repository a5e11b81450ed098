"""Where DQM maps come from: a generated store (labelled) or the user's own ROOT/HDF5 maps.

A folder, or an HDF5 file carrying the heplearn store attributes, is a generated
store; any other ``.root``/HDF5 file is read as the user's unlabelled maps
(ROOT TH2 histograms, or an ``(N, H, W[, D])`` dataset).
"""

from __future__ import annotations

from pathlib import Path

import h5py

from heplearn.dqm.maps import MapSet, check_counts, load_mapset
from heplearn.dqm.user_maps import read_user_maps
from heplearn.errors import DataError

__all__ = ["is_generated_store", "load_maps"]


def is_generated_store(path: Path) -> bool:
    """Whether ``path`` is a heplearn store (sharded folder or store file), not user maps."""
    if path.is_dir():
        return True
    if path.suffix.lower() == ".root":
        return False
    try:
        with h5py.File(path, "r") as handle:
            return "heplearn_schema_version" in handle.attrs
    except OSError:
        return False


def load_maps(path: str | Path, dataset: str | None = None) -> MapSet:
    """Maps of ``path`` with their counts checked (finite, ≥ 0); labelled for generated stores."""
    path = Path(path)
    if not path.exists():
        raise DataError("maps not found", str(path), "no such file or folder", "check the path")
    if is_generated_store(path):
        if dataset is not None:
            raise DataError(
                "option --dataset",
                str(path),
                "this is a generated heplearn store, which has one map field",
                "leave --dataset out",
            )
        maps = load_mapset(path)
    else:
        maps = read_user_maps(path, dataset)
    check_counts(maps, str(path))
    return maps
