"""What ``heplearn dqm train`` fits (kind ``dqm-model``): the model name and its settings.

One config kind covers every DQM model; each model reads only its own section
(``linear`` for lr, ``mlp``, ``qtest``, ``cnn`` for cnn2/cnn3/cnn3bn, ``ae``) and the
torch models also read ``trainer``.  Shipped files: ``configs/dqm/models/<name>.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from heplearn.config import register_config, setting
from heplearn.errors import ConfigError
from heplearn.training.settings import TrainerConfig

__all__ = [
    "MODEL_NAMES",
    "AeSettings",
    "CnnSettings",
    "DqmModelConfig",
    "LinearSettings",
    "MlpSettings",
    "QtestSettings",
    "default_model_config",
]

ModelName = Literal["lr", "mlp", "cnn2", "cnn3", "cnn3bn", "ae", "qtest"]
MODEL_NAMES: tuple[str, ...] = ("lr", "mlp", "cnn2", "cnn3", "cnn3bn", "ae", "qtest")


@dataclass(frozen=True)
class LinearSettings:
    """Logistic regression on flattened normalised maps (thesis baseline)."""

    c: float = setting(1.0, low=1e-6, high=1e6, doc="inverse L2 regularisation strength")
    max_iter: int = setting(500, low=1, high=100_000, doc="solver iterations")


@dataclass(frozen=True)
class MlpSettings:
    """scikit-learn MLPClassifier on flattened normalised maps (thesis baseline)."""

    hidden: tuple[int, ...] = setting((64,), low=1, high=100_000, doc="hidden layer widths")
    max_iter: int = setting(200, low=1, high=100_000, doc="epochs of the adam solver")
    alpha: float = setting(1e-4, low=0.0, high=10.0, doc="L2 penalty")
    seed: int = setting(1, low=0, high=2**32 - 1)


@dataclass(frozen=True)
class QtestSettings:
    """Classical CMS-style quality tests against a reference (see dqm/qtests.py)."""

    thresholds: Literal["model", "validation"] = setting(
        "model",
        doc="model: from a statistical model of the reference maps (dqm/statistical_qtest.py, "
        "few maps suffice); validation: empirical quantiles of good validation maps",
    )
    false_alarm: float = setting(
        0.01, low=1e-9, high=0.5, doc="thresholds: model — false-alarm probability per good map"
    )
    geometry: str | None = setting(
        None,
        doc="thresholds: model — channel groups: ecal-barrel, hcal, blocks or a YAML/JSON "
        "grouping file; null = 5×5 blocks",
    )
    false_flag_rate: float = setting(
        0.01,
        low=1e-6,
        high=0.5,
        doc="fraction of good validation maps allowed to have a flagged channel; sets thresholds",
    )
    pull_threshold: float | None = setting(
        None, low=0.5, high=1e3, doc="fixed |pull| threshold; null = chosen in fit"
    )
    min_pull_threshold: float = setting(
        3.0, low=0.0, high=1e3, doc="the chosen |pull| threshold never goes below this"
    )
    calibrate_pulls: bool = setting(
        True,
        doc="divide pulls by each channel's pull RMS over the good training maps (≥ 1)",
    )
    region_size: int = setting(
        3,
        low=0,
        high=15,
        doc="k of the pooled k×k window tests for spread-out mild faults; 0 = off",
    )
    region_member_pull: float = setting(
        2.0, low=0.0, high=10.0, doc="|pull| a channel of a failing window needs to be flagged"
    )
    dead_significance: float = setting(
        3.0,
        low=0.5,
        high=100.0,
        doc="0 hits is dead when the expectation exceeds this many Poisson σ (expected > s²)",
    )


@dataclass(frozen=True)
class CnnSettings:
    """The thesis CNNs (cnn2 binary, cnn3 multiclass, cnn3bn with batch-norm)."""

    dropout: float = setting(0.25, low=0.0, high=0.95, doc="dropout before the dense layers")


@dataclass(frozen=True)
class AeSettings:
    """The thesis convolutional autoencoder, trained on good maps only."""

    filters: tuple[int, ...] = setting(
        (86, 64, 32), low=1, high=4096, doc="encoder filters (thesis 86/64/32)"
    )
    threshold_false_flag_rate: float = setting(
        0.01,
        low=1e-6,
        high=0.5,
        doc="fraction of good validation maps allowed a flagged channel; sets the channel cut",
    )


@register_config("dqm-model")
@dataclass(frozen=True)
class DqmModelConfig:
    """One DQM model and its settings; each model uses only its own section."""

    model: ModelName = setting("qtest", doc="lr, mlp, cnn2, cnn3, cnn3bn, ae or qtest")
    trainer: TrainerConfig = setting(TrainerConfig(), doc="torch models only")
    val_fraction: float = setting(
        0.2, low=0.01, high=0.9, doc="fraction of the training maps held out for validation"
    )
    split_seed: int = setting(7, low=0, high=2**32 - 1)
    linear: LinearSettings = setting(LinearSettings())
    mlp: MlpSettings = setting(MlpSettings())
    qtest: QtestSettings = setting(QtestSettings())
    cnn: CnnSettings = setting(CnnSettings())
    ae: AeSettings = setting(AeSettings())

    def validate(self, where: str) -> None:
        if self.model not in MODEL_NAMES:
            raise ConfigError(
                f"model {self.model!r}",
                where,
                f"the known models are {', '.join(MODEL_NAMES)}",
                "set 'model' to one of them",
            )


def default_model_config(model: str) -> DqmModelConfig:
    """The defaults for ``model`` (used when ``--config`` is not given)."""
    if model not in MODEL_NAMES:
        raise ConfigError(
            f"model {model!r}",
            "--model",
            f"the known models are {', '.join(MODEL_NAMES)}",
            "pick one of them",
        )
    return dataclasses.replace(DqmModelConfig(), model=model)  # type: ignore[arg-type]
