"""The scouting-style small CNN–MLP hybrid for CMS-like crystal windows (e.g. 5×5 or 11×11)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from heplearn.calib.inputs import InputShapes
from heplearn.calib.models.blocks import OutputHead, dense_stack
from heplearn.config import register_config, setting
from heplearn.errors import ConfigError

__all__ = ["ScoutingCNN", "ScoutingCNNConfig"]


@register_config("scouting-cnn")
@dataclass(frozen=True)
class ScoutingCNNConfig:
    """A few 'same'-padded convolutions over the crystal window, flattened, the scalars
    concatenated, then dense layers (CMS scouting e/γ regression slides, "CNN–MLP hybrid")."""

    conv_filters: tuple[int, ...] = setting((16, 32), low=1, high=1024, doc="filters per conv")
    kernel: int = setting(3, low=1, high=9, doc="conv kernel size k (k×k, odd)")
    dense_units: tuple[int, ...] = setting((64, 32), low=1, high=65536, doc="dense widths")
    scalars: bool = setting(True, doc="concatenate the scalars to the flattened image")
    leaky_slope: float = setting(0.01, low=0.0, high=1.0, doc="LeakyReLU slope")
    uncertainty: bool = setting(False, doc="a second output column ln σ² (Gaussian NLL)")

    def validate(self, where: str) -> None:
        if self.kernel % 2 == 0:
            raise ConfigError(
                "field 'kernel'",
                where,
                f"{self.kernel} is even; 'same' padding needs an odd kernel",
                f"use {self.kernel + 1}",
            )


class ScoutingCNN(nn.Module):
    """``model(images, scalars, tracks)`` → (N, 1) energy or (N, 2) energy and ln σ²; tracks
    are ignored (the scouting regression feeds track parameters as scalars)."""

    def __init__(self, config: ScoutingCNNConfig, shapes: InputShapes) -> None:
        super().__init__()
        channels, height, width = shapes.image
        convs: list[nn.Module] = []
        for n_out in config.conv_filters:
            convs += [
                nn.Conv2d(channels, n_out, config.kernel, padding=config.kernel // 2),
                nn.LeakyReLU(config.leaky_slope, inplace=True),
            ]
            channels = n_out
        self.convs = nn.Sequential(*convs, nn.Flatten())
        self.use_scalars = config.scalars
        n_in = channels * height * width + (shapes.scalars if config.scalars else 0)
        self.dense = dense_stack(n_in, config.dense_units, config.leaky_slope)
        self.head = OutputHead((config.dense_units or (n_in,))[-1], uncertainty=config.uncertainty)

    def forward(
        self, images: torch.Tensor, scalars: torch.Tensor, tracks: torch.Tensor
    ) -> torch.Tensor:
        """images (N, C, H, W), scalars (N, S), tracks (ignored) → (N, 1) or (N, 2)."""
        x = self.convs(images)
        if self.use_scalars:
            x = torch.cat([x, scalars], dim=1)
        return self.head(self.dense(x))  # type: ignore[no-any-return]
