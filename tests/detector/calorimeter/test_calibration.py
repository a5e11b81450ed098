"""The shipped E_acc calibration tables still match the simulation (re-derive them if not)."""

from __future__ import annotations

import numpy as np
import pytest

from heplearn.detector.calorimeter.calibration import median_response
from heplearn.detector.calorimeter.geometry import load_geometry


@pytest.mark.parametrize("name", ["atlas-lar", "cms-ecal"])
def test_baseline_is_calibrated_within_one_percent(name: str) -> None:
    geometry = load_geometry(name)
    edges = np.array([0.0, 0.4, 0.8, 1.2, geometry.eta_max])
    medians = median_response(geometry, edges, per_bin=600, seed=5)
    np.testing.assert_allclose(medians, 1.0, atol=0.01)
