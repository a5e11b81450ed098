"""Data/MC scale and extra smearing of one Z→ee category by a binned template likelihood.

Beside the BW ⊗ CB peaks of eq. 5.13/5.14 (``category_fits``), the MC pairs
themselves are the template (as IJazZ does): each MC pair of mass m becomes a
Gaussian at k·m of relative width √v (v = ¼(c_i² + c_j²): independent smearing of
both energies by c moves m ∝ √(E₁E₂) by ½√(c_i² + c_j²)), plus a fixed 0.05 GeV
kernel that keeps the likelihood smooth (it widens the model by 0.05² GeV², which
biases c by < 0.01 % at c = 1 %; the MC masses are first binned in 0.02 GeV, whose
spread, 0.02²/12 GeV², is smaller still).  The data histogram (0.25 GeV bins) is fitted
for (ln k, v) by a multinomial likelihood, so the whole shape counts, not only the
peak.  The template's own statistical spread is included by scaling the errors by
√(1 + N_data/N_MC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

__all__ = ["TemplateFit", "fit_template"]

Array = np.ndarray[Any, Any]

_KERNEL_GEV = 0.05
_BIN_GEV = 0.25
#: MC pairs are binned this finely first (≪ the resolution): the cost no longer grows with N_MC.
_TEMPLATE_BIN_GEV = 0.02


@dataclass(frozen=True)
class TemplateFit:
    """ln k (data/MC scale of the pair mass), v (extra relative mass variance), errors."""

    ln_scale: float
    ln_scale_err: float
    variance: float
    variance_err: float
    n_data: int
    n_mc: int
    valid: bool


def _expected(mc: Array, weight: Array, edges: Array, ln_scale: float, variance: float) -> Array:
    centre = mc * math.exp(ln_scale)
    width = np.sqrt(centre**2 * max(variance, 0.0) + _KERNEL_GEV**2)
    cdf = ndtr((edges[None, :] - centre[:, None]) / width[:, None])
    counts: Array = weight @ np.diff(cdf, axis=1)
    return counts


def fit_template(data: Array, mc: Array, mass_range: tuple[float, float]) -> TemplateFit:
    """Fit the data masses with the MC masses scaled by k and smeared by √v (both in range)."""
    from iminuit import Minuit

    lo, hi = mass_range
    n_bins = max(round((hi - lo) / _BIN_GEV), 10)
    edges = np.linspace(lo, hi, n_bins + 1)
    observed, _ = np.histogram(data, edges)
    # MC pairs a few per cent outside the range can be scaled into it.
    fine = np.arange(lo * 0.93, hi * 1.07 + _TEMPLATE_BIN_GEV, _TEMPLATE_BIN_GEV)
    counts, _ = np.histogram(mc, fine)
    filled = counts > 0
    template, weight = ((fine[1:] + fine[:-1]) / 2)[filled], counts[filled].astype(float)
    n_mc = int(counts.sum())

    def nll(ln_scale: float, variance: float) -> float:
        expected = _expected(template, weight, edges, ln_scale, variance)
        p = np.maximum(expected / max(expected.sum(), 1e-300), 1e-300)
        return float(-np.sum(observed * np.log(p)))

    start = math.log(max(np.median(data), 1.0) / max(np.median(mc), 1.0))
    minuit = Minuit(nll, ln_scale=start, variance=5e-5)
    minuit.errordef = Minuit.LIKELIHOOD
    minuit.limits["ln_scale"] = (-0.2, 0.2)
    minuit.limits["variance"] = (0.0, 0.01)
    minuit.migrad()
    if not minuit.valid:
        minuit.migrad()
    minuit.hesse()
    n_data = int(observed.sum())
    inflate = math.sqrt(1.0 + n_data / max(n_mc, 1))
    return TemplateFit(
        ln_scale=float(minuit.values["ln_scale"]),
        ln_scale_err=float(minuit.errors["ln_scale"]) * inflate,
        variance=float(minuit.values["variance"]),
        variance_err=float(minuit.errors["variance"]) * inflate,
        n_data=n_data,
        n_mc=n_mc,
        valid=bool(minuit.valid),
    )
