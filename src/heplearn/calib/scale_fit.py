"""η-dependent energy scale α_i and extra constant term c_i from Z→ee category peaks.

Scale (thesis eq. 5.13, appendix 9.2): with E_data = (1 + α_i)·E_ref in |η| bin
i, the pair mass m ∝ √(E_1 E_2) moves by √((1 + α_i)(1 + α_j)).  We fit
β_i = ln(1 + α_i) linearly from ln(μ_ij/μ_ij^ref) = (β_i + β_j)/2 over the
accepted categories (exact, where the thesis linearises to (α_i + α_j)/2), with
μ^ref the MC peak of the same category (data/MC scale) or m_Z (absolute).  The
thesis' α is the *correction* E·(1 + α); ours is the *shift*, undone by E/(1 + α).

Resolution (eq. 5.14): the relative mass resolution of a category is
(σ_ij/μ_ij)² = ¼(r_i² + r_j²), r the relative energy resolution.  With MC, the
difference data − MC gives ¼(c_i² + c_j²): the extra constant term c_i that
smears the MC to the data.  Without MC the fit gives r_i of the data itself.

Errors come from the χ² fits' covariance, scaled by √(χ²/ndf) where that exceeds 1
(the PDG scale factor), so a poor fit does not quote too small an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from heplearn.calib.category_fits import CategoryPeak
from heplearn.calib.massfit import Z_MASS
from heplearn.errors import DataError

__all__ = [
    "BinFit",
    "constant_from_variances",
    "scale_from_log_ratios",
    "solve_resolution",
    "solve_scale",
]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class BinFit:
    """Per-bin values and errors of one linear χ² fit over categories."""

    values: Array
    errors: Array
    chi2: float
    ndf: int
    categories: list[tuple[int, int]] = field(default_factory=list)

    @property
    def chi2_ndf(self) -> float:
        return self.chi2 / self.ndf if self.ndf > 0 else math.nan


def _design(pairs: list[tuple[int, int]], n_bins: int, weight: float) -> Array:
    design = np.zeros((len(pairs), n_bins))
    for row, (i, j) in enumerate(pairs):
        design[row, i] += weight
        design[row, j] += weight
    return design


def _linear_fit(
    pairs: list[tuple[int, int]], y: Array, err: Array, n_bins: int, *, weight: float, where: str
) -> BinFit:
    design = _design(pairs, n_bins, weight)
    uncovered = [k for k in range(n_bins) if not design[:, k].any()]
    if uncovered:
        raise DataError(
            f"no accepted category for |η| bin{'s' if len(uncovered) > 1 else ''} "
            + ", ".join(str(k) for k in uncovered),
            where,
            f"{len(pairs)} categories were accepted, none touching that bin",
            "use a larger sample, fewer |η| bins or lower --min-pairs",
        )
    a, b = design / err[:, None], y / err
    covariance = np.linalg.pinv(a.T @ a)
    values = covariance @ a.T @ b
    chi2 = float(np.sum((a @ values - b) ** 2))
    ndf = len(pairs) - n_bins
    scale = math.sqrt(max(1.0, chi2 / ndf)) if ndf > 0 else 1.0
    errors = np.sqrt(np.diag(covariance)) * scale
    return BinFit(values, errors, chi2, ndf, list(pairs))


def solve_scale(
    data: list[CategoryPeak], reference: list[CategoryPeak] | None, n_bins: int, where: str
) -> BinFit:
    """α_i (values) with errors from the accepted categories (eq. 5.13, exact in ln)."""
    used = [k for k, peak in enumerate(data) if peak.accepted]
    pairs = [(data[k].i, data[k].j) for k in used]
    mu = np.array([data[k].mean for k in used])
    var = np.array([(data[k].mean_err / data[k].mean) ** 2 for k in used])
    if reference is not None:
        mu_ref = np.array([reference[k].mean for k in used])
        var = var + np.array([(reference[k].mean_err / reference[k].mean) ** 2 for k in used])
    else:
        mu_ref = np.full(len(used), Z_MASS)
    return scale_from_log_ratios(pairs, np.log(mu / mu_ref), np.sqrt(var), n_bins, where)


def scale_from_log_ratios(
    pairs: list[tuple[int, int]], log_ratio: Array, err: Array, n_bins: int, where: str
) -> BinFit:
    """α_i from ln(μ_ij/μ_ij^ref) = (β_i + β_j)/2, β = ln(1 + α), by linear χ²."""
    fit = _linear_fit(pairs, log_ratio, err, n_bins, weight=0.5, where=where)
    alpha = np.expm1(fit.values)
    return BinFit(alpha, np.exp(fit.values) * fit.errors, fit.chi2, fit.ndf, fit.categories)


def _relative_width(peak: CategoryPeak) -> tuple[float, float]:
    """(σ/μ)² and its error."""
    ratio = peak.sigma / peak.mean
    return ratio**2, 2 * ratio * peak.sigma_err / peak.mean


def solve_resolution(
    data: list[CategoryPeak], reference: list[CategoryPeak] | None, n_bins: int, where: str
) -> BinFit:
    """c_i (with MC: extra constant term) or r_i (without: the data's resolution), eq. 5.14.

    The fit is linear in c_i²; a negative c_i² (data narrower than MC) gives c_i = 0.
    """
    used = [k for k, peak in enumerate(data) if peak.has_width]
    if reference is not None:
        used = [k for k in used if reference[k].has_width]
    pairs = [(data[k].i, data[k].j) for k in used]
    y, err = np.zeros(len(used)), np.zeros(len(used))
    for row, k in enumerate(used):
        y[row], err[row] = _relative_width(data[k])
        if reference is not None:
            y_ref, err_ref = _relative_width(reference[k])
            y[row], err[row] = y[row] - y_ref, math.hypot(err[row], err_ref)
    return constant_from_variances(pairs, y, err, n_bins, where)


def constant_from_variances(
    pairs: list[tuple[int, int]], variance: Array, err: Array, n_bins: int, where: str
) -> BinFit:
    """c_i from the relative mass variances v_ij = ¼(c_i² + c_j²), by linear χ² in c²."""
    fit = _linear_fit(pairs, variance, np.maximum(err, 1e-12), n_bins, weight=0.25, where=where)
    squares = fit.values
    values = np.sqrt(np.maximum(squares, 0.0))
    # δc = δ(c²)/(2c); at c ≈ 0 the error of c is √δ(c²).
    near_zero = values <= np.sqrt(fit.errors)
    errors = np.where(near_zero, np.sqrt(fit.errors), fit.errors / (2 * np.maximum(values, 1e-12)))
    return BinFit(values, errors, fit.chi2, fit.ndf, fit.categories)
