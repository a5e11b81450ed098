"""What ``heplearn search train`` / ``scan`` do (kind ``search-train``): points, inputs, methods.

One config describes the whole comparison of the DM dilepton + E_T^miss thesis: which
signal points to separate from the background, the observables the classifiers see
(default: the thesis' list), how missing jets are padded, the training-weight scheme,
which methods to run side by side, their settings (``models``), the relative background
uncertainty σ_b of every significance, and the train/validation/test split.  Shipped
files: ``configs/search/train.yaml`` (the full study) and ``configs/search/train-quick.yaml``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from heplearn.config import register_config, setting
from heplearn.errors import ConfigError
from heplearn.search.model_config import SearchModels
from heplearn.search.observables import FEATURE_NAMES, INDICATOR_NAMES
from heplearn.search.splits import DEFAULT_FRACTIONS, check_fractions

__all__ = [
    "CUT_METHODS",
    "DEFAULT_METHODS",
    "METHODS",
    "ML_METHODS",
    "THESIS_FEATURES",
    "LikelihoodSettings",
    "SearchTrainConfig",
    "WeightSettings",
]

#: Methods without a classifier, and the classifiers (keys of ``metrics.json``).
CUT_METHODS = ("thesis_cuts", "optimised_cuts")
ML_METHODS = ("xgboost", "nn", "parameterised_nn", "ensemble")
METHODS = CUT_METHODS + ML_METHODS
DEFAULT_METHODS = ("thesis_cuts", "optimised_cuts", "xgboost", "nn", "parameterised_nn")

#: The thesis' inputs (§5.1): E_T^miss, its significance, m_T, m_ℓℓ, m_T2, n_b-jets, both
#: leptons and the two leading jets (pT, η, φ); Δφ(ℓ₁, ℓ₂) and Δφ(ℓℓ, E_T^miss) were dropped
#: there for poor data/MC agreement.
THESIS_FEATURES = (
    "met", "met_significance", "mt", "mll", "mt2", "n_bjets",
    "lep1_pt", "lep1_eta", "lep1_phi", "lep2_pt", "lep2_eta", "lep2_phi",
    "jet1_pt", "jet1_eta", "jet1_phi", "jet2_pt", "jet2_eta", "jet2_phi",
)  # fmt: skip


@dataclass(frozen=True)
class WeightSettings:
    """Training weights (evaluation always uses the MC weights, negative ones kept)."""

    scheme: Literal["none", "mc", "count-balance", "weight-balance"] = setting(
        "weight-balance",
        doc="mc reproduces the thesis' collapse (AUC 0.5); the balanced schemes fix it",
    )
    negative: Literal["clip", "drop", "abs", "keep"] = setting(
        "clip", doc="negative MC weights in training: set to 0, drop, |w| or keep"
    )


@dataclass(frozen=True)
class LikelihoodSettings:
    """The pyhf likelihood of ``search evaluate`` (:mod:`heplearn.search.likelihood`)."""

    mc_stat: bool = setting(True, doc="staterror: each bin's MC statistical uncertainty (Σw²)")
    normalisation: float | None = setting(
        None, low=0.0, high=0.99, doc="normalisation uncertainty of each background; null = sigma_b"
    )
    per_sample: dict[str, float] = setting({}, doc="background sample -> its own normalisation")
    luminosity: float = setting(0.017, low=0.0, high=0.99, doc="relative luminosity uncertainty")
    limits: bool = setting(True, doc="expected 95 % CLs limits on μ (0.3–3 s per point and method)")
    min_effective_events: float = setting(
        5.0, low=0.0, high=1e6, doc="warn when a background bin's (Σw)²/Σw² is below this"
    )


def _unknown(kind: str, name: str, allowed: Sequence[str], where: str, field: str) -> ConfigError:
    closest = difflib.get_close_matches(name, allowed, n=1, cutoff=0.0)
    return ConfigError(
        f"unknown {kind} '{name}'",
        where,
        f"'{field}' takes {', '.join(allowed)}",
        f"did you mean '{closest[0] if closest else allowed[0]}'?",
    )


def _check_unique(values: Sequence[str], where: str, field: str) -> None:
    twice = sorted({v for v in values if list(values).count(v) > 1})
    if twice:
        raise ConfigError(
            f"repeated entries {twice} in '{field}'",
            where,
            "each entry may appear once",
            "remove the duplicates",
        )


@register_config("search-train")
@dataclass(frozen=True)
class SearchTrainConfig:
    """Signal points, inputs, weights, methods and statistics of one search comparison."""

    signal_points: tuple[str, ...] = setting(
        (), doc="signal sample names of the store; empty = every signal sample"
    )
    sample_names: tuple[str, ...] = setting(
        (), doc="names of event/sample 0, 1, … for imported stores that do not list them"
    )
    features: tuple[str, ...] = setting(THESIS_FEATURES, doc="classifier inputs (observables)")
    padding: Literal["thesis", "indicator", "mean"] = setting(
        "thesis", doc="missing jets: pT=0, η=φ=10 | zeros + jetN_present | training-split means"
    )
    weights: WeightSettings = setting(WeightSettings())
    methods: tuple[str, ...] = setting(DEFAULT_METHODS, doc="compared side by side")
    models: SearchModels = setting(SearchModels())
    sigma_b: float = setting(0.10, low=0.0, high=10.0, doc="relative background uncertainty")
    likelihood: LikelihoodSettings = setting(LikelihoodSettings())
    split_fractions: tuple[float, float, float] = setting(
        DEFAULT_FRACTIONS, low=0.0, high=1.0, doc="train, validation, test (by event-id hash)"
    )
    split_seed: int = setting(0, low=0, high=2**31 - 1, doc="seed of the split hash")
    cut_grid: int = setting(20, low=2, high=1000, doc="candidate values per optimised cut")
    score_bins: int = setting(20, low=2, high=1000, doc="bins of the binned score significance")
    n_jobs: int = setting(0, low=0, high=1024, doc="threads for XGBoost and torch; 0 = default")

    def validate(self, where: str) -> None:
        for method in self.methods:
            if method not in METHODS:
                raise _unknown("method", method, METHODS, where, "methods")
        if not self.methods:
            raise ConfigError(
                "field 'methods'", where, "it is empty", f"list some of {', '.join(METHODS)}"
            )
        _check_unique(self.methods, where, "methods")
        allowed = FEATURE_NAMES + (INDICATOR_NAMES if self.padding == "indicator" else ())
        for name in self.features:
            if name not in allowed:
                raise _unknown("observable", name, allowed, where, "features")
        if not self.features:
            raise ConfigError(
                "field 'features'", where, "it is empty", "list the observables to train on"
            )
        _check_unique(self.features, where, "features")
        _check_unique(self.signal_points, where, "signal_points")
        _check_unique(self.sample_names, where, "sample_names")
        check_fractions(self.split_fractions)

    @property
    def input_features(self) -> tuple[str, ...]:
        """The classifier inputs: ``features`` plus the jet indicators of ``indicator`` padding."""
        extra = INDICATOR_NAMES if self.padding == "indicator" else ()
        return self.features + tuple(n for n in extra if n not in self.features)

    @property
    def ml_methods(self) -> tuple[str, ...]:
        """The classifiers among ``methods``, in the order listed."""
        return tuple(m for m in self.methods if m in ML_METHODS)
