"""Calibration networks: DeepCalo (thesis section 4.3) and the scouting-style small CNN.

Every model is called as ``model(images, scalars, tracks)`` and returns (N, 1) energies
(ReLU, ≥ 0) or, with ``uncertainty``, (N, 2) with ln σ² in the second column.
"""

from heplearn.calib.models.blocks import FiLM
from heplearn.calib.models.build import build_model
from heplearn.calib.models.deepcalo import DeepCalo
from heplearn.calib.models.deepcalo_config import DEEPCALO_PRESETS, DeepCaloConfig, deepcalo_preset
from heplearn.calib.models.scouting import ScoutingCNN, ScoutingCNNConfig

__all__ = [
    "DEEPCALO_PRESETS",
    "DeepCalo",
    "DeepCaloConfig",
    "FiLM",
    "ScoutingCNN",
    "ScoutingCNNConfig",
    "build_model",
    "deepcalo_preset",
]
