"""Inactive module and supermodule boundaries of a crystal calorimeter (CMS-like barrel).

Module boundaries lie on crystal edges.  The energy that falls within half the
gap width on either side of a boundary is removed from the crystal it would
have reached; it is lost, which makes the low tail of ΔE/E near the gaps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import Window
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry
from heplearn.detector.calorimeter.lateral import RadialProfile

__all__ = ["subtract_module_gaps"]

Array = np.ndarray[Any, Any]


def _strip_fractions(
    edge: Array, half_width: float, across: Array, profile: RadialProfile
) -> Array:
    """(n, 2, m): shower fraction in [edge−h, edge] and [edge, edge+h] for each cell across."""
    strip = np.stack([edge - half_width, edge, edge + half_width], axis=1)
    return profile.cell_fractions(strip, across)


def _boundary_columns(starts: Array, n_cells: int, period: int) -> list[Array]:
    """For each possible boundary slot, the window edge index hit per shower (−1 if none)."""
    first = (-starts) % period
    return [
        np.where(first + k * period <= n_cells, first + k * period, -1)
        for k in range(n_cells // period + 1)
    ]


def _remove(shape: Array, loss: Array, edge: Array, axis: int) -> Array:
    """Subtract the strip fractions from the cells on both sides of ``edge``; return the total."""
    n, nx, ny = shape.shape
    size = nx if axis == 1 else ny
    rows = np.arange(n)
    removed = np.zeros(n)
    for side, cell in ((0, edge - 1), (1, edge)):
        valid = (edge >= 0) & (cell >= 0) & (cell < size)
        if not valid.any():
            continue
        part = loss[valid, side]
        if axis == 1:
            shape[rows[valid], cell[valid], :] -= part
        else:
            shape[rows[valid], :, cell[valid]] -= part
        removed[valid] += part.sum(axis=1)
    return removed


def subtract_module_gaps(
    shape: Array,
    x: Array,
    y: Array,
    *,
    window: Window,
    owner: Array,
    geometry: CalorimeterGeometry,
    profile: RadialProfile,
) -> Array:
    """Remove the gap strips from ``shape`` (n, nη, nφ) in place; return the fraction lost."""
    gaps = geometry.module_gaps
    half = gaps.width_mm / 2.0
    layer = window.layer
    lost = np.zeros(len(shape))
    eta_start = window.eta_start[owner]
    n_eta, n_phi = window.shape
    for boundary in gaps.eta_edges:
        for signed in {boundary, -boundary}:
            edge = np.rint(signed / layer.d_eta).astype(np.int64) - eta_start
            edge = np.where((edge >= 0) & (edge <= n_eta), edge, -1)
            if not (edge >= 0).any():
                continue
            x_edge = np.take_along_axis(x, edge.clip(0)[:, None], axis=1)[:, 0]
            loss = _strip_fractions(x_edge, half, y, profile)
            lost += _remove(shape, loss, edge, axis=1)
    if gaps.phi_period > 0:
        period = round(gaps.phi_period / layer.d_phi)
        for edge in _boundary_columns(window.phi_start[owner], n_phi, period):
            if not (edge >= 0).any():
                continue
            y_edge = np.take_along_axis(y, edge.clip(0)[:, None], axis=1)[:, 0]
            loss = _strip_fractions(y_edge, half, x, profile)
            lost += _remove(shape, loss, edge, axis=2)
    np.clip(shape, 0.0, None, out=shape)
    return lost
