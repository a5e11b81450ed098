"""Can a classifier tell MC from data?  AUC with errors, per-variable contributions, odds weights.

A gradient-boosted classifier (XGBoost) is trained on one half of the clusters
(MC label 0, data label 1, the classes weighted to equal sums) and scored on
the other half: AUC 0.5 means the inputs of the two samples cannot be told
apart, the further above the more they differ (thesis appendix 9.4).  The AUC's
error is a bootstrap over the scored clusters (:func:`heplearn.stats.bootstrap`),
with the Hanley–McNeil estimate beside it (:func:`heplearn.stats.auc_error`).

Per variable: the gain importance of the multivariate classifier, and the AUC
of a one-variable histogram classifier (the data fraction per quantile bin of
that variable, learnt on the training half, scored on the other), which sees
any difference of the 1-D distributions, not only a shift.

With balanced classes the classifier's odds p/(1 − p) estimate the density
ratio data/MC, the weight that makes MC look like data (:func:`odds_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.stats.auc_error import auc_error
from heplearn.stats.bootstrap import bootstrap
from heplearn.stats.roc import roc_auc

__all__ = [
    "ClassifierSettings",
    "MCDataClassifier",
    "auc_with_errors",
    "odds_weights",
    "single_variable_aucs",
]

Array = np.ndarray[Any, Any]

#: Quantile bins of the one-variable histogram classifier.
SINGLE_BINS = 20


@dataclass(frozen=True)
class ClassifierSettings:
    """The MC-vs-data classifier's trees; the same for every before/after comparison."""

    n_estimators: int = 200
    max_depth: int = 3
    learning_rate: float = 0.1
    seed: int = 0
    n_boot: int = 200


def _balanced(n_mc: int, n_data: int, w_mc: Array | None) -> tuple[Array, Array]:
    """Weights of MC and data that sum to the same total (the number of data clusters)."""
    mc = np.ones(n_mc) if w_mc is None else np.asarray(w_mc, np.float64)
    return mc * (n_data / mc.sum()), np.ones(n_data)


def _stack(x_mc: Array, x_data: Array, w_mc: Array | None) -> tuple[Array, Array, Array]:
    w0, w1 = _balanced(len(x_mc), len(x_data), w_mc)
    x = np.vstack([x_mc, x_data]).astype(np.float32)
    y = np.r_[np.zeros(len(x_mc)), np.ones(len(x_data))]
    return x, y, np.r_[w0, w1]


def _effective(weights: Array) -> float:
    return float(weights.sum() ** 2 / np.sum(weights**2))


def auc_with_errors(
    scores_mc: Array,
    scores_data: Array,
    w_mc: Array | None = None,
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """AUC (data scored above MC), its bootstrap error and the Hanley–McNeil error."""
    _, labels, weights = _stack(
        np.zeros((len(scores_mc), 1)), np.zeros((len(scores_data), 1)), w_mc
    )
    scores = np.r_[np.asarray(scores_mc, np.float64), np.asarray(scores_data, np.float64)]
    positive = labels == 1

    def statistic(s: Array, p: Array, w: Array) -> float:
        if not (p.any() and (~p).any()):
            return float("nan")
        return roc_auc(s, p, w)

    auc, error = bootstrap(statistic, scores, positive, weights, n=n_boot, seed=seed)
    n_mc = _effective(weights[~positive])
    return {
        "auc": auc,
        "auc_err": error,
        "auc_err_hanley_mcneil": auc_error(auc, int(positive.sum()), round(n_mc)),
    }


@dataclass
class MCDataClassifier:
    """An XGBoost classifier of MC (0) against data (1) on the given variables."""

    names: tuple[str, ...]
    settings: ClassifierSettings
    model: Any = None

    def fit(self, x_mc: Array, x_data: Array, w_mc: Array | None = None) -> MCDataClassifier:
        import xgboost as xgb

        x, y, w = _stack(x_mc, x_data, w_mc)
        self.model = xgb.XGBClassifier(
            n_estimators=self.settings.n_estimators,
            max_depth=self.settings.max_depth,
            learning_rate=self.settings.learning_rate,
            tree_method="hist",
            random_state=self.settings.seed,
            n_jobs=1 if len(x) < 50_000 else 0,
        )
        self.model.fit(x, y, sample_weight=w)
        return self

    def predict(self, x: Array) -> Array:
        """P(data | x)."""
        assert self.model is not None
        out: Array = self.model.predict_proba(np.asarray(x, np.float32))[:, 1]
        return out.astype(np.float64)

    def auc(self, x_mc: Array, x_data: Array, w_mc: Array | None = None) -> dict[str, float]:
        """AUC on (held-out) clusters, with errors."""
        return auc_with_errors(
            self.predict(x_mc),
            self.predict(x_data),
            w_mc,
            n_boot=self.settings.n_boot,
            seed=self.settings.seed,
        )

    def gain_importance(self) -> dict[str, float]:
        """Each variable's share of the total split gain (0 for a variable never split on)."""
        assert self.model is not None
        booster = self.model.get_booster()
        gains = booster.get_score(importance_type="total_gain")
        # XGBoost names unnamed columns f0, f1, … in column order.
        values = np.array([gains.get(f"f{i}", 0.0) for i in range(len(self.names))])
        total = values.sum()
        shares = values / total if total > 0 else values
        return {name: float(v) for name, v in zip(self.names, shares, strict=True)}


def single_variable_aucs(
    names: Sequence[str],
    train: tuple[Array, Array],
    test: tuple[Array, Array],
    w_mc: tuple[Array | None, Array | None] = (None, None),
) -> dict[str, float]:
    """Held-out AUC of a one-variable histogram classifier per variable.

    ``train`` and ``test`` are (x_mc, x_data) of shape (N, len(names)); ``w_mc``
    the MC weights of each half.  Bins are quantiles of the training half (both
    samples); the score of a bin is its balanced data fraction there.
    """
    out = {}
    for k, name in enumerate(names):
        a_mc, a_data = train[0][:, k], train[1][:, k]
        edges = np.unique(np.quantile(np.r_[a_mc, a_data], np.linspace(0, 1, SINGLE_BINS + 1)))
        inner = edges[1:-1]
        w0, w1 = _balanced(len(a_mc), len(a_data), w_mc[0])
        n_bins = len(inner) + 1
        # Atoms fall into one bin: searchsorted side "left" keeps a repeated edge's values together.
        h_mc = np.bincount(np.searchsorted(inner, a_mc), w0, n_bins)
        h_data = np.bincount(np.searchsorted(inner, a_data), w1, n_bins)
        score = (h_data + 0.5) / (h_mc + h_data + 1.0)
        t_mc, t_data = test[0][:, k], test[1][:, k]
        s_mc, s_data = score[np.searchsorted(inner, t_mc)], score[np.searchsorted(inner, t_data)]
        _, labels, weights = _stack(t_mc[:, None], t_data[:, None], w_mc[1])
        out[name] = roc_auc(np.r_[s_mc, s_data], labels == 1, weights)
    return out


def odds_weights(p_data: Array, max_weight: float) -> Array:
    """p/(1 − p) of each MC cluster, clipped to [1/max_weight, max_weight], mean 1."""
    p = np.clip(np.asarray(p_data, np.float64), 1e-6, 1 - 1e-6)
    odds = np.clip(p / (1 - p), 1.0 / max_weight, max_weight)
    out: Array = odds / odds.mean()
    return out
