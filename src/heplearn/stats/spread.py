"""Robust widths of a distribution: the effective interquartile range (eIQR).

eIQR = (P75 − P25) / 1.349 equals σ for a Gaussian but ignores the tails that a
standard deviation is dominated by.  ``coverage=0.95`` gives the analogue
(P97.5 − P2.5) / (2 · 1.95996) that does see the tails.  The one implementation
used by the calorimeter validation, the calibration metrics and the demo.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import ndtri

from heplearn.errors import ConfigError

__all__ = ["eiqr", "gauss_width", "relative_eiqr"]

Array = np.ndarray[Any, Any]


def gauss_width(coverage: float) -> float:
    """Width of the central ``coverage`` interval of a unit Gaussian (1.349 for 50 %)."""
    if not 0.0 < coverage < 1.0:
        raise ConfigError(
            f"coverage {coverage}",
            "eiqr(coverage=...)",
            "it is the fraction of events in the central interval, between 0 and 1",
            "use 0.5 (interquartile range) or 0.95",
        )
    return float(2.0 * ndtri(0.5 + coverage / 2.0))


def eiqr(values: Array, coverage: float = 0.5) -> float:
    """Width of the central ``coverage`` of ``values`` scaled to a Gaussian σ; NaN when empty."""
    scale = gauss_width(coverage)
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size == 0:
        return math.nan
    low, high = np.percentile(flat, [50.0 * (1 - coverage), 50.0 * (1 + coverage)])
    return float(high - low) / scale


def relative_eiqr(response: Array, coverage: float = 0.5) -> float:
    """eIQR over the median: the relative resolution of a response distribution."""
    return eiqr(response, coverage) / float(np.median(response))
