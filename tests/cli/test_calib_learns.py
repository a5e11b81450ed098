"""The calibration network learns: trained on guns, it beats E_acc on held-out Z→ee clusters.

A network that returns a constant, or that never updates, fails here: E_acc is the
calorimeter's own answer, so beating it needs the network to use its inputs.  On the
session's 1,200 guns the outcome depends on the initial weights (0.83–1.04 of E_acc's
eIQR over three seeds); 4,000 guns give 0.77–0.82 with raw charge-odd inputs.  With the
charge-symmetric default (issue 16) this seed gives 0.835 (0.769 raw, 0.818 when the images of
negative clusters are also mirrored in φ): one seed of a 600-cluster test, while the shipped
tiny config on 20k guns gained with it (see test_shipped_configs_beat_bdt).  Beating the BDT
needs more clusters than a default-suite test can simulate (on 6,000 guns the BDT still
wins); the slow ``tests/calib/test_shipped_configs_beat_bdt.py`` checks it with 20,000 guns
per shipped config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heplearn.calib.evaluate import evaluate_run
from heplearn.calib.train import train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import parse_config
from heplearn.generate import CalibSampleConfig, calib_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The network's eIQR on Z→ee clusters must be below this fraction of E_acc's
#: (measured 0.77–0.82 over three seeds; a constant network gives 1).
MARGIN_EACC = 0.9


@pytest.fixture(scope="module")
def guns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4,000 ATLAS-like single e±/γ as in ``gun_store`` (≈ 6 s to simulate)."""
    settings = {
        "kind": "calib-sample",
        "geometry": "atlas-lar",
        "source": "gun",
        "events": 4000,
        "shard_events": 2000,
        "seed": 13,
        "mu": 20.0,
        "pool_events": 50,
    }
    config = parse_config(CalibSampleConfig, settings, "test")
    return calib_dataset(config, tmp_path_factory.mktemp("calib") / "guns")


def _train_and_evaluate(
    gun_store: Path, zee_store: Path, out: Path, **settings: Any
) -> dict[str, Any]:
    config = parse_config(CalibTrainConfig, {"preset": "tiny", **settings}, "test")
    train_calib(config, gun_store, out / "run")
    # Z→ee is another store: every cluster is held out from the gun training sample.
    evaluation = evaluate_run(out / "run", zee_store, n_boot=10, importance=False)
    metrics = evaluation.metrics
    print({k: metrics.get(k) for k in ("eiqr_e_acc", "eiqr_bdt", "eiqr_network", "selection")})
    return metrics


def test_network_beats_e_acc_on_held_out_zee(guns: Path, zee_store: Path, tmp_path: Path) -> None:
    metrics = _train_and_evaluate(
        guns,
        zee_store,
        tmp_path,
        bdt=None,
        loss="logcosh",
        logcosh_scale=0.02,
        trainer={"epochs": 12, "batch_size": 128, "lr_max": 0.003, "patience": 0},
    )
    assert metrics["eiqr_network"] < MARGIN_EACC * metrics["eiqr_e_acc"]
