"""The statistical reference model: tails, thresholds, false-alarm control from few maps.

The acceptance measurement: ECAL-barrel-like good maps (tower- and supermodule-correlated
gains, over-dispersion, luminosity falling with no event count), 10 reference maps,
1,000 good maps: the realised false-alarm rate lies within 2× of the 1 % target, and
the faults of real runs are found.  A pure Poisson model of the same maps (α = 0) fails
that false-alarm check, so the test can fail.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ecal_like import FAULTS, as_mapset, good_maps, inject
from scipy import special, stats

from heplearn.dqm.dispersion import fit_dispersion, significance
from heplearn.dqm.groups import block_grouping, resolve_geometry
from heplearn.dqm.look_elsewhere import leave_one_out, max_significance, sidak_z
from heplearn.dqm.maps import MapSet


def test_significance_is_the_exact_negative_binomial_tail() -> None:
    mean, alpha = np.full(4, 50.0), np.full(4, 0.02)
    counts = np.array([0.0, 10.0, 100.0, 160.0])
    z = significance(counts, mean, alpha)
    r = 1.0 / alpha[0]
    p = r / (r + mean[0])
    lower = stats.nbinom.cdf(counts[:2], r, p)
    upper = stats.nbinom.sf(counts[2:] - 1, r, p)
    expected = np.concatenate([special.ndtri(lower), -special.ndtri(upper)])
    np.testing.assert_allclose(z, expected, rtol=1e-6)
    assert sidak_z(0.01, 1) == pytest.approx(stats.norm.isf(0.005))
    # Šidák over 60,000 tests at 1 % per map: about 5.2 σ per test.
    assert 5.1 < sidak_z(0.01, 60_000) < 5.3


def test_a_dead_region_under_a_wide_extrapolation_is_still_in_the_far_tail() -> None:
    # A dead supermodule (0 of ~33,000 expected) judged with α = 0.33 (the relative
    # variance of a luminosity extrapolation from 5 maps): the Gaussian z is only −1.7,
    # but the negative-binomial P(0) = (1 + α m)^(−1/α) ≈ 1e-12.
    mean, alpha = np.array([33_000.0, 33_000.0]), np.array([0.33, 0.33])
    z = significance(np.array([0.0, 30_000.0]), mean, alpha)
    r = 1.0 / alpha[0]
    assert z[0] == pytest.approx(special.ndtri(stats.nbinom.cdf(0, r, r / (r + mean[0]))))
    assert z[0] < -6.5
    assert abs(z[1]) < 1.0  # an ordinary 10 % dip stays ordinary


def _small(n: int, seed: int, heavy: float = 0.0) -> MapSet:
    """40 × 60 maps, 5 × 5 block gains; ``heavy``: share of channels jumping ×(1 ± 0.5)."""
    rng = np.random.default_rng(seed)
    rate = 80.0 * np.random.default_rng(1).lognormal(0, 0.1, (40, 60))
    lumi = rng.uniform(0.5, 1.2, n)[:, None, None]
    block = rng.lognormal(0, 0.03, (n, 8, 12)).repeat(5, 1).repeat(5, 2)
    jump = np.where(rng.random((n, 40, 60)) < heavy, rng.choice([0.5, 1.5], (n, 40, 60)), 1.0)
    return MapSet.from_counts(rng.poisson(rate * lumi * block * jump).astype(np.float32))


def test_leave_one_out_agrees_on_well_modelled_maps_and_warns_on_heavy_tails() -> None:
    grouping = block_grouping((40, 60, 1))
    calm = leave_one_out(_small(10, 2), grouping, 0.01)
    assert calm["agrees"] and 0.005 <= calm["realised"] <= 0.02, calm["note"]
    wild = leave_one_out(_small(10, 2, heavy=0.003), grouping, 0.01)
    assert not wild["agrees"] and wild["realised"] > 0.02 and "disagree" in wild["note"]


def _false_alarm(model, maps: np.ndarray, z_star: float) -> float:  # type: ignore[no-untyped-def]
    flagged = 0
    for start in range(0, len(maps), 100):
        worst, _, _ = max_significance(model, as_mapset(maps[start : start + 100]))
        flagged += int((worst > z_star).sum())
    return flagged / len(maps)


@pytest.mark.slow
def test_ecal_like_false_alarm_within_2x_of_target_and_faults_found() -> None:
    reference, _ = good_maps(10, seed=1)
    grouping = resolve_geometry("ecal-barrel", (170, 360, 1))
    model = fit_dispersion(as_mapset(reference), grouping)
    z_star = sidak_z(0.01, model.n_tests())
    good = np.concatenate([good_maps(250, seed=100 + i)[0] for i in range(4)])
    realised = _false_alarm(model, good, z_star)
    assert 0.005 <= realised <= 0.02, realised
    # Without the over-dispersion (pure Poisson) the same maps raise far too many alarms.
    poisson = dataclasses.replace(
        model,
        response=dataclasses.replace(model.response, slope_var=np.zeros_like(model.alpha)),
        alpha=np.where(model.alpha > 0, 1e-9, 0.0),
        group_alpha=np.full_like(model.group_alpha, 1e-9),
        alpha_sd=np.zeros_like(model.alpha_sd),
        group_alpha_sd=np.zeros_like(model.group_alpha_sd),
    )
    assert _false_alarm(poisson, good[:200], z_star) > 0.2
    rng = np.random.default_rng(9)
    counts, expected = good_maps(200, seed=7)
    need = {"missing_sm": 0.99, "dead_tower": 0.99, "hot_tower": 0.99}
    for fault in FAULTS:
        bad = np.stack([inject(counts[i], expected[i], fault, rng)[0] for i in range(200)])
        worst, _, _ = max_significance(model, as_mapset(bad))
        assert (worst > z_star).mean() >= need.get(fault, 0.95), fault
