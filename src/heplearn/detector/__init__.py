"""Parametric detector simulation, in three sub-packages.

- :mod:`heplearn.detector.calorimeter`: e/γ clusters (geometries, material, GFlash showers,
  cells, clusters, tracks);
- :mod:`heplearn.detector.occupancy`: occupancy maps and their faults for DQM;
- :mod:`heplearn.detector.objects`: leptons, jets and missing energy for the search.
"""

from __future__ import annotations

from heplearn.detector.calorimeter.geometry import (
    CalorimeterGeometry,
    load_geometry,
    shipped_geometries,
)

__all__ = ["CalorimeterGeometry", "load_geometry", "shipped_geometries"]
