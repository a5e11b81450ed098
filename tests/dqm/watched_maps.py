"""Small map files for the watch / history / certify tests: ROOT TH2 and HDF5, 16 × 24 channels."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import h5py
import numpy as np

from heplearn.cli.main import main

H, W = 16, 24


def maps(n: int, seed: int) -> np.ndarray:
    """(n, H, W) Poisson counts around 200 with a ±5 % channel response."""
    rng = np.random.default_rng(seed)
    rate = 200.0 * np.random.default_rng(0).lognormal(0.0, 0.05, (H, W))
    return rng.poisson(rate[None] * rng.uniform(0.9, 1.1, (n, 1, 1))).astype(np.float64)


def write_root(path: Path, named: dict[str, np.ndarray]) -> Path:
    import uproot

    with uproot.recreate(path) as handle:
        for name, values in named.items():
            handle[name] = (values, np.linspace(0, 1, H + 1), np.linspace(0, 1, W + 1))
    return path


def write_h5(path: Path, stack: np.ndarray) -> Path:
    with h5py.File(path, "w") as handle:
        handle["maps"] = stack.astype(np.float32)
    return path


def drop(path: Path, data: bytes) -> Path:
    """Write ``data`` as a well-behaved producer does: a hidden temporary, then a rename."""
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def train_qtest(folder: Path) -> Path:
    """A qtest run on 40 good reference maps (a fraction of a second)."""
    reference = write_h5(folder / "reference.h5", maps(40, seed=1))
    run = folder / "run-qtest"
    assert (
        main(["dqm", "train", "--model", "qtest", "--data", str(reference), "--out", str(run)]) == 0
    )
    return run


def recorded(history: Path) -> list[tuple[str, str, int | None, int | None, str]]:
    """(file name, map, run, lumisection, verdict) of every verdict, in the order recorded."""
    if not history.exists():
        return []
    uri = f"file:{history}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        try:
            rows = db.execute(
                "SELECT f.path, v.map, v.run, v.lumisection, v.verdict FROM verdicts v"
                " JOIN files f ON f.id = v.file_id ORDER BY v.id"
            ).fetchall()
        except sqlite3.OperationalError:  # being created
            return []
    return [(Path(p).name, m, r, ls, v) for p, m, r, ls, v in rows]
