"""A torch MLP classifier (1 or 3 hidden layers) trained by :func:`heplearn.training.fit`.

The network maps the features to one logit; the loss is the weighted binary
cross-entropy  L = mean_i w_i · BCE(σ(f(x_i)), y_i)  with the training weights scaled to
mean 1 on each split, so an epoch's loss does not depend on σ·L and early stopping
compares like with like.  With raw MC weights and a signal that is a tiny fraction of
the weighted events the minimum of L is the constant σ(f) ≈ signal fraction — the
thesis' "AUC exactly 0.5" collapse — which the weights module warns about.  The output
bias starts at the log-odds of the weighted signal fraction (the best constant), so a
short training spends its steps on the shape of f, not on finding the class prior.

Inputs are scaled inside the network: the affine map (x − offset)/scale of
:class:`~heplearn.search.normalisation.Normaliser` fitted on the training events
(``zscore`` or ``minmax``, thesis Eqs. 5.1–5.2) stored as buffers, or a ``BatchNorm1d``
layer (``batchnorm``, the thesis' best).  Buffers and weights are saved
together as safetensors, so a loaded model needs no separate scaler file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from heplearn.config import config_to_dict, parse_config
from heplearn.search.model_config import MlpSettings
from heplearn.search.models.base import (
    Classifier,
    FitSummary,
    PointQuery,
    WeightedSplit,
    normalised_weights,
)
from heplearn.search.normalisation import Normaliser, uses_batchnorm_layer
from heplearn.training import TensorSet, fit, load_weights, predict, save_weights

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = [
    "MlpClassifier",
    "NetworkCore",
    "ScoreNet",
    "bce_objective",
    "build_net",
    "logit_forward",
]

Array = np.ndarray[Any, Any]

WEIGHTS_FILE = "weights.safetensors"
_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


class ScoreNet(nn.Module):
    """Input scaling → hidden layers → one logit per event."""

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        n_inputs: int,
        widths: Sequence[int],
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batchnorm: bool = False,
    ) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(n_inputs))
        self.register_buffer("scale", torch.ones(n_inputs))
        self.input_norm: nn.Module = nn.BatchNorm1d(n_inputs) if batchnorm else nn.Identity()
        layers: list[nn.Module] = []
        last = n_inputs
        for width in widths:
            layers += [nn.Linear(last, width), _ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            last = width
        layers.append(nn.Linear(last, 1))
        self.body = nn.Sequential(*layers)

    def set_prior(self, signal_fraction: float) -> None:
        """Start at the best constant: output bias = log-odds of the weighted signal fraction."""
        fraction = min(max(signal_fraction, 1e-12), 1.0 - 1e-12)
        last = self.body[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.bias.fill_(float(np.log(fraction / (1.0 - fraction))))

    def set_scaling(self, shift: Array, scale: Array) -> None:
        """Fix the input map (x − shift)/scale (float32 per feature)."""
        self.get_buffer("shift").copy_(torch.as_tensor(shift, dtype=torch.float32))
        self.get_buffer("scale").copy_(torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = (x - self.shift) / self.scale
        out: torch.Tensor = self.body(self.input_norm(scaled)).squeeze(-1)
        return out


def bce_objective(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Weighted binary cross-entropy of the batch (weights have mean 1 over the split)."""
    logits = model(batch["x"]).float()  # the loss in fp32 even under autocast
    loss = nn.functional.binary_cross_entropy_with_logits(logits, batch["y"], reduction="none")
    return (loss * batch["w"]).mean()


def logit_forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out: torch.Tensor = model(batch["x"])
    return out


def build_net(settings: MlpSettings, n_inputs: int) -> ScoreNet:
    """A fresh network; its initial weights depend only on the trainer seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.trainer.seed)
        return ScoreNet(
            n_inputs,
            settings.layer_widths,
            activation=settings.activation,
            dropout=settings.dropout,
            batchnorm=uses_batchnorm_layer(settings.normalisation),
        )


def _tensors(x: Array, y: Array, w: Array) -> TensorSet:
    return TensorSet.from_numpy(
        {
            "x": np.asarray(x, np.float32),
            "y": np.asarray(y, np.float32),
            "w": normalised_weights(w).astype(np.float32),
        }
    )


class NetworkCore:
    """Training, scoring and saving of one :class:`ScoreNet` on plain arrays."""

    def __init__(self, settings: MlpSettings) -> None:
        self.settings = settings
        self.net: ScoreNet | None = None

    def train(
        self,
        train: tuple[Array, Array, Array],
        val: tuple[Array, Array, Array],
        names: Sequence[str],
        run_dir: Path,
        progress: bool,
    ) -> tuple[float, int, float]:
        """Fit on (x, y, w) of both splits; (seconds, best epoch, best val loss)."""
        x_train = train[0]
        net = build_net(self.settings, x_train.shape[1])
        # Fitted on the training rows only; batchnorm/none give the identity map.
        normaliser = Normaliser.fit(x_train, names, self.settings.normalisation)
        net.set_scaling(np.asarray(normaliser.offset), np.asarray(normaliser.scale))
        # Without this, most of a short training is spent moving the bias to the class prior.
        y_train, w_train = train[1], train[2]
        net.set_prior(float(w_train[y_train == 1].sum() / w_train.sum()))
        began = time.perf_counter()
        result = fit(
            net,
            bce_objective,
            (_tensors(*train), _tensors(*val)),
            self.settings.trainer,
            Path(run_dir),
            progress=progress,
        )
        self.net = net
        return time.perf_counter() - began, result.best_epoch, result.best_val_loss

    def scores(self, x: Array) -> Array:
        """σ(logit) in float64 (float32 would round the signal-like tail to exactly 1)."""
        assert self.net is not None
        data = TensorSet.from_numpy({"x": np.asarray(x, np.float32)})
        logits = predict(self.net, data, logit_forward).double()
        return torch.sigmoid(logits).numpy()

    def write(self, folder: Path) -> None:
        assert self.net is not None
        save_weights(self.net, folder / WEIGHTS_FILE)

    @classmethod
    def read(cls, folder: Path, meta: dict[str, Any], n_inputs: int) -> NetworkCore:
        settings = parse_config(MlpSettings, meta.get("settings", {}), str(folder))
        core = cls(settings)
        net = build_net(settings, n_inputs)
        load_weights(net, folder / WEIGHTS_FILE)
        net.eval()
        core.net = net
        return core


class MlpClassifier(Classifier):
    """The thesis' feed-forward network on the table's features; see the module docstring."""

    kind = "nn"

    def __init__(self, settings: MlpSettings | None = None) -> None:
        super().__init__()
        self.core = NetworkCore(settings or MlpSettings())

    @property
    def settings(self) -> MlpSettings:
        return self.core.settings

    def negative_weights_allowed(self) -> bool:
        return True  # the weighted BCE takes any sign

    def _fit(
        self, train: WeightedSplit, val: WeightedSplit, run_dir: Path, progress: bool
    ) -> FitSummary:
        """Train with the shared loop; checkpoints and ``metrics.jsonl`` go to ``run_dir``."""
        y_train, y_val = train.labels, val.labels
        seconds, best_epoch, best_loss = self.core.train(
            (np.asarray(train.table.features), y_train, train.weights),
            (np.asarray(val.table.features), y_val, val.weights),
            train.table.names,
            run_dir,
            progress,
        )
        return FitSummary(self.kind, len(y_train), len(y_val), seconds, best_epoch, best_loss)

    def _scores(self, x: Array, table: EventTable, point: PointQuery) -> Array:
        return self.core.scores(x)

    def _meta(self) -> dict[str, Any]:
        return {"settings": config_to_dict(self.settings)}

    def _write_files(self, tmp: Path) -> None:
        self.core.write(tmp)

    @classmethod
    def _restore(cls, folder: Path, meta: dict[str, Any], names: tuple[str, ...]) -> MlpClassifier:
        core = NetworkCore.read(folder, meta, len(names))
        model = cls(core.settings)
        model.core = core
        return model
