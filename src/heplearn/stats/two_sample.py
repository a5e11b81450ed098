"""Two-sample tests between weighted distributions (overtraining checks: train vs test scores)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import kolmogorov

__all__ = ["weighted_ks"]

Array = np.ndarray[Any, Any]


def _effective_entries(weights: Array) -> float:
    # Kish's effective sample size: what the KS p-value's √n needs for weighted samples.
    return float(weights.sum() ** 2 / np.sum(weights**2))


def weighted_ks(
    a: Array, b: Array, weights_a: Array | None = None, weights_b: Array | None = None
) -> tuple[float, float]:
    """Kolmogorov–Smirnov distance and asymptotic p-value between two weighted samples.

    Negative weights are not meaningful for a distribution test; they are set to zero.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    wa = np.ones_like(a) if weights_a is None else np.clip(np.asarray(weights_a, float), 0, None)
    wb = np.ones_like(b) if weights_b is None else np.clip(np.asarray(weights_b, float), 0, None)
    if wa.sum() <= 0 or wb.sum() <= 0:
        raise ValueError("a KS test needs a positive weight sum in both samples")
    grid = np.union1d(a, b)
    cdf_a = np.cumsum(np.bincount(np.searchsorted(grid, a), wa, len(grid))) / wa.sum()
    cdf_b = np.cumsum(np.bincount(np.searchsorted(grid, b), wb, len(grid))) / wb.sum()
    distance = float(np.max(np.abs(cdf_a - cdf_b)))
    n_a, n_b = _effective_entries(wa), _effective_entries(wb)
    n = n_a * n_b / (n_a + n_b)
    return distance, float(kolmogorov(distance * np.sqrt(n)))
