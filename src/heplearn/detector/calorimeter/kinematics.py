"""Two-body kinematics of reconstructed clusters (massless e/γ)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["cluster_pair_mass", "pairs_of_events"]

Array = np.ndarray[Any, Any]


def pairs_of_events(event_id: Array) -> tuple[Array, Array]:
    """Row indices (i, j) of the two candidates of each event that has exactly two.

    Rows of one event are adjacent in a store (they are written event by event).
    """
    _, first, counts = np.unique(event_id, return_index=True, return_counts=True)
    i = first[counts == 2]
    return i, i + 1


def cluster_pair_mass(energy: Array, eta: Array, phi: Array, i: Array, j: Array) -> Array:
    """Invariant mass [GeV] of clusters i and j: m² = 2 pT1 pT2 (cosh Δη − cos Δφ)."""
    energy = np.asarray(energy, dtype=np.float64)
    pt_i, pt_j = energy[i] / np.cosh(eta[i]), energy[j] / np.cosh(eta[j])
    mass2 = 2 * pt_i * pt_j * (np.cosh(eta[i] - eta[j]) - np.cos(phi[i] - phi[j]))
    mass: Array = np.sqrt(np.maximum(mass2, 0.0))
    return mass
