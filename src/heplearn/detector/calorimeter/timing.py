"""Cell time: what the readout's optimal filter reports for each cell [ns].

The hard scatter and in-time pileup arrive at t ≈ 0 after time-of-flight
correction, spread by the beam spot (σz = 45 mm → ≈ 0.15 ns).  The measured time
is smeared with the LAr-like resolution σt(E) = 1.5 ns·GeV / E ⊕ 0.3 ns (E of the
cell, at least 50 MeV), so cells that hold only noise get times spread over
tens of ns: the time image gates real energy (the DeepCalo thesis' gate images).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["cell_times", "time_resolution"]

Array = np.ndarray[Any, Any]

NOISE_TERM_NS_GEV = 1.5
CONSTANT_TERM_NS = 0.3
BEAM_SPOT_SPREAD_NS = 0.15


def time_resolution(energy: Array) -> Array:
    """σt [ns] of a cell with ``energy`` [GeV]."""
    energy = np.maximum(np.asarray(energy, dtype=np.float64), 0.05)
    sigma: Array = np.hypot(NOISE_TERM_NS_GEV / energy, CONSTANT_TERM_NS)
    return sigma


def cell_times(cells: dict[str, Array], rng: np.random.Generator) -> dict[str, Array]:
    """Measured times [ns] (float32) of every cell of every layer window."""
    times = {}
    for name, energy in cells.items():
        n = len(energy)
        collision = BEAM_SPOT_SPREAD_NS * rng.standard_normal(n)[:, None, None]
        smeared = collision + time_resolution(energy) * rng.standard_normal(energy.shape)
        times[name] = smeared.astype(np.float32)
    return times
