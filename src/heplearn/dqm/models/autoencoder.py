"""The thesis convolutional autoencoder (Fig. 5.11), trained on good maps only (model ``ae``).

Network: per encoder level Conv 3×3 'same' → BatchNorm → ReLU → max-pool 2×2 'same'
(filters 86/64/32 by default, ``ae.filters``); the decoder mirrors it with Conv →
BN → ReLU → up-sampling ×2, and a final Conv 3×3 with a sigmoid gives one output
channel per map depth.  Loss: mean squared error over the live channels.

Input.  ``r = counts/expected`` from the :class:`Reference` fitted on the good training
maps, squashed into [0, 1] as ``r / (1 + r)``: nominal 0.5, dead 0, a partial ×0.5
region 0.33, hot ×10 0.91 — both a dead (0) and a hot (≫1) channel stand far from
0.5 and no value saturates.  Masked channels and maps without statistics enter as 0.5.

Any map shape: the network pads H and W up to a multiple of ``2**levels`` with the
nominal value 0.5 and crops its output back, so one trained model needs maps of
its training shape only because its Reference is per channel (a clear DataError
otherwise).

Scores.  ``score_channels`` = squared reconstruction error per channel (0 where
masked).  On the good training maps each live channel's mean error ``noise_c``
is measured (floored at ``NOISE_FLOOR`` × the median over channels, so a channel
that happened to be quiet is not over-sensitive); the map score is
``max_c error_c / noise_c`` (the worst channel in units of its own good-map error)
and a channel is flagged when ``error_c / noise_c > k`` with ``k`` chosen so that at
most ``ae.threshold_false_flag_rate`` of the good validation maps have a flagged
channel (per-channel threshold ``k · noise_c``).  The class follows from how the
flagged channels deviate (``verdict_from_channels``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from heplearn.dqm.maps import MapSet, check_counts
from heplearn.dqm.metrics import threshold_for_rate
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models.base import MapModel, read_model_files, write_model_files
from heplearn.dqm.models.cnn import expected_and_ratio, load_net, net_arrays, run_network
from heplearn.dqm.reference import Reference, fit_reference
from heplearn.dqm.verdict import verdict_from_channels
from heplearn.errors import DataError
from heplearn.training import Objective, TensorSet, fit, seed_everything, select_device

__all__ = ["NOISE_FLOOR", "AutoencoderModel", "ConvAutoencoder", "squash"]

Array = np.ndarray[Any, Any]

#: A channel's good-map error is floored at this fraction of the median over channels.
NOISE_FLOOR = 0.25
#: At most this many training maps measure the per-channel good-map error.
MAX_NOISE_MAPS = 2000
#: Maps per forward pass when scoring (the first level holds 86 full-size feature maps).
SCORE_BATCH = 64
#: Value of masked channels, empty maps and padding: the squashed nominal ratio 1.
NOMINAL = 0.5


def squash(ratio: Array) -> Array:
    """``r / (1 + r)`` of the normalised occupancy ``r >= 0``: [0, ∞) → [0, 1), nominal 0.5."""
    r = np.maximum(ratio, 0.0)
    return (r / (1.0 + r)).astype(np.float32)


class ConvAutoencoder(nn.Module):
    """Conv/BN/ReLU/max-pool encoder, Conv/BN/ReLU/up-sampling decoder, sigmoid output."""

    def __init__(self, depth: int, filters: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = depth
        for width in filters:
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            layers.append(nn.MaxPool2d(2, ceil_mode=True))  # Keras padding='same'
            previous = width
        for width in reversed(filters):
            layers += [nn.Conv2d(previous, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            previous = width
        layers += [nn.Conv2d(previous, depth, 3, padding=1), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)
        self.multiple = 2 ** len(filters)

    def padding(self, height: int, width: int) -> tuple[int, int]:
        """Rows and columns added at the bottom/right to reach a multiple of 2**levels."""
        return (-height) % self.multiple, (-width) % self.multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = self.padding(int(height), int(width))
        if pad_h or pad_w:
            x = functional.pad(x, (0, pad_w, 0, pad_h), value=NOMINAL)
        out: torch.Tensor = self.layers(x)
        return out[..., :height, :width]


def masked_mse(live: torch.Tensor) -> Objective:
    """Objective: mean squared error of the reconstruction over the live channels."""

    def objective(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = batch["x"]
        weight = live.to(x.device)
        recon: torch.Tensor = model(x)
        error = (recon.float() - x) ** 2 * weight
        return error.sum() / (weight.sum() * len(x)).clamp(min=1.0)

    return objective


@dataclass(frozen=True)
class _Outputs:
    """Everything scoring derives from one pass over a MapSet."""

    ratio: Array  # (N, H, W, D) counts/expected, 1 where nothing expected
    error: Array  # (N, H, W, D) squared reconstruction error, 0 where masked
    relative: Array  # (N, H, W, D) error / noise


class AutoencoderModel(MapModel):
    """The thesis autoencoder; unsupervised, any map shape (one shape per trained model)."""

    name: ClassVar[str] = "ae"
    supervised: ClassVar[bool] = False

    def __init__(self, config: DqmModelConfig | None = None) -> None:
        super().__init__(config)
        self.net: ConvAutoencoder | None = None
        self.reference: Reference | None = None
        self.noise: Array = np.ones((0, 0, 0), np.float32)
        self.k = math.inf
        self._cache: tuple[MapSet, _Outputs] | None = None

    def _check(self, maps: MapSet) -> None:
        if self.fixed_shape is not None and maps.shape != self.fixed_shape:
            raise DataError(
                f"maps of shape {maps.shape}",
                "the maps to score",
                f"this autoencoder's reference was fitted per channel on maps {self.fixed_shape}",
                "train an ae on maps of this shape (any shape can be trained)",
            )

    def _inputs(self, maps: MapSet) -> tuple[Array, Array]:
        """(network input (N, D, H, W), ratio (N, H, W, D))."""
        assert self.reference is not None
        expected, ratio = expected_and_ratio(self.reference, maps)
        live = self.reference.mask[np.newaxis] & (expected > 0)
        x = np.where(live, squash(ratio), NOMINAL).astype(np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), ratio

    @staticmethod
    def _good(maps: MapSet) -> MapSet:
        keep = ~maps.empty
        if maps.map_class is not None:
            keep &= maps.map_class == 0
        return maps.subset(np.flatnonzero(keep))

    def fit(self, train: MapSet, val: MapSet, run_dir: Path, *, progress: bool = False) -> None:
        """Train on the good maps of ``train``; set the channel threshold on good ``val`` maps."""
        check_counts(train, "training maps")
        check_counts(val, "validation maps")
        train, val = self._good(train), self._good(val)
        if len(train) == 0:
            raise DataError(
                "no good maps with statistics",
                "training maps",
                "the autoencoder learns from good maps only",
                "give good (or unlabelled reference) maps with events",
            )
        self.reference = fit_reference(train)
        self.fixed_shape = train.shape
        self._check(val)
        if len(val) == 0:
            val = train  # thresholds from training maps: slightly optimistic, flagged in docs
        settings = self.config.ae
        seed_everything(self.config.trainer.seed)  # the initial weights, not only the shuffling
        self.net = ConvAutoencoder(train.shape[2], tuple(settings.filters))
        live = torch.from_numpy(self.reference.mask.transpose(2, 0, 1).astype(np.float32))
        sets = [
            TensorSet.from_numpy({"x": self._inputs(m)[0]}).channels_last() for m in (train, val)
        ]
        fit(
            self.net,
            masked_mse(live[None]),
            (sets[0], sets[1]),
            self.config.trainer,
            run_dir,
            progress=progress,
        )
        self.net.eval()
        self._cache = None
        # Noise from training maps, k from validation maps: k is set on maps noise never saw.
        noise = self._errors(train.subset(slice(0, MAX_NOISE_MAPS)))[1].mean(axis=0)
        error = self._errors(val)[1]
        floor = NOISE_FLOOR * float(np.median(noise[self.reference.mask]))
        self.noise = np.where(
            self.reference.mask, np.maximum(noise, max(floor, 1e-12)), 1.0
        ).astype(np.float32)
        worst = (error / self.noise).reshape(len(val), -1).max(axis=1)
        self.k = threshold_for_rate(worst, settings.threshold_false_flag_rate, 1.0)

    def _errors(self, maps: MapSet) -> tuple[Array, Array]:
        """(ratio, squared reconstruction error) of ``maps``."""
        if self.net is None or self.reference is None:
            raise DataError("model ae", "scoring", "it is not trained", "fit it or load it first")
        self._check(maps)
        check_counts(maps, "the maps to score")
        x, ratio = self._inputs(maps)
        recon = run_network(self.net, x, SCORE_BATCH).reshape(x.shape)
        error = ((recon - x) ** 2).transpose(0, 2, 3, 1)
        return ratio, np.where(self.reference.mask[np.newaxis], error, 0.0).astype(np.float32)

    def _outputs(self, maps: MapSet) -> _Outputs:
        if self._cache is not None and self._cache[0] is maps:
            return self._cache[1]
        ratio, error = self._errors(maps)
        out = _Outputs(ratio, error, (error / self.noise[np.newaxis]).astype(np.float32))
        self._cache = (maps, out)
        return out

    def predict_class(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Class from how the flagged channels deviate (good when none is flagged)."""
        return verdict_from_channels(self._outputs(maps).ratio, self.flag_channels(maps))

    def anomaly_score(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Worst channel error in units of that channel's mean good-map error."""
        relative = self._outputs(maps).relative.reshape(len(maps), -1)
        score: np.ndarray[Any, np.dtype[np.float32]] = relative.max(axis=1, initial=0.0)
        return score.astype(np.float32)

    def score_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Squared reconstruction error per channel (squashed units), 0 on masked channels."""
        return self._outputs(maps).error

    def flag_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Channels whose error exceeds k × their mean good-map error."""
        return np.asarray(self._outputs(maps).relative > self.k)

    def save(self, folder: Path) -> None:
        """Write model.json (config, shape, pad, k) + arrays.safetensors (weights, reference)."""
        if self.net is None or self.reference is None or self.fixed_shape is None:
            raise DataError("model ae", str(folder), "it is not trained", "fit it first")
        meta = {
            **self.base_meta(),
            "k": self.k,
            "pad": list(self.net.padding(self.fixed_shape[0], self.fixed_shape[1])),
        }
        arrays = {**net_arrays(self.net), **self.reference.to_arrays(), "noise": self.noise}
        write_model_files(folder, meta, arrays)

    @classmethod
    def load(cls, folder: Path) -> AutoencoderModel:
        """Rebuild the network on the best available device and load everything ``save`` wrote."""
        meta, arrays = read_model_files(folder, expected=cls.name)
        model = cls(cls.config_from_meta(meta, folder))
        model.restore_base(meta)
        if model.fixed_shape is None or "noise" not in arrays:
            raise DataError("damaged ae model", str(folder), "shape or noise is missing", "retrain")
        model.reference = Reference.from_arrays(arrays)
        model.noise = np.asarray(arrays["noise"], dtype=np.float32)
        model.k = float(meta["k"])
        net = ConvAutoencoder(model.fixed_shape[2], tuple(model.config.ae.filters))
        load_net(net, arrays, str(folder))
        model.net = net.to(select_device("auto")).eval()
        return model
