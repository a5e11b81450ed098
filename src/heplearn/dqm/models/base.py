"""The interface every DQM model implements, and its pickle-free save format.

A model folder holds ``model.json`` (name, resolved config, fixed shape, the
model's own metadata) and ``arrays.safetensors`` (every array: weights,
reference rate/mask, thresholds).  :func:`write_model_files` writes both
atomically; :func:`read_model_files` reads them back.  Torch models convert
their ``state_dict`` to numpy arrays (prefix ``"net."``) and rebuild the network
on load, so no model is ever pickled.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from safetensors.numpy import load_file, save_file

from heplearn.config import config_to_dict, parse_config
from heplearn.data.atomic import atomic_output
from heplearn.dqm.maps import MapSet
from heplearn.dqm.model_config import DqmModelConfig, default_model_config
from heplearn.errors import DataError

__all__ = [
    "ARRAYS_FILE",
    "FORMAT_VERSION",
    "META_FILE",
    "MapModel",
    "read_model_files",
    "write_model_files",
]

META_FILE = "model.json"
ARRAYS_FILE = "arrays.safetensors"
FORMAT_VERSION = 1


class MapModel(abc.ABC):
    """A DQM model: fit on maps, then score maps and channels and predict a class per map.

    Subclasses set ``name`` and ``supervised``; ``fixed_shape`` is set in ``fit``
    (and restored in ``load``) for models that only accept the training shape.
    Arrays returned are numpy: classes index ``CLASS_NAMES``; scores are float32.
    """

    name: ClassVar[str]
    supervised: ClassVar[bool]

    def __init__(self, config: DqmModelConfig | None = None) -> None:
        self.config = config if config is not None else default_model_config(self.name)
        self.fixed_shape: tuple[int, int, int] | None = None

    @abc.abstractmethod
    def fit(self, train: MapSet, val: MapSet, run_dir: Path, *, progress: bool = False) -> None:
        """Fit on ``train``; pick thresholds on ``val`` (its good maps); logs may go to run_dir."""

    @abc.abstractmethod
    def predict_class(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.int64]]:
        """(N,) class index into ``CLASS_NAMES`` per map."""

    @abc.abstractmethod
    def anomaly_score(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        """(N,) map score, higher = more anomalous (1 - P(good) for classifiers)."""

    @abc.abstractmethod
    def score_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        """(N, H, W, D) per-channel anomaly score, >= 0."""

    @abc.abstractmethod
    def flag_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """(N, H, W, D) channels flagged with the threshold chosen in ``fit``."""

    @abc.abstractmethod
    def save(self, folder: Path) -> None:
        """Write the model to ``folder`` (JSON + safetensors; see write_model_files)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, folder: Path) -> MapModel:
        """Rebuild a model written by ``save``."""

    @property
    def needs_validation(self) -> bool:
        """Whether ``fit`` picks thresholds on validation maps (else it uses every good map)."""
        return True

    def failing_groups(self, maps: MapSet) -> list[list[str]]:
        """Per map, the names of failing channel groups (models without groups: none)."""
        return [[] for _ in range(len(maps))]

    def no_statistics(self, maps: MapSet) -> list[str | None]:
        """Per map, why it has too few entries for a verdict (None: it has enough)."""
        return [None] * len(maps)

    def map_warnings(self, maps: MapSet) -> list[list[str]]:
        """Per map, what its verdict should be read with (e.g. an extrapolation): none here."""
        return [[] for _ in range(len(maps))]

    def calibration(self) -> dict[str, Any] | None:
        """The false-alarm calibration ``check --json`` reports (None: not measured)."""
        return None

    def left_out_scores(self) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """Scores of good maps left out of the fit (leave-one-out), when the model has them."""
        return None

    # ---- helpers shared by the implementations ----

    def check_shape(self, maps: MapSet) -> None:
        """Raise DataError when the model needs a fixed shape and ``maps`` have another."""
        if self.fixed_shape is not None and maps.shape != tuple(self.fixed_shape):
            raise DataError(
                f"model {self.name} was trained on maps {tuple(self.fixed_shape)}",
                "the maps to score",
                f"this map is {maps.shape}",
                "use qtest or ae for other shapes, or train on maps of this shape",
            )

    def check_labelled(self, maps: MapSet, where: str = "training data") -> None:
        """Raise DataError when a supervised model gets unlabelled maps."""
        if self.supervised and (maps.map_class is None or maps.channel_class is None):
            raise DataError(
                f"model {self.name} is supervised",
                where,
                "the maps carry no labels (user ROOT/HDF5 maps are unlabelled)",
                "train it on a generated sample ('heplearn generate dqm') or use qtest or ae",
            )

    def base_meta(self) -> dict[str, Any]:
        """The metadata every model writes: name, format version, resolved config, shape."""
        return {
            "model": self.name,
            "format_version": FORMAT_VERSION,
            "config": config_to_dict(self.config),
            "fixed_shape": None if self.fixed_shape is None else list(self.fixed_shape),
        }

    def restore_base(self, meta: Mapping[str, Any]) -> None:
        """Restore what ``base_meta`` wrote (call from ``load`` after construction)."""
        shape = meta.get("fixed_shape")
        self.fixed_shape = None if shape is None else (int(shape[0]), int(shape[1]), int(shape[2]))

    @classmethod
    def config_from_meta(cls, meta: Mapping[str, Any], folder: Path) -> DqmModelConfig:
        """The config stored in ``model.json`` (validated like a YAML file)."""
        return parse_config(DqmModelConfig, meta["config"], str(folder / META_FILE))


def write_model_files(
    folder: Path, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray[Any, Any]]
) -> None:
    """Write ``model.json`` and ``arrays.safetensors`` in ``folder`` (each atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    # ascontiguousarray makes 0-d arrays 1-d; keep the shape (BatchNorm's step counter is 0-d).
    tensors = {k: np.ascontiguousarray(v).reshape(np.shape(v)) for k, v in arrays.items()}
    with atomic_output(folder / ARRAYS_FILE, overwrite=True) as tmp:
        save_file(tensors, str(tmp))
    # The metadata goes last: a folder with model.json is complete.
    with atomic_output(folder / META_FILE, overwrite=True) as tmp:
        tmp.write_text(json.dumps(dict(meta), indent=2, sort_keys=True), encoding="utf-8")


def read_model_files(
    folder: Path, expected: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray[Any, Any]]]:
    """Read a model folder; check the stored model name against ``expected`` when given."""
    meta_path = folder / META_FILE
    if not meta_path.is_file() or not (folder / ARRAYS_FILE).is_file():
        raise DataError(
            "no saved DQM model",
            str(folder),
            f"{META_FILE} or {ARRAYS_FILE} is missing",
            "point to the 'model' folder of a 'heplearn dqm train' run",
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        arrays = load_file(str(folder / ARRAYS_FILE))
    except (OSError, ValueError) as err:
        raise DataError(
            "unreadable DQM model", str(folder), str(err), "train the model again"
        ) from err
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(
            "DQM model from a newer heplearn",
            str(meta_path),
            f"format version {meta.get('format_version')} > {FORMAT_VERSION}",
            "upgrade heplearn",
        )
    if expected is not None and meta.get("model") != expected:
        raise DataError(
            f"model {meta.get('model')!r}",
            str(meta_path),
            f"this loader reads {expected!r} models",
            "load it through heplearn.dqm.models.load_model",
        )
    return meta, arrays
