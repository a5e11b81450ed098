"""Detector-aware channel groups: trigger towers, supermodules, readout boxes, blocks.

A :class:`Grouping` lists named groups of channels of one map shape ``(H, W, D)``,
in levels (e.g. ``tower`` then ``supermodule``); a channel may belong to one
group per level.  The statistical quality tests (:mod:`heplearn.dqm.dispersion`)
test every group's summed count besides every channel, so a tower or a readout
unit that is dead, hot or off by many of its own σ is found and named.

- ``ecal-barrel`` (170 × 360, rows = iη, columns = iφ as in a CMS EB TH2): 5 × 5
  trigger towers named ``"TT ieta,iphi"`` (iη −17…−1, +1…+17; iφ 1…72) and 36
  supermodules of 85 × 20 named ``"SM-01"`` … ``"SM+18"``;
- ``hcal`` ((82, 72, 4), :mod:`heplearn.detector.occupancy.hcal`): towers (all depths
  of one ieta, iphi: ``"tower ieta,iphi"``) and the 108 readout boxes (``"HBP02"``);
- default: ``k × k`` blocks per depth (``"block r,c"``, 5 × 5 unless told);
- a user's file (YAML or JSON): group name → a list of ``[row, col]`` (or
  ``[row, col, depth]``) or a block rule ``{rows: [start, stop], cols: [start, stop]}``
  (half-open, optional ``depths``).  Every channel named must lie inside the map and
  every live channel must be in some group (:func:`check_coverage`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import sparse

from heplearn.errors import ConfigError, DataError

__all__ = ["BUILT_IN", "Grouping", "block_grouping", "check_coverage", "resolve_geometry"]

Array = np.ndarray[Any, Any]

#: Built-in geometries by name (``dqm train --geometry NAME``).
BUILT_IN = ("ecal-barrel", "hcal", "blocks")
ECAL_BARREL_SHAPE = (170, 360, 1)
#: CMS EB: 5 × 5 crystals per trigger tower, 85 × 20 per supermodule.
TOWER, SM_ETA, SM_PHI = 5, 85, 20


@dataclass(frozen=True)
class Grouping:
    """Named channel groups of one map shape: ``members`` is (groups × channels), 0/1."""

    geometry: str
    shape: tuple[int, int, int]
    names: list[str]
    levels: list[str]  # level of each group ("tower", "supermodule", …)
    members: sparse.csr_matrix

    def __len__(self) -> int:
        return len(self.names)

    def check_shape(self, shape: tuple[int, int, int]) -> None:
        """Raise DataError when the grouping was made for another map shape."""
        if tuple(shape) != tuple(self.shape):
            raise DataError(
                f"geometry {self.geometry!r} is for maps {tuple(self.shape)}",
                "--geometry",
                f"the maps are {tuple(shape)}",
                "give the geometry of these maps or a grouping file for them",
            )

    def primary(self) -> Array:
        """(channels,) index of each channel's group in the first level (−1: none)."""
        first = [i for i, lv in enumerate(self.levels) if lv == self.levels[0]]
        out = np.full(self.members.shape[1], -1, np.int64)
        sub = self.members[first].tocoo()
        # The later group wins for channels in several first-level groups: any one will do.
        out[sub.col] = np.asarray(first)[sub.row]
        return out

    def to_arrays(self, prefix: str = "groups.") -> dict[str, Array]:
        csr = self.members.tocsr()
        return {
            f"{prefix}indptr": csr.indptr.astype(np.int64),
            f"{prefix}indices": csr.indices.astype(np.int64),
        }

    def to_meta(self) -> dict[str, Any]:
        return {
            "geometry": self.geometry,
            "shape": list(self.shape),
            "names": self.names,
            "levels": self.levels,
        }

    @classmethod
    def restore(
        cls, meta: dict[str, Any], arrays: dict[str, Array], prefix: str = "groups."
    ) -> Grouping:
        shape = tuple(int(v) for v in meta["shape"])
        indptr, indices = arrays[f"{prefix}indptr"], arrays[f"{prefix}indices"]
        data = np.ones(indices.size, np.float64)
        members = sparse.csr_matrix(
            (data, indices, indptr), shape=(len(meta["names"]), int(np.prod(shape)))
        )
        return cls(meta["geometry"], shape, list(meta["names"]), list(meta["levels"]), members)  # type: ignore[arg-type]


def _from_labels(
    geometry: str, shape: tuple[int, int, int], levels: list[tuple[str, Array, list[str]]]
) -> Grouping:
    """A grouping from per-level label arrays (shape ``shape``, −1 = no group)."""
    rows, cols, names, kinds = [], [], [], []
    offset = 0
    for level, labels, level_names in levels:
        flat = labels.reshape(-1)
        inside = np.flatnonzero(flat >= 0)
        rows.append(flat[inside] + offset)
        cols.append(inside)
        names += level_names
        kinds += [level] * len(level_names)
        offset += len(level_names)
    r, c = np.concatenate(rows), np.concatenate(cols)
    members = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(offset, int(np.prod(shape))))
    return Grouping(geometry, shape, names, kinds, members)


def block_grouping(shape: tuple[int, int, int], size: int = 5) -> Grouping:
    """``size × size`` blocks at each depth, named ``"block r,c"`` (``"block r,c,d"`` in 3-D)."""
    h, w, d = shape
    nr, nc = -(-h // size), -(-w // size)
    r, c, k = np.meshgrid(np.arange(h) // size, np.arange(w) // size, np.arange(d), indexing="ij")
    labels = (k * nr + r) * nc + c
    names = [
        f"block {i},{j}" if d == 1 else f"block {i},{j},{z}"
        for z in range(d)
        for i in range(nr)
        for j in range(nc)
    ]
    return _from_labels(f"blocks {size}x{size}", shape, [("block", labels, names)])


def _ecal_barrel() -> Grouping:
    h, w, _ = ECAL_BARREL_SHAPE
    row, col = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    n_tt_phi = w // TOWER
    towers = (row // TOWER) * n_tt_phi + col // TOWER
    tt_names = []
    for tr in range(h // TOWER):
        ieta = tr - 17 if tr < 17 else tr - 16  # CMS TT iη: −17…−1, +1…+17
        tt_names += [f"TT {ieta},{tp + 1}" for tp in range(n_tt_phi)]
    n_sm_phi = w // SM_PHI
    modules = (row // SM_ETA) * n_sm_phi + col // SM_PHI
    sm_names = [f"SM{'-+'[half]}{k + 1:02d}" for half in range(2) for k in range(n_sm_phi)]
    return _from_labels(
        "ecal-barrel",
        ECAL_BARREL_SHAPE,
        [("tower", towers[..., None], tt_names), ("supermodule", modules[..., None], sm_names)],
    )


def _hcal() -> Grouping:
    # Lazy: the HCAL geometry lives with the occupancy simulation.
    from heplearn.detector.occupancy.hcal import (
        HCAL_SHAPE,
        N_RBX,
        hcal_valid_mask,
        ieta_of_row,
        rbx_map,
        rbx_name,
    )

    valid = hcal_valid_mask()
    h, w, d = HCAL_SHAPE
    tower_of = np.broadcast_to(
        (np.arange(h)[:, None] * w + np.arange(w)[None, :])[..., None], HCAL_SHAPE
    )
    used = np.unique(tower_of[valid])
    index = np.full(h * w, -1, np.int64)
    index[used] = np.arange(used.size)
    towers = np.where(valid, index[tower_of], -1)
    ieta = ieta_of_row(np.arange(h))
    tower_names = [f"tower {int(ieta[t // w])},{t % w + 1}" for t in used]
    rbx = np.asarray(rbx_map(), dtype=np.int64)
    return _from_labels(
        "hcal",
        (h, w, d),
        [("tower", towers, tower_names), ("rbx", rbx, [rbx_name(i) for i in range(N_RBX)])],
    )


def _channel(value: Any, shape: tuple[int, int, int], name: str, path: Path) -> int:
    """Flat index of one ``[row, col]`` / ``[row, col, depth]`` entry of a grouping file."""
    ok = isinstance(value, list) and len(value) in (2, 3) and all(isinstance(v, int) for v in value)
    if not ok:
        raise ConfigError(
            f"group {name!r}",
            str(path),
            f"entry {value!r} is not [row, col] or [row, col, depth]",
            "list channels as [row, col] pairs or give a rule {rows: [a, b], cols: [c, d]}",
        )
    row, col, depth = (*value, 0) if len(value) == 2 else value
    if not (0 <= row < shape[0] and 0 <= col < shape[1] and 0 <= depth < shape[2]):
        raise DataError(
            f"group {name!r} names channel {value}",
            str(path),
            f"it lies outside the maps {shape}",
            "fix the grouping file for this map shape",
        )
    return int(np.ravel_multi_index((row, col, depth), shape))


def _rule(rule: dict[str, Any], shape: tuple[int, int, int], name: str, path: Path) -> Array:
    """Flat indices of a block rule ``{rows: [a, b], cols: [c, d], depths: [e, f]}``."""
    spans = []
    for axis, key in enumerate(("rows", "cols", "depths")):
        span = rule.get(key, [0, shape[axis]])
        ok = isinstance(span, list) and len(span) == 2 and all(isinstance(v, int) for v in span)
        if not ok or not 0 <= span[0] < span[1] or (key not in ("depths",) and key not in rule):
            raise ConfigError(
                f"group {name!r}",
                str(path),
                f"the rule {rule!r} needs {key}: [start, stop] (half-open, start < stop)",
                "write e.g. {rows: [0, 85], cols: [0, 20]}",
            )
        if span[1] > shape[axis]:
            raise DataError(
                f"group {name!r} names {key} {span[0]}…{span[1] - 1}",
                str(path),
                f"it lies outside the maps {shape}",
                "fix the grouping file for this map shape",
            )
        spans.append(np.arange(span[0], span[1]))
    grid = np.meshgrid(*spans, indexing="ij")
    return np.ravel_multi_index(tuple(g.reshape(-1) for g in grid), shape)


def _from_file(path: Path, shape: tuple[int, int, int]) -> Grouping:
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise ConfigError(
            "unreadable grouping file", str(path), str(err).splitlines()[0], "give YAML or JSON"
        ) from err
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            "grouping file",
            str(path),
            "it is not a mapping of group name → channels",
            "write {name: [[row, col], ...]} or {name: {rows: [a, b], cols: [c, d]}}",
        )
    rows, cols = [], []
    for g, (name, value) in enumerate(raw.items()):
        if isinstance(value, dict):
            flat = _rule(value, shape, str(name), path)
        elif isinstance(value, list) and value:
            flat = np.array([_channel(v, shape, str(name), path) for v in value], np.int64)
        else:
            raise ConfigError(
                f"group {name!r}",
                str(path),
                "it is neither a list of channels nor a block rule",
                "give [[row, col], ...] or {rows: [a, b], cols: [c, d]}",
            )
        flat = np.unique(flat)
        rows.append(np.full(flat.size, g))
        cols.append(flat)
    r, c = np.concatenate(rows), np.concatenate(cols)
    members = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(len(raw), int(np.prod(shape))))
    return Grouping(path.name, shape, [str(k) for k in raw], ["group"] * len(raw), members)


def resolve_geometry(geometry: str | None, shape: tuple[int, int, int]) -> Grouping:
    """The grouping ``geometry`` names (built-in name or a file) for maps of ``shape``."""
    if geometry is None or geometry == "blocks":
        return block_grouping(shape)
    if geometry == "ecal-barrel":
        grouping = _ecal_barrel()
    elif geometry == "hcal":
        grouping = _hcal()
    else:
        path = Path(geometry)
        if not path.is_file():
            raise ConfigError(
                f"geometry {geometry!r}",
                "--geometry",
                f"it is neither a built-in ({', '.join(BUILT_IN)}) nor an existing file",
                "name a built-in geometry or give a YAML/JSON grouping file",
            )
        return _from_file(path, shape)
    grouping.check_shape(shape)
    return grouping


def check_coverage(grouping: Grouping, live: Array, where: str) -> None:
    """Raise DataError when some live channel belongs to no group (a grouping file's gap)."""
    covered = np.asarray(grouping.members.sum(axis=0)).reshape(-1) > 0
    missing = np.flatnonzero(live.reshape(-1) & ~covered)
    if missing.size:
        first = [int(v) for v in np.unravel_index(missing[0], grouping.shape)]
        first = first[:2] if grouping.shape[2] == 1 else first
        raise DataError(
            f"grouping {grouping.geometry!r} does not cover the map",
            where,
            f"{missing.size} live channel(s) are in no group, the first {first}",
            "add them to a group (or use a block rule covering the whole map)",
        )
