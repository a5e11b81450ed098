"""Feature normalisation fitted on the training split and saved as JSON.

The thesis (§5.2.2) compares min-max scaling, X' = (X − X_min)/(X_max − X_min)
(Eq. 5.1), z-score scaling, X' = (X − mean)/std (Eq. 5.2), and a batch-norm
layer; z-score and batch norm did best.  Unlike the thesis' "normalise the
whole dataset before splitting" option, the offsets and scales here are fitted
on the training split only and applied unchanged to validation and test
events (test values may fall outside [0, 1] for min-max; they are not
clipped).  A constant feature gets scale 1.

``batchnorm`` is the network's job (a BatchNorm1d input layer, see
search/models/): :class:`Normaliser` then passes features through unchanged
and :func:`uses_batchnorm_layer` tells the model to add the layer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.atomic import read_saved_text, write_text_atomically
from heplearn.errors import ConfigError, DataError

__all__ = ["BATCHNORM", "NORMALISATIONS", "Normaliser", "uses_batchnorm_layer"]

Array = np.ndarray[Any, Any]

BATCHNORM = "batchnorm"
NORMALISATIONS = ("none", "minmax", "zscore", BATCHNORM)
FORMAT = "heplearn-normaliser"
VERSION = 1


def uses_batchnorm_layer(method: str) -> bool:
    """Whether the network should normalise its inputs with a batch-norm layer."""
    return method == BATCHNORM


@dataclass(frozen=True)
class Normaliser:
    """x → (x − offset)/scale per named feature column."""

    method: str
    names: tuple[str, ...]
    offset: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, features: Array, names: Sequence[str], method: str = "zscore") -> Normaliser:
        """Fit on the *training* features (N, F) with column ``names``."""
        if method not in NORMALISATIONS:
            raise ConfigError(
                f"normalisation '{method}'",
                "the search config",
                f"it is not one of {', '.join(NORMALISATIONS)}",
                "choose one of them",
            )
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(names):
            raise ValueError(f"features {x.shape} do not match {len(names)} names")
        n_features = x.shape[1]
        if method in ("none", BATCHNORM):
            return cls(method, tuple(names), (0.0,) * n_features, (1.0,) * n_features)
        if len(x) == 0:
            raise DataError(
                "empty training split",
                "the normalisation fit",
                "there are no events to fit on",
                "use more events or a larger training fraction",
            )
        if method == "minmax":
            offset = x.min(axis=0)
            spread = x.max(axis=0) - offset
        else:
            offset = x.mean(axis=0)
            spread = x.std(axis=0)
        spread = np.where(spread > 0, spread, 1.0)
        return cls(
            method,
            tuple(names),
            tuple(float(v) for v in offset),
            tuple(float(v) for v in spread),
        )

    def transform(self, features: Array, names: Sequence[str] | None = None) -> Array:
        """Normalised float32 copy; ``names`` (if given) must match the fitted columns."""
        if names is not None and tuple(names) != self.names:
            raise DataError(
                "features do not match the normalisation",
                "the normaliser",
                f"fitted on {list(self.names)}, got {list(names)}",
                "build the table with the observables and padding the model was trained with",
            )
        x = np.asarray(features, dtype=np.float64)
        out: Array = ((x - np.asarray(self.offset)) / np.asarray(self.scale)).astype(np.float32)
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "method": self.method,
                "names": list(self.names),
                "offset": list(self.offset),
                "scale": list(self.scale),
            },
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str, where: str = "the normaliser JSON") -> Normaliser:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT or int(data["version"]) > VERSION:
                raise ValueError(f'no "format": "{FORMAT}" of a readable version')
            result = cls(
                method=str(data["method"]),
                names=tuple(str(n) for n in data["names"]),
                offset=tuple(float(v) for v in data["offset"]),
                scale=tuple(float(v) for v in data["scale"]),
            )
            if result.method not in NORMALISATIONS:
                raise ValueError(f"unknown method {result.method!r}")
            if not len(result.names) == len(result.offset) == len(result.scale):
                raise ValueError("names, offset and scale differ in length")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise DataError(
                "not a heplearn normaliser file",
                where,
                str(err),
                "give the normaliser.json saved with a model",
            ) from err
        return result

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the JSON atomically (temporary name, then rename)."""
        return write_text_atomically(path, self.to_json(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> Normaliser:
        return cls.from_json(read_saved_text(path, "normaliser"), str(path))
