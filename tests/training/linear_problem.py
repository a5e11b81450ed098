"""A small linear regression problem the training loop must learn, shared by the loop tests."""

from __future__ import annotations

import numpy as np
import torch

from heplearn.config import parse_config
from heplearn.training import TensorSet, TrainerConfig


def linear_data(n: int, seed: int) -> TensorSet:
    """``n`` rows of y = x·w + 0.3 with four Gaussian inputs (one irrelevant)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32) + 0.3).astype(np.float32)
    return TensorSet.from_numpy({"x": x, "y": y})


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def mse(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    # float(): under fp16/bf16 autocast the output is reduced precision, the target is not.
    return torch.nn.functional.mse_loss(model(batch["x"]).squeeze(1).float(), batch["y"])


def trainer_config(**changes: object) -> TrainerConfig:
    """Six short one-cycle epochs, without early stopping, with ``changes`` on top."""
    base = {"epochs": 6, "batch_size": 64, "lr_max": 0.02, "lr_min": 0.001, "patience": 0}
    return parse_config(TrainerConfig, {**base, **changes}, "test")
