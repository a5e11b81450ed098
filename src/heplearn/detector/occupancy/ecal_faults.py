"""Fault injection into ECAL barrel occupancy maps, with per-crystal and per-group truth.

Each faulty map carries one fault, acting on the hit intensity before counts are drawn:

| fault              | class, shape         | effect                                          |
|--------------------|----------------------|-------------------------------------------------|
| `dead_crystal`     | dead, 1x1            | one crystal reads nothing                       |
| `hot_crystal`      | hot, 1x1             | one crystal's intensity × f (f in ``hot_factor``) |
| `dead_tower`       | dead, tower          | a trigger tower's 25 crystals read nothing      |
| `hot_tower`        | hot, tower           | a trigger tower's intensity × f                 |
| `dead_supermodule` | dead, supermodule    | a missing supermodule: 1,700 crystals at 0      |

Positions are uniform over crystals, towers or supermodules.  The truth of a map is its
class and shape codes (:mod:`heplearn.detector.occupancy.fault_codes`), the per-crystal class,
the severity (the hot factor, 0 otherwise), and the tower and supermodule holding the fault
(−1 when none; a whole-supermodule fault has no tower).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.detector.occupancy.ecal_barrel import (
    ECAL_BARREL_SHAPE,
    N_SUPERMODULES,
    N_TOWERS,
    supermodule_map,
    tower_map,
)
from heplearn.detector.occupancy.fault_codes import FAULT_CLASSES, FAULT_SHAPES

__all__ = ["ECAL_FAULTS", "EcalFaultPlan", "EcalFaults", "apply_ecal_faults", "draw_ecal_faults"]

Array = np.ndarray[Any, Any]

#: Fault types: name → (class name, shape name).
ECAL_FAULTS: dict[str, tuple[str, str]] = {
    "dead_crystal": ("dead", "1x1"),
    "hot_crystal": ("hot", "1x1"),
    "dead_tower": ("dead", "tower"),
    "hot_tower": ("hot", "tower"),
    "dead_supermodule": ("dead", "supermodule"),
}
_DEAD, _HOT = FAULT_CLASSES.index("dead"), FAULT_CLASSES.index("hot")


@dataclass(frozen=True)
class EcalFaultPlan:
    """``good_fraction`` of maps stay good; the rest draw a type with ``weights`` (by name)."""

    good_fraction: float = 0.5
    weights: tuple[tuple[str, float], ...] = tuple((name, 1.0) for name in ECAL_FAULTS)
    hot_factor: tuple[float, float] = (3.0, 10.0)


@dataclass(frozen=True)
class EcalFaults:
    """Truth of N maps."""

    map_class: Array  # int8 (N,)
    fault_shape: Array  # int8 (N,)
    severity: Array  # float64 (N,): hot factor, 0 otherwise
    tower: Array  # int16 (N,): tower holding the fault, −1 if none
    supermodule: Array  # int8 (N,): supermodule holding the fault, −1 if none
    channels: Array  # uint8 (N, 170, 360): per-crystal class

    def select(self, rows: slice) -> EcalFaults:
        return EcalFaults(
            self.map_class[rows],
            self.fault_shape[rows],
            self.severity[rows],
            self.tower[rows],
            self.supermodule[rows],
            self.channels[rows],
        )


def draw_ecal_faults(rng: np.random.Generator, n: int, plan: EcalFaultPlan) -> EcalFaults:
    """Draw the faults of ``n`` maps: types, positions and severities."""
    names = [name for name, _ in plan.weights]
    weights = np.array([w for _, w in plan.weights], dtype=np.float64)
    faulty = rng.random(n) >= plan.good_fraction
    if faulty.any() and weights.sum() <= 0:
        raise ValueError("faulty maps requested but every fault weight is 0")
    kinds = rng.choice(len(names), size=n, p=weights / max(weights.sum(), 1e-300))
    map_class = np.zeros(n, dtype=np.int8)
    shape = np.zeros(n, dtype=np.int8)
    severity = np.zeros(n)
    tower = np.full(n, -1, dtype=np.int16)
    module = np.full(n, -1, dtype=np.int8)
    channels = np.zeros((n, *ECAL_BARREL_SHAPE), dtype=np.uint8)
    for i in np.flatnonzero(faulty):
        class_name, shape_name = ECAL_FAULTS[names[kinds[i]]]
        map_class[i] = FAULT_CLASSES.index(class_name)
        shape[i] = FAULT_SHAPES.index(shape_name)
        if class_name == "hot":
            severity[i] = rng.uniform(*plan.hot_factor)
        if shape_name == "1x1":
            row = int(rng.integers(0, ECAL_BARREL_SHAPE[0]))
            col = int(rng.integers(0, ECAL_BARREL_SHAPE[1]))
            region = np.zeros(ECAL_BARREL_SHAPE, dtype=bool)
            region[row, col] = True
            tower[i], module[i] = tower_map()[row, col], supermodule_map()[row, col]
        elif shape_name == "tower":
            tower[i] = rng.integers(0, N_TOWERS)
            region = tower_map() == tower[i]
            module[i] = supermodule_map()[region][0]
        else:
            module[i] = rng.integers(0, N_SUPERMODULES)
            region = supermodule_map() == module[i]
        channels[i][region] = map_class[i]
    return EcalFaults(map_class, shape, severity, tower, module, channels)


def apply_ecal_faults(intensity: Array, faults: EcalFaults) -> Array:
    """Hit intensities (N, 170, 360) with ``faults`` applied (new array)."""
    out = np.array(intensity, dtype=np.float64)
    hot = faults.channels == _HOT
    factor = np.broadcast_to(faults.severity[:, None, None], out.shape)
    # An intensity × f is p → 1 − (1 − p)^f: the crystal fires as if its rate were f times.
    out[hot] *= factor[hot]
    out[faults.channels == _DEAD] = 0.0
    return out
