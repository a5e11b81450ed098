"""Asimov significance, score thresholds and binned significance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from heplearn.search.significance import (
    asimov_z,
    best_threshold,
    binned_significance,
    count,
)


def _cowan_direct(s: float, b: float, sigma_rel: float) -> float:
    """The textbook formula, written out literally (fine where nothing cancels)."""
    var = (sigma_rel * b) ** 2
    first = (s + b) * math.log((s + b) * (b + var) / (b * b + (s + b) * var))
    second = b * b / var * math.log(1 + var * s / (b * (b + var)))
    return math.sqrt(2 * (first - second))


def test_asimov_matches_thesis_formula() -> None:
    s, b = 10.0, 5.0
    expected = math.sqrt(2 * ((s + b) * math.log(1 + s / b) - s))
    assert asimov_z(s, b) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(3.6, abs=0.01)


@pytest.mark.parametrize(("s", "b"), [(0.5, 1e6), (1e-3, 10.0), (1e-7, 1.0), (3.0, 1e4)])
def test_asimov_tends_to_s_over_sqrt_b_for_small_signal(s: float, b: float) -> None:
    # Next order: Z ≈ s/√b (1 − s/(6b)); the relative difference is of order s/b.
    assert asimov_z(s, b) == pytest.approx(s / math.sqrt(b), rel=max(s / b, 1e-12))


def test_asimov_with_background_uncertainty() -> None:
    s, b = 20.0, 50.0
    plain = asimov_z(s, b)
    with_sigma = asimov_z(s, b, 0.1)
    assert with_sigma == pytest.approx(_cowan_direct(s, b, 0.1), rel=1e-10)
    assert with_sigma < plain
    # Monotone in σ_b and continuous at σ_b → 0.
    zs = [asimov_z(s, b, r) for r in (0.0, 1e-9, 1e-4, 0.05, 0.1, 0.3, 1.0)]
    assert all(a >= c for a, c in itertools.pairwise(zs))
    assert zs[1] == pytest.approx(plain, rel=1e-9)
    assert zs[2] == pytest.approx(plain, rel=1e-3)


def test_asimov_large_uncertainty_limit() -> None:
    # For s ≪ b the significance with uncertainty is s/√(b + σ²).
    s, b, rel = 1.0, 1e4, 0.1
    assert asimov_z(s, b, rel) == pytest.approx(s / math.sqrt(b + (rel * b) ** 2), rel=1e-3)


def test_asimov_guards_and_arrays() -> None:
    assert asimov_z(5.0, 0.0) == 0.0
    assert asimov_z(5.0, -1.0) == 0.0
    assert asimov_z(0.0, 10.0) == 0.0
    assert asimov_z(-2.0, 10.0) == 0.0
    z = asimov_z(np.array([1.0, 2.0, 4.0]), 100.0, 0.1)
    assert isinstance(z, np.ndarray) and z.shape == (3,)
    assert np.all(np.diff(z) > 0)
    with pytest.raises(ValueError, match="sigma_b_rel"):
        asimov_z(1.0, 1.0, -0.1)


def _scores(rng: np.random.Generator, n_sig: int, n_bkg: int) -> tuple[np.ndarray, ...]:
    sig = np.r_[np.ones(n_sig, bool), np.zeros(n_bkg, bool)]
    scores = np.where(sig, rng.beta(5, 1, sig.size), rng.beta(1, 5, sig.size))
    weights = np.where(sig, 50.0 / n_sig, 5000.0 / n_bkg)
    return scores, weights, sig


def test_best_threshold_transfers_to_held_out_events() -> None:
    rng = np.random.default_rng(1)
    val = _scores(rng, 2000, 20000)
    test = _scores(rng, 2000, 20000)
    chosen = best_threshold(*val, sigma_b_rel=0.1)
    assert 0.5 < chosen.threshold < 1.0
    no_cut = count(np.ones(val[0].size, bool), val[1], val[2], 0.1)
    assert chosen.z > 3 * no_cut.z
    held_out = count(test[0] >= chosen.threshold, test[1], test[2], 0.1)
    assert held_out.z == pytest.approx(chosen.z, rel=0.25)


def test_best_threshold_refuses_nearly_empty_background() -> None:
    # Above 0.9 there are only 3 background events: a bigger Z there is not allowed.
    scores = np.r_[np.full(100, 0.95), np.full(3, 0.92), np.linspace(0.0, 0.8, 1000)]
    sig = np.r_[np.ones(100, bool), np.zeros(1003, bool)]
    weights = np.r_[np.full(100, 0.1), np.full(3, 0.01), np.full(1000, 1.0)]
    result = best_threshold(scores, weights, sig, min_background=1.0, min_background_events=5)
    assert result.n_background_events >= 5 and result.b >= 1.0
    loose = best_threshold(
        scores, weights, sig, min_background=0.0, min_background_events=1, min_effective_events=0
    )
    assert loose.threshold > 0.9 and loose.z > result.z


def test_best_threshold_refuses_a_region_resting_on_one_heavy_event() -> None:
    """16 background events above 0.9 (as the issue's XGBoost selection), two of weight 30:
    the raw count passes, the effective number (Σw)²/Σw² = 74²/1814 ≈ 3 does not."""
    scores = np.r_[np.full(100, 0.95), np.full(16, 0.92), np.linspace(0.0, 0.89, 2000)]
    sig = np.r_[np.ones(100, bool), np.zeros(2016, bool)]
    weights = np.r_[np.full(100, 2.0), 30.0, 30.0, np.full(14, 1.0), np.full(2000, 20.0)]
    heavy = best_threshold(scores, weights, sig, 0.1, min_effective_events=0)
    assert heavy.threshold > 0.9 and heavy.n_background_events == 16
    result = best_threshold(scores, weights, sig, 0.1)
    assert result.threshold < 0.9
    background = (scores >= result.threshold) & ~sig
    n_eff = weights[background].sum() ** 2 / (weights[background] ** 2).sum()
    assert n_eff >= 5


def test_binned_significance_merges_empty_bins_and_beats_one_bin() -> None:
    rng = np.random.default_rng(2)
    scores, weights, sig = _scores(rng, 2000, 20000)
    binned = binned_significance(scores, weights, sig, 0.1, bins=20)
    single = best_threshold(scores, weights, sig, 0.1).z
    assert np.isfinite(binned)
    # Independent bins carry about as much as the best single cut (more shape, per-bin σ_b).
    assert 0.8 * single < binned < 1.5 * single
    everything = count(np.ones(scores.size, bool), weights, sig, 0.1).z
    assert binned_significance(scores, weights, sig, 0.1, bins=1) == pytest.approx(everything)
    # Signal alone in the top bin (no background there): merged, so Z stays finite.
    scores2 = np.r_[np.full(10, 0.99), rng.uniform(0, 0.5, 1000)]
    sig2 = np.r_[np.ones(10, bool), np.zeros(1000, bool)]
    z2 = binned_significance(scores2, np.ones(1010), sig2, bins=10)
    assert 0 < z2 < 10 / math.sqrt(5)
