"""Intervals on a fraction k/n counted on a finite sample (efficiencies, accuracies).

Clopper–Pearson ("exact"): it never under-covers, and stays sensible at k = 0 or
k = n, where a Gaussian error would be zero.
"""

from __future__ import annotations

import math

from scipy.stats import beta

__all__ = ["ONE_SIGMA", "binomial_error", "clopper_pearson"]

#: The coverage of ±1σ of a Gaussian: what the bootstrap errors elsewhere quote.
ONE_SIGMA = 0.6827


def clopper_pearson(k: int, n: int, coverage: float = ONE_SIGMA) -> tuple[float, float]:
    """Central ``coverage`` interval of the fraction k/n; (nan, nan) when n = 0."""
    if n <= 0:
        return (math.nan, math.nan)
    tail = (1.0 - coverage) / 2.0
    low = 0.0 if k <= 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k >= n else float(beta.ppf(1.0 - tail, k + 1, n - k))
    return (low, high)


def binomial_error(k: int, n: int) -> float:
    """Half the width of the 1σ Clopper–Pearson interval of k/n (nan when n = 0)."""
    low, high = clopper_pearson(k, n)
    return (high - low) / 2.0
