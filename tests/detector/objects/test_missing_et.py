"""Missing transverse momentum: balance, invisible momentum, soft term and significance."""

from __future__ import annotations

import numpy as np
import pytest

from heplearn.detector.objects.final_state import FinalState
from heplearn.detector.objects.missing_et import (
    MetSettings,
    MetTerm,
    missing_et,
    soft_term,
    truth_met,
)

N = 20_000
SIGMA_SOFT = MetSettings().soft_resolution


def no_soft(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(n), np.zeros(n), np.zeros(n)


def two_objects(
    n: int, pt: float, sigma: float, phi: np.ndarray, rng: np.random.Generator
) -> MetTerm:
    """Two back-to-back objects per event, each p_T measured with resolution ``sigma`` [GeV]."""
    event = np.repeat(np.arange(n), 2)
    angles = np.stack([phi, phi + np.pi], axis=1).reshape(-1)
    measured = pt + sigma * rng.standard_normal(2 * n)
    return MetTerm(
        event=event,
        px=measured * np.cos(angles),
        py=measured * np.sin(angles),
        sigma=np.full(2 * n, sigma),
    )


def test_balanced_events_have_small_met_and_chi2_significance() -> None:
    rng = np.random.default_rng(1)
    phi = rng.uniform(-np.pi, np.pi, N)
    met = missing_et(N, [two_objects(N, 45.0, 2.0, phi, rng)], no_soft(N), rng)
    # E_T^miss of a balanced event is resolution only: ≈ σ_soft √(π/2) for a soft-dominated case
    assert np.mean(met.met) == pytest.approx(
        np.sqrt(np.pi / 2) * np.hypot(SIGMA_SOFT, 2.0), rel=0.05
    )
    # a calibrated significance: S² follows χ² with 2 degrees of freedom when nothing is invisible
    assert np.mean(met.significance**2) == pytest.approx(2.0, rel=0.05)
    assert np.mean(met.significance > 10) < 1e-3
    assert np.allclose(met.sumet, 90.0, rtol=0.2)


def test_invisible_momentum_is_recovered_within_resolution() -> None:
    rng = np.random.default_rng(2)
    n = N
    phi = rng.uniform(-np.pi, np.pi, n)
    # one visible electron of 150 GeV (σ 1.5 GeV) recoiling against 150 GeV of invisible p_T
    measured = 150.0 + 1.5 * rng.standard_normal(n)
    term = MetTerm(
        event=np.arange(n),
        px=measured * np.cos(phi),
        py=measured * np.sin(phi),
        sigma=np.full(n, 1.5),
    )
    met = missing_et(n, [term], no_soft(n), rng)
    invisible_x = -150.0 * np.cos(phi)
    pull_x = (met.mpx - invisible_x) / np.sqrt(SIGMA_SOFT**2 + (1.5 * np.cos(phi)) ** 2)
    assert np.mean(pull_x) == pytest.approx(0.0, abs=0.03)
    assert np.std(pull_x) == pytest.approx(1.0, rel=0.03)
    assert np.median(met.met) == pytest.approx(150.0, rel=0.02)
    assert np.median(np.abs(np.angle(np.exp(1j * (met.phi - (phi + np.pi)))))) < 0.1
    # ~150 GeV over a ~9 GeV resolution: far above the thesis' cut at 10
    assert np.median(met.significance) == pytest.approx(150.0 / np.hypot(SIGMA_SOFT, 1.5), rel=0.1)


def test_significance_uses_the_resolution_along_the_met() -> None:
    # the same 40 GeV imbalance is more significant perpendicular to a badly measured jet
    rng = np.random.default_rng(3)
    jet = MetTerm(
        event=np.array([0, 1]),
        px=np.array([200.0, 200.0]),
        py=np.array([0.0, 0.0]),
        sigma=np.array([30.0, 30.0]),
    )
    along = MetTerm(
        event=np.array([0]), px=np.array([-160.0]), py=np.array([0.0]), sigma=np.zeros(1)
    )
    across = MetTerm(
        event=np.array([1]), px=np.array([-200.0]), py=np.array([-40.0]), sigma=np.zeros(1)
    )
    settings = MetSettings(soft_resolution=5.0)
    met = missing_et(2, [jet, along, across], no_soft(2), rng, settings)
    assert met.met == pytest.approx([40.0, 40.0], abs=15.0)
    # V = diag(30² + 5², 5²) in both events: S² = E_x²/925 + E_y²/25
    expected = np.sqrt(met.mpx**2 / 925.0 + met.mpy**2 / 25.0)
    assert met.significance == pytest.approx(expected, rel=1e-9)
    assert met.significance[0] < 2.5
    assert met.significance[1] > 6.0


def test_soft_term_uses_unused_charged_central_tracks() -> None:
    def row(pdgid: int, px: float, py: float, pz: float, charge: float) -> list[float]:
        return [pdgid, px, py, pz, float(np.sqrt(px**2 + py**2 + pz**2)), charge]

    rows = np.array(
        [
            row(211, 3.0, 0.0, 0.0, 1.0),  # counted
            row(211, 0.0, 0.3, 0.0, -1.0),  # below 0.5 GeV
            row(22, 0.0, 5.0, 0.0, 0.0),  # neutral
            row(211, 0.0, -2.0, 100.0, 1.0),  # |η| > 2.5
            row(211, 7.0, 0.0, 0.0, 1.0),  # used by an object
        ]
    )
    fs = FinalState.from_events(
        [
            dict(
                zip(("pdgid", "px", "py", "pz", "e", "charge"), rows.T, strict=True),
                invisible_px=3.0,
                invisible_py=-4.0,
            )
        ]
    )
    used = np.array([False, False, False, False, True])
    px, py, sumet = soft_term(fs, used)
    assert (px[0], py[0], sumet[0]) == pytest.approx((3.0, 0.0, 3.0))
    assert truth_met(fs)[0] == pytest.approx(5.0)
