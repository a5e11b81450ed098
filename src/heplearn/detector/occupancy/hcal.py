"""CMS-like HCAL channel geometry for stacked occupancy maps of shape (82, 72, 4).

Array layout (the DQM store contract): rows are ieta -41..-1, +1..+41 (row = ieta + 41
for ieta < 0, ieta + 40 for ieta > 0), columns are iphi 1..72 (column = iphi - 1), the
last axis is depth 1..4.  A channel exists where :func:`hcal_valid_mask` is true.

Geometry (CMS Run 3, simplified):

- **HB** |ieta| 1–16, **HE** 16–29, **HF** 29–41.  Towers are 5° in φ (all 72 iphi)
  up to |ieta| 20 and 10° beyond (odd iphi only); HF uses odd iphi and 20° towers
  (iphi 3, 7, …, 71) at |ieta| 40–41, as in CMS.
- **Depths** capped at 4 (Run 3 HE has up to 7): HB 4 depths at |ieta| 1–15;
  HE and HF 4 depths.  HF depths 1/3 and 2/4 are the two anodes of the long and
  short fibres.
- **Overlap towers** are split by depth, because the stacked array holds one channel per
  (ieta, iphi, depth) while CMS has both: |ieta| 16 is HB at depths 1–3 and HE at
  depth 4 (as in Run 3); |ieta| 29 is HE at depths 1–2 and HF at depths 3–4.
- **Readout boxes (RBX)**: 18 per half sub-detector (HBM, HBP, HEM, HEP, HFM, HFP),
  each 4 consecutive iphi (sector 1 = iphi 71, 72, 1, 2 as in CMS HBP01) times the
  half's full ieta range and all its depths.  Real HF readout is grouped
  differently; here it follows the same 4-iphi pattern.

Resulting channel counts: HB 9072, HE 4896, HF 3312 (17,280 in all).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from heplearn.errors import ConfigError

__all__ = [
    "HCAL_SHAPE",
    "N_RBX",
    "SUBDETECTORS",
    "hcal_valid_mask",
    "ieta_of_row",
    "rbx_map",
    "rbx_name",
    "rbx_of",
    "row_of_ieta",
    "select_map",
    "subdetector_map",
    "subdetector_of",
    "tower_eta_edges",
]

Array = np.ndarray[Any, Any]

HCAL_SHAPE = (82, 72, 4)
#: Sub-detector names; their codes in :func:`subdetector_map` are index + 1 (0 = no channel).
SUBDETECTORS = ("HB", "HE", "HF")
#: Readout boxes: 18 sectors × 6 half sub-detectors.
N_RBX = 108
_SECTORS = 18

# Tower |η| edges (CMS HCAL): 0.087 steps to ieta 20, then the HE and HF rings.
_HE_EDGES = (1.740, 1.830, 1.930, 2.043, 2.172, 2.322, 2.500, 2.650, 2.868, 3.000)
_HF_EDGES = (
    2.853, 2.964, 3.139, 3.314, 3.489, 3.664, 3.839, 4.013, 4.191, 4.363, 4.538, 4.716,
    4.889, 5.191,
)  # fmt: skip


def ieta_of_row(row: Any) -> Array:
    """ieta (±1…41) of array row(s) 0…81."""
    row = np.asarray(row)
    ieta: Array = np.where(row < 41, row - 41, row - 40)
    return ieta


def row_of_ieta(ieta: Any) -> Array:
    """Array row of ieta (±1…41; 0 is not a tower)."""
    ieta = np.asarray(ieta)
    row: Array = np.where(ieta < 0, ieta + 41, ieta + 40)
    return row


def subdetector_of(ieta: Any, iphi: Any, depth: Any) -> Array:
    """Sub-detector code (1 HB, 2 HE, 3 HF; 0 = no such channel), broadcast over the inputs."""
    a = np.abs(np.asarray(ieta))
    iphi = np.asarray(iphi)
    depth = np.asarray(depth)
    in_range = (a >= 1) & (a <= 41) & (iphi >= 1) & (iphi <= 72) & (depth >= 1) & (depth <= 4)
    # 10° towers beyond |ieta| 20 use odd iphi; HF's 20° rings 40–41 use iphi 3, 7, …, 71.
    phi_ok = np.where(a <= 20, True, np.where(a <= 39, iphi % 2 == 1, iphi % 4 == 3))
    hb = (a <= 15) | ((a == 16) & (depth <= 3))
    he = ((a == 16) & (depth == 4)) | ((a >= 17) & (a <= 28)) | ((a == 29) & (depth <= 2))
    hf = ((a == 29) & (depth >= 3)) | (a >= 30)
    code = np.select([hb, he, hf], [1, 2, 3], default=0)
    return np.where(in_range & phi_ok, code, 0).astype(np.int8)


def _grid() -> tuple[Array, Array, Array]:
    rows, cols, depths = np.meshgrid(
        np.arange(HCAL_SHAPE[0]), np.arange(HCAL_SHAPE[1]), np.arange(HCAL_SHAPE[2]), indexing="ij"
    )
    return ieta_of_row(rows), cols + 1, depths + 1


def _frozen(array: Array) -> Array:
    array.flags.writeable = False
    return array


@cache
def subdetector_map() -> Array:
    """Read-only int8 (82, 72, 4): sub-detector code of every channel (0 = none)."""
    return _frozen(subdetector_of(*_grid()))


@cache
def hcal_valid_mask() -> Array:
    """Read-only bool (82, 72, 4): the channel exists."""
    return _frozen(subdetector_map() > 0)


def rbx_of(ieta: Any, iphi: Any, depth: Any) -> Array:
    """Readout-box id 0…107 (-1 = no channel): 18 × half index (HBM, HBP, HEM, HEP, HFM, HFP)
    + sector, sector 0 holding iphi 71, 72, 1, 2."""
    code = subdetector_of(ieta, iphi, depth).astype(np.int16)
    half = 2 * (code - 1) + (np.asarray(ieta) > 0)
    sector = ((np.asarray(iphi) + 1) % 72) // 4
    return np.where(code > 0, half * _SECTORS + sector, -1).astype(np.int16)


@cache
def rbx_map() -> Array:
    """Read-only int16 (82, 72, 4): readout-box id of every channel (-1 = none)."""
    return _frozen(rbx_of(*_grid()))


def rbx_name(rbx: int) -> str:
    """CMS-style name of readout box ``rbx``, e.g. 19 → ``HBP02``."""
    if not 0 <= rbx < N_RBX:
        raise ConfigError(
            "readout box", str(rbx), f"ids run from 0 to {N_RBX - 1}", "give a valid RBX id"
        )
    half, sector = divmod(rbx, _SECTORS)
    return f"{SUBDETECTORS[half // 2]}{'MP'[half % 2]}{sector + 1:02d}"


def tower_eta_edges(ieta: int, subdetector: str) -> tuple[float, float]:
    """Signed η edges (low, high in |η|, sign of ieta) of tower ``ieta`` in ``subdetector``."""
    a = abs(ieta)
    if subdetector == "HF" and 29 <= a <= 41:
        low, high = _HF_EDGES[a - 29], _HF_EDGES[a - 28]
    elif subdetector in ("HB", "HE") and 1 <= a <= 20:
        low, high = 0.087 * (a - 1), 0.087 * a
    elif subdetector == "HE" and 21 <= a <= 29:
        low, high = _HE_EDGES[a - 21], _HE_EDGES[a - 20]
    else:
        raise ConfigError(
            "tower", f"ieta {ieta} in {subdetector}", "no such tower", "see detector/hcal.py"
        )
    sign = 1.0 if ieta > 0 else -1.0
    return sign * low, sign * high


def _subdetector_code(subdetector: str, where: str) -> int:
    if subdetector not in SUBDETECTORS:
        raise ConfigError(
            "sub-detector",
            where,
            f"{subdetector!r} is not one of {', '.join(SUBDETECTORS)}",
            "choose HB, HE or HF",
        )
    return SUBDETECTORS.index(subdetector) + 1


def select_map(maps: Array, subdetector: str | None = None, depth: int | None = None) -> Array:
    """A sub-detector and/or depth slice of stacked maps ``(N, 82, 72, 4)`` or ``(82, 72, 4)``.

    ``subdetector`` keeps the rows of its ieta range (both sides, in array order) and zeroes
    channels of other sub-detectors sharing those rows; ``depth`` (1–4) drops the depth
    axis.  Returns ``(N, H', 72, 4)``, ``(N, H', 72)``, or the same without ``N``.
    """
    maps = np.asarray(maps)
    if maps.shape[-3:] != HCAL_SHAPE:
        raise ConfigError(
            "map shape",
            str(maps.shape),
            f"stacked HCAL maps end in {HCAL_SHAPE}",
            "pass maps in the (N, 82, 72, 4) layout",
        )
    if depth is not None and not 1 <= depth <= HCAL_SHAPE[2]:
        raise ConfigError("depth", str(depth), "HCAL depths are 1–4", "choose depth 1, 2, 3 or 4")
    out = maps
    if subdetector is not None:
        owned = subdetector_map() == _subdetector_code(subdetector, "select_map")
        rows = np.flatnonzero(owned.any(axis=(1, 2)))
        out = np.where(owned[rows], maps[..., rows, :, :], 0).astype(maps.dtype)
    if depth is not None:
        out = out[..., depth - 1]
    return out
