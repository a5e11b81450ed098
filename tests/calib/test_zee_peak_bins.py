"""Binned Z peak fits on synthetic pairs: a scale set in some bins is found there and only there."""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.calib.massfit import Z_MASS, Z_WIDTH
from heplearn.calib.zee_pairs import ZeePairs
from heplearn.calib.zee_peak_bins import MU_BINS, PeakFitSettings, et_bins, fit_peaks

Array = np.ndarray[Any, Any]


def _pairs(n: int, seed: int) -> tuple[ZeePairs, Array, Array]:
    """n pairs (rows 2k, 2k+1): BW ⊗ Gauss(1.5 GeV) masses, ⟨μ⟩ 5–45 per event, |η| per cluster."""
    rng = np.random.default_rng(seed)
    mass = Z_MASS + 0.5 * Z_WIDTH * rng.standard_cauchy(n) + rng.normal(0, 1.5, n)
    mu = np.repeat(rng.uniform(5, 45, n), 2)
    abs_eta = rng.uniform(0, 2.4, 2 * n)
    first, second = np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2)
    pairs = ZeePairs(first, second, (abs_eta[first], abs_eta[second]), mass)
    return pairs, mu, abs_eta


def test_a_scale_in_high_pileup_events_shows_only_in_those_bins() -> None:
    pairs, mu, abs_eta = _pairs(6000, 1)
    high = mu[pairs.first] >= 30
    scaled = np.where(high, 1.01, 1.0) * pairs.mass  # +1 % where ⟨μ⟩ ≥ 30
    bins = {"mu": (mu, MU_BINS), "abs_eta": (abs_eta, (0.0, 1.2, 2.4))}
    peaks = fit_peaks(pairs, {"e_acc": scaled}, bins, PeakFitSettings(min_pairs=200), "data")
    rows = peaks.methods["e_acc"]["binned"]["mu"]
    fitted = {tuple(r["bin"]): r for r in rows if "mean" in r}
    low_bins = [r for b, r in fitted.items() if b[1] <= 30]
    high_bins = [r for b, r in fitted.items() if b[0] >= 30]
    assert len(low_bins) == 3 and len(high_bins) == 2  # 0–10 … 20–30 and 30–40, 40–50
    for row in low_bins:
        assert abs(row["mean"] - Z_MASS) < 3 * row["mean_err"] + 0.05, row
    for row in high_bins:
        assert abs(row["mean"] - 1.01 * Z_MASS) < 3 * row["mean_err"] + 0.05, row
    # An empty bin (⟨μ⟩ > 50: none) is skipped and named, not fitted.
    assert "data e_acc mu 50–300: 0 pairs (< 200)" in peaks.skipped
    assert rows[-1] == {"bin": [50.0, 300.0], "n_pairs": 0, "skipped": "0 pairs in range (< 200)"}
    # A pair counts once in each |η| bin one of its clusters is in: the two bins share pairs.
    counts = [r["n_pairs"] for r in peaks.methods["e_acc"]["binned"]["abs_eta"]]
    in_range = int(((scaled >= 80) & (scaled <= 100)).sum())
    assert in_range < sum(counts) < 2 * in_range
    assert peaks.methods["e_acc"]["inclusive"]["n_pairs"] == in_range


def test_et_bins_start_at_the_pair_cut() -> None:
    assert et_bins(20.0) == (20.0, 40.0, 60.0, 100.0, 1.0e4)
    assert et_bins(45.0) == (45.0, 60.0, 100.0, 1.0e4)
