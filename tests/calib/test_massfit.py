"""Mass-peak fits recover the resolution and peak position they were generated with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from heplearn.calib.massfit import H_MASS, Z_MASS, Z_WIDTH, fit_mass
from heplearn.calib.massfit_plot import plot_mass_fit
from heplearn.errors import ConfigError, DataError


def z_peak(n: int, sigma: float, tail: float = 0.0, seed: int = 1) -> np.ndarray:
    """BW(m_Z, Γ_Z) ⊗ Gauss(σ) masses [GeV]; a fraction ``tail`` loses Exp(2 GeV) (brem)."""
    rng = np.random.default_rng(seed)
    masses = Z_MASS + Z_WIDTH / 2 * rng.standard_cauchy(n) + rng.normal(0.0, sigma, n)
    lossy = rng.random(n) < tail
    masses[lossy] -= rng.exponential(2.0, int(lossy.sum()))
    return masses


def test_bw_cb_recovers_the_resolution_and_peak() -> None:
    fit = fit_mass(z_peak(20_000, 1.5, tail=0.05))
    assert fit.valid
    assert fit.sigma == pytest.approx(1.5, rel=0.10)
    assert fit.mean == pytest.approx(Z_MASS, abs=0.1)
    assert 0 < fit.sigma_err < 0.1 and 0 < fit.mean_err < 0.1
    assert 0.5 < fit.chi2_ndf < 2.0
    assert fit.mass_range == (80.0, 100.0)
    assert fit.n_events == int(np.sum(np.abs(z_peak(20_000, 1.5, tail=0.05) - 90) <= 10))
    assert fit.alpha is not None and fit.n is not None and fit.fraction is None


def test_bw_cb_width_is_small_for_an_almost_pure_breit_wigner() -> None:
    # The BW width is fixed, so only the extra smearing shows up in σ_CB (thesis fig. 9.1).
    narrow = fit_mass(z_peak(20_000, 0.3, seed=2))
    wide = fit_mass(z_peak(20_000, 1.5, seed=2))
    assert narrow.sigma < 0.6
    assert wide.sigma > 3 * narrow.sigma
    assert narrow.mean == pytest.approx(Z_MASS, abs=0.3)


def test_weights_count_like_events() -> None:
    masses = z_peak(10_000, 1.5, seed=3)
    fit = fit_mass(masses, weights=np.full(masses.shape, 2.0))
    plain = fit_mass(masses)
    assert fit.sigma == pytest.approx(plain.sigma, rel=1e-3)
    # Weights of 2 carry the information of one event each: errors are unchanged.
    assert fit.sigma_err == pytest.approx(plain.sigma_err, rel=0.05)


def test_double_gauss_finds_the_narrow_higgs_peak() -> None:
    rng = np.random.default_rng(4)
    n = 20_000
    narrow = rng.random(n) < 0.6
    masses = np.where(narrow, rng.normal(124.8, 1.6, n), rng.normal(H_MASS, 3.0, n))
    fit = fit_mass(masses, model="double-gauss")
    assert fit.valid
    assert fit.sigma == pytest.approx(1.6, rel=0.10)
    assert fit.mean == pytest.approx(124.8, abs=0.1)
    assert fit.fraction == pytest.approx(0.6, abs=0.05)
    assert fit.mass_range == (110.0, 140.0)
    assert 0.5 < fit.chi2_ndf < 2.0


def test_too_few_events_in_the_range_is_a_data_error() -> None:
    masses = np.concatenate([z_peak(10, 1.5), np.full(500, 150.0)])
    with pytest.raises(DataError, match="too few events"):
        fit_mass(masses)


def test_all_nan_unknown_model_and_bad_range_are_refused() -> None:
    with pytest.raises(DataError, match="NaN"):
        fit_mass(np.full(100, np.nan))
    with pytest.raises(ConfigError, match="unknown mass model"):
        fit_mass(z_peak(100, 1.5), model="voigt")
    with pytest.raises(ConfigError, match="range"):
        fit_mass(z_peak(100, 1.5), mass_range=(100.0, 80.0))


def test_as_dict_is_json_with_none_for_other_models_parameters() -> None:
    fit = fit_mass(z_peak(2_000, 1.5))
    out = json.loads(json.dumps(fit.as_dict(), allow_nan=False))
    assert out["model"] == "bw-cb" and out["fraction"] is None
    assert {"mean", "sigma", "mean_err", "sigma_err", "chi2_ndf", "n_events"} <= set(out)


@pytest.mark.parametrize("model", ["bw-cb", "double-gauss"])
def test_plot_writes_png_and_pdf(tmp_path: Path, model: str) -> None:
    masses = z_peak(3_000, 1.5) + (0.0 if model == "bw-cb" else H_MASS - Z_MASS)
    png = plot_mass_fit(masses, fit_mass(masses, model), tmp_path, "peak", "Simulation")
    assert png == tmp_path / "peak.png" and png.stat().st_size > 0
    assert (tmp_path / "peak.pdf").stat().st_size > 0
