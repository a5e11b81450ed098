"""Training on data: E_label from the Z mass (thesis eq. 5.6) on stores without truth.

The label of a cluster puts its pair on M_Z given the partner's E_acc; on MC
(truth known) E_label/E_truth has median ≈ 1 (the thesis' check, Figs 7.8–7.9).
Pseudo-data keeps its truth under ``validation/``, which the labels never read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from zee_stores import without_group, zee_sample

from heplearn.calib.train import prepare_split
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.calib.z_mass_labels import DataTrainingConfig, z_mass_labels
from heplearn.config import parse_config
from heplearn.data import open_store
from heplearn.detector.calorimeter.kinematics import cluster_pair_mass

from conftest import CliResult, assert_one_error

SHIFT = {"eta_edges": [0.0, 1.5, 2.47], "alpha": [0.01, 0.03], "constant": [0.01, 0.02]}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("z-mass-labels")
    return {
        "data": zee_sample(folder / "data", 1500, 21, detector_shift=SHIFT),
        "mc": zee_sample(folder / "mc", 3000, 22),
    }


def _config(**data_training: object) -> CalibTrainConfig:
    settings = {"kind": "calib-train", "network": "none", "data_training": data_training}
    return parse_config(CalibTrainConfig, settings, "test")


def test_label_puts_each_pair_on_the_z_mass(stores: dict[str, Path]) -> None:
    store = open_store(stores["mc"])
    columns = store.read(["scalars/e_acc", "scalars/eta", "scalars/phi", "event/id"])
    reference = np.asarray(columns["scalars/e_acc"], dtype=np.float64)
    labels = z_mass_labels(store, reference, DataTrainingConfig(), "mc")
    assert labels.pairs > 500 and labels.unpaired == store.rows - 2 * labels.pairs
    # Each labelled cluster with its partner's reference energy has mass M_Z exactly.
    energy = reference.copy()
    ids = np.asarray(columns["event/id"])[labels.rows]
    first = labels.rows[np.r_[True, ids[1:] != ids[:-1]]]
    partner = first + 1
    energy[first] = labels.energy[np.searchsorted(labels.rows, first)]
    eta, phi = columns["scalars/eta"], columns["scalars/phi"]
    mass = cluster_pair_mass(energy, eta, phi, first, partner)
    np.testing.assert_allclose(mass, 91.1876, rtol=1e-6)


def test_label_over_truth_on_mc_has_median_one(stores: dict[str, Path]) -> None:
    split = prepare_split(_config(), stores["mc"], "mc")
    assert split.labelling is not None
    check = split.labelling["label_over_truth"]
    assert check["clusters"] == 2 * split.labelling["pairs"]
    assert abs(check["median"] - 1.0) < 0.01, check
    # The label carries the partner's resolution and the Z width: a few per cent.
    assert 0.02 < check["eiqr"] < 0.10, check
    # The models see the label, evaluation keeps the store's truth.
    assert not np.allclose(split.label, split.features.e_truth)


def test_labels_never_read_validation(stores: dict[str, Path], tmp_path: Path) -> None:
    bare = without_group(stores["data"], tmp_path / "bare", "validation")
    with_truth = prepare_split(_config(), stores["data"], "data")
    without = prepare_split(_config(), bare, "bare")
    assert with_truth.labelling is not None and with_truth.labelling["pairs"] > 300
    assert with_truth.labelling["label_over_truth"] is None
    np.testing.assert_array_equal(with_truth.rows, without.rows)
    np.testing.assert_array_equal(with_truth.label, without.label)
    np.testing.assert_array_equal(with_truth.train, without.train)


def test_unpaired_clusters_are_dropped_and_counted(
    stores: dict[str, Path], tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    config = tmp_path / "data.yaml"
    config.write_text(
        "kind: calib-train\nnetwork: none\nbdt: {n_estimators: 20}\ndata_training: {}\n"
    )
    result = cli(
        "calib",
        "train",
        "--data",
        str(stores["data"]),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(config),
    )
    assert result.code == 0, result
    info = json.loads((tmp_path / "run" / "run.json").read_text())["data_training"]
    rows = open_store(stores["data"]).rows
    assert info["unpaired_dropped"] == rows - 2 * info["pairs"] > 0
    assert info["label_over_truth"] is None  # pseudo-data: no truth to compare with
    assert f"{info['pairs']} pairs, {info['unpaired_dropped']} clusters" in result.out
    assert "E_label/E_truth" not in result.out


def test_store_without_pairs_is_one_error(
    gun_store: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    config = tmp_path / "data.yaml"
    config.write_text("kind: calib-train\nnetwork: none\ndata_training: {}\n")
    out = tmp_path / "run"
    result = cli(
        "calib", "train", "--data", str(gun_store), "--out", str(out), "--config", str(config)
    )
    assert_one_error(result, "no Z→ee pairs")
    assert not out.exists()


def test_bdt_reference_sharpens_the_label(
    stores: dict[str, Path], tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    """A better partner energy (the MC-trained BDT, as in the thesis) gives a narrower E_label."""
    config = tmp_path / "bdt.yaml"
    config.write_text("kind: calib-train\nnetwork: none\nbdt: {n_estimators: 100}\n")
    run = tmp_path / "mc-run"
    args = ("calib", "train", "--data", str(stores["mc"]), "--out", str(run), "--config", config)
    assert cli(*args).code == 0
    by_eacc = prepare_split(_config(), stores["mc"], "mc").labelling
    by_bdt = prepare_split(_config(reference="bdt", reference_run=str(run)), stores["mc"], "mc")
    assert by_eacc is not None and by_bdt.labelling is not None
    sharp, broad = by_bdt.labelling["label_over_truth"], by_eacc["label_over_truth"]
    assert sharp["eiqr"] < 0.95 * broad["eiqr"], (sharp, broad)  # measured 0.90
    assert abs(sharp["median"] - 1.0) < 0.02, sharp  # measured +1.3 %
