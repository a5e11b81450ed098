"""Checkpoints written atomically each epoch and read back without unpickling code.

``last.pt`` holds everything a resume needs (weights, optimiser, schedule, RNG,
counters) as tensors and plain Python values, loaded with ``weights_only=True``;
``best.safetensors`` holds the weights of the best epoch for evaluation and export.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from heplearn.data.atomic import atomic_output
from heplearn.errors import DataError

__all__ = ["BEST", "LAST", "load_checkpoint", "load_weights", "save_checkpoint", "save_weights"]

LAST = "last.pt"
BEST = "best.safetensors"


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` (tensors and plain values only) to ``path`` via a temporary name."""
    with atomic_output(path, overwrite=True) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; anything else is refused."""
    if not path.is_file():
        raise DataError(
            "no checkpoint",
            str(path),
            "the run folder has no checkpoint to resume from or evaluate",
            "train the run first (or check the --run path)",
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise DataError(
            "unreadable checkpoint",
            str(path),
            f"it is not a heplearn checkpoint ({str(err).splitlines()[0][:120]})",
            "point --run at a folder written by heplearn, or retrain",
        ) from err
    if not isinstance(state, dict) or "model" not in state:
        raise DataError(
            "not a heplearn checkpoint",
            str(path),
            "it lacks the model weights",
            "point --run at a folder written by heplearn, or retrain",
        )
    return state


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Write the model's weights as safetensors via a temporary name."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(path, overwrite=True) as tmp:
        save_file(tensors, str(tmp))


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load safetensors weights into ``model``; a foreign or mismatched file is refused."""
    if not path.is_file():
        raise DataError(
            "no model weights",
            str(path),
            "the run folder has no trained weights",
            "train the run first (or check the --run path)",
        )
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(
            "unreadable model file",
            str(path),
            f"it is not a safetensors file written by heplearn ({err})",
            "point --run at a folder written by heplearn, or retrain",
        ) from err
    missing, unexpected = _mismatch(model, tensors)
    if missing or unexpected:
        raise DataError(
            "model file does not match the model",
            str(path),
            f"missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}",
            "use the config the run was trained with",
        )
    model.load_state_dict(tensors)


def _mismatch(
    model: torch.nn.Module, tensors: dict[str, torch.Tensor]
) -> tuple[set[str], set[str]]:
    expected = {k: v.shape for k, v in model.state_dict().items()}
    missing = {k for k in expected if k not in tensors or tensors[k].shape != expected[k]}
    return missing, set(tensors) - set(expected)
