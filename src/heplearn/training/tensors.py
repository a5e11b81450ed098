"""A dataset as a dict of equal-length tensors, gathered by index (no per-sample Python)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["TensorSet"]


@dataclass(frozen=True)
class TensorSet:
    """Named tensors sharing their first dimension (events)."""

    tensors: Mapping[str, torch.Tensor]

    @classmethod
    def from_numpy(cls, arrays: Mapping[str, np.ndarray]) -> TensorSet:
        return cls({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values()))) if self.tensors else 0

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in self.tensors.values())

    def to(self, device: torch.device, *, pin: bool = False) -> TensorSet:
        """Move every tensor; ``pin`` page-locks host memory for fast asynchronous copies."""
        if pin and device.type == "cpu" and torch.cuda.is_available():
            return TensorSet({k: v.pin_memory() for k, v in self.tensors.items()})
        return TensorSet({k: v.to(device, non_blocking=True) for k, v in self.tensors.items()})

    def channels_last(self) -> TensorSet:
        """Image tensors (4-D) in channels-last layout, which convolutions run faster on."""
        return TensorSet(
            {
                k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                for k, v in self.tensors.items()
            }
        )

    def batch(self, index: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        """Rows ``index`` of every tensor, on ``device``."""
        out = {}
        for name, tensor in self.tensors.items():
            rows = tensor.index_select(0, index.to(tensor.device))
            out[name] = rows.to(device, non_blocking=True)
        return out
