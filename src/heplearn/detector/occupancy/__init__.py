"""Occupancy maps for data-quality monitoring: channel geometries, rates and faults."""
