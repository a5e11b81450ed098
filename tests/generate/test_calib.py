"""Calibration samples end to end: determinism across workers and backends, physics features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from heplearn.config import parse_config
from heplearn.data import open_store
from heplearn.errors import ConfigError
from heplearn.generate.calib import CalibSampleConfig, simulate_calib_shard
from heplearn.generate.runner import run_sharded

from conftest import assert_columns_equal

REQUIRED = (
    "truth/energy",
    "truth/pt",
    "truth/eta",
    "truth/phi",
    "truth/pdgid",
    "scalars/e_acc",
    "scalars/eta",
    "event/mu",
    "event/id",
    "images/middle",
    "tracks/features",
    "tracks/count",
)


def sample(tmp_path: Path, name: str, workers: int = 1, **settings: Any) -> Path:
    config = parse_config(CalibSampleConfig, {"events": 400, "shard_events": 100, **settings})
    return run_sharded(
        config, simulate_calib_shard, tmp_path / name, n_shards=config.n_shards, workers=workers
    )


def test_same_seed_same_store_whatever_the_workers(tmp_path: Path) -> None:
    settings = {"mu": 10.0, "pool_events": 30}
    one = open_store(
        sample(tmp_path, "one", workers=1, **settings), required=dict.fromkeys(REQUIRED)
    )
    two = open_store(sample(tmp_path, "two", workers=2, **settings))
    assert_columns_equal(one.read(), two.read())


def test_dask_backend_gives_the_same_store(tmp_path: Path) -> None:
    from distributed import LocalCluster

    local = open_store(sample(tmp_path, "local")).read()
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        config = parse_config(CalibSampleConfig, {"events": 400, "shard_events": 100})
        store = run_sharded(
            config,
            simulate_calib_shard,
            tmp_path / "dask",
            n_shards=4,
            dask=cluster.scheduler_address,
        )
    assert_columns_equal(local, open_store(store).read())


def test_pileup_broadens_the_response(tmp_path: Path) -> None:
    gun = {"particles": ["electron"], "pt_range": [40.0, 40.5], "eta_range": [-0.8, 0.8]}
    widths = {}
    for mu in (0.0, 60.0):
        data = open_store(sample(tmp_path, f"mu{mu}", gun=gun, mu=mu, pool_events=60)).read()
        difference = data["scalars/e_acc"] - data["truth/energy"]
        q25, q75 = np.percentile(difference, [25, 75])
        widths[mu] = q75 - q25
        assert np.all(data["event/mu"] == mu)
    assert widths[60.0] > 1.15 * widths[0.0]


def test_cms_like_response_has_the_scouting_features(tmp_path: Path) -> None:
    data = open_store(
        sample(
            tmp_path,
            "cms",
            geometry="cms-ecal",
            events=3000,
            shard_events=1500,
            gun={
                "particles": ["electron", "positron"],
                "pt_range": [5.0, 100.0],
                "pt_spectrum": "uniform",
                "eta_range": [-1.479, 1.479],
            },
        )
    ).read()
    delta = data["scalars/e_acc"] / data["truth/energy"] - 1.0
    assert np.mean(np.abs(delta) < 0.05) > 0.6  # the main peak near 0
    assert 0.05 < np.mean((delta > -0.5) & (delta < -0.1)) < 0.3  # shoulder: 5×5 containment (brem)
    lost = delta < -0.95
    assert 0.001 < lost.mean() < 0.03  # lost in dead crystals
    assert np.all(data["scalars/cluster_found"][lost] == 0)
    shoulder = (delta > -0.5) & (delta < -0.1)
    brem = data["truth/brem_fraction"]
    assert brem[shoulder].mean() > 1.2 * brem[np.abs(delta) < 0.05].mean()


def test_time_images_and_resolved_config_are_written(tmp_path: Path) -> None:
    folder = sample(tmp_path, "timed", events=100, time_images=True)
    store = open_store(folder, required={"time/middle": None, "event/process": None})
    assert store.schema["time/middle"].shape == (7, 11)
    resolved = parse_config(CalibSampleConfig, yaml.safe_load((folder / "config.yaml").read_text()))
    assert resolved.time_images and resolved.events == 100


def test_gun_eta_outside_the_geometry_is_refused() -> None:
    config = parse_config(CalibSampleConfig, {"geometry": "cms-ecal"})
    from heplearn.detector.calorimeter.geometry import load_geometry

    with pytest.raises(ConfigError, match=r"gun\.eta_range.*acceptance"):
        config.check_geometry(load_geometry("cms-ecal"), "c.yaml")


def test_zee_sample_has_two_electrons_per_event_and_weights(tmp_path: Path) -> None:
    data = open_store(sample(tmp_path, "zee", source="zee", events=200, shard_events=100)).read()
    assert np.all(np.abs(data["truth/pdgid"]) == 11)
    per_event = np.bincount(data["event/id"])
    assert per_event.max() <= 2  # only the Z decay electrons become candidates
    assert (per_event[per_event > 0] == 2).mean() > 0.4  # both inside |η| < 2.47 and pT > 5 GeV
    assert np.all(data["event/weight"] > 0)
    assert np.median(data["truth/resonance_mass"]) == pytest.approx(91.19, abs=1.0)


def test_z_mumu_gamma_gives_photon_candidates_with_muon_tracks(tmp_path: Path) -> None:
    data = open_store(
        sample(tmp_path, "mumugamma", source="zmumugamma", events=400, shard_events=200, min_pt=2.0)
    ).read()
    assert len(data["truth/pdgid"]) > 0 and np.all(data["truth/pdgid"] == 22)
    assert np.all(data["truth/origin"] == 3)
    # The radiating muon flies close to its photon: a track (|q| = 1, pT/q ≠ 0) is often nearby.
    nearest_track_pt = np.abs(data["tracks/features"][:, 0, 0])
    assert (nearest_track_pt > 5.0).mean() > 0.3
