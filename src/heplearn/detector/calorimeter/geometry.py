"""Calorimeter geometries as data: YAML files loaded into typed, frozen dataclasses.

A geometry describes, for one electromagnetic calorimeter, the readout layers
(granularity, depth along the particle path as a function of |η|, electronic
noise, the window of cells stored per particle), the material in front of it
(tracker and cryostat, in X0 along the path, as tables in |η|), the shower
medium (effective Z, X0, Molière radius, critical energy, sampling
parameters), the resolution terms, and the layer weights of the baseline
cluster energy ``E_acc``.  The shipped geometries are in
``heplearn/detector/geometries/*.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from heplearn.config import load_config, register_config, setting
from heplearn.errors import ConfigError

__all__ = [
    "CalorimeterGeometry",
    "LayerSpec",
    "ModuleGaps",
    "interpolate",
    "load_geometry",
    "shipped_geometries",
]

#: A piecewise-linear function of |η| given as ((|η|, value), ...).
EtaTable = tuple[tuple[float, float], ...]


def interpolate(table: EtaTable, abs_eta: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Evaluate a |η| table (linear between points, constant beyond the ends)."""
    points = np.asarray(table, dtype=np.float64)
    values: np.ndarray[Any, Any] = np.interp(abs_eta, points[:, 0], points[:, 1])
    return values


def _check_table(table: EtaTable, name: str, where: str) -> None:
    etas = [point[0] for point in table]
    if not table or etas != sorted(etas) or min(point[1] for point in table) < 0:
        raise ConfigError(
            f"table '{name}'",
            where,
            "needs [|η|, value] points with rising |η| and values ≥ 0",
            "fix the table",
        )


@dataclass(frozen=True)
class LayerSpec:
    """One readout layer: cell size, depth along the path vs |η|, noise, stored window."""

    name: str
    d_eta: float = setting(0.025, low=1e-4, high=1.0, doc="cell size in η")
    d_phi: float = setting(0.0245, low=1e-4, high=1.0, doc="cell size in φ [rad]")
    window: tuple[int, int] = setting((7, 11), low=1, high=256, doc="stored cells (η, φ)")
    depth_x0: EtaTable = setting(((0.0, 1.0),), doc="thickness along the path [X0] vs |η|")
    dead_before_x0: EtaTable = setting(((0.0, 0.0),), doc="dead material just before [X0]")
    noise_mev: float = setting(0.0, low=0.0, high=10_000.0, doc="electronic noise per cell [MeV]")
    eta_max: float = setting(5.0, low=0.0, high=5.0, doc="|η| coverage of this layer")
    e_acc_weight: float = setting(1.0, low=0.0, high=100.0, doc="weight of the layer in E_acc")
    slices: int = setting(2, low=1, high=10, doc="depth slices for the lateral profile")


@dataclass(frozen=True)
class ModuleGaps:
    """Inactive boundaries between modules (CMS-like barrel): lost energy between crystals."""

    eta_edges: tuple[float, ...] = setting((), doc="|η| of module boundaries")
    phi_period: float = setting(0.0, low=0.0, high=6.3, doc="φ period of supermodules [rad]")
    width_mm: float = setting(0.0, low=0.0, high=100.0, doc="inactive width at a boundary [mm]")


@register_config("calorimeter")
@dataclass(frozen=True)
class CalorimeterGeometry:
    """An electromagnetic calorimeter with the material in front of it."""

    name: str = "unnamed"
    technology: Literal["sampling", "homogeneous"] = "sampling"
    stochastic: float = setting(0.10, low=0.0, high=1.0, doc="sampling/photo-statistics a [√GeV]")
    constant: float = setting(0.007, low=0.0, high=0.2, doc="nominal constant term c (reference)")
    gain_spread: float = setting(
        0.004, low=0.0, high=0.2, doc="relative spread of the gains of the regions (calibration)"
    )
    gain_region: tuple[float, float] = setting(
        (0.2, 0.4), low=1e-3, doc="(Δη, Δφ) of regions sharing one gain"
    )
    z_eff: float = setting(82.0, low=1.0, high=100.0, doc="effective Z of the shower medium")
    x0_mm: float = setting(18.9, low=0.1, high=1000.0, doc="radiation length of the medium [mm]")
    moliere_mm: float = setting(40.0, low=0.1, high=1000.0, doc="Molière radius [mm]")
    critical_mev: float = setting(10.0, low=0.1, high=1000.0, doc="critical energy [MeV]")
    sampling_fs: float = setting(3.3, low=0.1, high=100.0, doc="GFlash Fs = X0eff/(d1+d2)")
    absorber_z: float = setting(82.0, low=1.0, high=100.0, doc="Z of the absorber")
    active_z: float = setting(18.0, low=1.0, high=100.0, doc="Z of the active medium")
    front_radius_mm: float = setting(1500.0, low=100.0, high=10_000.0, doc="barrel front radius")
    front_z_mm: float = setting(3700.0, low=100.0, high=20_000.0, doc="end-cap front |z|")
    barrel_eta_max: float = setting(1.475, low=0.0, high=5.0, doc="|η| end of the barrel")
    endcap_eta_min: float = setting(1.375, low=0.0, high=5.0, doc="|η| start of the end-cap")
    eta_max: float = setting(2.47, low=0.0, high=5.0, doc="|η| acceptance")
    crack: tuple[float, float] = setting((0.0, 0.0), low=0.0, high=5.0, doc="|η| of the crack")
    magnetic_field_t: float = setting(2.0, low=0.0, high=10.0, doc="solenoid field [T]")
    tracker_radius_mm: float = setting(1100.0, low=10.0, high=5000.0, doc="tracker outer radius")
    tracker_x0: EtaTable = setting(((0.0, 0.5),), doc="tracker material [X0] vs |η|")
    cryostat_x0: EtaTable = setting(((0.0, 0.0),), doc="dead material after tracker [X0] vs |η|")
    layers: tuple[LayerSpec, ...] = setting((), doc="readout layers, front to back")
    e_acc_scale: EtaTable = setting(((0.0, 1.0),), doc="overall E_acc scale vs |η|")
    module_gaps: ModuleGaps = setting(ModuleGaps())
    dead_cell_fraction: float = setting(0.0, low=0.0, high=0.5, doc="fraction of dead cells")
    detector_seed: int = setting(2026, low=0, doc="seed of gains and dead cells")
    seed_layer: str = "middle"
    e_acc_window: tuple[int, int] | None = setting(
        None, low=1, high=255, doc="central (η, φ) cells of the seed layer summed for E_acc"
    )
    bipolar_pulse: bool = setting(
        False, doc="pulses of earlier crossings subtract (LAr): pileup averages to zero"
    )
    seed_threshold_gev: float = setting(
        0.0, low=0.0, high=100.0, doc="a cluster exists only if its central seed cell passes this"
    )

    def validate(self, where: str) -> None:
        if not self.layers:
            raise ConfigError("field 'layers'", where, "no readout layers", "list at least one")
        names = [layer.name for layer in self.layers]
        if self.seed_layer not in names:
            raise ConfigError(
                "field 'seed_layer'",
                where,
                f"'{self.seed_layer}' is not a layer ({names})",
                "name one of the layers",
            )
        for name in ("tracker_x0", "cryostat_x0", "e_acc_scale"):
            _check_table(getattr(self, name), name, where)
        for layer in self.layers:
            _check_table(layer.depth_x0, f"{layer.name}.depth_x0", where)
            _check_table(layer.dead_before_x0, f"{layer.name}.dead_before_x0", where)

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def seed(self) -> LayerSpec:
        return next(layer for layer in self.layers if layer.name == self.seed_layer)

    @property
    def e_hat(self) -> float:
        """GFlash ê = 1/(1 + 0.007 (Z_absorber − Z_active)) of a sampling calorimeter."""
        return 1.0 / (1.0 + 0.007 * (self.absorber_z - self.active_z))

    def front_radius(self, abs_eta: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Transverse radius [mm] where a particle at |η| enters the calorimeter."""
        endcap_radius = self.front_z_mm / np.sinh(np.maximum(abs_eta, 1e-6))
        barrel = abs_eta < 0.5 * (self.barrel_eta_max + self.endcap_eta_min)
        return np.where(
            barrel, self.front_radius_mm, np.minimum(endcap_radius, self.front_radius_mm)
        )


GEOMETRY_PACKAGE = "heplearn.detector.calorimeter.geometries"


def shipped_geometries() -> list[str]:
    """Names of the geometries shipped with heplearn."""
    folder = resources.files(GEOMETRY_PACKAGE)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_geometry(name_or_path: str | Path) -> CalorimeterGeometry:
    """Load a shipped geometry by name (``atlas-lar``, ``cms-ecal``) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        return load_config(CalorimeterGeometry, path)
    names = shipped_geometries()
    if str(name_or_path) not in names:
        raise ConfigError(
            f"geometry '{name_or_path}'",
            "the detector settings",
            f"the shipped geometries are {', '.join(names)}",
            "choose one or give the path of a geometry YAML file",
        )
    resource = resources.files(GEOMETRY_PACKAGE) / f"{name_or_path}.yaml"
    with resources.as_file(resource) as file:
        return load_config(CalorimeterGeometry, file)
