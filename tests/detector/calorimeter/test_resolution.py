"""Physics validation of the fast simulation: resolution terms, crack, conversions, CMS features.

The ideal configuration (no material in front, no noise, no pileup, no dead cells) is measured
as in a test beam: electrons at fixed energies, central barrel, in CMS-like away from module
boundaries.  Widths are IQR/1.349 of E_acc/E_true; σ/E = a/√E ⊕ c is fitted by least squares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, load_geometry
from heplearn.detector.calorimeter.resolution import fit_resolution_terms, relative_width
from heplearn.detector.calorimeter.simulate import SimulationSwitches, ideal, simulate_clusters
from heplearn.detector.particles import Particles

ENERGIES = np.array([10.0, 20.0, 35.0, 50.0, 100.0, 150.0, 250.0])


def shoot(
    geometry: CalorimeterGeometry,
    *,
    pdgid: int,
    energy: float,
    eta: Any,
    phi: Any,
    seed: int,
    switches: SimulationSwitches,
) -> np.ndarray:
    n = len(eta)
    particles = Particles(
        np.full(n, pdgid), np.full(n, energy), eta, phi, np.zeros(n), np.arange(n)
    )
    rng = np.random.default_rng(seed)
    result = simulate_clusters(particles, geometry, rng, switches=switches)
    return result.scalars["e_acc"] / energy


@pytest.mark.parametrize("name", ["atlas-lar", "cms-ecal"])
def test_ideal_resolution_matches_the_geometry(name: str) -> None:
    geometry = load_geometry(name)
    rng = np.random.default_rng(11)
    n = 2500
    widths = []
    for index, energy in enumerate(ENERGIES):
        eta = rng.uniform(0.1, 0.3, n)
        if name == "cms-ecal":  # aim at supermodule centres, as a test beam does
            phi = -np.pi + 0.349066 * (rng.integers(0, 18, n) + 0.5) + rng.uniform(-0.08, 0.08, n)
        else:
            phi = rng.uniform(-np.pi, np.pi, n)
        response = shoot(
            geometry, pdgid=11, energy=energy, eta=eta, phi=phi, seed=index, switches=ideal()
        )
        widths.append(relative_width(response))
    stochastic, constant = fit_resolution_terms(ENERGIES, np.asarray(widths))
    assert stochastic == pytest.approx(geometry.stochastic, rel=0.15)
    assert constant == pytest.approx(geometry.constant, abs=0.003)


def test_crack_is_worse_than_central_barrel() -> None:
    geometry = load_geometry("atlas-lar")
    rng = np.random.default_rng(3)
    n = 3000
    phi = rng.uniform(-np.pi, np.pi, n)
    realistic = SimulationSwitches(pileup=False)
    central_eta, crack_eta = rng.uniform(0.0, 0.6, n), rng.uniform(1.38, 1.50, n)
    central = shoot(
        geometry, pdgid=11, energy=50.0, eta=central_eta, phi=phi, seed=1, switches=realistic
    )
    crack = shoot(
        geometry, pdgid=11, energy=50.0, eta=crack_eta, phi=phi, seed=2, switches=realistic
    )
    assert relative_width(crack) > 1.5 * relative_width(central)


def test_photons_convert_more_at_higher_eta() -> None:
    geometry = load_geometry("atlas-lar")
    rng = np.random.default_rng(4)
    n = 4000
    fractions = []
    for low, high in [(0.0, 0.5), (1.0, 1.3), (1.6, 1.9)]:
        eta = rng.uniform(low, high, n)
        particles = Particles(
            np.full(n, 22), np.full(n, 50.0), eta, rng.uniform(-3, 3, n), np.zeros(n), np.arange(n)
        )
        result = simulate_clusters(
            particles, geometry, rng, switches=SimulationSwitches(pileup=False)
        )
        fractions.append(result.upstream.converted.mean())
        radii = result.upstream.conversion_radius[result.upstream.converted]
        assert (radii > 0).all() and (radii <= geometry.tracker_radius_mm).all()
    assert fractions[0] < fractions[1] < fractions[2]
    expected_central = 1 - np.exp(-7 / 9 * 0.5)  # ~0.5 X0 of tracker at |η| < 0.5
    assert fractions[0] == pytest.approx(expected_central, abs=0.06)
