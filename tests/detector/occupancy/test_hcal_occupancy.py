"""The HCAL occupancy model: η dependence, pileup, binomial statistics, responses, runs."""

from __future__ import annotations

import numpy as np
import pytest

from heplearn.detector.occupancy.hcal import hcal_valid_mask, row_of_ieta, subdetector_map
from heplearn.detector.occupancy.hcal_occupancy import (
    PILEUP_PER_LUMI,
    DetectorConditions,
    RunPlan,
    hit_probability,
    hit_rate_per_interaction,
    sample_counts,
)

VALID = hcal_valid_mask()


def ring_mean(values: np.ndarray, ieta: int, depth: int = 1) -> float:
    ring = values[row_of_ieta(ieta), :, depth - 1]
    return float(ring[VALID[row_of_ieta(ieta), :, depth - 1]].mean())


def test_pileup_per_luminosity_is_cms_like() -> None:
    # 80 mb, 2400 bunches at 11.245 kHz: ≈ 30 interactions per 1e34 cm^-2 s^-1.
    assert abs(PILEUP_PER_LUMI - 29.6) < 0.1


def test_occupancy_rises_towards_forward_eta_and_is_symmetric() -> None:
    rate = hit_rate_per_interaction()
    assert np.all(rate[VALID] > 0) and np.all(rate[~VALID] == 0)
    central, barrel_end, endcap, forward = (ring_mean(rate, i) for i in (1, 15, 25, 38))
    assert central < barrel_end < endcap < forward
    np.testing.assert_allclose(rate, rate[::-1], rtol=1e-12)  # ieta ↔ −ieta mirror


def test_occupancy_rises_with_luminosity() -> None:
    gains = np.ones(VALID.shape)
    p = hit_probability(np.array([0.0, 1.0, 2.0]), gains, 0.005)
    assert np.all(
        p[0][VALID] == pytest.approx(1 - 0.995 * np.exp(-hit_rate_per_interaction()[VALID]))
    )
    assert np.all(p[1][VALID] > p[0][VALID]) and np.all(p[2][VALID] > p[1][VALID])
    assert np.all(p[:, ~VALID] == 0)
    # Every channel sees enough hits at nominal conditions for a dead channel to show.
    assert p[1][VALID].min() * 1000 > 10


def test_counts_follow_binomial_statistics() -> None:
    """Many lumisections at fixed conditions: mean pulls ~ N(0, 1), variance = n p (1 − p)."""
    rng = np.random.default_rng(11)
    n_maps, n_events = 250, 2000
    p = hit_probability(np.full(n_maps, 1.5), DetectorConditions().gains(0), 0.005)
    counts = sample_counts(rng, np.full(n_maps, n_events), p)
    assert counts.dtype == np.float32 and np.all(counts[:, ~VALID] == 0)
    expected = n_events * p[0][VALID]
    mean = counts[:, VALID].mean(axis=0)
    pulls = (mean - expected) / np.sqrt(expected * (1 - p[0][VALID]) / n_maps)
    assert abs(pulls.mean()) < 0.05 and pulls.std() == pytest.approx(1.0, abs=0.05)
    variance = counts[:, VALID].var(axis=0, ddof=1)
    ratio = variance / (expected * (1 - p[0][VALID]))
    assert ratio.mean() == pytest.approx(1.0, abs=0.02)
    # Low-occupancy channels are nearly Poisson: variance/mean = 1 − p > 0.95.
    low = p[0][VALID] < 0.05
    dispersion = (variance[low] / mean[low]).mean()
    assert dispersion == pytest.approx(1 - p[0][VALID][low].mean(), abs=0.01)
    assert dispersion > 0.95


def test_channel_response_is_fixed_per_detector_seed() -> None:
    one = DetectorConditions(detector_seed=4, response_spread=0.06).gains(0)
    np.testing.assert_array_equal(one, DetectorConditions(detector_seed=4).gains(0))
    other = DetectorConditions(detector_seed=5).gains(0)
    assert not np.allclose(one, other)
    assert one[VALID].std() == pytest.approx(0.06, rel=0.1)
    assert one[VALID].mean() == pytest.approx(1.0, abs=0.005)


def test_responses_drift_slowly_across_runs() -> None:
    detector = DetectorConditions(drift_per_run=0.002, darkening_per_run=0.001)
    first, later = detector.gains(0), detector.gains(20)
    change = later / first - 1
    hb = subdetector_map() == 1
    # Random per-channel slopes: σ ≈ 0.002 × 20 runs, no coherent shift in HB.
    assert change[hb].std() == pytest.approx(0.04, rel=0.1)
    assert abs(change[hb].mean()) < 0.003
    # Forward HE darkens: the last HE ring lost ≈ 2 % on average.
    edge = change[row_of_ieta(28)][subdetector_map()[row_of_ieta(28)] == 2]
    assert edge.mean() < -0.012
    np.testing.assert_allclose(detector.gains(3), detector.gains(3))


def test_runs_decay_in_luminosity_and_do_not_depend_on_the_map_range() -> None:
    plan = RunPlan(seed=3, lumisections_per_run=50, events_per_ls=(1000, 4000))
    whole = plan.conditions(0, 200)
    part = plan.conditions(70, 130)
    np.testing.assert_array_equal(whole.lumi[70:130], part.lumi)
    np.testing.assert_array_equal(whole.n_events[70:130], part.n_events)
    np.testing.assert_array_equal(whole.run[70:130], part.run)
    assert list(whole.lumisection[48:52]) == [49, 50, 1, 2]
    runs = np.unique(whole.run)
    assert len(runs) == 4 and np.all(np.diff(runs) > 0)
    for run in runs:
        lumi = whole.lumi[whole.run == run]
        n = whole.n_events[whole.run == run]
        assert np.all(np.diff(lumi) < 0)  # the fill decays through the run
        assert 0.8e3 < n[0] < 4.3e3
        # Events per LS follow the luminosity (up to Poisson fluctuations).
        assert n[-5:].mean() / n[:5].mean() == pytest.approx(lumi[-1] / lumi[0], abs=0.05)
    peaks = [whole.lumi[whole.run == run][0] for run in runs]
    assert np.ptp(peaks) > 0.05  # conditions vary from run to run
