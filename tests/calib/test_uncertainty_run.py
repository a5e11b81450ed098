"""A β-NLL run end to end: calibrated pulls and the calorimeter's energy dependence of σ."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heplearn.calib.evaluate import evaluate_run
from heplearn.calib.train import train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import parse_config


def test_beta_nll_run_has_unit_pulls_and_a_falling_relative_sigma(
    gun_store: Path, tmp_path: Path
) -> None:
    config = parse_config(
        CalibTrainConfig,
        {
            "preset": "tiny",
            "loss": "beta-nll",
            "bdt": None,
            "trainer": {"epochs": 12, "batch_size": 64, "lr_max": 0.003, "grad_clip": 1.0},
        },
        "test",
    )
    summary = train_calib(config, gun_store, tmp_path / "run")
    assert summary.network is not None
    # Validated by the plain Gaussian NLL (≈ ln σ ≈ -3 per cluster), not by the β-NLL value.
    assert summary.network.best_val_loss < -1.5
    evaluation = evaluate_run(tmp_path / "run", gun_store, n_boot=10, importance=False)
    print(f"pull width {evaluation.metrics['pull_width']:.3f}")
    assert 0.75 < evaluation.metrics["pull_width"] < 1.33
    energies, features = evaluation.energies, evaluation.features
    assert energies.sigma is not None
    relative = energies.sigma / energies.e_acc
    soft = features.e_truth < np.median(features.e_truth)
    # A sampling calorimeter: σ/E ∝ 1/√E, so the low-energy half is predicted less precise.
    ratio = np.median(relative[soft]) / np.median(relative[~soft])
    print(f"relative sigma, low- over high-energy half: {ratio:.2f}")
    assert ratio > 1.3
