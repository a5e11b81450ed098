"""The best-known calibration settings are the defaults and those of every shipped config."""

from __future__ import annotations

from pathlib import Path

import pytest

from heplearn.calib.demo import DEMO_CONFIG, _train_config
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import load_config, parse_config, shipped_config

TRAIN_CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "calib" / "train").glob("*.yaml"))


def _is_best_known(config: CalibTrainConfig) -> None:
    # β-NLL runs keep the documented reference run's GeV images: per-event widened σ there.
    scaling = "none" if config.uncertainty else "per-event"
    assert config.features.image_scaling == scaling
    assert config.trainer.lr_max == 0.003
    # A one-cycle run stopped early never reaches its low-LR end (measured: −10 % vs +15 %).
    assert config.trainer.patience == 0
    if config.loss == "logcosh":
        assert config.logcosh_scale == 0.02


def test_the_defaults_are_the_best_known_settings() -> None:
    config = CalibTrainConfig()
    _is_best_known(config)
    assert config.features.image_scaling == "per-event"
    assert (config.trainer.epochs, config.trainer.batch_size) == (12, 256)
    # A partial trainer section overrides only what it names.
    partial = parse_config(CalibTrainConfig, {"trainer": {"epochs": 3}})
    _is_best_known(partial)
    assert partial.trainer.epochs == 3


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_training_config_has_them(path: Path) -> None:
    _is_best_known(load_config(CalibTrainConfig, path))


def test_the_demo_trains_the_shipped_tiny_config() -> None:
    shipped = load_config(CalibTrainConfig, shipped_config(DEMO_CONFIG))
    assert _train_config(quick=False) == shipped
    quick = _train_config(quick=True)
    assert quick.trainer.epochs == 4
    assert quick.features == shipped.features and quick.trainer.lr_max == shipped.trainer.lr_max
