"""Where a model runs and in which precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from heplearn.errors import ConfigError

__all__ = ["autocast", "select_device"]


def select_device(name: str = "auto", where: str = "the trainer config") -> torch.device:
    """``auto`` gives CUDA when present (this process's local rank under torchrun), else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} requested",
            where,
            "this machine has no usable CUDA device",
            "use device: auto or cpu",
        )
    return torch.device(name)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None = plain fp32)."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16":
        return torch.float16
    return torch.bfloat16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Mixed precision when ``dtype`` is set; a no-op otherwise."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
