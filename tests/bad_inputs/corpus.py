"""The bad-input corpus, made at test time: damaged, wrongly typed or invalid files.

Each entry is a file that a reading command must refuse with one ``error:`` line
naming it (and the field where there is one).  Nothing binary is committed: the
files are written from small valid ones by truncating, overwriting or editing them.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import uproot

from heplearn.data import open_store
from heplearn.data.writer import StoreWriter
from heplearn.dqm.history import open_history


@dataclass(frozen=True)
class Bad:
    """One corpus file and the fragment (beyond its path) the error line must contain."""

    name: str
    field: str = ""


#: Files a command reading a store, a ROOT/HDF5/CSV source or a map file must refuse.
DATA = [
    Bad("empty.h5"),
    Bad("empty.root"),
    Bad("garbage.h5"),
    Bad("garbage.root"),
    Bad("truncated.h5"),
    Bad("truncated.root"),
    # uproot still reads a TH2 from this one: only the header's fEND gives it away.
    Bad("truncated-th2.root", "truncated ROOT file"),
    Bad("wrong-shape.h5", "truth/energy"),
    Bad("wrong-dtype.h5", "truth/energy"),
    Bad("strings.h5"),
    Bad("empty.csv"),
]
#: A store or map file whose values are not physical.
NAN_STORE = Bad("nan.h5", "truth/energy")
NEGATIVE_MAPS = Bad("negative-maps.h5", "negative")
#: A copy of the session's calibration store with a NaN in one field (see ``add_nan``).
GUN_NAN = Bad("gun-nan", "scalars/e_acc")
#: The guns' scalars as simulated with another geometry, and without one scalar (calib compare).
GUN_OTHER_GEOMETRY = Bad("gun-cms.h5", "cms-ecal")
GUN_FEWER_SCALARS = Bad("gun-no-f0.h5", "missing scalars f0")
#: A copy of the corpus' search store whose signal events all weigh 0 (see ``zero_signal``).
ZERO_SIGNAL = Bad("search-zero-signal", "signal with zero expected events in every bin")
#: Config kind → (a field, a value of the wrong type for it).
WRONG_TYPE = {
    "calib-train": ("epochs", "trainer: {epochs: many}"),
    "calib-study": ("n_trials", "n_trials: many"),
    "calib-sample": ("events", "events: many"),
    "dqm-model": ("epochs", "trainer: {epochs: many}"),
    "dqm-sample": ("events", "events: many"),
    "dqm-ecal-sample": ("events", "events: many"),
    "search-train": ("sigma_b", "sigma_b: lots"),
    "search-sample": ("seed", "seed: [1, 2]"),
    "import-mapping": ("tree", "tree: [a, b]"),
}


def configs(kind: str) -> list[Bad]:
    """The YAML files of one config kind: wrong type, unknown key, not YAML, empty."""
    return [
        Bad(f"{kind}/wrong-type.yaml", WRONG_TYPE[kind][0]),
        Bad(f"{kind}/unknown-key.yaml", "epochz"),
        Bad(f"{kind}/not-yaml.yaml"),
        Bad(f"{kind}/empty.yaml"),
    ]


#: Files a command reading a DQM history must refuse, untouched.
HISTORIES = [
    Bad("not-a-history.sqlite", "heplearn_history"),
    Bad("newer-history.sqlite", "schema_version"),
    Bad("garbage.h5"),
    Bad("empty.h5"),
]
#: Grouping files ``dqm train --geometry`` must refuse for the corpus' 16 × 24 × 2 maps.
GROUPINGS = [
    Bad("groupings/outside.yaml", "outside the maps"),
    Bad("groupings/gap.yaml", "in no group"),
    Bad("groupings/bad-entry.yaml", "is not [row, col]"),
    Bad("groupings/not-a-mapping.yaml", "not a mapping"),
    Bad("groupings/not-yaml.yaml", "unreadable grouping file"),
]
_GROUPING_TEXT = {
    "outside.yaml": "SM1: [[20, 3], [1, 1]]\n",
    "gap.yaml": "top: {rows: [0, 8], cols: [0, 24]}\n",
    "bad-entry.yaml": "SM1: [[1]]\n",
    "not-a-mapping.yaml": "- [0, 0]\n- [0, 1]\n",
    "not-yaml.yaml": "a: [1, 2\nb: }{\n",
}
#: A calib-train config training on data (Z-mass labels) that cannot label anything.
#: (A store without pairs: tests/calib/test_z_mass_labels.py.)
DATA_TRAINING = [Bad("calib-train-data/bad-window.yaml", "mass_window")]
_DATA_TRAINING_TEXT = {
    "bad-window.yaml": "kind: calib-train\ndata_training: {mass_window: [92, 97]}\n",
}
#: A folder ``dqm watch`` cannot watch (never created).
NO_FOLDER = Bad("no-such-folder")

#: Run folders a command reading a trained run must refuse.
RUNS = [Bad("run-empty"), Bad("run-garbage")]


def _columns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "truth/energy": rng.uniform(5, 300, n).astype(np.float32),
        "event/id": np.arange(n, dtype=np.int64),
        "images/lr2": rng.exponential(1.0, (n, 7, 11)).astype(np.float32),
    }


def _store(path: Path, n: int = 200) -> Path:
    with StoreWriter(path, provenance={"seed": 1}) as writer:
        writer.append(_columns(n))
    return path


def _root(path: Path) -> Path:
    with uproot.recreate(path) as handle:
        handle["events"] = {k: v for k, v in _columns(2000).items() if v.ndim == 1}
    return path


def _th2_root(path: Path) -> Path:
    rng = np.random.default_rng(5)
    edges = (np.arange(17, dtype=np.float64), np.arange(25, dtype=np.float64))
    with uproot.recreate(path) as handle:
        handle["ls001"] = (rng.poisson(50.0, (16, 24)).astype(np.float64), *edges)
        handle["pad"] = {"x": rng.normal(size=20_000)}  # the rest of the file, cut off
    return path


def _yaml(folder: Path, kind: str) -> None:
    folder.mkdir()
    (folder / "wrong-type.yaml").write_text(f"kind: {kind}\n{WRONG_TYPE[kind][1]}\n")
    (folder / "unknown-key.yaml").write_text(f"kind: {kind}\nepochz: 3\n")
    (folder / "not-yaml.yaml").write_text(f"kind: {kind}\ntrainer: [unclosed\n")
    (folder / "empty.yaml").write_text("")


def _histories(folder: Path) -> None:
    with closing(sqlite3.connect(folder / "not-a-history.sqlite")) as db:
        db.execute("CREATE TABLE runs (run INTEGER)")
        db.commit()
    open_history(folder / "newer-history.sqlite", create=True).close()
    with closing(sqlite3.connect(folder / "newer-history.sqlite")) as db:
        db.execute("UPDATE heplearn_history SET value = '99' WHERE key = 'schema_version'")
        db.commit()
    (folder / "watch-folder").mkdir()


def zero_signal(store: Path, folder: Path) -> Path:
    """Copy the sharded search ``store`` to ``folder/search-zero-signal``, signal weights 0."""
    copy = folder / ZERO_SIGNAL.name
    shutil.copytree(store, copy)
    for shard in sorted(copy.glob("shard-*.h5")):
        with h5py.File(shard, "r+") as handle:
            weight = handle["event/weight"][...]
            weight[handle["event/is_signal"][...] == 1] = 0.0
            handle["event/weight"][...] = weight
    return copy


def add_nan(store: Path, folder: Path) -> Path:
    """Copy the sharded calibration ``store`` to ``folder/gun-nan`` with one E_acc set to NaN."""
    copy = folder / GUN_NAN.name
    shutil.copytree(store, copy)
    with h5py.File(sorted(copy.glob("shard-*.h5"))[0], "r+") as handle:
        handle["scalars/e_acc"][3] = np.nan
    return copy


def add_gun_variants(store: Path, folder: Path) -> None:
    """The scalars and event ids of ``store`` with another geometry, and without scalars/f0."""
    source = open_store(store)
    fields = [n for n in source.schema if n.startswith("scalars/")] + ["event/id"]
    columns = source.read(fields)
    config = str(source.provenance.get("config", ""))
    other = config.replace("geometry: atlas-lar", "geometry: cms-ecal")
    assert other != config
    with StoreWriter(folder / GUN_OTHER_GEOMETRY.name, provenance={"config": other}) as writer:
        writer.append(columns)
    fewer = {k: v for k, v in columns.items() if k != "scalars/f0"}
    with StoreWriter(folder / GUN_FEWER_SCALARS.name, provenance=source.provenance) as writer:
        writer.append(fewer)


def make_corpus(folder: Path) -> Path:
    """Write every corpus file into ``folder`` (created); the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ("empty.h5", "empty.root", "empty.csv"):
        (folder / name).write_bytes(b"")
    for name in ("garbage.h5", "garbage.root"):
        (folder / name).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    good_store = _store(folder / "good.h5")
    good_root = _root(folder / "good.root")
    for good, cut in (
        (good_store, folder / "truncated.h5"),
        (good_root, folder / "truncated.root"),
    ):
        data = good.read_bytes()
        cut.write_bytes(data[: len(data) * 2 // 3])
    data = _th2_root(folder / "good-th2.root").read_bytes()
    (folder / "truncated-th2.root").write_bytes(data[: len(data) // 5])
    shape = _store(folder / "wrong-shape.h5")
    with h5py.File(shape, "r+") as handle:
        del handle["truth/energy"]
        handle["truth/energy"] = np.ones(17, np.float32)  # 17 rows in a 200-row store
    dtype = _store(folder / "wrong-dtype.h5")
    with h5py.File(dtype, "r+") as handle:
        del handle["truth/energy"]
        handle["truth/energy"] = np.array([b"x"] * 200)  # bytes where float32 is declared
    with h5py.File(folder / "strings.h5", "w") as handle:
        handle["names"] = np.array([b"a", b"b"])
    nan = _columns(200)
    nan["truth/energy"][[3, 50]] = [np.nan, np.inf]
    with StoreWriter(folder / "nan.h5", provenance={"seed": 1}) as writer:
        writer.append(nan)
    maps = rng.poisson(50.0, (6, 16, 24, 2)).astype(np.float32)
    maps[2, 3, 4, 0] = -5.0
    with h5py.File(folder / "negative-maps.h5", "w") as handle:
        handle["maps"] = maps
    with h5py.File(folder / "good-maps.h5", "w") as handle:
        handle["maps"] = np.abs(maps)
    for kind in WRONG_TYPE:
        _yaml(folder / kind, kind)
    _histories(folder)
    (folder / "calib-train-data").mkdir()
    for name, text in _DATA_TRAINING_TEXT.items():
        (folder / "calib-train-data" / name).write_text(text)
    (folder / "groupings").mkdir()
    for name, text in _GROUPING_TEXT.items():
        (folder / "groupings" / name).write_text(text)
    (folder / "run-empty").mkdir()
    (folder / "run-garbage").mkdir()
    for name in ("run.json", "config.yaml", "model.json", "scalers.json"):
        (folder / "run-garbage" / name).write_bytes(rng.integers(0, 256, 300, np.uint8).tobytes())
    return folder
