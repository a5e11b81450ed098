"""Cluster reconstruction from the cell windows: E_acc and the calibration scalars.

The window is already centred on the cluster (see ``cellgrid``).  ``E_acc`` is
the baseline energy every model must beat: the layer energies (in the window,
or in the central ``e_acc_window`` of the seed layer) weighted by the geometry's
``e_acc_weight`` (the presampler weight corrects on average for the energy lost
in front of the calorimeter) and scaled by the |η| table ``e_acc_scale``.  A
cluster whose central seed cell does not pass ``seed_threshold_gev`` (e.g. a
dead crystal was hit) is not reconstructed: its E_acc is 0.

Scalars follow DeepCalo thesis Table 3.3 where the simulation defines them:
``e_acc``, ``eta`` (cluster, seed layer), ``phi``, ``eta_index``, ``f0`` (presampler
over E_acc), ``r12`` (strips over middle), ``pos_in_cell`` (η position of the
cluster inside its seed cell, 0…1), ``delta_phi_th3`` (mod(2π+φ, π/32) − π/32),
``sigma_ieta_ieta`` (5×5, w = max(0, 4.7 + ln(E_i/E_5×5))), ``e_raw`` (unweighted sum),
``e_max``, ``e3x3``, ``e5x5``, ``r9`` (E3×3 over the seed-layer window sum), and the
layer energies ``e_<layer>``.  Track-based scalars are added by the sample builder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import Window
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, interpolate

__all__ = ["reconstruct_clusters", "sigma_ieta_ieta"]

Array = np.ndarray[Any, Any]


def _central(cells: Array, size: tuple[int, int]) -> Array:
    """The central ``size`` block of (n, nη, nφ) windows."""
    n_eta, n_phi = cells.shape[1:]
    i0, j0 = (n_eta - size[0]) // 2, (n_phi - size[1]) // 2
    return cells[:, i0 : i0 + size[0], j0 : j0 + size[1]]


def sigma_ieta_ieta(block: Array, eta_centres: Array) -> Array:
    """Log-weighted η width of (n, 5, 5) blocks with cell-centre η (n, 5)."""
    total = block.sum(axis=(1, 2), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.maximum(
            0.0, 4.7 + np.log(np.clip(block, 1e-12, None) / np.maximum(total, 1e-12))
        )
    weights = np.where(block > 0, weights, 0.0)
    w_eta = weights.sum(axis=2)
    norm = np.maximum(w_eta.sum(axis=1), 1e-12)
    mean = (w_eta * eta_centres).sum(axis=1) / norm
    variance = (w_eta * (eta_centres - mean[:, None]) ** 2).sum(axis=1) / norm
    width: Array = np.sqrt(variance)
    return width


def reconstruct_clusters(
    cells: dict[str, Array], windows: dict[str, Window], geometry: CalorimeterGeometry
) -> dict[str, Array]:
    """Scalars of every cluster from its measured cell windows [GeV]."""
    seed = geometry.seed
    seed_cells = cells[seed.name].astype(np.float64)
    window = windows[seed.name]
    n = len(seed_cells)
    layer_energy = {name: c.sum(axis=(1, 2), dtype=np.float64) for name, c in cells.items()}
    acc_energy = dict(layer_energy)
    if geometry.e_acc_window is not None:
        acc_energy[seed.name] = _central(seed_cells, geometry.e_acc_window).sum(axis=(1, 2))

    block = _central(seed_cells, (3, 3)).clip(0.0)
    eta_centres, phi_centres = window.eta_centres(), window.phi_centres()
    i0, j0 = (seed.window[0] - 3) // 2, (seed.window[1] - 3) // 2
    eta3 = eta_centres[:, i0 : i0 + 3]
    phi3 = phi_centres[:, j0 : j0 + 3]
    reference = phi3[:, 1:2]
    total3 = np.maximum(block.sum(axis=(1, 2)), 1e-12)
    eta = (block.sum(axis=2) * eta3).sum(axis=1) / total3
    phi_offset = (block.sum(axis=1) * (np.angle(np.exp(1j * (phi3 - reference))))).sum(
        axis=1
    ) / total3
    phi = np.angle(np.exp(1j * (reference[:, 0] + phi_offset)))

    weights = {layer.name: layer.e_acc_weight for layer in geometry.layers}
    weighted = sum(weights[name] * energy for name, energy in acc_energy.items())
    e_acc = interpolate(geometry.e_acc_scale, np.abs(eta)) * weighted
    centre = seed_cells[:, seed.window[0] // 2, seed.window[1] // 2]
    found = centre > geometry.seed_threshold_gev
    e_acc = np.where(found, e_acc, 0.0)

    names = geometry.layer_names
    presampler = layer_energy.get("presampler", np.zeros(n))
    with np.errstate(divide="ignore", invalid="ignore"):
        f0 = np.where(e_acc > 0, presampler / e_acc, 0.0)
        r12 = (
            np.where(
                layer_energy["middle"] != 0, layer_energy["strips"] / layer_energy["middle"], 0.0
            )
            if {"strips", "middle"} <= set(names)
            else np.zeros(n)
        )
    max_cell = np.unravel_index(np.argmax(block.reshape(n, -1), axis=1), (3, 3))
    eta_max_cell_low = eta3[np.arange(n), max_cell[0]] - seed.d_eta / 2
    block5 = _central(seed_cells, (5, 5)).clip(0.0)
    eta5 = eta_centres[:, (seed.window[0] - 5) // 2 : (seed.window[0] - 5) // 2 + 5]
    e5x5 = block5.sum(axis=(1, 2))
    seed_sum = seed_cells.clip(0.0).sum(axis=(1, 2))
    scalars = {
        "e_acc": e_acc,
        "e_raw": sum(c.sum(axis=(1, 2), dtype=np.float64) for c in cells.values()),
        "eta": eta,
        "phi": phi,
        "eta_index": np.floor(eta / seed.d_eta),
        "f0": f0,
        "r12": r12,
        "pos_in_cell": (eta - eta_max_cell_low) / seed.d_eta,
        "delta_phi_th3": np.mod(2 * np.pi + phi, np.pi / 32) - np.pi / 32,
        "sigma_ieta_ieta": sigma_ieta_ieta(block5, eta5),
        "e_max": block.max(axis=(1, 2)),
        "e3x3": block.sum(axis=(1, 2)),
        "e5x5": e5x5,
        "r9": np.where(seed_sum > 0, block.sum(axis=(1, 2)) / np.maximum(seed_sum, 1e-12), 0.0),
        "cluster_found": found.astype(np.float64),
    }
    for name, energy in layer_energy.items():
        scalars[f"e_{name}"] = energy
    return {name: np.asarray(value, dtype=np.float32) for name, value in scalars.items()}
