"""α_i and c_i from category peaks and templates: synthetic masses with known shifts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heplearn.calib.category_fits import CategoryPeak
from heplearn.calib.massfit import Z_MASS, Z_WIDTH
from heplearn.calib.scale_fit import (
    constant_from_variances,
    scale_from_log_ratios,
    solve_resolution,
    solve_scale,
)
from heplearn.calib.template_fit import fit_template
from heplearn.errors import DataError

ALPHA = np.array([0.004, -0.008, 0.02])
C = np.array([0.015, 0.025, 0.02])
PAIRS = [(i, j) for i in range(3) for j in range(i, 3)]


def _z_masses(n: int, rng: np.random.Generator, resolution: float = 0.02) -> np.ndarray:
    """BW(m_Z, Γ_Z) ⊗ Gaussian(relative σ) masses."""
    bw = Z_MASS + 0.5 * Z_WIDTH * np.tan(np.pi * (rng.uniform(size=n) - 0.5))
    return bw * (1 + resolution * rng.standard_normal(n))


def test_exact_peaks_give_the_alphas_and_constant_terms_back() -> None:
    mc = [CategoryPeak(i, j, 1000, "bw-cb", 90.0 + i, 0.05, 1.8, 0.05) for i, j in PAIRS]
    data = []
    for peak in mc:
        i, j = peak.i, peak.j
        mean = peak.mean * math.sqrt((1 + ALPHA[i]) * (1 + ALPHA[j]))
        variance = (peak.sigma / peak.mean) ** 2 + 0.25 * (C[i] ** 2 + C[j] ** 2)
        data.append(CategoryPeak(i, j, 1000, "bw-cb", mean, 0.05, mean * math.sqrt(variance), 0.05))
    scale = solve_scale(data, mc, 3, "test")
    np.testing.assert_allclose(scale.values, ALPHA, atol=1e-12)
    assert scale.chi2 < 1e-12 and scale.ndf == 3
    np.testing.assert_allclose(solve_resolution(data, mc, 3, "test").values, C, atol=1e-9)


def test_a_wrong_reference_is_seen_in_the_chi2() -> None:
    # Category means that no set of α_i can explain: χ²/ndf must be large.
    ratios = np.array([0.0, 0.01, 0.0, -0.01, 0.0, 0.01])
    fit = scale_from_log_ratios(PAIRS, ratios, np.full(6, 1e-4), 3, "test")
    assert fit.chi2_ndf > 100


def test_a_bin_without_categories_is_one_clear_error() -> None:
    with pytest.raises(DataError, match=r"no accepted category for \|η\| bin 2"):
        constant_from_variances([(0, 0), (0, 1)], np.ones(2), np.ones(2), 3, "test")


def test_template_recovers_scale_and_smearing_of_one_category() -> None:
    rng = np.random.default_rng(3)
    mc = _z_masses(40_000, rng)
    data = _z_masses(20_000, rng) * 1.012 * (1 + 0.015 * rng.standard_normal(20_000))
    fit = fit_template(data[(data > 80) & (data < 100)], mc, (80.0, 100.0))
    assert fit.valid
    assert abs(fit.ln_scale - math.log(1.012)) < max(3 * fit.ln_scale_err, 5e-4)
    assert abs(fit.variance - 0.015**2) < 3 * fit.variance_err
    # It must see a difference: an unsmeared, unshifted sample gives ≈ 0 for both.
    same = fit_template(_z_masses(20_000, rng), mc, (80.0, 100.0))
    assert abs(same.ln_scale) < 3 * same.ln_scale_err and same.variance < 0.015**2 / 2
