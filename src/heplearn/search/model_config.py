"""Settings of the search classifiers: XGBoost, the MLP, the mass-parameterised MLP, the ensemble.

These are the nested pieces of the ``search-train`` config (assembled elsewhere); each is a
frozen dataclass whose keys, types and ranges are checked by :mod:`heplearn.config`.
Defaults follow the DM dilepton+MET thesis where it states a choice: one hidden layer
(three "gave poor results" on the low-statistics signal), z-score inputs (its best
hand-made normalisation; batch-norm is offered too), large batches (small batches "most
likely [held] not a single DM sample"), and XGBoost's ``scale_pos_weight`` for the
imbalance; its 18 categories are theory × dark sector × three m_Z′ regions (≤ 600,
600–1100, > 1100 GeV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from heplearn.config import setting
from heplearn.errors import ConfigError
from heplearn.training import TrainerConfig

__all__ = [
    "EnsembleSettings",
    "MlpSettings",
    "MlpTrainerConfig",
    "ParameterisedSettings",
    "SearchModels",
    "XGBoostSettings",
    "default_mlp_trainer",
]


@dataclass(frozen=True)
class XGBoostSettings:
    """Boosted trees for signal vs background (``binary:logistic``, hist method)."""

    n_estimators: int = setting(400, low=1, high=100_000, doc="maximum boosting rounds")
    max_depth: int = setting(5, low=1, high=20, doc="maximum tree depth")
    learning_rate: float = setting(0.1, low=1e-4, high=1.0, doc="shrinkage (eta)")
    subsample: float = setting(0.8, low=0.01, high=1.0, doc="row fraction per tree")
    colsample: float = setting(0.8, low=0.01, high=1.0, doc="feature fraction per tree")
    min_child_weight: float = setting(
        1.0, low=0.0, high=1e6, doc="minimum hessian sum in a leaf (weights have mean 1)"
    )
    reg_lambda: float = setting(1.0, low=0.0, high=1e6, doc="L2 penalty on leaf values")
    scale_pos_weight: Literal["auto", "none"] | float = setting(
        "none",
        low=1e-9,
        high=1e12,
        doc="signal weight factor: auto = Σw_bkg/Σw_sig of the training weights, none = 1",
    )
    early_stopping: int = setting(
        30, low=0, high=10_000, doc="stop after this many rounds without val gain; 0 = off"
    )
    n_jobs: int = setting(0, low=0, high=1024, doc="threads; 0 = 1 below 50k rows, else all")
    seed: int = setting(1, low=0, high=2**31 - 1)


@dataclass(frozen=True)
class MlpTrainerConfig(TrainerConfig):
    """Loop settings for a small tabular MLP: large batches, modest one-cycle peak.

    A subclass, not an instance, so a ``trainer`` section that names a few keys keeps
    these defaults for the rest instead of falling back to the generic loop's.
    """

    epochs: int = setting(30, low=1, high=100_000)
    batch_size: int = setting(4096, low=1, high=1_000_000)
    lr_max: float = setting(0.01, low=1e-9, high=10.0, doc="peak LR of the one-cycle")
    patience: int = setting(6, low=0, high=100_000, doc="epochs without improvement; 0 = off")
    optimizer: Literal["nadam", "adam", "adamw"] = setting("adam")


def default_mlp_trainer() -> MlpTrainerConfig:
    """The MLP's loop settings with every default."""
    return MlpTrainerConfig()


@dataclass(frozen=True)
class MlpSettings:
    """A fully connected classifier with 1 or 3 hidden layers, trained by the shared loop."""

    hidden_layers: Literal[1, 3] = setting(1, doc="thesis: 3 gave poor results, 1 worked")
    width: int = setting(64, low=1, high=65_536, doc="units of every hidden layer")
    widths: tuple[int, ...] | None = setting(
        None, low=1, high=65_536, doc="units per hidden layer (overrides width)"
    )
    activation: Literal["relu", "elu", "silu", "tanh"] = setting("relu")
    dropout: float = setting(0.0, low=0.0, high=0.9, doc="dropout after each hidden layer")
    normalisation: Literal["zscore", "minmax", "batchnorm", "none"] = setting(
        "zscore", doc="input scaling fitted on training events, or a BatchNorm1d input layer"
    )
    trainer: MlpTrainerConfig = setting(default_mlp_trainer())

    def validate(self, where: str) -> None:
        if self.widths is not None and len(self.widths) != self.hidden_layers:
            raise ConfigError(
                "field 'widths'",
                where,
                f"{len(self.widths)} widths for {self.hidden_layers} hidden layers",
                f"give {self.hidden_layers} widths or drop 'widths' and set 'width'",
            )

    @property
    def layer_widths(self) -> tuple[int, ...]:
        """Units of each hidden layer."""
        return self.widths if self.widths is not None else (self.width,) * self.hidden_layers


@dataclass(frozen=True)
class ParameterisedSettings:
    """One MLP over the whole signal grid with (m_mediator, m_invisible) [GeV] as inputs."""

    mlp: MlpSettings = setting(MlpSettings())
    background_masses: Literal["weight", "count"] = setting(
        "count",
        doc="draw background masses from the signal points by training weight or event count",
    )
    seed: int = setting(11, low=0, high=2**32 - 1, doc="seed of the background mass draw")


@dataclass(frozen=True)
class EnsembleSettings:
    """One classifier per signal category; see :mod:`heplearn.search.models.ensemble`."""

    base: Literal["xgboost", "nn"] = setting("nn", doc="the classifier of every category")
    scheme: Literal["thesis", "family", "point"] = setting(
        "thesis",
        doc="thesis: family × dark sector × m_med region; family; point: one per signal point",
    )
    mass_edges: tuple[float, ...] = setting(
        (600.0, 1100.0), low=0.0, high=1e5, doc="m_med region edges [GeV] (thesis: 600, 1100)"
    )
    heavy_invisible_mass: float = setting(
        100.0, low=0.0, high=1e5, doc="invisible mass [GeV] from which the dark sector is heavy"
    )
    combine: Literal["category", "max"] = setting(
        "category", doc="score of a chosen point: its category's model, or the max of all"
    )
    xgboost: XGBoostSettings = setting(XGBoostSettings())
    nn: MlpSettings = setting(MlpSettings())

    def validate(self, where: str) -> None:
        if list(self.mass_edges) != sorted(set(self.mass_edges)):
            raise ConfigError(
                "field 'mass_edges'",
                where,
                f"{list(self.mass_edges)} is not strictly increasing",
                "list the region edges in increasing order, e.g. [600, 1100]",
            )


@dataclass(frozen=True)
class SearchModels:
    """Settings of every classifier a search run may train (the ``models`` block)."""

    xgboost: XGBoostSettings = setting(XGBoostSettings())
    nn: MlpSettings = setting(MlpSettings())
    parameterised_nn: ParameterisedSettings = setting(ParameterisedSettings())
    ensemble: EnsembleSettings = setting(EnsembleSettings())
