"""The one training loop of every torch model: devices, precision, schedules, checkpoints, DDP."""

from __future__ import annotations

from heplearn.training.checkpoint import BEST, LAST, load_checkpoint, load_weights, save_weights
from heplearn.training.device import select_device
from heplearn.training.loop import Objective, TrainResult, fit, predict
from heplearn.training.seeding import seed_everything
from heplearn.training.settings import TrainerConfig
from heplearn.training.tensors import TensorSet

__all__ = [
    "BEST",
    "LAST",
    "Objective",
    "TensorSet",
    "TrainResult",
    "TrainerConfig",
    "fit",
    "load_checkpoint",
    "load_weights",
    "predict",
    "save_weights",
    "seed_everything",
    "select_device",
]
