"""Empirical-Bayes shrinkage of per-unit estimates toward a pooled value.

Used for the over-dispersion and the luminosity response of channels and groups
(:mod:`heplearn.dqm.dispersion`, :mod:`heplearn.dqm.lumi_response`): an estimate
from few reference maps is noisy, and its unit's group or the whole detector knows
better; with many maps real differences between units survive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["shrink"]

Array = np.ndarray[Any, Any]


def shrink(
    own: Array, prior: Array, noise: Array, floor: float | None = 0.0
) -> tuple[Array, Array]:
    """``own`` toward ``prior`` by its sampling variance ``noise`` against the true spread τ².

    τ² = mean (own − prior)² − mean noise over all units; weight w = τ²/(τ² + noise).
    Returns the shrunk values (at least ``floor`` unless None) and their standard error:
    w·noise from the own estimate plus the pool's own error.
    """
    if own.size == 0:
        return own, own
    tau2 = max(float(np.mean((own - prior) ** 2) - np.mean(noise)), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(tau2 + noise > 0, tau2 / (tau2 + noise), 0.0)
    pool_noise = float(np.mean(noise)) / max(own.size, 1) ** 0.5
    sd = np.sqrt(w * noise + (1.0 - w) ** 2 * pool_noise)
    value = w * own + (1.0 - w) * prior
    return (value if floor is None else np.maximum(value, floor)), sd
