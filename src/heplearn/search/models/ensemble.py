"""The thesis' ensemble: one classifier per signal category, combined at evaluation.

Thesis §5.1.2: training on every DM sample at once lets the network "focus on a few
special ones", and one network per sample is impossible with so little signal, so the
samples were split into 18 categories — theory (LV, DH, EFT) × dark sector (light or
heavy DM) × three m_Z′ regions (≤ 600, 600–1100, > 1100 GeV) — with one network each
("three hidden layers … poor results, … one works").  Here:

- ``scheme: thesis`` — family (the sample name without its mass suffix, e.g. ``zp_dm``,
  ``zh_inv``) × dark sector (``light`` below ``heavy_invisible_mass``, else ``heavy``) ×
  mediator-mass region (``mass_edges``, default 600 and 1100 GeV, upper edges inclusive);
- ``scheme: family`` — one model per family;
- ``scheme: point`` — one model per signal point (the per-point training).

Only categories with training signal get a model.  Each model sees all background and the
signal of its category; the signal weights of that category are scaled up to the total
signal weight, so the signal/background balance chosen by the weight scheme holds in
every category.  A category with no signal in the validation split validates on all
validation signal (it still needs a stopping criterion).

Combination: for a chosen point (``predict(..., mediator_mass=M, invisible_mass=m,
family=...)``) ``combine: category`` uses the model(s) of the point's category (the max
over families when the family is not given); ``combine: max`` — and any call without a
point — takes the event's largest score over all models, the model-independent "big
network" of the thesis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.config import config_to_dict, parse_config
from heplearn.errors import DataError
from heplearn.search.model_config import EnsembleSettings
from heplearn.search.models.base import (
    Classifier,
    FitSummary,
    PointQuery,
    WeightedSplit,
)
from heplearn.search.models.boosted import XGBoostClassifier
from heplearn.search.models.mlp import MlpClassifier

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = ["EnsembleClassifier", "category_of", "signal_family"]

Array = np.ndarray[Any, Any]

_MASS_SUFFIX = re.compile(r"^(.*?)_m\d")
#: Family of signal events in a table without sample names.
DEFAULT_FAMILY = "signal"


def signal_family(sample_name: str) -> str:
    """The model family of a signal sample: its name without the mass suffix."""
    match = _MASS_SUFFIX.match(sample_name)
    return match.group(1) if match else sample_name


def category_of(
    settings: EnsembleSettings, family: str, mediator_mass: float, invisible_mass: float
) -> str:
    """The category label of one signal point [GeV] under ``settings.scheme``."""
    if settings.scheme == "family":
        return family
    if settings.scheme == "point":
        return f"{family}:m{mediator_mass:g}:mx{invisible_mass:g}"
    sector = "heavy" if invisible_mass >= settings.heavy_invisible_mass else "light"
    region = int(np.searchsorted(np.asarray(settings.mass_edges), mediator_mass, side="left"))
    edges = (0.0, *settings.mass_edges, float("inf"))
    return f"{family}:{sector}:m{edges[region]:g}-{edges[region + 1]:g}"


def _families(table: EventTable) -> Array:
    """The family of every event ('' for background)."""
    names: Sequence[str] = getattr(table, "sample_names", ())
    lookup = np.array(
        [signal_family(n) for n in names] if names else [DEFAULT_FAMILY], dtype=object
    )
    sample = np.asarray(table.sample, dtype=np.int64) if names else np.zeros(len(table), np.int64)
    families = lookup[np.clip(sample, 0, len(lookup) - 1)]
    return np.where(np.asarray(table.is_signal) == 1, families, "")


def _labels(table: EventTable, settings: EnsembleSettings) -> Array:
    """The category of every signal event ('' for background)."""
    families = _families(table)
    medi, inv = np.asarray(table.mediator_mass), np.asarray(table.invisible_mass)
    cache: dict[tuple[str, float, float], str] = {}
    labels = np.full(len(table), "", dtype=object)
    for i in np.flatnonzero(np.asarray(table.is_signal) == 1):
        key = (str(families[i]), float(medi[i]), float(inv[i]))
        if key not in cache:
            cache[key] = category_of(settings, *key)
        labels[i] = cache[key]
    return labels


def _category_weights(weights: Array, labels: Array, label: str) -> Array:
    """Weights of background + the category's signal, that signal scaled to the total signal."""
    signal = labels != ""
    mine = labels == label
    scale = weights[signal].sum() / weights[mine].sum()
    return np.where(mine, weights * scale, weights)


def _base_model(settings: EnsembleSettings) -> Classifier:
    if settings.base == "xgboost":
        return XGBoostClassifier(settings.xgboost)
    return MlpClassifier(settings.nn)


class EnsembleClassifier(Classifier):
    """One base classifier per signal category; see the module docstring."""

    kind = "ensemble"

    def __init__(self, settings: EnsembleSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or EnsembleSettings()
        self.models: dict[str, Classifier] = {}

    def negative_weights_allowed(self) -> bool:
        return self.settings.base == "nn"  # XGBoost cannot train on negative weights

    def _fit(
        self, train: WeightedSplit, val: WeightedSplit, run_dir: Path, progress: bool
    ) -> FitSummary:
        """Train one model per category with training signal (in order of the labels)."""
        w_train, w_val = train.weights, val.weights
        train_labels = _labels(train.table, self.settings)
        val_labels = _labels(val.table, self.settings)
        categories = sorted({str(c) for c in train_labels if c})
        self.models = {}
        seconds, losses, n_train, n_val = 0.0, [], 0, 0
        for index, label in enumerate(categories):
            if not (w_train[train_labels == label].sum() > 0):
                continue  # a category whose signal got no training weight learns nothing
            keep_train = (train_labels == "") | (train_labels == label)
            has_val = bool(w_val[val_labels == label].sum() > 0)
            keep_val = (val_labels == "") | (val_labels == label)
            if not has_val:
                keep_val = np.ones(len(val_labels), dtype=bool)
            val_w = _category_weights(w_val, val_labels, label) if has_val else w_val
            model = _base_model(self.settings)
            summary = model.fit(
                train.table.subset(np.flatnonzero(keep_train)),
                val.table.subset(np.flatnonzero(keep_val)),
                _category_weights(w_train, train_labels, label)[keep_train],
                val_w[keep_val],
                run_dir / f"category_{index:02d}",
                progress,
            )
            self.models[label] = model
            seconds += summary.seconds
            losses.append(summary.best_val_loss)
            n_train += summary.n_train
            n_val += summary.n_val
        return FitSummary(self.kind, n_train, n_val, seconds, -1, float(np.mean(losses)))

    def categories(self) -> tuple[str, ...]:
        """The labels of the trained categories."""
        return tuple(self.models)

    def _chosen(self, point: PointQuery) -> list[str]:
        medi, inv, family = point.mediator_mass, point.invisible_mass, point.family
        if self.settings.combine == "max" or medi is None or inv is None:
            return list(self.models)
        families = [family] if family else sorted({c.split(":")[0] for c in self.models})
        wanted = {category_of(self.settings, f, medi, inv) for f in families}
        chosen = [c for c in self.models if c in wanted]
        if not chosen:
            raise DataError(
                "no model for this signal point",
                "ensemble prediction",
                f"(m_med={medi:g}, m_inv={inv:g} GeV, family {family}) "
                f"falls in {sorted(wanted)}, but only {list(self.models)} were trained",
                "train with signal in that category, use combine: max, or the parameterised_nn",
            )
        return chosen

    def _scores(self, x: Array, table: EventTable, point: PointQuery) -> Array:
        chosen = self._chosen(point)
        scores = [self.models[c].predict(table) for c in chosen]
        best: Array = np.max(np.stack(scores), axis=0)
        return best

    def feature_importance(self) -> dict[str, float]:
        """Mean over the categories of each model's importance."""
        parts = [m.feature_importance() for m in self.models.values()]
        parts = [p for p in parts if p]
        if not parts:
            return {}
        return {n: float(np.mean([p.get(n, 0.0) for p in parts])) for n in self.feature_names}

    def _folders(self) -> list[str]:
        """The sub-folder of each category model, in the order of :attr:`models`."""
        return [f"category_{i:02d}" for i in range(len(self.models))]

    def _meta(self) -> dict[str, Any]:
        entries = [
            {"category": label, "folder": sub}
            for label, sub in zip(self.models, self._folders(), strict=True)
        ]
        return {"settings": config_to_dict(self.settings), "categories": entries}

    def _write_files(self, tmp: Path) -> None:
        for sub, model in zip(self._folders(), self.models.values(), strict=True):
            model.save(tmp / sub)

    @classmethod
    def _restore(
        cls, folder: Path, meta: dict[str, Any], names: tuple[str, ...]
    ) -> EnsembleClassifier:
        settings = parse_config(EnsembleSettings, meta.get("settings", {}), str(folder))
        model = cls(settings)
        base = XGBoostClassifier if settings.base == "xgboost" else MlpClassifier
        for entry in meta.get("categories", []):
            model.models[str(entry["category"])] = base.load(folder / str(entry["folder"]))
        if any(m.feature_names != names for m in model.models.values()):
            raise DataError(
                "ensemble members disagree",
                str(folder),
                "a category model has other feature columns than the ensemble",
                "retrain; the folder was edited or mixed",
            )
        return model
