"""``features.mc_to_data``: `calib train` and `evaluate` feed simulation through a transform.

Simulation (a store with ``truth/energy``) is mapped; data (no truth) is read as it
is; the run keeps its own copy of the transform, which evaluation uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from zee_stores import without_group

from heplearn.calib.calibrated import CalibRun
from heplearn.calib.features import FeatureConfig, load_features
from heplearn.calib.quantile_mapping import MappingTransform
from heplearn.data import open_store
from heplearn.errors import DataError

from conftest import CliResult


@pytest.fixture(scope="module")
def doubling(gun_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-D transform that maps the guns' f0 onto twice itself."""
    columns = open_store(gun_store).read(["scalars/f0", "scalars/e_acc", "scalars/eta"])
    mc = {name.removeprefix("scalars/"): np.asarray(v, float) for name, v in columns.items()}
    data = {**mc, "f0": 2 * mc["f0"]}
    path = tmp_path_factory.mktemp("transform") / "mc_to_data.json"
    return MappingTransform.fit(mc, data, ("f0",)).save(path)


def test_simulation_is_mapped_and_data_is_not(
    gun_store: Path, doubling: Path, tmp_path: Path
) -> None:
    plain = load_features(gun_store)
    mapped = load_features(gun_store, FeatureConfig(mc_to_data=str(doubling)))
    k = plain.scalar_names.index("f0")
    ratio = np.median(mapped.scalars[:, k]) / np.median(plain.scalars[:, k])
    assert ratio == pytest.approx(2.0, rel=0.05)
    others = [i for i in range(len(plain.scalar_names)) if i != k]
    np.testing.assert_array_equal(mapped.scalars[:, others], plain.scalars[:, others])
    np.testing.assert_array_equal(mapped.e_acc, plain.e_acc)  # labels are never mapped
    data = without_group(gun_store, tmp_path / "data.h5", "truth")
    config = FeatureConfig(mc_to_data=str(doubling))
    as_data = load_features(data, config, require_truth=False)
    np.testing.assert_array_equal(as_data.scalars, plain.scalars)


def test_a_missing_transform_is_one_clear_error(gun_store: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no MC-to-data transform"):
        load_features(gun_store, FeatureConfig(mc_to_data=str(tmp_path / "none.json")))


def test_the_run_keeps_its_copy_of_the_transform(
    gun_store: Path, doubling: Path, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    moved = tmp_path / "t.json"
    moved.write_bytes(doubling.read_bytes())
    config = tmp_path / "bdt.yaml"
    config.write_text(
        "kind: calib-train\nnetwork: none\nbdt: {n_estimators: 5}\n"
        f"features: {{mc_to_data: {moved}}}\n"
    )
    run = tmp_path / "run"
    assert cli("calib", "train", "-d", gun_store, "-c", config, "-o", run).code == 0
    assert (run / "mc_to_data.json").read_bytes() == doubling.read_bytes()
    moved.unlink()  # evaluation reads the run's copy
    assert CalibRun.load(run).config.features.mc_to_data == str(run / "mc_to_data.json")
    out = tmp_path / "eval"
    args = ("--bootstrap", "10", "--no-importance")
    result = cli("calib", "evaluate", "-r", run, "-d", gun_store, "-o", out, *args)
    assert result.code == 0, result.err
    assert json.loads((out / "metrics.json").read_text())["n_clusters"] > 20
