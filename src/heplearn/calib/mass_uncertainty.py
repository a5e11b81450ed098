"""σ_M of a Z→ee pair from the clusters' σ_E, and BW ⊗ CB fits of the mass in σ_M quintiles.

With M² = E1·E2·k (k from the angles, eq. 9.4 of the DeepCalo thesis), error
propagation gives ∂M/∂E_i = M/(2E_i), so

    σ_M / M = ½ · sqrt((σ_E1/E1)² + (σ_E2/E2)²).

The thesis' eq. 9.6 drops the ½ of the square root's derivative (its σ_M is twice
this).  Sorting the pairs by σ_M and fitting each fifth (thesis section 5.7, figure
5.14) tests σ_E as an uncertainty: the peak must narrow where σ_M is small.  On
simulation the mass pull (M − M_truth)/σ_M per quintile says whether σ_M has the
right size (thesis figure 5.13).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from heplearn.calib.massfit import MassFit, fit_mass
from heplearn.errors import DataError
from heplearn.stats.bootstrap import bootstrap
from heplearn.stats.spread import eiqr

__all__ = ["N_QUANTILES", "pair_mass_sigma", "sigma_m_quantile_fits"]

Array = np.ndarray[Any, Any]

#: The thesis splits the pairs into five σ_M bins of 20 % each.
N_QUANTILES = 5


def pair_mass_sigma(mass: Array, e1: Array, e2: Array, sigma1: Array, sigma2: Array) -> Array:
    """σ_M [GeV] of each pair from the energies and σ_E of its two clusters (NaN if E ≤ 0)."""
    e1, e2 = np.asarray(e1, np.float64), np.asarray(e2, np.float64)
    valid = (e1 > 0) & (e2 > 0)
    relative = np.full(len(e1), np.nan)
    relative[valid] = 0.5 * np.hypot(sigma1[valid] / e1[valid], sigma2[valid] / e2[valid])
    return np.asarray(np.asarray(mass, np.float64) * relative)


def _fit(mass: Array) -> MassFit | str:
    try:
        return fit_mass(mass, "bw-cb")
    except DataError as err:
        return err.message


def _pull_width(pull: Array, n_boot: int) -> dict[str, float | None]:
    """eIQR of the mass pulls with its bootstrap error (None when too few)."""
    if len(pull) < 20:
        return {"pull_width": None, "pull_width_err": None}
    width, error = bootstrap(eiqr, pull, n=n_boot, seed=2)
    return {"pull_width": width, "pull_width_err": error if math.isfinite(error) else None}


def sigma_m_quantile_fits(
    mass: Array,
    sigma_m: Array,
    *,
    true_mass: Array | None = None,
    n_bins: int = N_QUANTILES,
    n_boot: int = 100,
) -> dict[str, Any]:
    """BW ⊗ CB fit of the pairs in each σ_M quantile (equal counts), σ_CB with its error.

    ``true_mass`` (simulation) adds the eIQR of (M − M_truth)/σ_M per bin, which is 1
    when σ_M has the right size.  ``rising`` says whether σ_CB grows from bin to bin
    (only bins whose fit converged count).
    """
    finite = np.isfinite(sigma_m) & np.isfinite(mass)
    mass, sigma_m = mass[finite], sigma_m[finite]
    truth = None if true_mass is None else np.asarray(true_mass, np.float64)[finite]
    if len(mass) < n_bins * 20:
        return {"available": False, "reason": f"{len(mass)} pairs with a σ_M: too few to split"}
    edges = np.quantile(sigma_m, np.linspace(0, 1, n_bins + 1))
    index = np.clip(np.searchsorted(edges[1:-1], sigma_m, side="right"), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        inside = index == b
        row: dict[str, Any] = {
            "sigma_m": [float(edges[b]), float(edges[b + 1])],
            "median_sigma_m": float(np.median(sigma_m[inside])),
            "n": int(inside.sum()),
        }
        fit = _fit(mass[inside])
        if isinstance(fit, MassFit):
            row |= {"mu_cb": fit.mean, "mu_cb_err": fit.mean_err}
            row |= {"sigma_cb": fit.sigma, "sigma_cb_err": fit.sigma_err, "valid": fit.valid}
        else:
            row["error"] = fit
        if truth is not None:
            row |= _pull_width((mass[inside] - truth[inside]) / sigma_m[inside], n_boot)
        rows.append(row)
    widths = [row["sigma_cb"] for row in rows if "sigma_cb" in row]
    rising = len(widths) >= 2 and bool(np.all(np.diff(widths) > 0))
    return {"available": True, "n_pairs": len(mass), "bins": rows, "rising": rising}
