"""Building blocks shared by the calibration networks: dense and conv blocks, FiLM, output head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "LOG_VARIANCE_RANGE",
    "ConvBlock",
    "FiLM",
    "OutputHead",
    "dense_stack",
]

#: ln σ² is clamped to this range so that exp(±ln σ²) in a Gaussian NLL never overflows.
LOG_VARIANCE_RANGE = (-20.0, 20.0)


class FiLM(nn.Module):
    """Feature-wise linear modulation ``(1 + γ)·x + β`` with one γ and β per channel.

    γ = β = 0 is the identity, so a freshly initialised generator starts near a plain CNN.
    """

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """``x`` (N, C, H, W); ``gamma`` and ``beta`` (N, C)."""
        shape = (*gamma.shape, 1, 1)
        # one fused kernel, out of place: BN's output is still needed by autograd
        return torch.addcmul(beta.reshape(shape), x, gamma.reshape(shape) + 1.0)


def dense_stack(n_in: int, units: Sequence[int], slope: float) -> nn.Sequential:
    """Dense blocks Linear → BatchNorm → LeakyReLU; no bias since BN's shift replaces it."""
    layers: list[nn.Module] = []
    for n_out in units:
        layers += [
            nn.Linear(n_in, n_out, bias=False),
            nn.BatchNorm1d(n_out),
            nn.LeakyReLU(slope, inplace=True),
        ]
        n_in = n_out
    return nn.Sequential(*layers)


class ConvBlock(nn.Module):
    """conv → BN → [FiLM] → LeakyReLU, then ``depth − 1`` sub-blocks conv → BN → LeakyReLU."""

    def __init__(self, n_in: int, n_out: int, *, depth: int, kernel: int, slope: float) -> None:
        super().__init__()
        self.head = nn.Sequential(_conv(n_in, n_out, kernel), nn.BatchNorm2d(n_out))
        self.film = FiLM()
        self.act = nn.LeakyReLU(slope, inplace=True)
        sub: list[nn.Module] = []
        for _ in range(depth - 1):
            sub += [
                _conv(n_out, n_out, kernel),
                nn.BatchNorm2d(n_out),
                nn.LeakyReLU(slope, inplace=True),
            ]
        self.sub = nn.Sequential(*sub)
        self.channels = n_out

    def forward(
        self, x: torch.Tensor, gamma: torch.Tensor | None = None, beta: torch.Tensor | None = None
    ) -> torch.Tensor:
        """FiLM is applied when ``gamma`` and ``beta`` (N, channels) are given."""
        x = self.head(x)
        if gamma is not None and beta is not None:
            x = self.film(x, gamma, beta)
        return self.sub(self.act(x))  # type: ignore[no-any-return]


def _conv(n_in: int, n_out: int, kernel: int) -> nn.Conv2d:
    # odd kernels only (checked by the configs): symmetric 'same' padding exports cleanly to ONNX
    return nn.Conv2d(n_in, n_out, kernel, padding=kernel // 2, bias=False)


class OutputHead(nn.Module):
    """Linear to the energy column (ReLU, ≥ 0) and, with ``uncertainty``, a clamped ln σ² column."""

    def __init__(self, n_in: int, *, uncertainty: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, 2 if uncertainty else 1)
        # Start at the baseline's answer (ratio target ≈ 1), well inside the ReLU's live side:
        # a bias near 0 let short trainings push every output below 0, where no gradient flows.
        with torch.no_grad():
            self.linear.bias[0] = 1.0
        self.uncertainty = uncertainty

    def start_at(self, centre: float, log_variance: float) -> None:
        """Start the outputs exactly at the training target's centre and spread.

        An ln σ² head starting at 0 (σ = 100 % on a ratio target) needs hundreds of
        one-cycle steps to reach the ≈ -7 of a few-per-cent resolution, and the β-NLL weight
        σ^{2β} slows it further; short trainings then predict σ several times too wide.
        The weights start at zero: random ones would put the mean O(1) away from the target
        while σ is a few per cent, and the first NLL steps would blow up.
        """
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias[0] = centre
            if self.uncertainty:
                self.linear.bias[1] = log_variance

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x)
        energy = torch.relu(out[:, :1])
        if not self.uncertainty:
            return energy
        low, high = LOG_VARIANCE_RANGE
        return torch.cat([energy, out[:, 1:].clamp(low, high)], dim=1)
