"""``calib compare`` on pseudo-data: a detector with twice the noise and 30 % more material.

The acceptance measurement of issue 16 item 6 (the AUC falls toward 0.5 after the
equalisation), on 3,000 Z→ee events of each (≈ 25 s to simulate both, 5 s to compare).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from heplearn.config import parse_config
from heplearn.generate.calib import CalibSampleConfig, calib_dataset

from conftest import CliResult

pytestmark = pytest.mark.slow

SHIFT = {"noise_factor": 2.0, "extra_material": 0.3}


def _sample(folder: Path, seed: int, **settings: object) -> Path:
    config = parse_config(
        CalibSampleConfig,
        {"source": "zee", "events": 3000, "shard_events": 3000, "seed": seed, **settings},
        "test",
    )
    return calib_dataset(config, folder)


def test_equalisation_of_a_noisier_detector_with_more_material(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    data = _sample(tmp_path / "data", 21, detector_shift=SHIFT)
    mc = _sample(tmp_path / "mc", 22)
    out = tmp_path / "compare"
    result = cli("calib", "compare", "--mc", mc, "--data", data, "--out", out, "--reweight")
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    auc, error = metrics["auc"], metrics["auc_err"]
    print({k: f"{v:.4f} ± {error[k]:.4f}" for k, v in auc.items()})
    assert auc["before"] > 0.62
    # The presampler fraction f0 (material) leads before, and is among the mapped variables.
    gains = metrics["results"]["before"]["gain_importance"]
    print("gain", gains, "1-D AUC", metrics["results"]["before"]["single_variable_auc"])
    print("mapped", metrics["transforms"]["quantile_conditional"]["variables"], metrics["n_mc"])
    assert max(gains, key=gains.get) == "f0"
    assert "f0" in metrics["transforms"]["quantile_conditional"]["variables"]
    for kind in ("quantile_1d", "quantile_conditional"):
        assert auc[kind] < auc["before"] - 4 * error["before"], kind
    # Measured 0.681 → 0.589 (1-D) → 0.575 (conditional) on these 3k events: the excess
    # over 0.5 falls by about half; what is left are correlations the maps do not undo.
    assert auc["quantile_conditional"] - 0.5 < 0.65 * (auc["before"] - 0.5)
