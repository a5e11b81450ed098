"""Electrons and muons: acceptance, efficiency, resolution from the geometry, isolation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, load_geometry
from heplearn.detector.objects.final_state import FinalState
from heplearn.detector.objects.leptons import (
    LeptonSettings,
    calorimeter_noise_term,
    electron_efficiency,
    muon_efficiency,
    muon_resolution,
    reconstruct_leptons,
)

SETTINGS = LeptonSettings()


def particle(pdgid: int, pt: float, eta: float, phi: float, mass: float = 0.0) -> dict[str, float]:
    """One particle as a dict of (pdgid, px, py, pz, e, charge) [GeV]."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    charge = {11: -1.0, -11: 1.0, 13: -1.0, -13: 1.0, 211: 1.0, -211: -1.0}.get(pdgid, 0.0)
    e = float(np.sqrt(px**2 + py**2 + pz**2 + mass**2))
    return {"pdgid": pdgid, "px": px, "py": py, "pz": pz, "e": e, "charge": charge}


def event(*particles: dict[str, float]) -> dict[str, Any]:
    return {key: [p[key] for p in particles] for key in ("pdgid", "px", "py", "pz", "e", "charge")}


def single(pdgid: int, pt: float, eta: float, n: int) -> FinalState:
    """``n`` events with one lepton each at fixed p_T and η, random φ."""
    phis = np.random.default_rng(7).uniform(-np.pi, np.pi, n)
    return FinalState.from_events([event(particle(pdgid, pt, eta, phi)) for phi in phis])


@pytest.fixture(scope="module")
def atlas() -> CalorimeterGeometry:
    return load_geometry("atlas-lar")


@pytest.mark.parametrize("energy", [25.0, 200.0])
def test_electron_energy_resolution_is_that_of_the_geometry(
    atlas: CalorimeterGeometry, energy: float
) -> None:
    eta = 0.5
    fs = single(11, energy / np.cosh(eta), eta, 20_000)
    leptons = reconstruct_leptons(fs, np.random.default_rng(1), atlas)
    response = leptons.energy / energy
    # σ/E = a/√E ⊕ b/E ⊕ c with a, c of the geometry (10 %, 0.7 %) and b from its cell noise
    expected = np.sqrt(
        atlas.stochastic**2 / energy
        + (calorimeter_noise_term(atlas) / energy) ** 2
        + atlas.constant**2
    )
    assert np.std(response) == pytest.approx(expected, rel=0.10)
    assert np.mean(response) == pytest.approx(1.0, abs=3 * expected / np.sqrt(len(response)))


def test_noise_term_is_a_few_hundred_mev(atlas: CalorimeterGeometry) -> None:
    assert 0.1 < calorimeter_noise_term(atlas) < 0.5


def test_muon_resolution_degrades_with_pt(atlas: CalorimeterGeometry) -> None:
    for pt, low, high in ((45.0, 0.015, 0.025), (1000.0, 0.08, 0.14)):
        fs = single(13, pt, 0.3, 20_000)
        leptons = reconstruct_leptons(fs, np.random.default_rng(2), atlas)
        width = np.std(leptons.pt / pt)
        assert low < width < high
        expected = muon_resolution(np.array([pt]), np.array([0.3]), SETTINGS)[0]
        assert width == pytest.approx(expected, rel=0.10)


@pytest.mark.parametrize(
    ("pdgid", "pt", "eta"),
    [(11, 12.0, 0.4), (11, 80.0, 0.4), (11, 80.0, 2.0), (13, 12.0, 1.2), (13, 60.0, 0.05)],
)
def test_efficiency_within_binomial_errors(
    atlas: CalorimeterGeometry, pdgid: int, pt: float, eta: float
) -> None:
    n = 8_000
    fs = single(pdgid, pt, eta, n)
    found = len(reconstruct_leptons(fs, np.random.default_rng(3), atlas).pt) / n
    # true p_T slightly above threshold after smearing for the 12 GeV points
    curve = electron_efficiency if pdgid == 11 else muon_efficiency
    expected = float(curve(np.array([pt]), np.array([eta]), SETTINGS)[0])
    smearing_loss = 0.0 if pt > 20 else 0.01
    assert abs(found - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + smearing_loss


def test_efficiencies_are_atlas_like() -> None:
    pt = np.array([10.0, 40.0, 200.0])
    electrons = electron_efficiency(pt, np.full(3, 0.5), SETTINGS)
    muons = muon_efficiency(pt, np.full(3, 0.5), SETTINGS)
    assert 0.84 < electrons[0] < electrons[1] < electrons[2] <= 0.95
    assert 0.95 < muons[0] < muons[2] <= 0.99
    # the muon-spectrometer gap at η ≈ 0 costs efficiency
    assert muon_efficiency(np.array([40.0]), np.array([0.02]), SETTINGS)[0] < 0.75


@pytest.mark.parametrize(
    ("pdgid", "eta", "accepted"),
    [
        (11, 1.45, False),
        (11, 2.45, True),
        (11, 2.49, False),
        (13, 1.45, True),
        (13, 2.49, True),
        (13, 2.6, False),
    ],
)
def test_acceptance(atlas: CalorimeterGeometry, pdgid: int, eta: float, accepted: bool) -> None:
    fs = single(pdgid, 50.0, eta, 200)
    found = len(reconstruct_leptons(fs, np.random.default_rng(4), atlas).pt)
    assert (found > 150) if accepted else (found == 0)


def test_pt_threshold(atlas: CalorimeterGeometry) -> None:
    fs = single(13, 8.0, 0.5, 500)
    assert len(reconstruct_leptons(fs, np.random.default_rng(5), atlas).pt) == 0


def test_lepton_inside_a_jet_is_not_isolated(atlas: CalorimeterGeometry) -> None:
    hadrons = [particle(211, 8.0, 0.5 + 0.05 * k, 1.0 + 0.04 * (k % 3)) for k in range(6)]
    far = [particle(211, 8.0, -1.5, -2.0 + 0.05 * k) for k in range(6)]
    fs = FinalState.from_events(
        [
            event(particle(13, 30.0, 0.55, 1.02), *hadrons),
            event(particle(13, 30.0, 0.55, 1.02), *far),
            event(particle(11, 30.0, 0.55, 1.02), particle(130, 15.0, 0.6, 1.1, 0.498)),
        ]
        * 50
    )
    leptons = reconstruct_leptons(fs, np.random.default_rng(6), atlas)
    kind = leptons.event % 3
    assert not np.any(leptons.selected[kind == 0])
    assert np.all(leptons.track_isolation[kind == 0] > 0.5)
    assert np.all(leptons.selected[kind == 1])
    # a neutral hadron next to an electron spoils the calorimeter isolation only
    assert np.all(leptons.calo_isolation[kind == 2] > 0.3)
    assert np.all(leptons.track_isolation[kind == 2] == 0)
    assert not np.any(leptons.selected[kind == 2])


def test_electron_is_dressed_with_collinear_photons(atlas: CalorimeterGeometry) -> None:
    n = 400
    fs = FinalState.from_events(
        [event(particle(11, 40.0, 0.3, 0.5), particle(22, 10.0, 0.33, 0.52))] * n
    )
    leptons = reconstruct_leptons(fs, np.random.default_rng(8), atlas)
    # the photon's 10 GeV are in the electron cluster, not in its isolation
    assert np.median(leptons.pt) == pytest.approx(50.0, rel=0.01)
    assert np.mean(leptons.selected) > 0.99
    photons = np.flatnonzero(fs.pdgid == 22)
    assert np.all(leptons.dressing_of(leptons.selected, fs.n_particles)[photons[leptons.event]])
