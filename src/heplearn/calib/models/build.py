"""Build a calibration network from its config, checking that the inputs it connects exist."""

from __future__ import annotations

from torch import nn

from heplearn.calib.inputs import InputShapes
from heplearn.calib.models.deepcalo import DeepCalo
from heplearn.calib.models.deepcalo_config import DeepCaloConfig
from heplearn.calib.models.scouting import ScoutingCNN, ScoutingCNNConfig
from heplearn.errors import ConfigError

__all__ = ["build_model"]


def build_model(
    config: DeepCaloConfig | ScoutingCNNConfig,
    shapes: InputShapes,
    *,
    where: str = "the model config",
) -> nn.Module:
    """The network ``config`` describes, for per-sample input ``shapes``.

    Raises ConfigError (naming ``where``) when a connection needs an input of size 0.
    """
    if isinstance(config, DeepCaloConfig):
        _require(None, "images", shapes, where)
        for field in ("film_inputs", "top_inputs"):
            for side in getattr(config, field):
                _require(field, side, shapes, where)
        return DeepCalo(config, shapes)
    if isinstance(config, ScoutingCNNConfig):
        _require(None, "images", shapes, where)
        if config.scalars:
            _require("scalars", "scalars", shapes, where)
        return ScoutingCNN(config, shapes)
    kind = getattr(config, "kind", type(config).__name__)
    raise ConfigError(
        f"config kind {kind!r}",
        where,
        "it does not describe a calibration network",
        "use 'kind: deepcalo' or 'kind: scouting-cnn'",
    )


def _require(field: str | None, name: str, shapes: InputShapes, where: str) -> None:
    """ConfigError when the input ``name`` that ``field`` connects is empty in ``shapes``."""
    shape = {"images": shapes.image, "scalars": (shapes.scalars,), "tracks": shapes.tracks}[name]
    if all(n > 0 for n in shape):
        return
    if field is None:  # the images feed every network; there is no switch to turn off
        what, fix = "model input 'images'", "make a sample that stores images"
    else:
        what, fix = f"field '{field}'", f"remove {name!r} from it, or make a sample with {name}"
    raise ConfigError(
        what, where, f"the model needs {name} but the sample has none (shape {shape})", fix
    )
