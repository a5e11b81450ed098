"""The calibration target r = E_truth/E_acc (or its inverse) and back to an energy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.calib.features import FeatureConfig, load_features
from heplearn.calib.targets import TARGET_KINDS, energy_from_target, make_target
from heplearn.errors import DataError


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_the_true_target_gives_back_the_true_energy(gun_store: Path, kind: str) -> None:
    features = load_features(gun_store, FeatureConfig(tracks=False, scalars=()))
    target = make_target(features.e_truth, features.e_acc, kind)  # type: ignore[arg-type]
    assert target.dtype == np.float32
    # E_acc is calibrated to the truth on average: the target is a ratio near 1.
    assert np.median(target) == pytest.approx(1.0, abs=0.03)
    energy = energy_from_target(target, features.e_acc, kind)  # type: ignore[arg-type]
    np.testing.assert_allclose(energy, features.e_truth, rtol=1e-6)


def test_a_two_column_output_uses_its_first_column() -> None:
    pred = np.array([[1.1, -8.0], [0.9, -7.0]])
    np.testing.assert_allclose(energy_from_target(pred, np.array([10.0, 20.0])), [11.0, 18.0])


def test_clusters_without_energy_have_no_target() -> None:
    with pytest.raises(DataError, match="1 of 3 clusters have E_acc ≤ 0"):
        make_target(np.array([10.0, 20.0, 30.0]), np.array([9.0, 0.0, 31.0]))
