"""CMS-like ECAL barrel crystal geometry for occupancy maps of shape (170, 360).

Array layout (as a CMS EB TH2 read with uproot): rows are iη −85…−1, +1…+85 (row = iη + 85
for iη < 0, iη + 84 for iη > 0; there is no iη 0), columns are iφ 1…360 (column = iφ − 1).
Every one of the 61,200 crystals exists.

- A crystal spans Δη = Δφ = 0.0174 (1°); the barrel reaches |η| = 85 × 0.0174 = 1.479.
- **Trigger towers**: 5 × 5 crystals, TT iη −17…−1, +1…+17 and TT iφ 1…72 (2,448 in all),
  named ``"TT ieta,iphi"``; a tower's 25 crystals share one front-end readout board.
- **Supermodules**: 85 iη × 20 iφ (68 towers), ``"SM-01"`` … ``"SM-18"`` for iη < 0 and
  ``"SM+01"`` … ``"SM+18"`` for iη > 0, SM ±k covering iφ 20(k − 1) + 1 … 20k; each is read
  out by one data-concentrator card (one FED), so it fails as a whole.

Group indices are row-major over the blocks: tower = (row // 5) · 72 + column // 5,
supermodule = (row // 85) · 18 + column // 20 (0–17 are SM−, 18–35 SM+).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

__all__ = [
    "CRYSTAL_SIZE",
    "ECAL_BARREL_SHAPE",
    "N_SUPERMODULES",
    "N_TOWERS",
    "crystal_eta",
    "ieta_of_row",
    "row_of_ieta",
    "supermodule_map",
    "supermodule_name",
    "tower_map",
    "tower_name",
]

Array = np.ndarray[Any, Any]

ECAL_BARREL_SHAPE = (170, 360)
#: Crystal size in η and φ (1°).
CRYSTAL_SIZE = 0.0174
_TOWER = 5
_SM_ETA, _SM_PHI = 85, 20
_TOWERS_PHI = ECAL_BARREL_SHAPE[1] // _TOWER
_SM_PER_HALF = ECAL_BARREL_SHAPE[1] // _SM_PHI
N_TOWERS = (ECAL_BARREL_SHAPE[0] // _TOWER) * _TOWERS_PHI
N_SUPERMODULES = 2 * _SM_PER_HALF


def _frozen(array: Array) -> Array:
    array.flags.writeable = False
    return array


def row_of_ieta(ieta: Any) -> Array:
    """Array row of crystal iη (−85…−1, +1…+85)."""
    ieta = np.asarray(ieta)
    return np.asarray(np.where(ieta < 0, ieta + 85, ieta + 84))


def ieta_of_row(row: Any) -> Array:
    """Crystal iη of array row ``row`` (0…169)."""
    row = np.asarray(row)
    return np.asarray(np.where(row < 85, row - 85, row - 84))


@cache
def crystal_eta() -> Array:
    """Read-only float64 (170, 360): pseudorapidity of each crystal's centre."""
    ieta = ieta_of_row(np.arange(ECAL_BARREL_SHAPE[0]))
    eta = np.sign(ieta) * (np.abs(ieta) - 0.5) * CRYSTAL_SIZE
    return _frozen(np.repeat(eta[:, None], ECAL_BARREL_SHAPE[1], axis=1))


@cache
def tower_map() -> Array:
    """Read-only int16 (170, 360): trigger-tower index (0…2447) of each crystal."""
    row, col = np.indices(ECAL_BARREL_SHAPE)
    return _frozen(((row // _TOWER) * _TOWERS_PHI + col // _TOWER).astype(np.int16))


@cache
def supermodule_map() -> Array:
    """Read-only int8 (170, 360): supermodule index (0…35) of each crystal."""
    row, col = np.indices(ECAL_BARREL_SHAPE)
    return _frozen(((row // _SM_ETA) * _SM_PER_HALF + col // _SM_PHI).astype(np.int8))


def tower_name(index: int) -> str:
    """``"TT ieta,iphi"`` of tower ``index`` (e.g. 0 → ``"TT -17,1"``)."""
    tower_row, tower_col = divmod(int(index), _TOWERS_PHI)
    half = ECAL_BARREL_SHAPE[0] // _TOWER // 2
    ieta = tower_row - half if tower_row < half else tower_row - half + 1
    return f"TT {ieta},{tower_col + 1}"


def supermodule_name(index: int) -> str:
    """``"SM-01"`` … ``"SM+18"`` of supermodule ``index`` (0…35)."""
    half, k = divmod(int(index), _SM_PER_HALF)
    return f"SM{'-+'[half]}{k + 1:02d}"
