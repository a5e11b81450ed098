"""How a calibration network is fed a batch and scored: the bridge to the training loop."""

from __future__ import annotations

from collections.abc import Callable

import torch

from heplearn.calib.losses import LOSSES

__all__ = ["calib_forward", "calib_objective"]


def calib_forward(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's output (N, 1) or (N, 2: target, ln σ²) for a batch of named inputs."""
    out: torch.Tensor = model(batch["images"], batch["scalars"], batch["tracks"])
    return out


def calib_objective(
    loss: str, **options: float
) -> Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor]:
    """(model, batch) → weighted mean loss of the batch, for :func:`heplearn.training.fit`."""
    function = LOSSES[loss]

    def objective(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        output = calib_forward(model, batch).float()  # losses in fp32 even under autocast
        return function(output, batch["target"], batch["weight"], **options)

    return objective
