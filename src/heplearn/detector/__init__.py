"""Parametric detector simulation: geometries, material, GFlash showers, cells, reconstruction."""

from __future__ import annotations

from heplearn.detector.geometry import CalorimeterGeometry, load_geometry, shipped_geometries

__all__ = ["CalorimeterGeometry", "load_geometry", "shipped_geometries"]
