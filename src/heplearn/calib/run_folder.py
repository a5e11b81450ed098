"""The folder of one calibration run: what is in it, and whether a resume may use it.

``config.yaml`` (resolved config), ``run.json`` (data, split, input names and shapes),
``scalers.json``, ``input_ranges.json`` (training range and 0.1/99.9 % quantiles of each
scalar, for the coverage check of ``calib evaluate``), ``sigma_scale.json`` (per-bin σ_E
factors from the validation pulls, with an uncertainty head), ``mc_to_data.json`` (a copy of
the ``features.mc_to_data`` transform, which evaluation uses), ``validation.json`` (eIQR
of each method on the validation split), ``bdt.json`` (XGBoost JSON) and
``network/`` (checkpoints, best weights, ``metrics.jsonl``).  Nothing in it is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from heplearn.data.atomic import atomic_output
from heplearn.data.held_out import TrainingStore
from heplearn.data.saved_json import read_saved_json
from heplearn.errors import ConfigError, DataError

__all__ = ["RunFolder", "differing_keys"]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differing_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two nested config dicts."""
    a, b = _flatten(old), _flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


@dataclass(frozen=True)
class RunFolder:
    """Paths of a calibration run."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def info(self) -> Path:
        return self.path / "run.json"

    @property
    def scalers(self) -> Path:
        return self.path / "scalers.json"

    @property
    def input_ranges(self) -> Path:
        return self.path / "input_ranges.json"

    @property
    def sigma_scale(self) -> Path:
        """Per-bin σ_E factors fitted on the validation pulls (uncertainty runs only)."""
        return self.path / "sigma_scale.json"

    @property
    def mc_to_data(self) -> Path:
        """The run's copy of the features.mc_to_data transform (when the config sets one)."""
        return self.path / "mc_to_data.json"

    @property
    def validation(self) -> Path:
        """eIQR per method on the validation split (what ``calib study`` optimises)."""
        return self.path / "validation.json"

    @property
    def bdt(self) -> Path:
        return self.path / "bdt.json"

    @property
    def network(self) -> Path:
        return self.path / "network"

    def write_json(self, path: Path, data: Mapping[str, Any]) -> None:
        with atomic_output(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")

    def read_info(self) -> dict[str, Any]:
        if not self.info.is_file():
            raise DataError(
                "not a calibration run",
                str(self.path),
                "it has no run.json",
                "give the folder written by 'heplearn calib train --out'",
            )
        return read_saved_json(self.info, "calibration run")

    def check_resume(self, config: Mapping[str, Any], data: Path) -> None:
        """Refuse to resume with a different config or data, naming what differs.

        The data is compared by the store fingerprint the run recorded (a copy of
        the store resumes, a changed store does not); runs from before fingerprints
        were recorded are compared by resolved path.
        """
        if not self.config.is_file():
            raise DataError(
                "nothing to resume",
                str(self.path),
                "the folder has no config.yaml of an earlier run",
                "drop --resume to start a new run",
            )
        saved = yaml.safe_load(self.config.read_text()) or {}
        changed = differing_keys(saved, config)
        if changed:
            listed = ", ".join(changed[:8]) + (" …" if len(changed) > 8 else "")
            raise ConfigError(
                "changed config on resume",
                str(self.config),
                f"these keys differ from the run's: {listed}",
                "resume with the run's own config, or start a new run with another --out",
            )
        if self.info.is_file():
            info = self.read_info()
            if info.get("data") is not None and not TrainingStore.identify(info, data).same:
                raise ConfigError(
                    "changed data on resume",
                    str(self.path),
                    f"the run was trained on {info['data']}, and {data} holds other data",
                    "resume with the same --data, or start a new run",
                )
