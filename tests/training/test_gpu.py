"""CUDA paths of the training loop: autocast, GradScaler and GPU-resident data.

Marked ``gpu``: run where torch sees a CUDA device, skipped with the reason elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from linear_problem import linear_data, mse, small_model, trainer_config

from heplearn.training import TrainerConfig, fit, predict
from heplearn.training.device import autocast, autocast_dtype
from heplearn.training.loop import place_data

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")


def _config(**changes: object) -> TrainerConfig:
    return trainer_config(**{"device": "cuda", **changes})


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_fit_on_cuda_learns_at_every_precision(tmp_path: Path, precision: str) -> None:
    model = small_model()
    val = linear_data(500, 2)
    result = fit(model, mse, (linear_data(2000, 1), val), _config(precision=precision), tmp_path)
    assert next(model.parameters()).device.type == "cuda"
    assert result.history[-1]["val_loss"] < 0.05 * result.history[0]["val_loss"]
    out = predict(model, val, lambda m, b: m(b["x"]).squeeze(1).float())
    assert float(torch.mean((out.cpu() - val.tensors["y"]) ** 2)) < 0.1


def test_autocast_runs_matmuls_in_the_reduced_dtype() -> None:
    assert autocast_dtype(CUDA, "auto") == torch.bfloat16
    layer = torch.nn.Linear(4, 4).to(CUDA)
    with autocast(CUDA, torch.float16):
        assert layer(torch.ones(2, 4, device=CUDA)).dtype == torch.float16
    assert layer(torch.ones(2, 4, device=CUDA)).dtype == torch.float32


def test_grad_scaler_is_on_for_fp16_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enabled: list[bool] = []
    original = torch.amp.GradScaler.__init__

    def record(self: torch.amp.GradScaler, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        enabled.append(self.is_enabled())

    monkeypatch.setattr(torch.amp.GradScaler, "__init__", record)
    for precision in ("fp16", "bf16"):
        fit(
            small_model(),
            mse,
            (linear_data(256, 1), linear_data(64, 2)),
            _config(epochs=1, precision=precision),
            tmp_path / precision,
        )
    assert enabled == [True, False]


def test_data_stays_on_the_gpu_when_it_fits_and_is_pinned_otherwise() -> None:
    data = linear_data(1000, 1)
    resident = place_data(data, CUDA, _config(resident_fraction=0.5))
    assert all(t.device.type == "cuda" for t in resident.tensors.values())
    pinned = place_data(data, CUDA, _config(resident_fraction=0.0))
    assert all(t.device.type == "cpu" and t.is_pinned() for t in pinned.tensors.values())
    batch = pinned.batch(torch.arange(10), CUDA)
    assert all(t.device.type == "cuda" for t in batch.values())
