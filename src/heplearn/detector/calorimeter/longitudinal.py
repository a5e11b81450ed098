"""GFlash longitudinal shower profiles (Grindhammer & Peters; Geant4 GFlash tunings).

The energy deposited per radiation length follows a Gamma distribution
``dE/dt = E β^α t^(α−1) e^(−βt) / Γ(α)`` with ``β = (α−1)/T``.  ``ln T`` and
``ln α`` fluctuate shower by shower, correlated with coefficient ρ; a
sampling calorimeter shifts T and α (Fs, ê) and has its own widths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammainc

from heplearn.detector.calorimeter.geometry import CalorimeterGeometry

__all__ = ["LongitudinalProfiles", "depth_fractions", "sample_profiles"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class LongitudinalProfiles:
    """Per-shower Gamma parameters: shape α and depth of the maximum T [X0]."""

    alpha: Array
    t_max: Array

    @property
    def beta(self) -> Array:
        """Rate of the Gamma profile [1/X0]."""
        return (self.alpha - 1.0) / self.t_max


def _mean_parameters(energy: Array, geometry: CalorimeterGeometry) -> tuple[Array, Array, Array]:
    """Mean T, mean α, and ln y for showers of ``energy`` [GeV]."""
    log_y = np.log(np.maximum(energy * 1e3 / geometry.critical_mev, 3.0))
    t_max = np.maximum(log_y - 0.812, 0.2)
    alpha = 0.81 + (0.458 + 2.26 / geometry.z_eff) * log_y
    if geometry.technology == "sampling":
        t_max = np.maximum(t_max - 0.55 / geometry.sampling_fs - 0.69 * (1.0 - geometry.e_hat), 0.2)
        alpha = alpha - 0.476 / geometry.sampling_fs
    return t_max, np.maximum(alpha, 1.05), log_y


def sample_profiles(
    energy: Array,
    geometry: CalorimeterGeometry,
    rng: np.random.Generator | None,
) -> LongitudinalProfiles:
    """Draw correlated (ln T, ln α) per shower; ``rng=None`` gives the mean profiles."""
    t_max, alpha, log_y = _mean_parameters(np.asarray(energy, dtype=np.float64), geometry)
    if rng is None:
        return LongitudinalProfiles(alpha=alpha, t_max=t_max)
    if geometry.technology == "sampling":
        sigma_t = 1.0 / np.maximum(-2.5 + 1.25 * log_y, 1.0)
        sigma_a = 1.0 / np.maximum(-0.82 + 0.79 * log_y, 1.0)
        rho = 0.784 - 0.023 * log_y
    else:
        sigma_t = 1.0 / np.maximum(-1.4 + 1.26 * log_y, 1.0)
        sigma_a = 1.0 / np.maximum(-0.58 + 0.86 * log_y, 1.0)
        rho = 0.705 - 0.023 * log_y
    z1, z2 = rng.standard_normal((2, len(t_max)))
    log_t = np.log(t_max) + sigma_t * z1
    log_a = np.log(alpha) + sigma_a * (rho * z1 + np.sqrt(1.0 - rho**2) * z2)
    return LongitudinalProfiles(alpha=np.maximum(np.exp(log_a), 1.05), t_max=np.exp(log_t))


def depth_fractions(profiles: LongitudinalProfiles, boundaries: Array) -> Array:
    """Fraction of each shower's energy between consecutive depth ``boundaries`` [X0].

    ``boundaries`` has shape (showers, k+1), rising; the result (showers, k).  The
    fraction beyond the last boundary is ``1 − result.sum(axis=1)`` (leakage).
    """
    scaled = profiles.beta[:, None] * np.maximum(boundaries, 0.0)
    cumulative = gammainc(profiles.alpha[:, None], scaled)
    return np.diff(cumulative, axis=1)
