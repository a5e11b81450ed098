"""Acceptance of training on data, BDT part: E_label (no truth read) against truth-trained.

Pseudo-data with a +1 % / +3 % |η| scale shift and extra constant terms; one BDT
trained on E_label from the Z mass (the truth stays in ``validation/``), one on the
hidden truth of the same clusters, both scored on the hidden truth of another
pseudo-data sample.  Measured (6k events): eIQR label 0.0333, truth 0.0324, E_acc 0.0403.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from heplearn.calib.calibrated import CalibRun
from heplearn.calib.features import load_features
from heplearn.calib.resolution_metrics import eiqr
from heplearn.calib.z_mass_labels import DataTrainingConfig, z_mass_labels
from heplearn.config import parse_config
from heplearn.data import open_store
from heplearn.data.writer import StoreWriter
from heplearn.generate.calib import CalibSampleConfig, calib_dataset

from conftest import CliResult

SHIFT = {"eta_edges": [0.0, 1.5, 2.47], "alpha": [0.01, 0.03], "constant": [0.01, 0.02]}
BDT = "kind: calib-train\nnetwork: none\nbdt: {n_estimators: 300, max_depth: 4}\n"


def _pseudo_data(folder: Path, events: int, seed: int) -> Path:
    settings = {"source": "zee", "events": events, "shard_events": events, "seed": seed}
    config = parse_config(CalibSampleConfig, {**settings, "detector_shift": SHIFT}, "test")
    return calib_dataset(config, folder)


def _paired_with_truth(source: Path, out: Path) -> Path:
    """The clusters E_label keeps, with their hidden truth as truth/energy."""
    store = open_store(source)
    e_acc = np.asarray(store.read(["scalars/e_acc"])["scalars/e_acc"], dtype=np.float64)
    rows = z_mass_labels(store, e_acc, DataTrainingConfig(), "data").rows
    columns = {k: np.asarray(v)[rows] for k, v in store.read(list(store.schema)).items()}
    columns["truth/energy"] = columns.pop("validation/energy")
    with StoreWriter(out, provenance=store.provenance) as writer:
        writer.append({k: v for k, v in columns.items() if not k.startswith("validation/")})
    return out


@pytest.mark.slow
def test_bdt_on_z_mass_labels_matches_bdt_on_truth(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    data = _pseudo_data(tmp_path / "data", 6000, 31)
    test = _pseudo_data(tmp_path / "test", 2000, 32)
    (tmp_path / "label.yaml").write_text(BDT + "data_training: {}\n")
    (tmp_path / "truth.yaml").write_text(BDT)
    runs = {
        "label": (data, tmp_path / "label.yaml"),
        "truth": (_paired_with_truth(data, tmp_path / "paired"), tmp_path / "truth.yaml"),
    }
    truth = open_store(test).read(["validation/energy"])["validation/energy"]
    score = {}
    for name, (store, config) in runs.items():
        run = tmp_path / f"run-{name}"
        assert cli("calib", "train", "-d", store, "-o", run, "-c", config).code == 0
        calib = CalibRun.load(run)
        features = load_features(test, calib.config.features, "test", require_truth=False)
        score[name] = eiqr(calib.energy(features, "bdt") / truth)
        score["e_acc"] = eiqr(features.e_acc / truth)
    assert score["label"] < 1.10 * score["truth"], score
    assert score["label"] < 0.9 * score["e_acc"], score  # it learnt the calibration
