"""The online part of the DQM demo: held-out maps as lumisection files, watched into a history.

The demo's held-out maps are written as HDF5 files ``dqm-incoming/run<N>_ls<LS>.h5``
(``PER_FILE`` lumisections each, written atomically) and checked by ``dqm watch --once``
with the demo's qtest run into ``dqm-history.sqlite``, so ``heplearn dqm serve`` has a
history to show.  A rerun adds nothing for files whose content is already recorded
(watch's rule); certification decisions made on the demo history are kept.
"""

from __future__ import annotations

from pathlib import Path

import h5py

from heplearn.data.atomic import atomic_output
from heplearn.dqm.history import open_history
from heplearn.dqm.maps import MapSet
from heplearn.dqm.watch import Watcher, watch

__all__ = ["HISTORY", "INCOMING", "PER_FILE", "serve_command", "write_demo_history"]

HISTORY = "dqm-history.sqlite"
INCOMING = "dqm-incoming"
#: Lumisections per map file.
PER_FILE = 8


def serve_command(out: Path) -> str:
    """The command that serves the demo's DQM history."""
    return f"heplearn dqm serve --history {out / HISTORY} --maps {out / INCOMING}"


def write_demo_history(out: Path, run: Path, maps: MapSet, *, cms_run: int) -> int:
    """Write ``maps`` as lumisection files of ``cms_run`` and watch them; maps recorded now."""
    incoming = out / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(maps), PER_FILE):
        path = incoming / f"run{cms_run}_ls{start + 1:04d}.h5"
        with atomic_output(path, overwrite=True) as tmp, h5py.File(tmp, "w") as handle:
            handle.create_dataset("maps", data=maps.counts[start : start + PER_FILE])
    with open_history(out / HISTORY, create=True) as history:
        watcher = Watcher(incoming, run, history, log=lambda _line: None)
        watch(watcher, interval=0.0, once=True)
    return watcher.maps_recorded
