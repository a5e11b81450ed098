"""Signal-vs-background classifiers of the search: XGBoost, the MLP, the parameterised MLP, the
per-category ensemble — one interface (:class:`Classifier`), saved as JSON + safetensors.
"""

from __future__ import annotations

from pathlib import Path

from heplearn.errors import ConfigError, DataError
from heplearn.search.model_config import SearchModels
from heplearn.search.models.base import Classifier, FitSummary, read_meta
from heplearn.search.models.boosted import XGBoostClassifier
from heplearn.search.models.ensemble import EnsembleClassifier, category_of, signal_family
from heplearn.search.models.mlp import MlpClassifier
from heplearn.search.models.parameterised import ParameterisedClassifier

__all__ = [
    "CLASSIFIERS",
    "Classifier",
    "EnsembleClassifier",
    "FitSummary",
    "MlpClassifier",
    "ParameterisedClassifier",
    "XGBoostClassifier",
    "build_classifier",
    "category_of",
    "load_classifier",
    "signal_family",
]

#: Method name (as in ``metrics.json``) → classifier class.
CLASSIFIERS: dict[str, type[Classifier]] = {
    "xgboost": XGBoostClassifier,
    "nn": MlpClassifier,
    "parameterised_nn": ParameterisedClassifier,
    "ensemble": EnsembleClassifier,
}


def build_classifier(method: str, models: SearchModels | None = None) -> Classifier:
    """An untrained classifier ``method`` with its settings from the ``models`` block."""
    models = models or SearchModels()
    if method == "xgboost":
        return XGBoostClassifier(models.xgboost)
    if method == "nn":
        return MlpClassifier(models.nn)
    if method == "parameterised_nn":
        return ParameterisedClassifier(models.parameterised_nn)
    if method == "ensemble":
        return EnsembleClassifier(models.ensemble)
    raise ConfigError(
        f"classifier '{method}'",
        "the search config",
        f"it is not one of {', '.join(CLASSIFIERS)}",
        "choose one of them",
    )


def load_classifier(folder: str | Path) -> Classifier:
    """Load any saved classifier; its kind is read from ``meta.json``."""
    folder = Path(folder)
    kind = read_meta(folder).get("kind")
    if kind not in CLASSIFIERS:
        raise DataError(
            "unknown classifier kind",
            str(folder),
            f"meta.json names {kind!r}, not one of {', '.join(CLASSIFIERS)}",
            "retrain with this version of heplearn",
        )
    return CLASSIFIERS[str(kind)].load(folder)
