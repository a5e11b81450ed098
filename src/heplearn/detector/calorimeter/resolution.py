"""Energy resolution: robust widths and the fit σ/E = a/√E ⊕ c.

Widths are IQR/1.349 of the response (the Gaussian σ for a Gaussian core, and
robust to the tails from material and gaps), divided by the median response.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import nnls

from heplearn.stats.spread import relative_eiqr

__all__ = ["fit_resolution_terms", "fit_resolution_with_noise", "relative_width"]

Array = np.ndarray[Any, Any]


def relative_width(response: Array) -> float:
    """IQR/1.349 of ``response`` over its median."""
    return relative_eiqr(response)


def fit_resolution_terms(energy: Array, width: Array) -> tuple[float, float]:
    """Least-squares (a, c) of width² = a²/E + c² (E in GeV): stochastic and constant terms."""
    a, _, c = fit_resolution_with_noise(energy, width, noise=False)
    return a, c


def fit_resolution_with_noise(
    energy: Array, width: Array, *, noise: bool = True
) -> tuple[float, float, float]:
    """Non-negative least squares (a, b, c) of width² = a²/E + b²/E² + c².

    b [GeV] is the noise term (electronic noise and pileup); ``noise=False`` fixes it at 0.
    """
    energy = np.asarray(energy, dtype=np.float64)
    columns = [1.0 / energy] + ([1.0 / energy**2] if noise else []) + [np.ones(len(energy))]
    squares, _ = nnls(np.stack(columns, axis=1), np.asarray(width, dtype=np.float64) ** 2)
    a2, c2 = squares[0], squares[-1]
    b2 = squares[1] if noise else 0.0
    return float(np.sqrt(a2)), float(np.sqrt(b2)), float(np.sqrt(c2))
