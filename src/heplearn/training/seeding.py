"""Deterministic seeding: the same seed gives the same weights on the same machine."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["epoch_generator", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA); cuDNN picks deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - third-party code may still use the global RNG
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator that depends only on (seed, epoch), so a resumed run shuffles identically."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)
