"""Electromagnetic showers deposited into the cell windows, many showers at once.

Each (sub-)shower has its own correlated GFlash longitudinal profile.  The
depth along its path is cut into segments — the dead material after the
tracker, then per readout layer the dead material in front of it and the
layer itself in a few slices — and the Gamma CDF gives the exact energy
fraction of every segment; what lies beyond the last layer is longitudinal
leakage.  In every slice the two-component radial profile at that depth is
integrated exactly over the window's cells (``lateral.cell_fractions``).
Showers of one particle (an electron and its bremsstrahlung photon, a
conversion pair) add into that particle's windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import Window, wrap_phi
from heplearn.detector.calorimeter.gaps import subtract_module_gaps
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, interpolate
from heplearn.detector.calorimeter.lateral import RadialProfile
from heplearn.detector.calorimeter.longitudinal import depth_fractions, sample_profiles

__all__ = ["Deposits", "SubShowers", "deposit_showers"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class SubShowers:
    """Showers entering the calorimeter: energy [GeV], direction, start depth, owning particle."""

    energy: Array
    eta: Array
    phi: Array
    start_x0: Array
    owner: Array

    def __len__(self) -> int:
        return len(self.energy)


@dataclass(frozen=True)
class Deposits:
    """Energy bookkeeping per particle [GeV], before any detector response.

    ``cells[layer]`` holds the window cells; ``layer_total`` the whole layer (inside and
    outside the window); ``dead`` what was absorbed in inactive material (in front of
    and between layers, module gaps); ``leakage`` what left through the back.
    """

    cells: dict[str, Array]
    layer_total: Array
    dead: Array
    leakage: Array


def _segment_thicknesses(
    abs_eta: Array, geometry: CalorimeterGeometry, material: bool
) -> tuple[Array, list[tuple[int, int]]]:
    """(n, K) thicknesses [X0] along the path and the (layer, slice) of each segment (−1: dead).

    Without ``material`` the dead material in front of and between the layers is removed.
    """
    keep = 1.0 if material else 0.0
    columns = [keep * interpolate(geometry.cryostat_x0, abs_eta)]
    labels = [(-1, -1)]
    for index, layer in enumerate(geometry.layers):
        columns.append(keep * interpolate(layer.dead_before_x0, abs_eta))
        labels.append((-1, -1))
        depth = np.where(abs_eta < layer.eta_max, interpolate(layer.depth_x0, abs_eta), 0.0)
        for part in range(layer.slices):
            columns.append(depth / layer.slices)
            labels.append((index, part))
    return np.stack(columns, axis=1), labels


def deposit_showers(
    showers: SubShowers,
    windows: dict[str, Window],
    geometry: CalorimeterGeometry,
    n_particles: int,
    rng: np.random.Generator | None,
    *,
    material: bool = True,
) -> Deposits:
    """Deposit ``showers`` into the ``windows`` of ``n_particles`` particles.

    With ``rng=None`` the mean longitudinal profiles are used (no shower fluctuations).
    """
    energy = np.asarray(showers.energy, dtype=np.float64)
    abs_eta = np.abs(showers.eta)
    owner = np.asarray(showers.owner)
    # Out-of-time pileup enters with negative energy (bipolar pulses): shape from |E|.
    magnitude = np.abs(energy)
    profiles = sample_profiles(magnitude, geometry, rng)
    thickness, labels = _segment_thicknesses(abs_eta, geometry, material)
    edges = np.concatenate([np.zeros((len(energy), 1)), np.cumsum(thickness, axis=1)], axis=1)
    fractions = depth_fractions(profiles, edges - showers.start_x0[:, None])
    middles = 0.5 * (edges[:, 1:] + edges[:, :-1])
    tau = np.maximum(middles - showers.start_x0[:, None], 0.0) / profiles.t_max[:, None]
    sin_theta = 1.0 / np.cosh(showers.eta)
    into_calorimeter = (middles - edges[:, 1:2]).clip(0.0) * geometry.x0_mm * sin_theta[:, None]
    # Transverse radius at each segment's depth: cells are projective, so sizes scale with it.
    radius = geometry.front_radius(abs_eta)[:, None] + into_calorimeter

    n_layers = len(geometry.layers)
    layer_fraction = np.zeros((len(energy), n_layers))
    dead_fraction = np.zeros(len(energy))
    for k, (layer_index, _) in enumerate(labels):
        if layer_index < 0:
            dead_fraction += fractions[:, k]
        else:
            layer_fraction[:, layer_index] += fractions[:, k]

    cells: dict[str, Array] = {}
    gap_loss = np.zeros((len(energy), n_layers))
    for layer_index, layer in enumerate(geometry.layers):
        window = windows[layer.name]
        eta_edges = window.eta_edges()[owner]
        phi_edges = window.phi_edges()[owner]
        axis_phi = phi_edges[:, :1] + wrap_phi(showers.phi[:, None] - phi_edges[:, :1])
        per_shower = np.zeros((len(energy), *window.shape))
        for k, (index, _) in enumerate(labels):
            if index != layer_index:
                continue
            x = radius[:, k : k + 1] * (eta_edges - showers.eta[:, None])
            y = radius[:, k : k + 1] * (phi_edges - axis_phi)
            profile = RadialProfile.at_depth(
                magnitude, tau[:, k], geometry.z_eff, geometry.moliere_mm
            )
            shape = profile.cell_fractions(x, y)
            if geometry.module_gaps.width_mm > 0:
                lost = subtract_module_gaps(
                    shape, x, y, window=window, owner=owner, geometry=geometry, profile=profile
                )
                gap_loss[:, layer_index] += energy * fractions[:, k] * lost
            per_shower += (energy * fractions[:, k])[:, None, None] * shape
        total = np.zeros((n_particles, *window.shape))
        np.add.at(total, owner, per_shower)
        cells[layer.name] = total

    layer_total = np.zeros((n_particles, n_layers))
    np.add.at(layer_total, owner, energy[:, None] * layer_fraction - gap_loss)
    dead = np.bincount(owner, energy * dead_fraction + gap_loss.sum(axis=1), minlength=n_particles)
    leakage = np.bincount(owner, energy * (1.0 - fractions.sum(axis=1)), minlength=n_particles)
    return Deposits(cells=cells, layer_total=layer_total, dead=dead, leakage=leakage)
