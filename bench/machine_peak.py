"""What the machine can do in fp32, as torch sees it, and what a model asks of it.

Used by ``bench/train_calib.py`` to put samples/s against the limit:

- ``matmul_peak``: best GFLOP/s of a large ``torch.mm`` (2·n³ FLOPs), the practical peak;
- ``conv_peak``: best GFLOP/s of a 3×3 convolution at the thesis' image size and batch,
  what a CNN of that shape can reach at best;
- ``model_flops``: FLOPs per sample of a forward pass and of a training step (forward +
  backward) counted by ``torch.utils.flop_counter`` (matmuls and convolutions; the
  element-wise work it does not count is small beside them for these networks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["conv_peak", "matmul_peak", "model_flops"]


def _best_rate(flops: float, run: Callable[[], Any], repeat: int = 5) -> float:
    run()  # warm-up: allocations and kernel choice
    best = 0.0
    for _ in range(repeat):
        tick = time.perf_counter()
        run()
        best = max(best, flops / (time.perf_counter() - tick))
    return best / 1e9


def matmul_peak(n: int = 2048) -> float:
    """GFLOP/s of an n×n fp32 matrix product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return _best_rate(2.0 * n**3, lambda: torch.mm(a, b))


def conv_peak(batch: int = 256, channels: int = 32, height: int = 56, width: int = 11) -> float:
    """GFLOP/s of a channels-last 3×3 'same' convolution, ``channels`` in and out."""
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    conv = conv.to(memory_format=torch.channels_last)
    x = torch.randn(batch, channels, height, width).to(memory_format=torch.channels_last)
    flops = 2.0 * batch * channels * channels * 9 * height * width
    with torch.no_grad():
        return _best_rate(flops, lambda: conv(x))


def model_flops(
    model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], loss: Callable[[Any], Any]
) -> dict[str, float]:
    """FLOPs per sample of ``model(*inputs)`` forward, and of forward + backward of ``loss``."""
    batch = int(inputs[0].shape[0])
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*inputs)
    forward = counter.get_total_flops() / batch
    model.train()
    with FlopCounterMode(display=False) as counter:
        loss(model(*inputs)).backward()
    model.zero_grad(set_to_none=True)
    return {"forward_flops": forward, "train_step_flops": counter.get_total_flops() / batch}
