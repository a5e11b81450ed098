"""Every YAML file shipped under configs/ loads into its typed config."""

from __future__ import annotations

from pathlib import Path

import pytest

import heplearn.calib.study_config
import heplearn.calib.train_config
import heplearn.data
import heplearn.detector
import heplearn.dqm.model_config
import heplearn.generate
import heplearn.search.train_config
from heplearn.config import load_any_config

CONFIGS = sorted((Path(__file__).parents[1] / "configs").rglob("*.yaml"))
GEOMETRIES = sorted(
    (Path(heplearn.detector.__file__).parent / "calorimeter" / "geometries").glob("*.yaml")
)


def test_there_are_shipped_configs() -> None:
    assert len(CONFIGS) >= 6
    assert {p.stem for p in GEOMETRIES} == {"atlas-lar", "cms-ecal"}


@pytest.mark.parametrize("path", CONFIGS + GEOMETRIES, ids=lambda p: str(p.name))
def test_shipped_config_loads(path: Path) -> None:
    config = load_any_config(path)
    assert type(config).kind in path.read_text()
