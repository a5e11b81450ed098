"""A "data" detector that differs from the nominal one by known amounts (pseudo-data).

Real data never matches the simulation: the energy scale and the constant term
differ per |η| region, there is material the simulation misses, and the noise
may be higher.  A :class:`DetectorShift` states those differences so that a
data-driven method (``calib scale-fit``) can be tested by recovering them.

Convention (the one ``calib scale-fit`` measures and ``calib correct`` undoes):
in the |η| bin i of the cluster, every cell of the window is multiplied by
``(1 + α_i) · (1 + c_i · g)`` with g ~ N(0, 1) per cluster, so
E_data = (1 + α_i) · E_nominal, smeared by an extra relative constant term c_i.
The bin is taken from the particle's impact |η| on the calorimeter front.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from heplearn.config import setting
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry
from heplearn.errors import ConfigError

__all__ = ["DetectorShift", "shift_cells", "shifted_geometry"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class DetectorShift:
    """Per-|η|-bin scale shifts α_i and extra constant terms c_i, extra material, noise."""

    eta_edges: tuple[float, ...] = setting(
        (0.0, 0.8, 1.37, 1.52, 2.47), low=0.0, high=5.0, doc="|η| bin edges, increasing"
    )
    alpha: tuple[float, ...] = setting(
        (), low=-0.5, high=0.5, doc="scale shift per bin: E_data = (1 + α_i) E_nominal"
    )
    constant: tuple[float, ...] = setting(
        (), low=0.0, high=0.5, doc="extra relative constant term c_i per bin (Gaussian)"
    )
    extra_material: float = setting(
        0.0, low=-0.9, high=5.0, doc="fractional change of the upstream material (X0)"
    )
    noise_factor: float = setting(1.0, low=0.0, high=100.0, doc="electronic noise × this")

    def validate(self, where: str) -> None:
        edges = np.asarray(self.eta_edges, dtype=float)
        if len(edges) < 2 or not np.all(np.diff(edges) > 0):
            raise ConfigError(
                "field 'detector_shift.eta_edges'",
                where,
                f"{list(self.eta_edges)} is not an increasing list of at least two edges",
                "give e.g. [0.0, 0.8, 1.37, 1.52, 2.47]",
            )
        for name in ("alpha", "constant"):
            values = getattr(self, name)
            if values and len(values) != len(edges) - 1:
                raise ConfigError(
                    f"field 'detector_shift.{name}'",
                    where,
                    f"{len(values)} values for {len(edges) - 1} |η| bins",
                    f"give one value per bin ({len(edges) - 1}) or none",
                )

    def per_bin(self, name: str) -> Array:
        """α or c per bin (zeros where not given)."""
        values = getattr(self, name)
        return np.asarray(values if values else [0.0] * (len(self.eta_edges) - 1), dtype=float)

    def bin_of(self, abs_eta: Array) -> Array:
        """The bin index of each |η| (clipped to the first and last bins)."""
        inner = np.asarray(self.eta_edges[1:-1], dtype=float)
        return np.searchsorted(inner, abs_eta, side="right")


def shifted_geometry(geometry: CalorimeterGeometry, shift: DetectorShift) -> CalorimeterGeometry:
    """The geometry with the shift's extra upstream material and noise factor."""
    if shift.extra_material == 0.0 and shift.noise_factor == 1.0:
        return geometry
    factor = 1.0 + shift.extra_material

    def scaled(table: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        return tuple((eta, x0 * factor) for eta, x0 in table)

    layers = tuple(
        replace(layer, noise_mev=layer.noise_mev * shift.noise_factor) for layer in geometry.layers
    )
    return replace(
        geometry,
        tracker_x0=scaled(geometry.tracker_x0),
        cryostat_x0=scaled(geometry.cryostat_x0),
        layers=layers,
    )


def shift_cells(
    cells: dict[str, Array], impact_eta: Array, shift: DetectorShift, rng: np.random.Generator
) -> dict[str, Array]:
    """Cell windows scaled per cluster by (1 + α_i)(1 + c_i g), i the bin of |impact η|."""
    bins = shift.bin_of(np.abs(impact_eta))
    factor = (1.0 + shift.per_bin("alpha")[bins]) * (
        1.0 + shift.per_bin("constant")[bins] * rng.standard_normal(len(bins))
    )
    return {
        name: (window * factor[:, None, None]).astype(window.dtype)
        for name, window in cells.items()
    }
