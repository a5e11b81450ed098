"""A β-NLL run end to end: it beats its untrained start, calibrated pulls, σ/E falling with E.

The heads start at the target's centre and spread (``start_at_target``), so an untrained
model already has unit pulls overall; the test therefore compares with that untrained
model (its validation NLL, and pulls per energy half, which a constant σ/E gets wrong).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from heplearn.calib import train as calib_train
from heplearn.calib.evaluate import evaluate_run
from heplearn.calib.train import train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import parse_config
from heplearn.training import TensorSet, TrainResult

#: The network's initial weights (calib train leaves them to torch's global generator).
SEED = 0


def _untrained_val_loss(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the validation objective of the model as ``fit`` receives it (before any step)."""
    recorded: list[float] = []
    real_fit = calib_train.fit

    def recording_fit(
        model: torch.nn.Module,
        objective: Any,
        data: tuple[TensorSet, TensorSet],
        *args: Any,
        val_objective: Any = None,
        **kwargs: Any,
    ) -> TrainResult:
        model.eval()
        with torch.no_grad():
            loss = (val_objective or objective)(model, dict(data[1].tensors))
        recorded.append(float(loss))
        return real_fit(model, objective, data, *args, val_objective=val_objective, **kwargs)

    monkeypatch.setattr(calib_train, "fit", recording_fit)
    return recorded


def _pull_width(pulls: np.ndarray) -> float:
    """Half the 16–84 % interval: σ for Gaussian pulls, robust to tails."""
    low, high = np.percentile(pulls, [16, 84])
    return float(high - low) / 2.0


def test_beta_nll_run_beats_its_start_with_unit_pulls_and_a_falling_relative_sigma(
    gun_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    untrained = _untrained_val_loss(monkeypatch)
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
    torch.manual_seed(SEED)  # calib train does not seed the network's initial weights
    summary = train_calib(config, gun_store, tmp_path / "run")
    assert summary.network is not None and len(untrained) == 1
    # Validated by the plain Gaussian NLL (≈ ln σ per cluster); the untrained start has one σ
    # for all energies and the median as its answer.
    gain = untrained[0] - summary.network.best_val_loss
    print(f"val NLL untrained {untrained[0]:.3f} → trained {summary.network.best_val_loss:.3f}")
    assert gain > 1.0  # measured ≈ 4 nats: the start is far off on the tails
    evaluation = evaluate_run(tmp_path / "run", gun_store, n_boot=10, importance=False)
    energies, features = evaluation.energies, evaluation.features
    assert energies.sigma is not None
    pulls, defined = energies.pulls(features.e_truth)
    soft = features.e_truth < np.median(features.e_truth)
    widths = [_pull_width(pulls[defined & soft]), _pull_width(pulls[defined & ~soft])]
    print(f"pull width {evaluation.metrics['pull_width']:.3f}, per energy half {widths}")
    assert 0.75 < evaluation.metrics["pull_width"] < 1.33
    relative = energies.sigma / energies.e_acc
    # A sampling calorimeter: σ/E ∝ 1/√E, so the low-energy half is predicted less precise.
    # The untrained head predicts one σ/E for all (ratio 1).
    ratio = np.median(relative[soft]) / np.median(relative[~soft])
    print(f"relative sigma, low- over high-energy half: {ratio:.2f}")
    assert ratio > 1.3
