"""A trained calibration run loaded back: calibrated energies (and σ) for any features."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from heplearn.calib.bdt import BdtModel, load_bdt
from heplearn.calib.features import FeatureArrays
from heplearn.calib.inputs import InputShapes
from heplearn.calib.models import build_model
from heplearn.calib.objective import calib_forward
from heplearn.calib.run_folder import RunFolder
from heplearn.calib.scalers import ScalerSet
from heplearn.calib.targets import energy_from_target
from heplearn.calib.train import network_config, network_tensors
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import parse_config
from heplearn.errors import DataError
from heplearn.training import BEST, load_weights, predict

__all__ = ["CalibRun", "Energies"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Energies:
    """Calibrated energies [GeV] of each method for the same clusters."""

    e_acc: Array
    bdt: Array | None
    network: Array | None
    sigma: Array | None  # the network's per-cluster σ_E [GeV] (uncertainty head)

    def pulls(self, e_truth: Array) -> tuple[Array, Array]:
        """(E_network − E_truth)/σ_E, and where it is defined (σ_E > 0: E_acc > 0)."""
        assert self.network is not None and self.sigma is not None
        defined = self.sigma > 0
        pull = np.zeros_like(self.network)
        pull[defined] = (self.network[defined] - e_truth[defined]) / self.sigma[defined]
        return pull, defined

    def methods(self) -> dict[str, Array]:
        found = {"e_acc": self.e_acc, "bdt": self.bdt, "network": self.network}
        return {name: value for name, value in found.items() if value is not None}


def _shapes(info: dict[str, Any]) -> InputShapes:
    """The input shapes recorded in run.json."""
    image, tracks = info["shapes"]["image"], info["shapes"]["tracks"]
    return InputShapes(
        (int(image[0]), int(image[1]), int(image[2])),
        int(info["shapes"]["scalars"]),
        (int(tracks[0]), int(tracks[1])),
    )


@dataclass
class CalibRun:
    """Config, scalers, BDT and network of a run folder written by ``calib train``."""

    folder: RunFolder
    config: CalibTrainConfig
    info: dict[str, Any]
    scalers: ScalerSet
    bdt: BdtModel | None
    model: torch.nn.Module | None

    @classmethod
    def load(cls, path: str | Path) -> CalibRun:
        folder = RunFolder(Path(path))
        info = folder.read_info()
        config = parse_config(
            CalibTrainConfig, yaml.safe_load(folder.config.read_text()), str(folder.config)
        )
        if config.features.mc_to_data is not None and folder.mc_to_data.is_file():
            # The run's own copy: the file the config named may have moved or changed.
            features = dataclasses.replace(config.features, mc_to_data=str(folder.mc_to_data))
            config = dataclasses.replace(config, features=features)
        scalers = ScalerSet.load(folder.scalers)
        bdt = load_bdt(folder.bdt) if config.bdt is not None else None
        model = None
        if config.network != "none":
            shapes = _shapes(info)
            model = build_model(network_config(config), shapes, where=str(folder.config))
            load_weights(model, folder.network / BEST)
            model.eval()
        return cls(folder, config, info, scalers, bdt, model)

    def check_inputs(self, features: FeatureArrays, where: str) -> None:
        """The features must carry the scalars and channels the run was trained on."""
        expected = (self.info["scalar_names"], self.info["channel_names"])
        found = (list(features.scalar_names), list(features.channel_names))
        if expected != found:
            raise DataError(
                "inputs differ from the training",
                where,
                f"the run expects scalars {expected[0]} and channels {expected[1]}",
                "evaluate on a store with the same fields as the training store",
            )

    def target_outputs(self, features: FeatureArrays) -> tuple[Array, Array | None]:
        """The network's predicted target and ln σ² (None without an uncertainty head)."""
        assert self.model is not None
        tensors = network_tensors(features, self.scalers)
        out = predict(self.model, tensors, calib_forward, batch_size=4096).numpy()
        return out[:, 0].astype(np.float64), (
            out[:, 1].astype(np.float64) if out.shape[1] > 1 else None
        )

    @property
    def shapes(self) -> InputShapes:
        return _shapes(self.info)

    def has(self, method: str) -> bool:
        return (self.bdt if method == "bdt" else self.model) is not None

    def energy(self, features: FeatureArrays, method: str) -> Array:
        """Calibrated energies of one method ("bdt" or "network"), which the run must have."""
        value = getattr(self.energies(features, networks=method == "network"), method)
        assert value is not None, method
        return np.asarray(value)

    def energies(self, features: FeatureArrays, *, networks: bool = True) -> Energies:
        kind = self.config.target
        bdt = None
        if self.bdt is not None:
            bdt = energy_from_target(self.bdt.predict(features.scalars), features.e_acc, kind)
        network, sigma = None, None
        if self.model is not None and networks:
            target, log_var = self.target_outputs(features)
            network = energy_from_target(target, features.e_acc, kind)
            if log_var is not None:
                sigma_target = np.exp(0.5 * log_var)
                # Propagate σ of the target to the energy: E = r·E_acc or E_acc/r.
                scale = (
                    features.e_acc
                    if kind == "ratio"
                    else features.e_acc / np.maximum(target, 1e-6) ** 2
                )
                sigma = sigma_target * scale
        return Energies(features.e_acc, bdt, network, sigma)
