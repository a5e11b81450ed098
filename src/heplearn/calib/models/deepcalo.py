"""The DeepCalo network (thesis 4.3): CNNnet with FiLM, ScalarNet, TrackNet, FiLM gen., Top."""

from __future__ import annotations

import math

import torch
from torch import nn

from heplearn.calib.inputs import InputShapes
from heplearn.calib.models.blocks import ConvBlock, OutputHead, dense_stack
from heplearn.calib.models.deepcalo_config import DeepCaloConfig, SideInput

__all__ = ["DeepCalo"]


class DeepCalo(nn.Module):
    """``model(images, scalars, tracks)`` → (N, 1) energy or (N, 2) energy and ln σ².

    Build it with :func:`heplearn.calib.models.build_model`, which first checks that every
    input the config connects is present in ``shapes``.
    """

    def __init__(self, config: DeepCaloConfig, shapes: InputShapes) -> None:
        super().__init__()
        self.film_inputs: tuple[SideInput, ...] = config.film_inputs
        self.top_inputs: tuple[SideInput, ...] = config.top_inputs
        slope = config.leaky_slope
        channels, height, width = shapes.image

        blocks = []
        for n_out, depth in zip(config.widths, config.depths, strict=True):
            blocks.append(
                ConvBlock(channels, n_out, depth=depth, kernel=config.kernel, slope=slope)
            )
            channels = n_out
        self.blocks = nn.ModuleList(blocks)
        pool = nn.MaxPool2d if config.pooling == "max" else nn.AvgPool2d
        # ceil_mode keeps the odd edge row/column: 56×11 → 28×6 → 14×3 → 7×2
        self.pool = pool(2, ceil_mode=True)
        self.global_pooling = config.global_pooling
        for _ in range(len(blocks) - 1):
            height, width = math.ceil(height / 2), math.ceil(width / 2)
        cnn_size = channels * (height * width if config.global_pooling == "flatten" else 1)

        side_sizes: dict[SideInput, int] = {}
        self.scalar_net: nn.Module | None = None
        if config.uses("scalars"):
            self.scalar_net = dense_stack(shapes.scalars, config.scalar_units, slope)
            side_sizes["scalars"] = (config.scalar_units or (shapes.scalars,))[-1]
        self.track_net: nn.Module | None = None
        if config.uses("tracks"):
            self.track_net = _track_net(config, shapes.tracks)
            flat = config.track_filters * shapes.tracks[0]
            side_sizes["tracks"] = (config.track_units or (flat,))[-1]

        self.film_gen: nn.Module | None = None
        self.film_sizes: list[int] = []
        if config.film_inputs:
            n_in = sum(side_sizes[side] for side in config.film_inputs)
            # one γ and one β per channel of every block, in block order: γ₁ β₁ γ₂ β₂ …
            self.film_sizes = [n for w in config.widths for n in (w, w)]
            self.film_gen = _film_generator(n_in, config, sum(self.film_sizes))

        n_top = cnn_size + sum(side_sizes[side] for side in config.top_inputs)
        self.top = dense_stack(n_top, config.top_units, slope)
        self.head = OutputHead((config.top_units or (n_top,))[-1], uncertainty=config.uncertainty)
        # NHWC: 1.3–1.5× faster with oneDNN on the AVX2 CPU (and the layout tensor cores want)
        getattr(self, "to")(memory_format=torch.channels_last)  # noqa: B009 (stubs lack the keyword)

    def forward(
        self, images: torch.Tensor, scalars: torch.Tensor, tracks: torch.Tensor
    ) -> torch.Tensor:
        """images (N, C, H, W), scalars (N, S), tracks (N, T, F) → (N, 1) or (N, 2)."""
        sides: dict[SideInput, torch.Tensor] = {}
        if self.scalar_net is not None:
            sides["scalars"] = self.scalar_net(scalars)
        if self.track_net is not None:
            sides["tracks"] = self.track_net(tracks.transpose(1, 2))

        film: list[torch.Tensor | None] = [None] * (2 * len(self.blocks))
        if self.film_gen is not None:
            generated = self.film_gen(torch.cat([sides[s] for s in self.film_inputs], dim=1))
            film = list(generated.split(self.film_sizes, dim=1))

        x = images.contiguous(memory_format=torch.channels_last)  # no copy if already NHWC
        for i, block in enumerate(self.blocks):
            if i:
                x = self.pool(x)
            x = block(x, film[2 * i], film[2 * i + 1])
        if self.global_pooling == "max":
            x = x.amax(dim=(2, 3))
        elif self.global_pooling == "avg":
            x = x.mean(dim=(2, 3))
        else:
            x = x.flatten(1)

        top = torch.cat([x, *(sides[s] for s in self.top_inputs)], dim=1)
        return self.head(self.top(top))  # type: ignore[no-any-return]


def _track_net(config: DeepCaloConfig, tracks: tuple[int, int]) -> nn.Sequential:
    """TrackNet: conv1d over the track axis (features as channels) → BN → flatten → dense."""
    count, features = tracks
    kernel, filters = config.track_kernel, config.track_filters
    return nn.Sequential(
        nn.Conv1d(features, filters, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(filters),
        nn.LeakyReLU(config.leaky_slope, inplace=True),
        nn.Flatten(),
        dense_stack(filters * count, config.track_units, config.leaky_slope),
    )


def _film_generator(n_in: int, config: DeepCaloConfig, n_out: int) -> nn.Sequential:
    """FiLM gen.: dense blocks → a linear layer to every block's γ and β."""
    hidden = dense_stack(n_in, config.film_units, config.leaky_slope)
    out = nn.Linear((config.film_units or (n_in,))[-1], n_out)
    # start at γ = β = 0, the identity, so early training sees a plain CNN
    nn.init.zeros_(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(hidden, out)
