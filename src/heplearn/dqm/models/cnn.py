"""The thesis CNNs (ch. 5.1) as torch modules, and their MapModel wrappers cnn2, cnn3, cnn3bn.

- ``cnn2`` (Fig. 5.2): BatchNorm → Conv 8 3×3 stride 2 ReLU → Conv 8 3×3 stride 2 ReLU →
  dropout → flatten → dense 2: a binary good-vs-bad classifier;
- ``cnn3`` (Fig. 5.7): Conv 10 2×2 ReLU → max-pool → BN → Conv 8 3×3 ReLU → max-pool →
  Conv 8 1×1 ReLU → dropout → dense 8 ReLU → dense 5 (the classes of ``CLASS_NAMES``);
- ``cnn3bn`` (Fig. 5.9): the same with batch-norm before every activation.

Input channels are the map depths D.  Maps enter as ``clip(counts/expected, 0, INPUT_CLIP) − 1``
on live channels (0 = nominal, −1 = dead) with ``expected`` from the :class:`Reference`
fitted on the good training maps (stored with the model); masked channels and maps
without statistics enter as 0.  The network is built for the training shape; other
shapes are refused with a DataError naming both shapes.

Channel scores are *not* from the network (gradient-free and cheap): the Poisson
deviation ``|counts − expected| / sqrt(expected)`` of every live channel.  A channel is
flagged when its score passes a threshold chosen on the good validation maps (at most
``FLAG_RATE`` of them would have a flagged channel) *and* the network calls the map
not good, so flags follow the classifier's verdict.

The helpers :func:`net_arrays`, :func:`load_net` and :func:`run_network` are shared
with the autoencoder (:mod:`heplearn.dqm.models.autoencoder`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from heplearn.dqm.labels import CLASS_NAMES
from heplearn.dqm.maps import MapSet, check_counts
from heplearn.dqm.metrics import threshold_for_rate
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models.base import MapModel, read_model_files, write_model_files
from heplearn.dqm.reference import Reference, fit_reference
from heplearn.dqm.verdict import verdict_from_channels
from heplearn.errors import DataError
from heplearn.training import TensorSet, fit, predict, seed_everything, select_device

__all__ = [
    "FLAG_RATE",
    "INPUT_CLIP",
    "Cnn2Model",
    "Cnn3BnModel",
    "Cnn3Model",
    "CnnModel",
    "build_cnn",
    "load_net",
    "net_arrays",
    "run_network",
]

Array = np.ndarray[Any, Any]

#: Normalised occupancy is clipped here before entering the CNN (a hot channel saturates).
INPUT_CLIP = 10.0
#: Fraction of good validation maps allowed a flagged channel (sets the channel threshold).
FLAG_RATE = 0.01
#: The channel threshold never goes below this Poisson deviation [σ].
MIN_FLAG_SIGMA = 3.0
#: Maps per forward pass when scoring (bounds the memory of the activations).
SCORE_BATCH = 256


# ---- torch helpers shared with the autoencoder ----


def net_arrays(net: nn.Module, prefix: str = "net.") -> dict[str, Array]:
    """The network's state_dict as numpy arrays (for safetensors), keys prefixed."""
    return {prefix + k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}


def load_net(net: nn.Module, arrays: dict[str, Array], where: str, prefix: str = "net.") -> None:
    """Load arrays written by :func:`net_arrays` into ``net``; a mismatch is a DataError."""
    state = {
        k[len(prefix) :]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(prefix)
    }
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    for key, shape in expected.items():
        # Scalars (BN's num_batches_tracked) come back from safetensors as shape (1,).
        if key in state and state[key].numel() == math.prod(shape):
            state[key] = state[key].reshape(shape)
    wrong = sorted(k for k in expected if k not in state or tuple(state[k].shape) != expected[k])
    extra = sorted(set(state) - set(expected))
    if wrong or extra:
        raise DataError(
            "model weights do not match the network",
            where,
            f"missing or misshapen {wrong[:3]}, unexpected {extra[:3]}",
            "retrain the model with this heplearn version",
        )
    net.load_state_dict(state)


def run_network(net: nn.Module, x: Array, batch_size: int) -> Array:
    """The network output for input ``x`` (N, C, H, W), in eval mode, as float32 numpy."""
    if len(x) == 0:
        return np.zeros((0,), np.float32)
    # Channels-last convolutions run ~1.3× faster on CPU (oneDNN) and use tensor cores on GPU.
    net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    data = TensorSet.from_numpy({"x": x.astype(np.float32, copy=False)}).channels_last()

    def forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(batch["x"])  # type: ignore[no-any-return]

    return predict(net, data, forward, batch_size=batch_size).numpy()


def expected_and_ratio(reference: Reference, maps: MapSet) -> tuple[Array, Array]:
    """(expected hits, counts/expected) per channel; ratio 1 (nominal) where nothing is expected."""
    expected = reference.expected(maps)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, maps.counts / expected, 1.0)
    return expected, ratio.astype(np.float32)


# ---- the networks ----


def _pooled(n: int) -> int:
    return n // 2


def _flat_size(name: str, height: int, width: int) -> tuple[int, int]:
    """Spatial size after the convolutional part of ``name`` (no padding, as in Keras)."""
    if name == "cnn2":
        for _ in range(2):
            height, width = (height - 3) // 2 + 1, (width - 3) // 2 + 1
        return height, width
    height, width = _pooled(height - 1), _pooled(width - 1)
    return _pooled(height - 2), _pooled(width - 2)


def build_cnn(
    name: str, shape: tuple[int, int, int], n_classes: int, dropout: float
) -> nn.Sequential:
    """The thesis network ``name`` (cnn2, cnn3, cnn3bn) for maps of ``shape`` = (H, W, D)."""
    height, width, depth = shape
    out_h, out_w = _flat_size(name, height, width)
    if out_h < 1 or out_w < 1:
        raise DataError(
            f"maps of shape {shape}",
            f"model {name}",
            "they are too small for the network's convolutions and pooling",
            "use maps of at least 9 × 9 channels, or the ae/qtest models",
        )
    flat = 8 * out_h * out_w
    if name == "cnn2":
        return nn.Sequential(
            nn.BatchNorm2d(depth),
            nn.Conv2d(depth, 8, 3, stride=2),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(flat, n_classes),
        )
    if name == "cnn3":
        return nn.Sequential(
            nn.Conv2d(depth, 10, 2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(10),
            nn.Conv2d(10, 8, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 1),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(flat, 8),
            nn.ReLU(),
            nn.Linear(8, n_classes),
        )
    return nn.Sequential(  # cnn3bn: batch-norm before every activation (Fig. 5.9)
        nn.Conv2d(depth, 10, 2),
        nn.BatchNorm2d(10),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(10, 8, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Flatten(),
        nn.Linear(flat, 8),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Linear(8, n_classes),
    )


def cross_entropy_objective(
    weights: torch.Tensor | None,
) -> Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]:
    """Mean (optionally class-weighted) cross-entropy of logits vs ``batch["y"]``."""

    def objective(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(batch["x"])
        w = None if weights is None else weights.to(logits.device)
        return functional.cross_entropy(logits.float(), batch["y"], weight=w)

    return objective


def balanced_weights(labels: Array, n_classes: int) -> torch.Tensor:
    """Class weights ∝ 1/frequency (mean 1 over present classes; absent classes weight 0)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1.0) / (counts > 0).sum(), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


# ---- the MapModel wrappers ----


@dataclass(frozen=True)
class _Outputs:
    """Everything scoring derives from one pass over a MapSet."""

    probs: Array  # (N, K) class probabilities
    ratio: Array  # (N, H, W, D) counts/expected (1 where nothing expected)
    deviation: Array  # (N, H, W, D) Poisson deviation, 0 where masked


class CnnModel(MapModel):
    """Common code of the thesis CNNs; subclasses set ``name`` and ``binary``."""

    supervised: ClassVar[bool] = True
    binary: ClassVar[bool] = False
    #: Whether fit weights the classes ∝ 1/frequency (subclasses or callers may switch it on).
    balanced: ClassVar[bool] = False

    def __init__(self, config: DqmModelConfig | None = None) -> None:
        super().__init__(config)
        self.net: nn.Sequential | None = None
        self.reference: Reference | None = None
        self.flag_threshold = float("inf")
        self.fallback_class = 1
        self._cache: tuple[MapSet, _Outputs] | None = None

    @property
    def n_classes(self) -> int:
        return 2 if self.binary else len(CLASS_NAMES)

    def _targets(self, maps: MapSet) -> Array:
        assert maps.map_class is not None
        labels = maps.map_class.astype(np.int64)
        return (labels != 0).astype(np.int64) if self.binary else labels

    def _inputs(self, maps: MapSet) -> tuple[Array, Array, Array]:
        """(network input (N, D, H, W), ratio, expected) of ``maps``."""
        assert self.reference is not None
        expected, ratio = expected_and_ratio(self.reference, maps)
        live = self.reference.mask[np.newaxis] & (expected > 0)
        x = np.where(live, np.clip(ratio, 0.0, INPUT_CLIP) - 1.0, 0.0).astype(np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), ratio, expected

    def fit(self, train: MapSet, val: MapSet, run_dir: Path, *, progress: bool = False) -> None:
        """Fit the reference on good training maps, train the network, pick the flag threshold."""
        self.check_labelled(train)
        self.check_labelled(val, "validation maps")
        check_counts(train, "training maps")
        check_counts(val, "validation maps")
        self.reference = fit_reference(train)
        self.fixed_shape = train.shape
        self.check_shape(val)
        seed_everything(self.config.trainer.seed)  # the initial weights, not only the shuffling
        self.net = build_cnn(self.name, train.shape, self.n_classes, self.config.cnn.dropout)
        y_train, y_val = self._targets(train), self._targets(val)
        sets = tuple(
            TensorSet.from_numpy({"x": self._inputs(maps)[0], "y": y}).channels_last()
            for maps, y in ((train, y_train), (val, y_val))
        )
        weights = balanced_weights(y_train, self.n_classes) if self.balanced else None
        fit(
            self.net,
            cross_entropy_objective(weights),
            (sets[0], sets[1]),
            self.config.trainer,
            run_dir,
            progress=progress,
        )
        self.net.eval()
        self._cache = None
        assert train.map_class is not None
        faults = train.map_class[train.map_class != 0].astype(np.int64)
        self.fallback_class = int(np.bincount(faults).argmax()) if faults.size else 1
        good = val.subset(np.flatnonzero(val.map_class == 0))
        if len(good):
            worst = self._outputs(good).deviation.reshape(len(good), -1).max(axis=1)
            self.flag_threshold = threshold_for_rate(worst, FLAG_RATE, MIN_FLAG_SIGMA)
        else:
            self.flag_threshold = threshold_for_rate(np.zeros(0), FLAG_RATE, 5.0)

    def _outputs(self, maps: MapSet) -> _Outputs:
        if self.net is None or self.reference is None:
            raise DataError(
                f"model {self.name}", "scoring", "it is not trained", "fit it or load it first"
            )
        if self._cache is not None and self._cache[0] is maps:
            return self._cache[1]
        self.check_shape(maps)
        check_counts(maps, "the maps to score")
        x, ratio, expected = self._inputs(maps)
        logits = run_network(self.net, x, SCORE_BATCH)
        probs = torch.softmax(torch.from_numpy(logits).reshape(len(maps), -1), dim=1).numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            deviation = np.where(
                expected > 0, np.abs(maps.counts - expected) / np.sqrt(expected), 0.0
            )
        out = _Outputs(probs, ratio, deviation.astype(np.float32))
        self._cache = (maps, out)
        return out

    def predict_class(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Arg-max class; the binary cnn2 names a bad map's fault from its flagged channels."""
        out = self._outputs(maps)
        best: np.ndarray[Any, np.dtype[np.int64]] = out.probs.argmax(axis=1).astype(np.int64)
        if not self.binary:
            return best
        named = verdict_from_channels(out.ratio, self.flag_channels(maps))
        # Bad but no channel flagged: the most frequent fault class of the training set.
        named = np.where(named == 0, self.fallback_class, named)
        return np.where(best == 0, 0, named).astype(np.int64)

    def anomaly_score(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        """1 − P(good)."""
        return (1.0 - self._outputs(maps).probs[:, 0]).astype(np.float32)

    def score_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Poisson deviation |counts − expected| / sqrt(expected) [σ], 0 on masked channels."""
        return self._outputs(maps).deviation

    def flag_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Channels above the threshold, in maps the network does not call good."""
        out = self._outputs(maps)
        bad = out.probs.argmax(axis=1) != 0
        return np.asarray((out.deviation > self.flag_threshold) & bad[:, None, None, None])

    def save(self, folder: Path) -> None:
        """Write model.json (config, shape, threshold) + arrays.safetensors (weights, reference)."""
        if self.net is None or self.reference is None:
            raise DataError(f"model {self.name}", str(folder), "it is not trained", "fit it first")
        meta = {
            **self.base_meta(),
            "flag_threshold": self.flag_threshold,
            "fallback_class": self.fallback_class,
            "classes": ["good", "bad"] if self.binary else list(CLASS_NAMES),
        }
        write_model_files(folder, meta, {**net_arrays(self.net), **self.reference.to_arrays()})

    @classmethod
    def load(cls, folder: Path) -> CnnModel:
        """Rebuild the network on the best available device and load weights and reference."""
        meta, arrays = read_model_files(folder, expected=cls.name)
        model = cls(cls.config_from_meta(meta, folder))
        model.restore_base(meta)
        if model.fixed_shape is None:
            raise DataError(
                "model without a map shape", str(folder), "model.json is damaged", "retrain it"
            )
        model.reference = Reference.from_arrays(arrays)
        model.flag_threshold = float(meta["flag_threshold"])
        model.fallback_class = int(meta["fallback_class"])
        net = build_cnn(cls.name, model.fixed_shape, model.n_classes, model.config.cnn.dropout)
        load_net(net, arrays, str(folder))
        model.net = net.to(select_device("auto")).eval()
        return model


class Cnn2Model(CnnModel):
    """Thesis Fig. 5.2: two convolutions, binary good vs bad."""

    name: ClassVar[str] = "cnn2"
    binary: ClassVar[bool] = True


class Cnn3Model(CnnModel):
    """Thesis Fig. 5.7: three convolutions, multiclass."""

    name: ClassVar[str] = "cnn3"


class Cnn3BnModel(CnnModel):
    """Thesis Fig. 5.9: three convolutions with batch-norm before every activation."""

    name: ClassVar[str] = "cnn3bn"
