"""The DQM split: by event/id in a generated store, by map content otherwise, never by row."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from heplearn.dqm.maps import MapSet
from heplearn.dqm.splits import map_keys, split_maps
from heplearn.errors import DataError


def _maps(n: int, seed: int) -> MapSet:
    counts = np.random.default_rng(seed).poisson(5.0, (n, 6, 8)).astype(np.float32)
    return MapSet.from_counts(counts)


def test_reordered_maps_keep_their_split_and_fractions_hold() -> None:
    maps = _maps(800, seed=1)
    split = split_maps(map_keys(maps), 0.2, seed=7, hold_out_test=True)
    order = np.random.default_rng(2).permutation(len(maps))
    again = split_maps(map_keys(maps.subset(order)), 0.2, seed=7, hold_out_test=True)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(np.sort(order[getattr(again, part)]), getattr(split, part))
    # 25 % test, 20 % of the rest validation: 15 % of all, within 4σ of the binomial.
    for rows, fraction in ((split.test, 0.25), (split.val, 0.15), (split.train, 0.6)):
        assert abs(len(rows) / 800 - fraction) < 4 * np.sqrt(fraction * (1 - fraction) / 800)
    user = split_maps(map_keys(maps), 0.2, seed=7, hold_out_test=False)
    assert len(user.test) == 0 and len(user.train) + len(user.val) == 800


def test_training_on_too_few_maps_names_the_validation_split(tmp_path: Path) -> None:
    from heplearn.dqm.model_config import DqmModelConfig, QtestSettings
    from heplearn.dqm.train import train_dqm

    path = tmp_path / "user.h5"
    with h5py.File(path, "w") as handle:
        handle["maps"] = _maps(3, seed=3).counts[..., 0]
    empirical = QtestSettings(thresholds="validation")
    with pytest.raises(DataError, match="too few validation maps"):
        train_dqm(DqmModelConfig(val_fraction=0.01, qtest=empirical), path, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # Thresholds from the model of the reference need no validation maps: all 3 are reference.
    info = train_dqm(DqmModelConfig(val_fraction=0.01), path, tmp_path / "run")
    assert info["train_maps"] == 3 and info["calibration"]["maps"] == 3
