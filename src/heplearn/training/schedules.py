"""Learning-rate schedules: one-cycle (the thesis' choice), cosine, constant."""

from __future__ import annotations

import torch

from heplearn.training.settings import TrainerConfig

__all__ = ["make_optimizer", "make_schedule"]


def make_optimizer(
    params: list[torch.nn.Parameter], config: TrainerConfig
) -> torch.optim.Optimizer:
    """Nadam (thesis), Adam or AdamW; foreach kernels avoid a Python loop over parameters."""
    lr = config.lr_min if config.schedule != "constant" else config.lr_max
    if config.optimizer == "nadam":
        return torch.optim.NAdam(params, lr=lr, weight_decay=config.weight_decay, foreach=True)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay, foreach=True)
    return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay, foreach=True)


def make_schedule(
    optimizer: torch.optim.Optimizer, config: TrainerConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step schedule over the whole run."""
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "one-cycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr_max,
            total_steps=total,
            div_factor=config.lr_max / config.lr_min,
            final_div_factor=10.0,
            # Nadam/Adam have no classic momentum: cycle beta1 like Keras' one-cycle callbacks.
            cycle_momentum=True,
            base_momentum=0.85,
            max_momentum=0.95,
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=total, eta_min=config.lr_min
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)
