"""A small DQM history for the dashboard tests, made by the real tools (seconds).

A qtest run (statistical thresholds, 5 × 5 blocks) trained on 40 good 16 × 24 × 2 maps,
then ``dqm watch --once`` over HDF5 files named ``run<N>_ls<LS>.h5`` holding 4
lumisections each: run 355100 with a hot channel (ls 3), a dead block (ls 6) and a hot
pair (ls 10); run 355101 with good maps and a truncated, unreadable file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from heplearn.cli.main import main
from heplearn.dqm.history import open_history
from heplearn.dqm.watch import Watcher, watch

H, W, D = 16, 24, 2
RUN, OTHER_RUN = 355100, 355101
#: ls → the channels (row, col, depth) made faulty, and how.
FAULTS = {
    3: ("hot", [(2, 5, 1)]),
    6: ("dead", [(r, c, 0) for r in range(5, 10) for c in range(10, 15)]),
    10: ("hot", [(12, 20, 0), (12, 21, 0)]),
}


def maps(n: int, seed: int) -> np.ndarray:
    """(n, H, W, D) Poisson counts around 400 with a ±5 % channel response."""
    rng = np.random.default_rng(seed)
    rate = 400.0 * np.random.default_rng(0).lognormal(0.0, 0.05, (H, W, D))
    return rng.poisson(rate[None] * rng.uniform(0.95, 1.05, (n, 1, 1, 1))).astype(np.float32)


def write_h5(path: Path, stack: np.ndarray) -> Path:
    tmp = path.parent / f".{path.name}.tmp"
    with h5py.File(tmp, "w") as handle:
        handle["maps"] = stack.astype(np.float32)
    tmp.replace(path)
    return path


def lumisection_maps(first_ls: int, n: int, seed: int) -> np.ndarray:
    """Maps of lumisections first_ls … first_ls + n − 1 with the FAULTS injected."""
    stack = maps(n, seed)
    for i in range(n):
        kind, channels = FAULTS.get(first_ls + i, (None, []))
        for r, c, d in channels:
            stack[i, r, c, d] = 0.0 if kind == "dead" else stack[i, r, c, d] * 4.0
    return stack


@dataclass(frozen=True)
class Made:
    history: Path
    maps: Path  # the watched folder
    run: Path  # the qtest run


def train(folder: Path) -> Path:
    reference = write_h5(folder / "reference.h5", maps(40, seed=1))
    run = folder / "run-qtest"
    args = ["dqm", "train", "--model", "qtest", "--data", str(reference), "--out", str(run)]
    assert main(args) == 0
    return run


def watch_once(folder: Path, run: Path, history: Path) -> None:
    with open_history(history, create=True) as opened:
        watch(Watcher(folder, run, opened, log=lambda _line: None), interval=0.0, once=True)


def make_history(folder: Path) -> Made:
    """Train, write the map files and watch them into ``folder/history.sqlite``."""
    folder.mkdir(parents=True, exist_ok=True)
    run = train(folder)
    incoming = folder / "incoming"
    incoming.mkdir()
    clock = 1_700_000_000
    for index, first in enumerate((1, 5, 9)):
        path = write_h5(
            incoming / f"run{RUN}_ls{first:04d}.h5", lumisection_maps(first, 4, 10 + index)
        )
        os.utime(path, (clock + index, clock + index))  # the order watch takes them in
    write_h5(incoming / f"run{OTHER_RUN}_ls0001.h5", maps(3, seed=30))
    bad = incoming / f"run{OTHER_RUN}_ls0010.h5"
    data = write_h5(folder / "whole.h5", maps(2, seed=31)).read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    history = folder / "history.sqlite"
    watch_once(incoming, run, history)
    return Made(history, incoming, run)
