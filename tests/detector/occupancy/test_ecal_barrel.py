"""ECAL barrel geometry, occupancy physics (rates, over-dispersion, tower correlation), faults."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from heplearn.detector.occupancy.ecal_barrel import (
    ECAL_BARREL_SHAPE,
    N_SUPERMODULES,
    N_TOWERS,
    crystal_eta,
    ieta_of_row,
    row_of_ieta,
    supermodule_map,
    supermodule_name,
    tower_map,
    tower_name,
)
from heplearn.detector.occupancy.ecal_faults import (
    ECAL_FAULTS,
    EcalFaultPlan,
    apply_ecal_faults,
    draw_ecal_faults,
)
from heplearn.detector.occupancy.ecal_occupancy import (
    EcalConditions,
    LsEffects,
    hit_intensity,
    sample_counts,
)
from heplearn.detector.occupancy.fault_codes import FAULT_SHAPES

Array = np.ndarray[Any, Any]


def test_geometry_follows_cms_eb() -> None:
    assert ECAL_BARREL_SHAPE == (170, 360)
    ieta = np.r_[-85:0, 1:86]
    assert np.array_equal(ieta_of_row(row_of_ieta(ieta)), ieta)
    assert np.array_equal(row_of_ieta(ieta), np.arange(170))
    assert 1.47 < crystal_eta().max() < 1.479 and crystal_eta()[0, 0] < 0
    assert np.array_equal(np.bincount(tower_map().ravel()), np.full(N_TOWERS, 25))
    assert np.array_equal(np.bincount(supermodule_map().ravel()), np.full(N_SUPERMODULES, 1700))
    # Every tower lies in one supermodule.
    modules_per_tower = np.zeros(N_TOWERS, dtype=np.int64)
    pairs = np.unique(np.stack([tower_map().ravel(), supermodule_map().ravel()]), axis=1)
    np.add.at(modules_per_tower, pairs[0], 1)
    assert (modules_per_tower == 1).all()
    assert tower_name(0) == "TT -17,1" and tower_name(int(tower_map()[85, 0])) == "TT 1,1"
    assert tower_name(N_TOWERS - 1) == "TT 17,72"
    assert supermodule_name(0) == "SM-01" and supermodule_name(35) == "SM+18"
    assert supermodule_name(int(supermodule_map()[100, 130])) == "SM+07"  # iφ 131 is in SM 7


def test_rates_rise_with_eta_and_noise_dominates_forward() -> None:
    noise, per_interaction = hit_intensity(0.12, 0.045)
    pileup_hits = 31 * per_interaction  # μ ≈ 30
    central, forward = np.s_[84:86], np.s_[[0, 169]]
    assert (noise[forward] > noise[central].max()).all()
    assert (pileup_hits[forward] > pileup_hits[central].max()).all()
    assert noise[forward].mean() > 2 * pileup_hits[forward].mean()
    total = 1 - np.exp(-(noise + pileup_hits))
    assert 0.005 < total.mean() < 0.05  # a low-rate, low-threshold occupancy


def _ls_counts(conditions: EcalConditions, n: int, events: int = 3000) -> Array:
    """Counts of ``n`` lumisections at constant luminosity and event count, one run."""
    rng = np.random.default_rng(5)
    out = []
    for _ in range(n // 50):
        effects = conditions.ls_effects(rng, 50)
        intensity = conditions.intensity(np.full(50, 1.0), conditions.run_gains(0), effects)
        out.append(sample_counts(rng, np.full(50, events), intensity))
    return np.concatenate(out)


def _quiet(**changes: Any) -> EcalConditions:
    settings: dict[str, Any] = {
        "tower_spread_ls": 0.0,
        "supermodule_spread_ls": 0.0,
        "overdispersion": 0.0,
        "noisy_tower_rate": 0.0,
    }
    return EcalConditions(**{**settings, **changes})


@pytest.mark.parametrize("kappa", [0.0, 0.2])
def test_overdispersion_is_the_configured_amount(kappa: float) -> None:
    counts = _ls_counts(_quiet(overdispersion=kappa), 100)
    mean, var = counts.mean(axis=0), counts.var(axis=0, ddof=1)
    # Negative binomial: var/mean − 1 = κ_c² · mean, and κ_c² averages to κ².
    kappa2 = float(np.mean((var / mean - 1) / mean))
    assert abs(kappa2 - kappa**2) < 0.15 * kappa**2 + 0.002
    if kappa > 0:
        assert np.mean(var / mean) > 1 + 0.5 * kappa**2 * np.mean(mean)


def test_channels_of_one_tower_fluctuate_together() -> None:
    counts = _ls_counts(_quiet(tower_spread_ls=0.1), 100)
    resid = counts / counts.mean(axis=0) - 1
    flat = resid.reshape(len(resid), -1)
    towers = tower_map().ravel()
    first = np.array([np.flatnonzero(towers == t)[:2] for t in range(0, N_TOWERS, 7)])
    same = [np.corrcoef(flat[:, a], flat[:, b])[0, 1] for a, b in first]
    pairs = zip(first[:-1, 0], first[1:, 0], strict=True)
    other = [np.corrcoef(flat[:, a], flat[:, b])[0, 1] for a, b in pairs]
    assert np.mean(same) > 0.15
    assert abs(np.mean(other)) < 0.03
    # The same sample with κ only: no correlation inside towers.
    counts = _ls_counts(_quiet(overdispersion=0.2), 100)
    flat = (counts / counts.mean(axis=0) - 1).reshape(len(counts), -1)
    assert abs(np.mean([np.corrcoef(flat[:, a], flat[:, b])[0, 1] for a, b in first])) < 0.03


def test_noisy_towers_raise_one_towers_noise() -> None:
    conditions = _quiet(noisy_tower_rate=1.0, noisy_tower_excess=(1.0, 1.0))
    effects = conditions.ls_effects(np.random.default_rng(1), 4)
    assert (effects.noisy_tower >= 0).all()
    intensity = conditions.intensity(np.full(4, 1.0), conditions.run_gains(0), effects)
    calm = LsEffects(effects.gains, np.full(4, -1, dtype=np.int16), np.zeros(4))
    plain = conditions.intensity(np.full(4, 1.0), conditions.run_gains(0), calm)
    for i, tower in enumerate(effects.noisy_tower):
        raised = intensity[i] > plain[i] * (1 + 1e-9)
        assert np.array_equal(raised, tower_map() == tower)


def test_each_fault_sits_where_its_truth_says() -> None:
    rng = np.random.default_rng(2)
    plan = EcalFaultPlan(good_fraction=0.0)
    faults = draw_ecal_faults(rng, 300, plan)
    assert set(np.unique(faults.fault_shape)) == {
        FAULT_SHAPES.index(s) for s in ("1x1", "tower", "supermodule")
    }
    intensity = np.full((300, *ECAL_BARREL_SHAPE), 0.01)
    out = apply_ecal_faults(intensity, faults)
    for i in range(300):
        region = faults.channels[i] > 0
        shape = FAULT_SHAPES[faults.fault_shape[i]]
        size = {"1x1": 1, "tower": 25, "supermodule": 1700}[shape]
        assert region.sum() == size
        assert (supermodule_map()[region] == faults.supermodule[i]).all()
        if shape != "supermodule":
            assert (tower_map()[region] == faults.tower[i]).all()
        else:
            assert faults.tower[i] == -1
        if faults.map_class[i] == 1:
            assert (out[i][region] == 0).all()
        else:
            assert np.allclose(out[i][region], 0.01 * faults.severity[i])
            assert 3 <= faults.severity[i] <= 10
        assert (out[i][~region] == 0.01).all()
    assert len(ECAL_FAULTS) == 5


def test_an_all_good_plan_injects_nothing() -> None:
    faults = draw_ecal_faults(np.random.default_rng(0), 20, EcalFaultPlan(good_fraction=1.0))
    assert not faults.channels.any() and (faults.tower == -1).all()
