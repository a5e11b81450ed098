"""Shipped calorimeter geometries (YAML data, loaded by ``heplearn.detector.load_geometry``)."""
