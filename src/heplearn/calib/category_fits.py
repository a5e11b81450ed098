"""Mass peaks of Z→ee pairs in (i, j) |η| categories: BW ⊗ CB, or a robust estimate if few.

A category with at least ``min_fit_pairs`` pairs in the fit range gets the
BW ⊗ CB fit of :mod:`heplearn.calib.massfit` (accepted when Minuit converged
and the errors are finite); one with fewer but at least ``min_pairs`` gets a
robust peak (the median of the pairs within ±``robust_window`` GeV of the Z
mass, error 1.2533·eIQR/√n) and no width; below that it is skipped.  The data
and the MC of one category always use the same estimator (decided by the smaller
sample), so their ratio is meaningful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.calib.massfit import DEFAULT_RANGES, Z_MASS, fit_mass
from heplearn.config import setting

__all__ = ["CategoryPeak", "PeakSettings", "category_peaks"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class PeakSettings:
    """Thresholds of the category fits."""

    min_fit_pairs: int = setting(400, low=20, high=10_000_000, doc="pairs for a BW ⊗ CB fit")
    min_pairs: int = setting(50, low=5, high=10_000_000, doc="pairs for a robust peak")
    robust_window: float = setting(5.0, low=1.0, high=20.0, doc="± GeV around m_Z (robust)")
    mass_range: tuple[float, float] = setting(DEFAULT_RANGES["bw-cb"], low=0.0, high=1000.0)


@dataclass(frozen=True)
class CategoryPeak:
    """The peak of one (i, j) category: position μ, width σ (BW ⊗ CB only), and how."""

    i: int
    j: int
    n_pairs: int
    method: str  # "bw-cb", "robust" or "skipped"
    mean: float = math.nan
    mean_err: float = math.nan
    sigma: float = math.nan
    sigma_err: float = math.nan

    @property
    def accepted(self) -> bool:
        return self.method != "skipped" and math.isfinite(self.mean_err) and self.mean_err > 0

    @property
    def has_width(self) -> bool:
        return self.accepted and self.method == "bw-cb" and math.isfinite(self.sigma_err)

    def as_dict(self) -> dict[str, Any]:
        values = {"mean": self.mean, "mean_err": self.mean_err}
        values |= {"sigma": self.sigma, "sigma_err": self.sigma_err}
        clean = {k: (v if math.isfinite(v) else None) for k, v in values.items()}
        return {"i": self.i, "j": self.j, "n_pairs": self.n_pairs, "method": self.method, **clean}


def _robust(masses: Array, window: float) -> tuple[float, float]:
    near = masses[np.abs(masses - Z_MASS) < window]
    if len(near) < 2:
        return math.nan, math.nan
    p25, p50, p75 = np.percentile(near, [25, 50, 75])
    return float(p50), float(1.2533 * (p75 - p25) / 1.349 / math.sqrt(len(near)))


def _peak(masses: Array, i: int, j: int, method: str, settings: PeakSettings) -> CategoryPeak:
    n = len(masses)
    if method == "robust":
        mean, err = _robust(masses, settings.robust_window)
        return CategoryPeak(i, j, n, "robust", mean, err)
    fit = fit_mass(masses, "bw-cb", settings.mass_range)
    if not fit.valid:
        return CategoryPeak(i, j, n, "skipped")
    return CategoryPeak(i, j, n, "bw-cb", fit.mean, fit.mean_err, fit.sigma, fit.sigma_err)


def _in_range(masses: Array, settings: PeakSettings) -> Array:
    lo, hi = settings.mass_range
    inside: Array = masses[(masses >= lo) & (masses <= hi)]
    return inside


def category_peaks(
    samples: list[tuple[Array, Array, Array]], n_bins: int, settings: PeakSettings
) -> list[list[CategoryPeak]]:
    """Peaks per (i ≤ j) category for each sample of (mass, i, j); one list per sample.

    Every sample gets the same estimator in a category: BW ⊗ CB if all have
    ``min_fit_pairs`` pairs in the range, robust if all have ``min_pairs``, else skipped.
    """
    out: list[list[CategoryPeak]] = [[] for _ in samples]
    for i in range(n_bins):
        for j in range(i, n_bins):
            masses = [_in_range(m[(a == i) & (b == j)], settings) for m, a, b in samples]
            fewest = min(len(m) for m in masses)
            method = (
                "bw-cb"
                if fewest >= settings.min_fit_pairs
                else "robust"
                if fewest >= settings.min_pairs
                else "skipped"
            )
            for k, m in enumerate(masses):
                peak = CategoryPeak(i, j, len(m), "skipped")
                if method != "skipped":
                    peak = _peak(m, i, j, method, settings)
                out[k].append(peak)
    # A category counts only where every sample's peak was accepted (the data/MC ratio needs both).
    for index in range(len(out[0])):
        if not all(peaks[index].accepted for peaks in out):
            for peaks in out:
                old = peaks[index]
                peaks[index] = CategoryPeak(old.i, old.j, old.n_pairs, "skipped")
    return out
