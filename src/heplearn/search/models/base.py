"""The interface every search classifier follows, and the checks and model folders they share.

A classifier is fitted on an :class:`~heplearn.search.observables.EventTable` (label
``is_signal``) with *training* weights chosen by :mod:`heplearn.search.weights` — the
evaluation weights of the table are never used for training — and scores any table
with the same feature columns in [0, 1] (1 = signal-like).  A saved model is a folder:
``meta.json`` (format, kind, feature names, settings) plus the model's own files
(XGBoost JSON or safetensors), written under a temporary name and renamed; nothing is
pickled.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from heplearn.data.atomic import atomic_output
from heplearn.errors import DataError

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = [
    "META",
    "Classifier",
    "FitSummary",
    "PointQuery",
    "WeightedSplit",
    "check_features",
    "check_training",
    "normalised_weights",
    "read_meta",
    "write_model_folder",
]

Array = np.ndarray[Any, Any]
C = TypeVar("C", bound="Classifier")

META = "meta.json"
FORMAT = "heplearn-search-model"
VERSION = 1


@dataclass(frozen=True)
class PointQuery:
    """The signal point a prediction is for (masses in GeV); None where none was given."""

    mediator_mass: float | None = None
    invisible_mass: float | None = None
    family: str | None = None


@dataclass(frozen=True)
class WeightedSplit:
    """One checked split: its event table and training weights (float64, one per event)."""

    table: EventTable
    weights: Array

    @property
    def labels(self) -> Array:
        """1 for signal events, 0 for background (float32, the networks' targets)."""
        labels: Array = (np.asarray(self.table.is_signal) == 1).astype(np.float32)
        return labels


@dataclass(frozen=True)
class FitSummary:
    """What one training reports: rows, time [s], throughput [events/s], best round/epoch."""

    kind: str
    n_train: int
    n_val: int
    seconds: float
    best_iteration: int
    best_val_loss: float

    @property
    def events_per_s(self) -> float:
        """Training events processed per second of wall time (all rounds/epochs)."""
        return self.n_train / self.seconds if self.seconds > 0 else float("inf")


class Classifier(ABC):
    """Signal-vs-background classifier over named features; scores in [0, 1]."""

    #: The key of the model in :data:`heplearn.search.models.CLASSIFIERS` and in ``meta.json``.
    kind: ClassVar[str]

    def __init__(self) -> None:
        self.feature_names: tuple[str, ...] = ()

    def negative_weights_allowed(self) -> bool:
        """Whether the model's loss tolerates single negative training weights."""
        return False

    # The positional order (train, val, their weights, run_dir) is the models' contract.
    def fit(  # noqa: PLR0917
        self,
        train: EventTable,
        val: EventTable,
        train_weights: Array,
        val_weights: Array,
        run_dir: Path,
        progress: bool = False,
    ) -> FitSummary:
        """Train on ``train``, stopping early on ``val``; logs and checkpoints go in ``run_dir``.

        Both splits are checked by :func:`check_training` before :meth:`_fit` trains; the
        feature columns are then remembered for prediction and saving.
        """
        w_train, w_val = check_training(
            train,
            val,
            train_weights,
            val_weights,
            allow_negative=self.negative_weights_allowed(),
        )
        summary = self._fit(
            WeightedSplit(train, w_train), WeightedSplit(val, w_val), Path(run_dir), progress
        )
        self.feature_names = tuple(train.names)
        return summary

    @abstractmethod
    def _fit(
        self, train: WeightedSplit, val: WeightedSplit, run_dir: Path, progress: bool
    ) -> FitSummary:
        """Train on the checked splits (same columns, finite, both classes weighted)."""

    def predict(
        self,
        table: EventTable,
        *,
        mediator_mass: float | None = None,
        invisible_mass: float | None = None,
        family: str | None = None,
    ) -> Array:
        """Score (float64 in [0, 1]) of every row; the signal point [GeV] matters to some models."""
        self.require_trained()
        x = check_features(table, self.feature_names, f"{self.kind} prediction input")
        return self._scores(x, table, PointQuery(mediator_mass, invisible_mass, family))

    @abstractmethod
    def _scores(self, x: Array, table: EventTable, point: PointQuery) -> Array:
        """Scores of the checked feature matrix ``x`` (rows of ``table``) for ``point``."""

    def save(self, folder: Path, *, overwrite: bool = False) -> Path:
        """Write the model folder atomically; an existing one needs ``overwrite``."""
        self.require_trained()
        meta = {**self.base_meta(), **self._meta()}
        return write_model_folder(folder, meta, self._write_files, overwrite=overwrite)

    @abstractmethod
    def _meta(self) -> dict[str, Any]:
        """The model's own entries of ``meta.json``: its settings and what the fit found."""

    @abstractmethod
    def _write_files(self, tmp: Path) -> None:
        """Write the model's own files into ``tmp``, the folder being saved."""

    @classmethod
    def load(cls: type[C], folder: Path) -> C:
        """Read a folder written by :meth:`save`; anything else is refused with DataError."""
        folder = Path(folder)
        meta = read_meta(folder, cls.kind)
        names = tuple(meta["feature_names"])
        model = cls._restore(folder, meta, names)
        model.feature_names = names
        return model

    @classmethod
    @abstractmethod
    def _restore(cls: type[C], folder: Path, meta: dict[str, Any], names: tuple[str, ...]) -> C:
        """The model saved in ``folder`` (``meta`` checked, feature columns ``names``)."""

    def feature_importance(self) -> dict[str, float]:
        """Importance per feature (larger = more used); empty when the model has none."""
        return {}

    def require_trained(self) -> None:
        if not self.feature_names:
            raise DataError(
                f"untrained {self.kind} model",
                "predict/save",
                "fit() has not been called and nothing was loaded",
                "call fit() or load() first",
            )

    def base_meta(self) -> dict[str, Any]:
        """The part of ``meta.json`` common to every model."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.kind,
            "feature_names": list(self.feature_names),
        }


def _finite_columns(x: Array, names: Sequence[str], where: str) -> None:
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    columns = [names[int(j)] for j in np.flatnonzero(bad.any(axis=0))]
    raise DataError(
        "non-finite feature values",
        where,
        f"{int(bad.any(axis=1).sum())} rows have NaN or inf in {columns[:5]}",
        "fix or drop those events before training or scoring",
    )


def check_features(table: EventTable, names: Sequence[str], where: str) -> Array:
    """The table's float32 feature matrix after checking its columns are exactly ``names``."""
    if tuple(table.names) != tuple(names):
        missing = [n for n in names if n not in table.names]
        extra = [n for n in table.names if n not in names]
        why = (
            f"missing {missing[:5]}, unexpected {extra[:5]}"
            if missing or extra
            else "the same columns in a different order"
        )
        raise DataError(
            "feature columns do not match the model",
            where,
            why,
            "build the table with the observables and padding the model was trained with",
        )
    x = np.asarray(table.features, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise DataError(
            "feature matrix", where, f"shape {x.shape}, expected (rows, {len(names)})", "fix it"
        )
    _finite_columns(x, names, where)
    return x


def _check_weights(weights: Array, n: int, where: str, allow_negative: bool) -> Array:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise DataError("weights", where, f"shape {w.shape}, expected ({n},)", "one per event")
    if not np.isfinite(w).all():
        raise DataError("training weights", where, "some are NaN or inf", "check the MC weights")
    if not allow_negative and (w < 0).any():
        raise DataError(
            "negative training weights",
            where,
            f"{int((w < 0).sum())} events have w < 0, which this model cannot train on",
            "choose negative: clip, drop or abs in the weights settings",
        )
    return w


def check_training(
    train: EventTable,
    val: EventTable,
    train_weights: Array,
    val_weights: Array,
    *,
    allow_negative: bool = False,
) -> tuple[Array, Array]:
    """Check both splits (same columns, finite, both classes weighted); the checked weights.

    Each class needs a positive weight sum on each split; single negative weights are
    refused unless ``allow_negative`` (a loss that tolerates them).
    """
    names = tuple(train.names)
    check_features(val, names, "validation table")
    check_features(train, names, "training table")
    weights = []
    for table, w, where in (
        (train, train_weights, "training split"),
        (val, val_weights, "validation split"),
    ):
        checked = _check_weights(w, len(table.features), where, allow_negative)
        signal = np.asarray(table.is_signal) == 1
        for label, mask in (("signal", signal), ("background", ~signal)):
            if not checked[mask].sum() > 0:
                raise DataError(
                    f"no {label} weight",
                    where,
                    f"the {label} events have a total training weight of 0 ({int(mask.sum())} "
                    "events)",
                    f"add {label} samples to the split or check the sample list and weights",
                )
        weights.append(checked)
    return weights[0], weights[1]


def normalised_weights(weights: Array) -> Array:
    """Weights scaled to mean 1, so loss scales and hessian thresholds do not depend on σ·L."""
    w = np.asarray(weights, dtype=np.float64)
    out: Array = w / w.mean()
    return out


def write_model_folder(
    folder: Path, meta: dict[str, Any], writers: Callable[[Path], None], *, overwrite: bool
) -> Path:
    """Create ``folder`` atomically: ``writers(tmp)`` adds the model files, then ``meta.json``."""
    folder = Path(folder)
    with atomic_output(folder, overwrite=overwrite) as tmp:
        tmp.mkdir()
        writers(tmp)
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder


def read_meta(folder: Path, kind: str | None = None) -> dict[str, Any]:
    """``meta.json`` of a model folder, checked for format and (when given) kind."""
    folder = Path(folder)
    path = folder / META
    if not path.is_file():
        raise DataError(
            "not a heplearn search model",
            str(folder),
            f"it has no {META}",
            "point at a folder written by a search classifier's save()",
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError("unreadable model metadata", str(path), str(err), "retrain") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(
            "not a heplearn search model", str(path), "its format is not " + FORMAT, "retrain"
        )
    if int(meta.get("version", 0)) > VERSION:
        raise DataError(
            "model from a newer heplearn",
            str(path),
            f"format version {meta.get('version')} > {VERSION}",
            "upgrade heplearn",
        )
    if kind is not None and meta.get("kind") != kind:
        raise DataError(
            f"not a {kind} model",
            str(path),
            f"it holds a {meta.get('kind')!r} model",
            "load it with heplearn.search.models.load_classifier",
        )
    names = meta.get("feature_names")
    if not isinstance(names, list) or not names:
        raise DataError("model metadata", str(path), "it lists no feature names", "retrain")
    return meta
