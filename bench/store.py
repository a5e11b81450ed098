"""Store write/read throughput against plain h5py on the same arrays, and ROOT import against
plain ``uproot.arrays``; both measured in the same run, printed as JSON with ratios.

    python bench/store.py [--rows 100000] [--repeat 2]

Arrays are calorimeter-image-like: rows x 4 x 56 x 11 float32 (a sparse, shower-shaped core with
noise), i.e. 9.9 kB per event. The baseline uses the same chunking and compression (lzf+shuffle),
so the ratio measures the store's own overhead (schema checks, provenance, temporary rename).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import uproot

from heplearn.data import StoreWriter, import_file, open_store

BATCH = 10_000


def images(rows: int, seed: int = 0) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    eta = np.arange(56)[:, None] - 27.5
    phi = np.arange(11)[None, :] - 5.0
    core = np.exp(-0.5 * ((eta / 6.0) ** 2 + (phi / 1.5) ** 2)).astype(np.float32)
    energy = rng.uniform(5, 300, (rows, 4, 1, 1)).astype(np.float32)
    noise = rng.normal(0, 0.02, (rows, 4, 56, 11)).astype(np.float32)
    return energy * core[None, None] / core.sum() + noise


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_root_import(folder: Path, n_root: int, repeat: int) -> dict[str, Any]:
    """ROOT import rows/s: heplearn vs uproot.arrays, and vs uproot + a hand-written h5py dump."""
    # ROOT import: a flat ntuple of 20 float branches and one jagged branch.
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 6, n_root)
    branches: dict[str, Any] = {
        f"x{i}": rng.normal(size=n_root).astype(np.float32) for i in range(20)
    }
    branches["trk_pt"] = ak.unflatten(
        rng.exponential(3, int(counts.sum())).astype(np.float32), counts
    )
    with uproot.recreate(folder / "n.root") as handle:
        handle.mktree(
            "t", {k: ("var * float32" if k == "trk_pt" else np.float32) for k in branches}
        )
        handle["t"].extend(branches)

    def uproot_arrays() -> None:
        uproot.open(folder / "n.root")["t"].arrays(library="ak")

    def uproot_then_h5py() -> None:
        # What a user writes by hand: read everything, write each branch with h5py.
        arrays = uproot.open(folder / "n.root")["t"].arrays(library="ak")
        options = {"compression": "lzf", "shuffle": True}
        with h5py.File(folder / "hand.h5", "w") as handle:
            for name in arrays.fields:
                column = arrays[name]
                if column.ndim == 1:
                    handle.create_dataset(name, data=ak.to_numpy(column), **options)
                else:
                    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(column)))])
                    handle.create_dataset(f"{name}/offsets", data=offsets, **options)
                    handle.create_dataset(
                        f"{name}/content", data=ak.to_numpy(ak.flatten(column)), **options
                    )

    def heplearn_import() -> None:
        import_file(folder / "n.root", folder / "n.h5", overwrite=True, step_rows=100_000)

    t_uproot = best_of(repeat, uproot_arrays)
    t_import = best_of(repeat, heplearn_import)
    t_hand = best_of(repeat, uproot_then_h5py)

    return {
        "root_import_rows_per_s": {
            "heplearn_import": round(n_root / t_import),
            "uproot_arrays": round(n_root / t_uproot),
            "uproot_arrays_plus_h5py_write": round(n_root / t_hand),
        },
        "root_import_ratio_vs_uproot": round(t_uproot / t_import, 3),
        "root_import_ratio_vs_uproot_plus_h5py": round(t_hand / t_import, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data = images(args.rows)
    energy = data.sum(axis=(1, 2, 3))
    megabytes = (data.nbytes + energy.nbytes) / 1e6
    chunk_rows = max(1, (1 << 20) // (4 * 56 * 11 * 4))

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def write_plain() -> None:
            with h5py.File(folder / "plain.h5", "w") as handle:
                options = {"compression": "lzf", "shuffle": True}
                img = handle.create_dataset(
                    "images/em",
                    shape=data.shape,
                    dtype="f4",
                    chunks=(chunk_rows, 4, 56, 11),
                    **options,
                )
                en = handle.create_dataset(
                    "truth/energy",
                    shape=energy.shape,
                    dtype="f4",
                    chunks=(min(65536, args.rows),),
                    **options,
                )
                for start in range(0, args.rows, BATCH):
                    img[start : start + BATCH] = data[start : start + BATCH]
                    en[start : start + BATCH] = energy[start : start + BATCH]

        def write_store() -> None:
            with StoreWriter(
                folder / "store.h5", provenance={"bench": 1}, overwrite=True
            ) as writer:
                for start in range(0, args.rows, BATCH):
                    writer.append(
                        {
                            "images/em": data[start : start + BATCH],
                            "truth/energy": energy[start : start + BATCH],
                        }
                    )

        def read_plain() -> None:
            with h5py.File(folder / "plain.h5", "r") as handle:
                for start in range(0, args.rows, BATCH):
                    handle["images/em"][start : start + BATCH]
                    handle["truth/energy"][start : start + BATCH]

        def read_store() -> None:
            for _ in open_store(folder / "store.h5").iter_batches(batch_size=BATCH):
                pass

        t_write_plain = best_of(args.repeat, write_plain)
        t_write_store = best_of(args.repeat, write_store)
        t_read_plain = best_of(args.repeat, read_plain)
        t_read_store = best_of(args.repeat, read_store)

        root = bench_root_import(folder, args.rows * 5, args.repeat)
    result = {
        "rows": args.rows,
        "megabytes": round(megabytes, 1),
        "write_MBps": {
            "store": round(megabytes / t_write_store, 1),
            "plain_h5py": round(megabytes / t_write_plain, 1),
        },
        "read_MBps": {
            "store": round(megabytes / t_read_store, 1),
            "plain_h5py": round(megabytes / t_read_plain, 1),
        },
        "write_overhead": round(t_write_store / t_write_plain - 1, 3),
        "read_overhead": round(t_read_store / t_read_plain - 1, 3),
        **root,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
