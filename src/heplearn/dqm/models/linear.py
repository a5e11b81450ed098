"""The thesis baselines: logistic regression (``lr``) and an MLP (``mlp``) on flattened maps.

Inputs are the maps normalised by a :class:`Reference` fitted on the good
training maps, over the live channels only, as ``clip(counts/expected, 0, 10) − 1``
(0 = nominal).  The class is the arg-max probability; ``anomaly_score`` is
``1 − P(good)``.  Channel scores are gradient × input of the logit margin
``z_fault − z_good`` (the most probable fault class), clipped at 0: the channels
pushing the map towards a fault.  The channel threshold is chosen so that at
most ``FLAG_FALSE_RATE`` of the good validation maps have a flagged channel.

Saved without pickle: weights, biases and classes in safetensors, settings in
JSON.  Probabilities come from those arrays (ReLU hidden layers, then softmax, or the
logistic of a single output), so a loaded model needs no scikit-learn internals.  The model only
accepts maps of its training shape (``fixed_shape``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from heplearn.dqm.maps import MapSet, check_counts
from heplearn.dqm.models.base import MapModel, read_model_files, write_model_files
from heplearn.dqm.qtests import threshold_for_rate
from heplearn.dqm.reference import Reference, fit_reference
from heplearn.errors import DataError

__all__ = ["LogisticModel", "MlpModel", "SklearnMapModel"]

Array = np.ndarray[Any, Any]
#: Fraction of good validation maps allowed a flagged channel.
FLAG_FALSE_RATE = 0.01
#: Normalised inputs are clipped to this (a hot channel should not dominate the fit).
CLIP = 10.0


class SklearnMapModel(MapModel):
    """Shared code of ``lr`` and ``mlp``: features, probabilities, channel saliency, save."""

    supervised: ClassVar[bool] = True

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.reference: Reference | None = None
        self.estimator: Any = None
        self.weights: list[Array] = []  # hidden layers then output, each (in, out)
        self.biases: list[Array] = []
        self.classes: Array = np.zeros(0, np.int64)
        self.channel_threshold = 0.0

    # ---- to implement ----
    def _make_estimator(self) -> Any:
        raise NotImplementedError

    def _layers_from_estimator(self) -> tuple[list[Array], list[Array]]:
        raise NotImplementedError

    # ---- shared ----
    def _features(self, maps: MapSet) -> Array:
        if self.reference is None:
            raise RuntimeError(f"{self.name} model used before fit/load")
        check_counts(maps, "maps to check")
        self.check_shape(maps)
        norm = self.reference.normalised(maps)
        live = self.reference.mask.reshape(-1)
        return np.clip(norm.reshape(len(maps), -1)[:, live], 0.0, CLIP) - 1.0

    def fit(self, train: MapSet, val: MapSet, run_dir: Path, *, progress: bool = False) -> None:
        self.check_labelled(train)
        check_counts(train, "training maps")
        assert train.map_class is not None
        if len(np.unique(train.map_class)) < 2:
            raise DataError(
                f"model {self.name}",
                "training maps",
                "all training maps have one class; a classifier needs good and faulty maps",
                "generate a sample with faults",
            )
        self.fixed_shape = train.shape
        self.reference = fit_reference(train)
        estimator = self._make_estimator()
        with warnings.catch_warnings():
            # Hitting max_iter is the user's setting, not an error (the thesis trains briefly).
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(self._features(train), train.map_class.astype(np.int64))
        self.estimator = estimator
        self.classes = np.asarray(estimator.classes_, dtype=np.int64)
        self.weights, self.biases = self._layers_from_estimator()
        good_val = val.subset(np.flatnonzero(val.map_class == 0)) if val.labelled else val
        per_map = self.score_channels(good_val).reshape(len(good_val), -1).max(axis=1, initial=0)
        self.channel_threshold = threshold_for_rate(per_map, FLAG_FALSE_RATE, 1e-6)

    def _proba(self, features: Array) -> Array:
        # The stored arrays, not the estimator: fitted and loaded models score identically.
        z = np.asarray(features, dtype=np.float64)
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            z = np.maximum(z @ w + b, 0.0)
        logits = z @ self.weights[-1] + self.biases[-1]
        if logits.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-np.clip(logits[:, 0], -700.0, 700.0)))
            return np.stack([1.0 - p, p], axis=1)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def predict_class(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.int64]]:
        proba = self._proba(self._features(maps))
        return np.asarray(self.classes[np.argmax(proba, axis=1)], dtype=np.int64)

    def anomaly_score(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        proba = self._proba(self._features(maps))
        good = np.flatnonzero(self.classes == 0)
        p_good = proba[:, good[0]] if good.size else np.zeros(len(maps))
        return (1.0 - p_good).astype(np.float32)

    def _margin_gradient(self, features: Array, proba: Array) -> Array:
        """d(z_fault − z_good)/dx per map, fault = most probable non-good class."""
        n = features.shape[0]
        fault_proba = np.where(self.classes[None, :] == 0, -1.0, proba)
        fault = np.argmax(fault_proba, axis=1)
        good = np.flatnonzero(self.classes == 0)
        n_out = self.weights[-1].shape[1]
        # d margin / d output logits (a single logistic output is the logit of classes[1]).
        grad_out = np.zeros((n, n_out))
        if n_out == 1:
            grad_out[:, 0] = np.where(self.classes[fault] == 0, 0.0, 1.0)
        else:
            grad_out[np.arange(n), fault] += 1.0
            if good.size:
                grad_out[:, good[0]] -= 1.0
        activations = [features]
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            activations.append(np.maximum(activations[-1] @ w + b, 0.0))
        grad = grad_out @ self.weights[-1].T
        for layer in range(len(self.weights) - 2, -1, -1):
            grad = (grad * (activations[layer + 1] > 0)) @ self.weights[layer].T
        return grad

    def score_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        features = self._features(maps)
        assert self.reference is not None
        proba = self._proba(features)
        saliency = np.maximum(self._margin_gradient(features, proba) * features, 0.0)
        out = np.zeros((len(maps), int(self.reference.mask.size)), np.float32)
        out[:, self.reference.mask.reshape(-1)] = saliency
        return out.reshape(maps.counts.shape)

    def flag_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.asarray(self.score_channels(maps) > self.channel_threshold)

    def save(self, folder: Path) -> None:
        if self.reference is None:
            raise RuntimeError(f"{self.name} model saved before fit")
        arrays: dict[str, Array] = {"classes": self.classes, **self.reference.to_arrays()}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            # Native dtype (float32 inputs give float32 weights): a reload scores bit-identically.
            arrays[f"layer{i}.weight"] = w
            arrays[f"layer{i}.bias"] = b
        meta = {
            **self.base_meta(),
            "n_layers": len(self.weights),
            "channel_threshold": self.channel_threshold,
            "clip": CLIP,
        }
        write_model_files(folder, meta, arrays)

    @classmethod
    def load(cls, folder: Path) -> SklearnMapModel:
        meta, arrays = read_model_files(folder, expected=cls.name)
        model = cls(cls.config_from_meta(meta, folder))
        model.restore_base(meta)
        model.reference = Reference.from_arrays(arrays)
        model.classes = np.asarray(arrays["classes"], dtype=np.int64)
        model.weights = [arrays[f"layer{i}.weight"] for i in range(int(meta["n_layers"]))]
        model.biases = [arrays[f"layer{i}.bias"] for i in range(int(meta["n_layers"]))]
        model.channel_threshold = float(meta["channel_threshold"])
        return model


class LogisticModel(SklearnMapModel):
    """Multinomial logistic regression (thesis baseline; L2, lbfgs)."""

    name: ClassVar[str] = "lr"

    def _make_estimator(self) -> LogisticRegression:
        settings = self.config.linear
        return LogisticRegression(C=settings.c, max_iter=settings.max_iter)

    def _layers_from_estimator(self) -> tuple[list[Array], list[Array]]:
        return [np.asarray(self.estimator.coef_).T.copy()], [np.asarray(self.estimator.intercept_)]


class MlpModel(SklearnMapModel):
    """scikit-learn MLPClassifier (ReLU hidden layers, adam), thesis baseline."""

    name: ClassVar[str] = "mlp"

    def _make_estimator(self) -> MLPClassifier:
        settings = self.config.mlp
        return MLPClassifier(
            hidden_layer_sizes=tuple(settings.hidden),
            max_iter=settings.max_iter,
            alpha=settings.alpha,
            random_state=settings.seed,
            early_stopping=False,
        )

    def _layers_from_estimator(self) -> tuple[list[Array], list[Array]]:
        return (
            [np.asarray(w).copy() for w in self.estimator.coefs_],
            [np.asarray(b).copy() for b in self.estimator.intercepts_],
        )
