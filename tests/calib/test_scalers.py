"""Scalers: fitted on the training split only, finite on unseen values, exact through JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri

from heplearn.calib.cluster_sets import split_indices
from heplearn.calib.features import FeatureArrays, FeatureConfig, load_features
from heplearn.calib.scalers import QuantileScaler, RobustScaler, ScalerSet, heavy_tailed
from heplearn.errors import DataError, OutputExistsError


@pytest.fixture(scope="module")
def gun_features(gun_store: Path) -> FeatureArrays:
    return load_features(gun_store, FeatureConfig(time_gate=False))


def _train_test(features: FeatureArrays) -> tuple[FeatureArrays, FeatureArrays]:
    train, _, test = split_indices(len(features), seed=2, groups=features.event_id)
    return features.take(train), features.take(test)


def test_round_trip_through_json_and_file_is_exact(
    gun_features: FeatureArrays, tmp_path: Path
) -> None:
    train, test = _train_test(gun_features)
    config = FeatureConfig(image_scaling="robust")
    scalers = ScalerSet.fit(train, config)
    direct = scalers.transform(test)
    again = ScalerSet.from_json(scalers.to_json()).transform(test)
    path = scalers.save(tmp_path / "scalers.json")
    loaded = ScalerSet.load(path).transform(test)
    for other in (again, loaded):
        for name in ("images", "scalars", "tracks"):
            np.testing.assert_array_equal(getattr(other, name), getattr(direct, name))
    assert {direct.images.dtype, direct.scalars.dtype, direct.tracks.dtype} == {
        np.dtype(np.float32)
    }
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary name is gone after the rename
    with pytest.raises(OutputExistsError):
        scalers.save(path)


def test_heavy_tailed_energies_get_the_quantile_transform(gun_features: FeatureArrays) -> None:
    scalers = ScalerSet.fit(gun_features)
    kind = dict(zip(scalers.scalar_names, scalers.scalars, strict=True))
    # Log-uniform pT gives E_acc a long high-energy tail; η is flat over the acceptance.
    assert isinstance(kind["e_acc"], QuantileScaler)
    assert isinstance(kind["pt_track"], QuantileScaler)
    assert isinstance(kind["eta"], RobustScaler)
    assert isinstance(kind["n_vertex"], RobustScaler)
    out = scalers.transform(gun_features).scalars
    assert np.all(np.abs(out[:, scalers.scalar_names.index("e_acc")]) < 5.3)
    listed = ScalerSet.fit(gun_features, FeatureConfig(quantile_scalars=("eta",)))
    assert isinstance(listed.scalars[gun_features.scalar_names.index("eta")], QuantileScaler)
    assert isinstance(listed.scalars[gun_features.scalar_names.index("e_acc")], RobustScaler)


def test_quantile_transform_of_a_log_normal_is_uniform_or_normal() -> None:
    rng = np.random.default_rng(1)
    train, fresh = rng.lognormal(0.0, 1.5, 20_000), rng.lognormal(0.0, 1.5, 20_000)
    assert heavy_tailed(train)
    levels = np.linspace(0.05, 0.95, 19)
    uniform = QuantileScaler.fit(train, 1000, "uniform").transform(fresh)
    np.testing.assert_allclose(np.quantile(uniform, levels), levels, atol=0.015)
    normal = QuantileScaler.fit(train, 1000, "normal").transform(fresh)
    np.testing.assert_allclose(np.quantile(normal, levels), ndtri(levels), atol=0.05)
    assert normal.mean() == pytest.approx(0.0, abs=0.03)
    assert normal.std() == pytest.approx(1.0, abs=0.03)


def test_values_the_fit_never_saw_stay_finite_and_clipped() -> None:
    rng = np.random.default_rng(2)
    train = rng.exponential(10.0, 5_000)
    unseen = np.array([-1e9, -1.0, 1e9, 1e30])
    normal = QuantileScaler.fit(train).transform(unseen)
    assert np.all(np.isfinite(normal))
    bound = ndtri(1 - 1e-7)
    np.testing.assert_allclose(normal, [-bound, -bound, bound, bound])
    uniform = QuantileScaler.fit(train, output="uniform").transform(unseen)
    np.testing.assert_array_equal(uniform, [0.0, 0.0, 1.0, 1.0])
    robust = RobustScaler.fit(train)
    assert np.isfinite(robust.transform(np.array([1e30]))).all()
    assert (
        RobustScaler.fit(np.full(10, 20.0)).scale == 1.0
    )  # a constant (fixed ⟨μ⟩) is not blown up


def test_test_values_beyond_the_training_range_are_clipped(gun_features: FeatureArrays) -> None:
    train, test = _train_test(gun_features)
    scalers = ScalerSet.fit(train)
    column = train.scalar_names.index("e_acc")
    wild = dataclasses.replace(test, scalars=test.scalars * 1000.0)  # TeV clusters → PeV
    out = scalers.transform(wild).scalars
    assert np.isfinite(out).all()
    beyond = wild.scalars[:, column] > train.scalars[:, column].max()
    assert beyond.any()
    np.testing.assert_allclose(out[beyond, column], ndtri(1 - 1e-7), rtol=1e-6)


def test_padding_tracks_stay_zero(gun_features: FeatureArrays) -> None:
    scalers = ScalerSet.fit(gun_features)
    out = scalers.transform(gun_features)
    real = np.arange(15)[None, :] < gun_features.track_count[:, None]
    assert np.all(out.tracks[~real] == 0.0)
    # Robust scaling centres every feature of the real tracks.
    np.testing.assert_allclose(np.median(out.tracks[real], axis=0), 0.0, atol=1e-6)


def test_images_keep_deepcalo_units_with_no_scaling(gun_features: FeatureArrays) -> None:
    none = FeatureConfig(image_scaling="none")  # the default is per-event
    plain = ScalerSet.fit(gun_features, none).transform(gun_features)
    np.testing.assert_array_equal(plain.images, gun_features.images)
    robust = ScalerSet.fit(gun_features, FeatureConfig(image_scaling="robust"))
    scaled = robust.transform(gun_features).images
    # One positive factor per channel: empty cells stay 0 and ratios of cells are kept.
    assert np.all((scaled == 0) == (gun_features.images == 0))
    ratio = scaled.sum(axis=(0, 2, 3)) / gun_features.images.sum(axis=(0, 2, 3))
    np.testing.assert_allclose(ratio, 1 / np.asarray(robust.image_scale), rtol=1e-4)


def test_files_that_are_not_ours_are_refused(tmp_path: Path, gun_features: FeatureArrays) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"weights": [1, 2]}))
    binary = tmp_path / "model.pt"
    binary.write_bytes(b"\x80\x04\x95\xff\xfe")
    for path in (other, binary):
        with pytest.raises(DataError, match="not a heplearn scaler file"):
            ScalerSet.load(path)
    with pytest.raises(DataError, match="not found"):
        ScalerSet.load(tmp_path / "missing.json")
    fewer = dataclasses.replace(
        gun_features, scalars=gun_features.scalars[:, :2], scalar_names=("e_acc", "eta")
    )
    with pytest.raises(DataError, match="do not match the scalers"):
        ScalerSet.fit(gun_features).transform(fewer)
