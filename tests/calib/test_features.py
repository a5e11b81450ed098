"""Loading calibration features from a store: shapes, labels, errors, the mislabel cut, splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heplearn.calib.cluster_sets import apply_mislabel_cut, split_indices
from heplearn.calib.features import DEEPCALO_SCALARS, FeatureConfig, load_features
from heplearn.config import parse_config
from heplearn.data.reader import open_store
from heplearn.data.writer import write_store
from heplearn.errors import ConfigError, DataError, SchemaError
from heplearn.generate import CalibSampleConfig, calib_dataset


@pytest.fixture(scope="module")
def timed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 ATLAS-like e/γ without pileup, with time images."""
    config = parse_config(
        CalibSampleConfig,
        {"kind": "calib-sample", "events": 100, "seed": 11, "time_images": True},
        "test",
    )
    return calib_dataset(config, tmp_path_factory.mktemp("timed") / "gun")


def _columns(store_path: Path) -> dict[str, Any]:
    return dict(open_store(store_path).read())


def test_gun_store_gives_model_ready_arrays(gun_store: Path) -> None:
    features = load_features(gun_store)
    n = 1200
    assert features.images.shape == (n, 4, 56, 11)
    assert features.channel_names == ("presampler", "strips", "middle", "back")
    assert features.scalars.shape == (n, len(DEEPCALO_SCALARS))
    assert features.scalar_names == DEEPCALO_SCALARS
    assert features.tracks.shape == (n, 15, 10)
    assert {features.images.dtype, features.scalars.dtype, features.tracks.dtype} == {
        np.dtype(np.float32)
    }
    np.testing.assert_allclose(features.et, features.e_truth / np.cosh(features.eta))
    assert set(np.unique(np.abs(features.pdgid))) == {11, 22}
    np.testing.assert_array_equal(features.weights, 1.0)
    np.testing.assert_array_equal(features.mu, 20.0)


def test_images_hold_the_cluster_energy(gun_store: Path) -> None:
    features = load_features(gun_store, FeatureConfig(tracks=False))
    e_raw = open_store(gun_store).read(["scalars/e_raw"])["scalars/e_raw"]
    # e_raw is the unweighted sum of every stored cell: the up-sampled images hold all of it.
    np.testing.assert_allclose(
        features.images.sum(axis=(1, 2, 3), dtype=np.float64), e_raw, rtol=1e-5, atol=1e-4
    )
    # E_acc is the baseline calibrated to the truth: its median response is 1 within a few %.
    assert np.median(features.e_acc / features.e_truth) == pytest.approx(1.0, abs=0.03)
    assert features.tracks.shape == (1200, 0, 0)


def test_time_gate_adds_repeated_time_channels(timed_store: Path) -> None:
    features = load_features(timed_store, FeatureConfig(layers=("middle",), time_gate=True))
    assert features.channel_names == ("middle", "time/middle")
    native = open_store(timed_store).read(["time/middle"])["time/middle"]
    # Middle cells are 8 grid rows tall in η: each of them carries the cell's time.
    np.testing.assert_array_equal(features.images[:, 1, ::8, :], native)
    np.testing.assert_array_equal(features.images[:, 1, 7::8, :], native)


def test_time_gate_without_time_images_names_the_fix(gun_store: Path) -> None:
    with pytest.raises(SchemaError, match=r"missing time images presampler.*time_images: true"):
        load_features(gun_store, FeatureConfig(time_gate=True))


def test_missing_inputs_are_named_with_what_the_store_has(gun_store: Path) -> None:
    with pytest.raises(SchemaError, match=r"missing scalars bogus .*scalars/\{.*e_acc"):
        load_features(gun_store, FeatureConfig(scalars=("e_acc", "bogus")))
    with pytest.raises(SchemaError, match=r"missing image layers crystals .*middle"):
        load_features(gun_store, FeatureConfig(layers=("crystals",)))


def test_nan_and_inf_are_refused_with_field_and_event_count(
    gun_store: Path, tmp_path: Path
) -> None:
    columns = _columns(gun_store)
    columns["scalars/r12"][5] = np.nan
    columns["images/middle"][7, 3, 3] = np.inf
    columns["images/middle"][9, 0, 0] = np.nan
    columns["images/middle"][9, 1, 0] = np.nan
    bad = write_store(tmp_path / "bad.h5", columns, provenance=open_store(gun_store).provenance)
    with pytest.raises(DataError, match=r"images/middle \(2 events\), scalars/r12 \(1 event\)"):
        load_features(bad)


def test_an_empty_store_is_refused(gun_store: Path, tmp_path: Path) -> None:
    empty = {name: values[:0] for name, values in _columns(gun_store).items()}
    path = write_store(tmp_path / "empty.h5", empty, provenance={})
    with pytest.raises(DataError, match="empty store"):
        load_features(path)


def test_an_imported_store_without_geometry_still_conserves_energy(
    gun_store: Path, tmp_path: Path
) -> None:
    columns = {k: v[:50] for k, v in _columns(gun_store).items()}
    path = write_store(tmp_path / "imported.h5", columns, provenance={"source": "user.root"})
    features = load_features(path, FeatureConfig(scalars=("e_acc",), tracks=False))
    # Without a geometry the channels come in store order and the back layer is split by 14.
    assert features.images.shape == (50, 4, 56, 11)
    back = features.channel_names.index("back")
    np.testing.assert_allclose(
        features.images[:, back].sum(axis=(1, 2), dtype=np.float64),
        columns["images/back"].sum(axis=(1, 2), dtype=np.float64),
        rtol=1e-5,
        atol=1e-6,
    )


def test_mislabel_cut_keeps_the_peak(gun_store: Path) -> None:
    features = load_features(gun_store, FeatureConfig(tracks=False))
    kept, removed = apply_mislabel_cut(features, (0.4, 1.6))
    ratio = features.e_acc / features.e_truth
    assert removed == int(((ratio <= 0.4) | (ratio >= 1.6)).sum())
    assert len(kept) == len(features) - removed
    kept_ratio = kept.e_acc / kept.e_truth
    assert kept_ratio.min() > 0.4 and kept_ratio.max() < 1.6
    assert kept.images.shape[0] == len(kept)
    same, none = apply_mislabel_cut(features, None)
    assert same is features and none == 0


def test_split_keeps_both_electrons_of_a_z_in_one_split(zee_store: Path) -> None:
    features = load_features(zee_store, FeatureConfig(tracks=False))
    ids = features.event_id
    assert len(np.unique(ids)) < len(ids)  # Z→ee: two clusters share an event id
    splits = split_indices(len(ids), (0.8, 0.1, 0.1), seed=4, groups=ids)
    together = np.concatenate(splits)
    np.testing.assert_array_equal(np.sort(together), np.arange(len(ids)))
    owner = [set(ids[s]) for s in splits]
    assert not (owner[0] & owner[1]) and not (owner[0] & owner[2]) and not (owner[1] & owner[2])
    fractions = np.array([len(s) for s in splits]) / len(ids)
    np.testing.assert_allclose(fractions, [0.8, 0.1, 0.1], atol=0.02)
    again = split_indices(len(ids), (0.8, 0.1, 0.1), seed=4, groups=ids)
    assert all(np.array_equal(a, b) for a, b in zip(splits, again, strict=True))


def test_bad_fractions_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="three fractions"):
        split_indices(10, (0.8, 0.3))
    with pytest.raises(ConfigError, match=r"sum to 1\.2"):
        split_indices(10, (0.8, 0.3, 0.1))


def test_feature_config_from_yaml_mapping() -> None:
    config = parse_config(
        FeatureConfig,
        {"kind": "calib-features", "scalars": ["e_acc", "eta"], "mislabel_cut": None},
        "test",
    )
    assert config.scalars == ("e_acc", "eta") and config.mislabel_cut is None
    with pytest.raises(ConfigError, match="mislabel_cut"):
        parse_config(FeatureConfig, {"mislabel_cut": [1.6, 0.4]}, "test")
    with pytest.raises(ConfigError, match="quantile_scalars"):
        parse_config(FeatureConfig, {"scalars": ["eta"], "quantile_scalars": ["e_acc"]}, "test")
