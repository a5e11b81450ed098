"""GFlash showers in the ATLAS-like and CMS-like geometries: physics of the deposits."""

from __future__ import annotations

import numpy as np
import pytest

from heplearn.detector.calorimeter.cellgrid import place_windows
from heplearn.detector.calorimeter.geometry import load_geometry
from heplearn.detector.calorimeter.longitudinal import sample_profiles
from heplearn.detector.calorimeter.shower import SubShowers, deposit_showers


def electrons(n: int, energy: float, eta_range: tuple[float, float], seed: int = 1):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    eta = rng.uniform(*eta_range, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    return SubShowers(np.full(n, energy), eta, phi, np.zeros(n), np.arange(n)), rng


def test_energy_bookkeeping_is_exact_per_shower() -> None:
    geometry = load_geometry("atlas-lar")
    showers, rng = electrons(500, 80.0, (-2.4, 2.4))
    deposits = deposit_showers(
        showers, place_windows(showers.eta, showers.phi, geometry), geometry, 500, rng
    )
    total = deposits.layer_total.sum(axis=1) + deposits.dead + deposits.leakage
    np.testing.assert_allclose(total, 80.0, rtol=1e-12)
    window = sum(cells.sum(axis=(1, 2)) for cells in deposits.cells.values())
    assert (window <= deposits.layer_total.sum(axis=1) + 1e-9).all()


def test_shower_maximum_moves_deeper_as_ln_e() -> None:
    geometry = load_geometry("atlas-lar")
    profiles = sample_profiles(np.array([5.0, 50.0, 500.0]), geometry, None)
    steps = np.diff(profiles.t_max)
    assert steps == pytest.approx([np.log(10.0)] * 2, rel=0.05)


def test_longitudinal_fluctuations_are_correlated() -> None:
    geometry = load_geometry("cms-ecal")
    profiles = sample_profiles(np.full(20_000, 50.0), geometry, np.random.default_rng(3))
    rho = np.corrcoef(np.log(profiles.t_max), np.log(profiles.alpha))[0, 1]
    expected = 0.705 - 0.023 * np.log(50e3 / geometry.critical_mev)
    assert rho == pytest.approx(expected, abs=0.03)


def test_more_material_more_loss_and_the_crack_is_worst() -> None:
    geometry = load_geometry("atlas-lar")
    losses = {}
    for name, eta_range in {
        "central": (0.0, 0.6),
        "crack": (1.40, 1.50),
        "endcap": (1.8, 2.2),
    }.items():
        showers, rng = electrons(400, 50.0, eta_range)
        windows = place_windows(showers.eta, showers.phi, geometry)
        losses[name] = deposit_showers(showers, windows, geometry, 400, rng).dead.mean() / 50.0
    assert losses["crack"] > 2 * losses["central"]
    assert losses["crack"] > losses["endcap"]


def test_strips_see_the_early_shower_and_middle_the_bulk() -> None:
    geometry = load_geometry("atlas-lar")
    showers, rng = electrons(400, 50.0, (-0.5, 0.5))
    deposits = deposit_showers(
        showers, place_windows(showers.eta, showers.phi, geometry), geometry, 400, rng
    )
    fractions = deposits.layer_total.mean(axis=0) / 50.0
    presampler, strips, middle, back = fractions
    assert middle > 0.5 and 0.2 < strips < 0.45 and back < 0.05 and presampler < 0.02


def test_module_gaps_lose_energy_only_near_boundaries() -> None:
    geometry = load_geometry("cms-ecal")
    n = 600
    rng = np.random.default_rng(5)
    at_gap = np.full(n, 0.435) + rng.uniform(-0.002, 0.002, n)
    away = np.full(n, 0.30) + rng.uniform(-0.002, 0.002, n)
    phi = rng.uniform(-0.1, 0.1, n) + 0.17  # away from supermodule boundaries (every 20 degrees)
    lost = {}
    for name, eta in {"gap": at_gap, "away": away}.items():
        showers = SubShowers(np.full(n, 50.0), eta, phi, np.zeros(n), np.arange(n))
        deposits = deposit_showers(showers, place_windows(eta, phi, geometry), geometry, n, None)
        lost[name] = deposits.dead.mean() / 50.0
    assert lost["away"] < 1e-3
    assert lost["gap"] > 0.05


def test_cell_time_resolution_improves_with_energy() -> None:
    from heplearn.detector.calorimeter.timing import cell_times, time_resolution

    rng = np.random.default_rng(2)
    cells = {"middle": np.concatenate([np.full((4000, 1, 1), 0.1), np.full((4000, 1, 1), 20.0)])}
    times = cell_times(cells, rng)["middle"][:, 0, 0]
    soft, hard = times[:4000].std(), times[4000:].std()
    assert soft == pytest.approx(float(time_resolution(np.array(0.1))), rel=0.1)
    assert hard < 0.5 and soft > 10 * hard
