"""The same config and seed give the same network: the initial weights are seeded too."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.numpy import load_file

from heplearn.calib.train import train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import parse_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(seed: int) -> CalibTrainConfig:
    return parse_config(
        CalibTrainConfig,
        {"preset": "tiny", "bdt": None, "trainer": {"epochs": 1, "seed": seed}},
        "test",
    )


def _weights(run: Path) -> dict[str, object]:
    files = sorted(run.rglob("*.safetensors"))
    assert files, f"no weights under {run}"
    return {f"{path.name}:{k}": v for path in files for k, v in load_file(path).items()}


def test_same_seed_same_weights_other_seed_other_weights(gun_store: Path, tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_calib(_config(seed), gun_store, tmp_path / name)
        runs[name] = _weights(tmp_path / name)
    assert runs["a"].keys() == runs["b"].keys()
    assert all((runs["a"][k] == runs["b"][k]).all() for k in runs["a"])  # type: ignore[attr-defined]
    assert any((runs["a"][k] != runs["c"][k]).any() for k in runs["a"])  # type: ignore[attr-defined]
