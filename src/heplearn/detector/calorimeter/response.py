"""Cell response: sampling / photo-statistics fluctuations, gains, dead cells, noise, time.

``DetectorConditions`` holds what is fixed for a detector (seeded by the
geometry's ``detector_seed``): one gain per region, drawn with the geometry's
``gain_spread`` (part of the constant term), and the dead-cell masks.  ``measure_cells`` turns the
deposited energies of each window into what the readout reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import Window
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry

__all__ = ["DetectorConditions", "ResponseSwitches", "conditions_for", "measure_cells"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class ResponseSwitches:
    """Which parts of the response to simulate (all on for a realistic sample)."""

    fluctuations: bool = True
    gains: bool = True
    noise: bool = True
    dead_cells: bool = True


@dataclass(frozen=True)
class DetectorConditions:
    """Gains per (η, φ) region and dead-cell masks per layer, fixed by the detector seed."""

    geometry: CalorimeterGeometry
    gains: Array
    dead: dict[str, Array] = field(default_factory=dict)

    def gain_at(self, eta: Array, phi: Array) -> Array:
        d_eta, d_phi = self.geometry.gain_region
        n_eta, n_phi = self.gains.shape
        i = np.clip(np.floor((eta + self.geometry.eta_max) / d_eta).astype(np.int64), 0, n_eta - 1)
        j = np.floor((phi + np.pi) / d_phi).astype(np.int64) % n_phi
        gain: Array = self.gains[i, j]
        return gain

    def dead_in(self, window: Window) -> Array:
        """Boolean (n, nη, nφ) mask of dead cells inside each particle's window."""
        mask = self.dead.get(window.layer.name)
        n_eta, n_phi = window.shape
        if mask is None:
            return np.zeros((len(window.eta_start), n_eta, n_phi), dtype=bool)
        offset = mask.shape[0] // 2
        i = np.clip(
            window.eta_start[:, None] + np.arange(n_eta)[None, :] + offset, 0, mask.shape[0] - 1
        )
        j = (window.phi_start[:, None] + np.arange(n_phi)[None, :]) % mask.shape[1]
        dead: Array = mask[i[:, :, None], j[:, None, :]]
        return dead


@cache
def conditions_for(geometry: CalorimeterGeometry) -> DetectorConditions:
    """The conditions of a geometry (cached: the same detector for every event and shard)."""
    rng = np.random.default_rng(np.random.SeedSequence([geometry.detector_seed, 7]))
    d_eta, d_phi = geometry.gain_region
    shape = (int(np.ceil(2 * geometry.eta_max / d_eta)) + 1, round(2 * np.pi / d_phi))
    gains = 1.0 + geometry.gain_spread * rng.standard_normal(shape)
    dead = {}
    if geometry.dead_cell_fraction > 0:
        for layer in geometry.layers:
            n_eta = 2 * int(np.ceil(geometry.eta_max / layer.d_eta)) + 2
            n_phi = round(2 * np.pi / layer.d_phi)
            dead[layer.name] = rng.random((n_eta, n_phi)) < geometry.dead_cell_fraction
    return DetectorConditions(geometry=geometry, gains=gains, dead=dead)


def measure_cells(
    deposits: dict[str, Array],
    windows: dict[str, Window],
    geometry: CalorimeterGeometry,
    rng: np.random.Generator,
    switches: ResponseSwitches = ResponseSwitches(),
) -> dict[str, Array]:
    """Measured cell energies [GeV] (float32) from deposited energies [GeV] per layer window.

    Sampling (or photo-statistics) fluctuations have variance a²·E per cell, so that the sum
    over a cluster fluctuates as a/√E; the region gain makes the constant term; dead cells
    read zero; electronic noise is Gaussian with the layer's σ.
    """
    conditions = conditions_for(geometry)
    measured = {}
    for layer in geometry.layers:
        window = windows[layer.name]
        energy = np.array(deposits[layer.name], dtype=np.float64)
        if switches.fluctuations:
            energy += (
                geometry.stochastic * np.sqrt(energy.clip(0.0)) * rng.standard_normal(energy.shape)
            )
        if switches.gains:
            eta = window.eta_centres()[:, :, None]
            phi = window.phi_centres()[:, None, :]
            energy *= conditions.gain_at(
                np.broadcast_to(eta, energy.shape), np.broadcast_to(phi, energy.shape)
            )
        if switches.noise and layer.noise_mev > 0:
            energy += layer.noise_mev * 1e-3 * rng.standard_normal(energy.shape)
        if switches.dead_cells and conditions.dead:
            energy[conditions.dead_in(window)] = 0.0
        measured[layer.name] = energy.astype(np.float32)
    return measured
