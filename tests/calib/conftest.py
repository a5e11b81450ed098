"""Small calibration stores made by the real simulation (a few seconds, once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from heplearn.config import parse_config
from heplearn.generate import CalibSampleConfig, calib_dataset


def _make(folder: Path, **settings: object) -> Path:
    config = parse_config(CalibSampleConfig, {"kind": "calib-sample", **settings}, "test")
    return calib_dataset(config, folder)


@pytest.fixture(scope="session")
def gun_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 ATLAS-like single e±/γ, pT 5–300 GeV, ⟨μ⟩ = 20 premixed pileup."""
    return _make(
        tmp_path_factory.mktemp("calib") / "gun",
        geometry="atlas-lar",
        source="gun",
        events=1200,
        shard_events=600,
        seed=3,
        mu=20.0,
        pool_events=50,
    )


@pytest.fixture(scope="session")
def zee_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 Z→ee events (two clusters each), ⟨μ⟩ = 20."""
    return _make(
        tmp_path_factory.mktemp("calib") / "zee",
        geometry="atlas-lar",
        source="zee",
        events=300,
        shard_events=300,
        seed=5,
        mu=20.0,
        pool_events=50,
    )
