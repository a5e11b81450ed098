"""DQM models behind one interface (:class:`MapModel`), and the registry by name.

``MODELS`` maps each name of ``DqmModelConfig.model`` to its class;
:func:`build_model` makes an untrained one from a config and :func:`load_model`
reads a saved one (the name is in its ``model.json``).
"""

from __future__ import annotations

from pathlib import Path

from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models.autoencoder import AutoencoderModel
from heplearn.dqm.models.base import MapModel, read_model_files
from heplearn.dqm.models.cnn import Cnn2Model, Cnn3BnModel, Cnn3Model
from heplearn.dqm.models.linear import LogisticModel, MlpModel
from heplearn.dqm.models.qtest import QTestModel
from heplearn.errors import ConfigError

_TORCH_CLASSES: list[type[MapModel]] = [Cnn2Model, Cnn3Model, Cnn3BnModel, AutoencoderModel]

_CLASSES: list[type[MapModel]] = [LogisticModel, MlpModel, QTestModel, *_TORCH_CLASSES]

MODELS: dict[str, type[MapModel]] = {cls.name: cls for cls in _CLASSES}

__all__ = ["MODELS", "MapModel", "build_model", "load_model"]


def build_model(config: DqmModelConfig) -> MapModel:
    """An untrained model of ``config.model`` with its settings."""
    if config.model not in MODELS:
        raise ConfigError(
            f"model {config.model!r}",
            "dqm-model config",
            f"it is not available (available: {', '.join(sorted(MODELS))})",
            "pick an available model",
        )
    return MODELS[config.model](config)


def load_model(folder: Path) -> MapModel:
    """Load the model saved in ``folder`` (its ``model.json`` names the class)."""
    meta, _ = read_model_files(folder)
    name = str(meta.get("model"))
    if name not in MODELS:
        raise ConfigError(
            f"saved model {name!r}",
            str(folder),
            f"this heplearn knows {', '.join(sorted(MODELS))}",
            "upgrade heplearn or retrain",
        )
    return MODELS[name].load(folder)
