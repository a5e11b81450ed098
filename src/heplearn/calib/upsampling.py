"""Energy-conserving up-sampling of every calorimeter layer onto one common grid.

A CNN needs all layers on one (η, φ) grid.  As in the DeepCalo thesis (§3.3.3,
Table 3.5), the grid has the finest η granularity of any layer (the strips,
Δη = 0.003125) and the finest φ granularity (the middle layer, Δφ = 0.0245), and
covers the seed-layer window: 56 × 11 for the ATLAS-like geometry.  A cell of a
layer whose cells are ``w`` grid cells wide in η and ``h`` in φ becomes ``w × h``
sub-cells, each holding ``E_cell / (w·h)``, so no energy is created or lost.

Anchoring and overflow.  Every window is anchored at its first cell: the
windows of all layers start at the same (η, φ) to within half a coarse cell
(:mod:`heplearn.detector.calorimeter.cellgrid`), which is as well as the coarse cells allow.
The up-sampled extent of a coarse layer can exceed the grid: the presampler and
strips (3 cells of 4 sub-cells = 12 in φ vs 11) and the back layer (4 cells of
16 = 64 in η vs 56).  The thesis drops the sub-cells beyond the window; here
they are *folded onto the last row/column of the grid* instead, so that every
channel's sum equals its layer window's sum exactly: the layer energies (and
E_acc, built from them) stay what the images show.  The price is a last row or
column that holds slightly more than a 1/(w·h) share.  A layer whose up-sampled
extent is smaller than the grid is padded with zeros at the far end.

Factors come from the geometry the store was simulated with (``Δη_layer /
Δη_grid``, which must be a whole number).  Imported stores may carry no
geometry: then the grid is the largest window in each direction and each
layer's factor is ``ceil(grid / size)`` (for the ATLAS shapes that gives the
back layer 14 instead of 16, the best the shapes alone can say).

Time images (``conserve=False``) are up-sampled by repetition: a sub-cell
carries its cell's time, and overflowing sub-cells are dropped, since times do
not add.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from heplearn.data.reader import Store
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, load_geometry
from heplearn.errors import ConfigError, SchemaError

__all__ = [
    "UpsamplingPlan",
    "image_layers",
    "plan_for_store",
    "plan_from_geometry",
    "plan_from_shapes",
    "store_geometry",
    "upsample",
]

Array = np.ndarray[Any, Any]

#: Cell-size ratios this close to an integer count as one (the geometry gives 2π/64 to 8 digits).
_RATIO_TOLERANCE = 1e-5


def upsample(
    cells: Array,
    factor: tuple[int, int],
    grid: tuple[int, int],
    *,
    conserve: bool = True,
) -> Array:
    """(N, nη, nφ) windows → (N, *grid) float32, each cell split into ``factor`` sub-cells.

    ``conserve``: each sub-cell holds E/(w·h) and overflow is folded onto the last
    row/column (sums are kept); otherwise values are repeated and overflow dropped.
    """
    w, h = factor
    values = np.asarray(cells, dtype=np.float64)
    fine = np.repeat(np.repeat(values, w, axis=1), h, axis=2)
    if conserve:
        fine /= w * h
    n_eta, n_phi = grid
    if fine.shape[1] > n_eta:
        if conserve:
            fine[:, n_eta - 1] += fine[:, n_eta:].sum(axis=1)
        fine = fine[:, :n_eta]
    if fine.shape[2] > n_phi:
        if conserve:
            fine[:, :, n_phi - 1] += fine[:, :, n_phi:].sum(axis=2)
        fine = fine[:, :, :n_phi]
    out = np.zeros((len(values), n_eta, n_phi), dtype=np.float32)
    out[:, : fine.shape[1], : fine.shape[2]] = fine
    return out


@dataclass(frozen=True)
class UpsamplingPlan:
    """The common grid and each layer's (η, φ) up-sampling factor."""

    grid: tuple[int, int]
    factors: Mapping[str, tuple[int, int]]
    source: str

    def upsample(self, layer: str, cells: Array, *, conserve: bool = True) -> Array:
        """Up-sample one layer's (N, nη, nφ) windows onto the grid (see :func:`upsample`)."""
        return upsample(cells, self.factors[layer], self.grid, conserve=conserve)


def _whole(ratio: float, what: str, where: str) -> int:
    whole = round(ratio)
    if whole < 1 or abs(ratio - whole) > _RATIO_TOLERANCE * max(whole, 1):
        raise ConfigError(
            what,
            where,
            f"the ratio {ratio:.6g} is not a whole number, so its cells cannot be split "
            "into grid cells",
            "use a geometry whose cell sizes are whole multiples of the finest one",
        )
    return whole


def plan_from_geometry(
    geometry: CalorimeterGeometry, shapes: Mapping[str, tuple[int, int]], where: str
) -> UpsamplingPlan:
    """Factors Δ_layer/Δ_grid from the geometry; the grid covers the seed-layer window.

    ``shapes`` (layer → stored window) must match the geometry's windows.
    """
    layers = {layer.name: layer for layer in geometry.layers}
    d_eta = min(layer.d_eta for layer in geometry.layers)
    d_phi = min(layer.d_phi for layer in geometry.layers)
    seed = geometry.seed
    grid = (
        _whole(seed.window[0] * seed.d_eta / d_eta, f"seed window of {geometry.name}", where),
        _whole(seed.window[1] * seed.d_phi / d_phi, f"seed window of {geometry.name}", where),
    )
    factors = {}
    for name, shape in shapes.items():
        if name not in layers:
            raise SchemaError(
                f"image layer '{name}'",
                where,
                f"geometry {geometry.name} has no such layer (it has {', '.join(layers)})",
                "check the store's images/ fields against the geometry it was made with",
            )
        layer = layers[name]
        if tuple(shape) != tuple(layer.window):
            raise SchemaError(
                f"field 'images/{name}'",
                where,
                f"its window is {tuple(shape)} but geometry {geometry.name} stores "
                f"{tuple(layer.window)}",
                "regenerate the store with this geometry",
            )
        factors[name] = (
            _whole(layer.d_eta / d_eta, f"layer '{name}' Δη / grid Δη", where),
            _whole(layer.d_phi / d_phi, f"layer '{name}' Δφ / grid Δφ", where),
        )
    return UpsamplingPlan(grid, factors, f"geometry {geometry.name}")


def plan_from_shapes(shapes: Mapping[str, tuple[int, int]]) -> UpsamplingPlan:
    """Without a geometry: the grid is the largest window, factor = ceil(grid / size)."""
    grid = (max(s[0] for s in shapes.values()), max(s[1] for s in shapes.values()))
    factors = {
        name: (math.ceil(grid[0] / s[0]), math.ceil(grid[1] / s[1])) for name, s in shapes.items()
    }
    return UpsamplingPlan(grid, factors, "window shapes (the store names no geometry)")


def store_geometry(store: Store) -> CalorimeterGeometry | None:
    """The geometry named in the store's generating config, or None (e.g. imported stores)."""
    text = store.provenance.get("config")
    if not isinstance(text, str):
        return None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return None  # an imported store's provenance may hold anything: no geometry then
    name = config.get("geometry") if isinstance(config, dict) else None
    if not isinstance(name, str) or not name:
        return None
    path = Path(name)
    if path.suffix in {".yaml", ".yml"} and not path.is_file():
        # A relative path was resolved where the store was made, which need not be here.
        raise ConfigError(
            f"geometry file '{name}'",
            str(store.path),
            "the store was simulated with it but it is not found from here",
            "run from the folder the store was generated in",
        )
    return load_geometry(name)


def plan_for_store(store: Store, layers: Sequence[str] | None = None) -> UpsamplingPlan:
    """The plan for ``layers`` (default: every images/* field) of ``store``.

    The caller checks that the images/<layer> fields exist.
    """
    geometry = store_geometry(store)
    names = layers if layers is not None else image_layers(store, geometry)
    shapes: dict[str, tuple[int, int]] = {}
    for name in names:
        shape = store.schema[f"images/{name}"].shape
        if len(shape) != 2:
            raise SchemaError(
                f"field 'images/{name}'",
                str(store.path),
                f"has shape {shape}, expected a 2-D (η, φ) window per event",
                "map a 2-D image onto images/<layer>",
            )
        shapes[name] = (int(shape[0]), int(shape[1]))
    if geometry is None:
        return plan_from_shapes(shapes)
    return plan_from_geometry(geometry, shapes, str(store.path))


def image_layers(store: Store, geometry: CalorimeterGeometry | None) -> list[str]:
    """Layers with an images/<layer> field, in ``geometry`` order when it is given."""
    present = [name.removeprefix("images/") for name in store.schema if name.startswith("images/")]
    if geometry is None:
        return present
    order = {name: i for i, name in enumerate(geometry.layer_names)}
    return sorted(present, key=lambda name: order.get(name, len(order)))
