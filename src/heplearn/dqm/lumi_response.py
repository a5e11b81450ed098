"""How each channel's occupancy follows the luminosity: ``m ∝ L^(1 + γ_c)``.

Occupancy is not linear in luminosity where hits saturate (a channel firing in most
events at high pile-up) or where noise adds a constant: scaling every channel by one
robust luminosity L then leaves the busiest channels systematically low at high
pile-up.  From the K reference maps (log L_k spread around their mean x0) each
channel's slope γ_c of log(count/linear expectation) against x = log L − x0 is a
weighted least-squares fit (weights m/(1 + α m), the inverse variance of a log count),
shrunk toward the detector-wide slope (:func:`heplearn.dqm.shrinkage.shrink`).

The slope's error enters the predictive variance as ``x² var(γ_c)`` (relative, i.e.
added to α): a map outside the reference's luminosity range is judged with the wider
tails an extrapolation deserves.  Reference maps of one luminosity fix γ = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.dqm.shrinkage import shrink

__all__ = ["LumiResponse", "fit_response"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class LumiResponse:
    """Per-channel slope γ of the luminosity response, its variance and the reference point."""

    log_lumi0: float
    slope: Array  # (C,)
    slope_var: Array  # (C,)

    def x(self, lumi: Array) -> Array:
        """(N,) log L − x0."""
        with np.errstate(divide="ignore"):
            return np.where(lumi > 0, np.log(np.maximum(lumi, 1e-300)) - self.log_lumi0, 0.0)

    def factor(self, lumi: Array) -> Array:
        """(N, C) multiplicative correction exp(γ x) of the linear expectation."""
        return np.asarray(np.exp(np.clip(self.x(lumi)[:, None] * self.slope[None, :], -20, 20)))

    def extra_alpha(self, lumi: Array) -> Array:
        """(N, C) relative variance x² var(γ) the slope's error adds to the expectation."""
        return np.asarray(self.x(lumi)[:, None] ** 2 * self.slope_var[None, :])


def fit_response(
    counts: Array, linear: Array, lumi: Array, live: Array, alpha: float
) -> LumiResponse:
    """Fit γ per channel from ``counts`` (K, C) against the ``linear`` expectation (K, C)."""
    weights_l = lumi / lumi.sum()
    log_l = np.log(np.maximum(lumi, 1e-300))
    x0 = float((weights_l * log_l).sum())
    x = log_l - x0
    n_channels = counts.shape[1]
    if np.ptp(x) < 1e-6:  # one luminosity: the slope cannot be seen
        zero = np.zeros(n_channels)
        return LumiResponse(x0, zero, zero)
    y = np.log((counts + 0.5) / (linear + 0.5))
    w = linear / (1.0 + alpha * linear)
    sw = w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        xbar = np.where(sw > 0, (w * x[:, None]).sum(axis=0) / sw, 0.0)
        dx = x[:, None] - xbar[None, :]
        num = (w * dx * y).sum(axis=0)
        den = (w * dx**2).sum(axis=0)
        own = np.where(den > 0, num / den, 0.0)
        noise = np.where(den > 0, 1.0 / den, 0.0)
    prior = float(num[live].sum() / den[live].sum()) if den[live].sum() > 0 else 0.0
    slope, sd = np.zeros(n_channels), np.zeros(n_channels)
    slope[live], sd[live] = shrink(own[live], np.full(int(live.sum()), prior), noise[live], None)
    return LumiResponse(x0, slope, sd**2)
