"""Data-quality monitoring of calorimeter occupancy maps: labels, maps, models, quality tests.

The occupancy simulation and fault injection live in :mod:`heplearn.detector.occupancy`
(``hcal``, ``hcal_occupancy``, ``hcal_faults``) so that ``heplearn.generate`` can use them;
the modules here build on them.
"""

from __future__ import annotations

__all__: list[str] = []
