"""Occupancy maps of the user's own detector: ROOT files of TH2 histograms, or HDF5 arrays.

- **ROOT**: every TH2 (TH2F/D/I/S/C) in the file, subdirectories included, in the
  order of the file's keys; the map name is the key path without its ``;cycle``
  (the highest cycle wins).  The map array is uproot's ``values()`` (first index =
  x bin), so flagged ``[row, col]`` = ``[x bin − 1, y bin − 1]``.  All histograms
  must have the same binning shape.
- **HDF5**: one numeric dataset of shape (N, H, W) or (N, H, W, D); ``dataset``
  picks it when the file holds several.  A generated DQM store (file or sharded
  folder, with labels) is read as such.

User maps carry no event count: ``n_events`` is each map's total count, so the
reference rate is hits per hit (a per-hit-normalised occupancy shape).  Maps
are unlabelled; empty maps are kept (their verdict is "no-statistics").
Negative or NaN counts are refused, naming the map and how many channels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from heplearn.data.root_header import check_root_complete
from heplearn.data.sources import detect_format
from heplearn.dqm.maps import STORE_FIELDS, MapSet, check_counts, load_mapset
from heplearn.errors import DataError

__all__ = ["TH2_CLASSES", "read_user_maps"]

TH2_CLASSES = ("TH2F", "TH2D", "TH2I", "TH2S", "TH2C")


def _without_cycle(key: str) -> str:
    return key.rsplit(";", 1)[0]


def _read_root(path: Path) -> MapSet:
    import uproot

    check_root_complete(path)
    try:
        handle = uproot.open(path)
    except (OSError, ValueError) as err:
        raise DataError(
            "cannot read ROOT file", str(path), f"it is truncated or corrupt ({err})", "re-copy it"
        ) from err
    with handle:
        classes: dict[str, str] = dict(handle.classnames())
        # Keep the highest cycle of each name, in the order the keys are listed.
        best: dict[str, tuple[int, str]] = {}
        for key in classes:
            name, _, cycle = key.rpartition(";")
            number = int(cycle) if cycle.isdigit() else 0
            if name not in best or number > best[name][0]:
                best[name] = (number, key)
        keys = [key for name, (_, key) in best.items() if classes[key] in TH2_CLASSES]
        if not keys:
            held = ", ".join(f"{classes[k]} {_without_cycle(k)}" for k in classes) or "nothing"
            raise DataError(
                "no TH2 histograms",
                str(path),
                f"the file holds {held}",
                "give a ROOT file of TH2 occupancy maps, or an HDF5 file of (N, H, W) arrays",
            )
        arrays = [np.asarray(handle[key].values(), dtype=np.float64) for key in keys]
    names = [_without_cycle(k) for k in keys]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        listed = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays, strict=True))
        raise DataError(
            "TH2 histograms of different binning",
            str(path),
            f"all maps must have one shape; found {listed}",
            "put maps of one detector region per file",
        )
    counts = np.stack(arrays).astype(np.float32)
    maps = MapSet.from_counts(counts, names=names)
    check_counts(maps, str(path))
    return maps


def _datasets(handle: h5py.File) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    found: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}

    def visit(name: str, node: Any) -> None:
        if isinstance(node, h5py.Dataset):
            found[name] = (tuple(node.shape), node.dtype)

    handle.visititems(visit)
    return found


def _describe(datasets: dict[str, tuple[tuple[int, ...], np.dtype[Any]]]) -> str:
    return ", ".join(f"{n} {s}" for n, (s, _) in datasets.items()) or "no datasets"


def _read_hdf5(path: Path, dataset: str | None) -> MapSet:
    try:
        with h5py.File(path, "r") as handle:
            if "heplearn_schema_version" in handle.attrs and all(f in handle for f in STORE_FIELDS):
                return load_mapset(path)
            datasets = _datasets(handle)
            candidates = [
                n
                for n, (shape, dtype) in datasets.items()
                if len(shape) in (3, 4) and np.issubdtype(dtype, np.number)
            ]
            if dataset is not None:
                if dataset not in datasets:
                    raise DataError(
                        f"dataset {dataset!r} not found",
                        str(path),
                        f"the file holds {_describe(datasets)}",
                        "pass --dataset with one of these names",
                    )
                if dataset not in candidates:
                    raise DataError(
                        f"dataset {dataset!r}",
                        str(path),
                        f"has shape {datasets[dataset][0]}, not (N, H, W) or (N, H, W, D) numbers",
                        "pick a stack of maps",
                    )
                chosen = dataset
            elif len(candidates) == 1:
                chosen = candidates[0]
            elif not candidates:
                raise DataError(
                    "no map dataset",
                    str(path),
                    f"no (N, H, W) or (N, H, W, D) dataset; the file holds {_describe(datasets)}",
                    "store the maps as one stacked array",
                )
            else:
                listed = ", ".join(f"{n} {datasets[n][0]}" for n in candidates)
                raise DataError(
                    "several map datasets",
                    str(path),
                    f"candidates are {listed}",
                    "choose one with --dataset NAME",
                )
            counts = np.asarray(handle[chosen][...], dtype=np.float32)
    except OSError as err:
        raise DataError(
            "cannot read HDF5 file", str(path), f"it is truncated or corrupt ({err})", "re-copy it"
        ) from err
    maps = MapSet.from_counts(counts)
    check_counts(maps, f"{path}:{chosen}")
    return maps


def read_user_maps(path: str | Path, dataset: str | None = None) -> MapSet:
    """Read maps from a ROOT file of TH2 histograms or an HDF5 file (see module docstring)."""
    path = Path(path)
    if path.is_dir():
        # A sharded generated store (folder of shards).
        return load_mapset(path)
    kind = detect_format(path)
    if kind == "root":
        if dataset is not None:
            raise DataError(
                "--dataset given for a ROOT file",
                str(path),
                "every TH2 in a ROOT file is read",
                "drop --dataset",
            )
        return _read_root(path)
    if kind == "hdf5":
        return _read_hdf5(path, dataset)
    raise DataError(
        "unsupported map file",
        str(path),
        f"a {kind.upper()} file cannot hold maps",
        "give a ROOT file of TH2 histograms or an HDF5 file of (N, H, W[, D]) arrays",
    )
