"""Cell grids and the window of cells stored per particle.

Cell ``i`` of a layer covers η ∈ [i·Δη, (i+1)·Δη) and cell ``j`` covers
φ ∈ [−π + j·Δφ, −π + (j+1)·Δφ).  The window of the seed layer is centred on
the cell that contains the cluster barycentre; the windows of the other layers
start at the cell edge nearest to the seed window's start, so that all layers
cover the same (η, φ) area and up-sample onto one grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, LayerSpec

__all__ = ["Window", "place_windows", "wrap_phi"]

Array = np.ndarray[Any, Any]


def wrap_phi(phi: Array) -> Array:
    """φ folded into [−π, π)."""
    return (np.asarray(phi) + np.pi) % (2.0 * np.pi) - np.pi


@dataclass(frozen=True)
class Window:
    """First cell (η index, unwrapped φ index) of one layer's window, per particle."""

    layer: LayerSpec
    eta_start: Array
    phi_start: Array

    @property
    def shape(self) -> tuple[int, int]:
        return self.layer.window

    def eta_edges(self) -> Array:
        """(n, nη+1) cell edges in η."""
        steps = np.arange(self.shape[0] + 1)
        return (self.eta_start[:, None] + steps[None, :]) * self.layer.d_eta

    def phi_edges(self) -> Array:
        """(n, nφ+1) cell edges in φ, unwrapped (may run past ±π)."""
        steps = np.arange(self.shape[1] + 1)
        return -np.pi + (self.phi_start[:, None] + steps[None, :]) * self.layer.d_phi

    def eta_centres(self) -> Array:
        edges = self.eta_edges()
        return 0.5 * (edges[:, 1:] + edges[:, :-1])

    def phi_centres(self) -> Array:
        edges = self.phi_edges()
        return wrap_phi(0.5 * (edges[:, 1:] + edges[:, :-1]))


def place_windows(eta: Array, phi: Array, geometry: CalorimeterGeometry) -> dict[str, Window]:
    """Windows of every layer for particles whose cluster barycentre is at (η, φ)."""
    seed = geometry.seed
    n_eta, n_phi = seed.window
    eta_index = np.floor(eta / seed.d_eta).astype(np.int64)
    phi_index = np.floor((wrap_phi(phi) + np.pi) / seed.d_phi).astype(np.int64)
    eta_low = (eta_index - (n_eta - 1) // 2) * seed.d_eta
    phi_low = (phi_index - (n_phi - 1) // 2) * seed.d_phi
    windows = {}
    for layer in geometry.layers:
        if layer is seed:
            start_eta = eta_index - (n_eta - 1) // 2
            start_phi = phi_index - (n_phi - 1) // 2
        else:
            start_eta = np.rint(eta_low / layer.d_eta).astype(np.int64)
            start_phi = np.rint(phi_low / layer.d_phi).astype(np.int64)
        windows[layer.name] = Window(layer, start_eta, start_phi)
    return windows
