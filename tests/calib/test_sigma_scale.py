"""σ_M of a pair (error propagation), mass fits in σ_M quintiles, and the per-bin σ_E rescaling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from heplearn.calib.mass_uncertainty import pair_mass_sigma, sigma_m_quantile_fits
from heplearn.calib.massfit import Z_MASS, Z_WIDTH
from heplearn.calib.sigma_scale import SigmaScale, pull_width_table
from heplearn.detector.calorimeter.kinematics import cluster_pair_mass
from heplearn.errors import DataError
from heplearn.stats.spread import eiqr


def _pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    energy = rng.uniform(30, 120, 2 * n)
    eta = rng.uniform(-2.4, 2.4, 2 * n)
    phi = rng.uniform(-np.pi, np.pi, 2 * n)
    return energy, eta, phi


def test_sigma_m_is_the_propagated_energy_errors() -> None:
    rng = np.random.default_rng(4)
    energy, eta, phi = _pair(rng, 2000)
    i, j = np.arange(0, 4000, 2), np.arange(1, 4000, 2)
    sigma = 0.03 * energy
    mass = cluster_pair_mass(energy, eta, phi, i, j)
    sigma_m = pair_mass_sigma(mass, energy[i], energy[j], sigma[i], sigma[j])
    # Numerical derivatives ∂M/∂E_k, added in quadrature.
    step = 1e-4 * energy
    grads = []
    for rows in (i, j):
        shifted = energy.copy()
        shifted[rows] += step[rows]
        grads.append((cluster_pair_mass(shifted, eta, phi, i, j) - mass) / step[rows])
    expected = np.hypot(grads[0] * sigma[i], grads[1] * sigma[j])
    np.testing.assert_allclose(sigma_m, expected, rtol=1e-3)
    # 3 % on each energy: σ_M/M = ½·√2·3 % ≈ 2.1 %, and smeared masses spread by σ_M.
    np.testing.assert_allclose(sigma_m / mass, 0.5 * np.sqrt(2) * 0.03, rtol=1e-9)
    smeared = energy * (1 + 0.03 * rng.standard_normal((400, 2 * 2000)))
    spread = np.std([cluster_pair_mass(e, eta, phi, i, j) for e in smeared], axis=0)
    assert np.median(spread / sigma_m) == pytest.approx(1.0, abs=0.05)


def _z_pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    true_mass = Z_MASS + 0.5 * Z_WIDTH * np.tan(np.pi * (rng.random(n) - 0.5))
    sigma_m = rng.uniform(0.8, 4.0, n)
    return true_mass + sigma_m * rng.standard_normal(n), sigma_m, true_mass


def test_the_z_peak_narrows_where_sigma_m_is_small() -> None:
    rng = np.random.default_rng(1)
    mass, sigma_m, true_mass = _z_pairs(rng, 12000)
    result = sigma_m_quantile_fits(mass, sigma_m, true_mass=true_mass, n_boot=20)
    bins = result["bins"]
    assert result["available"] and result["rising"] and len(bins) == 5
    for row in bins:
        # The Crystal Ball's σ is the σ_M of the pairs it holds (a Gaussian smearing here).
        assert row["sigma_cb"] == pytest.approx(row["median_sigma_m"], rel=0.15)
        assert row["pull_width"] == pytest.approx(1.0, abs=0.1)
    assert bins[-1]["sigma_cb"] - bins[0]["sigma_cb"] > 5 * np.hypot(
        bins[-1]["sigma_cb_err"], bins[0]["sigma_cb_err"]
    )
    # A σ_M that says nothing of the pair's resolution gives the same width in every bin.
    blind = sigma_m_quantile_fits(mass, rng.permutation(sigma_m), n_boot=2)["bins"]
    assert abs(blind[-1]["sigma_cb"] - blind[0]["sigma_cb"]) < 0.25


def _clusters(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """|η|, E_T, the true σ_E and a predicted σ_E wrong by ×2 in the barrel, ×0.6 beyond."""
    abs_eta = rng.uniform(0, 2.5, n)
    et = rng.uniform(20, 80, n)
    true_sigma = 0.1 * np.sqrt(et * np.cosh(abs_eta)) + 0.01 * et
    wrong = np.where(abs_eta < 1.37, 2.0, 0.6) * (1 + 0.5 * (et > 40))
    residual = true_sigma * rng.standard_normal(n)
    return abs_eta, et, residual, true_sigma * wrong


def test_the_rescaling_gives_unit_pulls_in_every_bin_of_new_clusters(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    abs_eta, et, residual, sigma = _clusters(rng, 40000)
    fit, check = np.arange(20000), np.arange(20000, 40000)
    scale = SigmaScale.fit(residual[fit] / sigma[fit], abs_eta[fit], et[fit], "test", n_boot=20)
    path = tmp_path / "sigma_scale.json"
    path.write_text(json.dumps(scale.as_dict()))
    loaded = SigmaScale.load(path)
    assert loaded is not None
    np.testing.assert_array_equal(loaded.factors, scale.factors)
    rescaled = loaded.apply(sigma[check], abs_eta[check], et[check])
    after = pull_width_table(residual[check] / rescaled, abs_eta[check], et[check], n_boot=20)
    before = pull_width_table(residual[check] / sigma[check], abs_eta[check], et[check], n_boot=2)
    filled_after = [row["width"] for row in after if row["n"] > 500]
    filled_before = [row["width"] for row in before if row["n"] > 500]
    assert len(filled_after) >= 10
    assert all(0.9 <= w <= 1.1 for w in filled_after), filled_after
    assert not any(0.9 <= w <= 1.1 for w in filled_before), filled_before


def test_sparse_bins_take_the_factorised_width_of_their_slice_and_column() -> None:
    rng = np.random.default_rng(3)
    abs_eta, et, residual, sigma = _clusters(rng, 3000)
    et[:5] = 500.0  # five clusters above 100 GeV: a column too sparse for its own factor
    pull = residual / sigma
    scale = SigmaScale.fit(pull, abs_eta, et, "test", n_boot=2)
    high = scale.et_edges.index(100.0)
    assert {row[high] for row in scale.sources} == {"abs_eta slice"}
    assert scale.counts.sum() == 3000
    assert scale.factors[0, high] == pytest.approx(eiqr(pull[abs_eta < 0.6]))
    # The crack (≈ 60 clusters per E_T bin): slice × column / inclusive, which follows a
    # mis-scaling that is a product of an |η| and an E_T factor, as here (not exactly:
    # the core width of a mixture of widths is not their product).
    crack = scale.abs_eta_edges.index(1.37)
    assert scale.sources[crack][2] == "abs_eta slice x E_T column"
    assert scale.counts[crack][2] < 100
    in_crack, wide_et = (abs_eta >= 1.37) & (abs_eta < 1.52), (et >= 40) & (et < 60)
    expected = eiqr(pull[in_crack]) * eiqr(pull[wide_et]) / eiqr(pull)
    assert scale.factors[crack, 2] == pytest.approx(expected)
    true_factor = 1 / (0.6 * 1.5)  # _clusters: σ ×0.6 beyond the barrel, ×1.5 above 40 GeV
    assert scale.factors[crack, 2] == pytest.approx(true_factor, rel=0.15)
    assert abs(scale.factors[crack, 2] - true_factor) < abs(eiqr(pull[in_crack]) - true_factor)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[1, 2]", "JSON list"),
        ('{"abs_eta_edges": [0, 1]}', "KeyError"),
        (
            '{"abs_eta_edges": [0, 2.5], "et_edges": [0, 1e4], "factors": [[-1]], '
            '"errors": [[0.1]], "counts": [[5]], "sources": [["bin"]], "fitted_on": "x"}',
            "finite positive",
        ),
    ],
)
def test_a_damaged_sigma_scale_file_is_one_error(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "sigma_scale.json"
    path.write_text(text)
    with pytest.raises(DataError, match=why) as caught:
        SigmaScale.load(path)
    assert "\n" not in caught.value.message
