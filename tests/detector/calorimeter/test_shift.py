"""The pseudo-data detector shift: scale and smearing per |η| bin, material, noise, config."""

from __future__ import annotations

import numpy as np
import pytest

from heplearn.config import parse_config
from heplearn.detector.calorimeter.geometry import load_geometry
from heplearn.detector.calorimeter.shift import DetectorShift, shift_cells, shifted_geometry
from heplearn.errors import ConfigError
from heplearn.generate.calib import CalibSampleConfig


def test_cells_scale_by_one_plus_alpha_of_their_bin() -> None:
    shift = DetectorShift(eta_edges=(0.0, 1.0, 2.5), alpha=(0.01, -0.02), constant=(0.0, 0.0))
    cells = {"middle": np.ones((4, 3, 3), np.float32)}
    eta = np.array([0.2, -0.9, 1.2, -2.4])
    out = shift_cells(cells, eta, shift, np.random.default_rng(1))["middle"]
    np.testing.assert_allclose(out[:, 0, 0], [1.01, 1.01, 0.98, 0.98], rtol=1e-6)


def test_the_constant_term_smears_with_its_width() -> None:
    shift = DetectorShift(eta_edges=(0.0, 2.5), alpha=(0.0,), constant=(0.02,))
    cells = {"middle": np.ones((20_000, 1, 1), np.float32)}
    out = shift_cells(cells, np.zeros(20_000), shift, np.random.default_rng(2))["middle"]
    assert abs(float(out.std()) - 0.02) < 0.001 and abs(float(out.mean()) - 1) < 0.001


def test_material_and_noise_change_the_geometry() -> None:
    nominal = load_geometry("atlas-lar")
    assert shifted_geometry(nominal, DetectorShift()) is nominal
    changed = shifted_geometry(nominal, DetectorShift(extra_material=0.2, noise_factor=2.0))
    assert changed.tracker_x0[0][1] == pytest.approx(1.2 * nominal.tracker_x0[0][1])
    assert changed.layers[1].noise_mev == pytest.approx(2 * nominal.layers[1].noise_mev)


def test_a_shift_with_the_wrong_number_of_values_is_refused() -> None:
    block = {"eta_edges": [0.0, 1.0, 2.47], "alpha": [0.01]}
    with pytest.raises(ConfigError, match=r"detector_shift.alpha.*1 values for 2"):
        parse_config(CalibSampleConfig, {"detector_shift": block}, "test")
