"""Anti-k_T jets, jet smearing, b-tagging and jet–lepton overlap removal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from heplearn.detector.objects.final_state import FinalState
from heplearn.detector.objects.jets import (
    Jets,
    JetSettings,
    cluster_jets,
    jet_resolution,
    overlap_removal,
    tag_b_jets,
)
from heplearn.detector.objects.leptons import Leptons

SETTINGS = JetSettings()


def spray(pt: float, eta: float, phi: float, n: int, rng: np.random.Generator) -> list[list[float]]:
    """``n`` pions sharing ``pt`` within ΔR ≲ 0.15 of (η, φ): rows of (pdgid, px, py, pz, e, q)."""
    weights = rng.uniform(0.5, 1.5, n)
    shares = weights / weights.sum() * pt
    etas = eta + rng.normal(0, 0.05, n)
    phis = phi + rng.normal(0, 0.05, n)
    rows = []
    for k in range(n):
        px, py, pz = (
            shares[k] * np.cos(phis[k]),
            shares[k] * np.sin(phis[k]),
            shares[k] * np.sinh(etas[k]),
        )
        rows.append([211.0, px, py, pz, float(np.sqrt(px**2 + py**2 + pz**2 + 0.0195)), 1.0])
    return rows


def as_event(rows: list[list[float]], **extra: Any) -> dict[str, Any]:
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    keys = ("pdgid", "px", "py", "pz", "e", "charge")
    return {key: table[:, k] for k, key in enumerate(keys)} | extra


def b_hadron(pt: float, eta: float, phi: float) -> np.ndarray[Any, Any]:
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.array([[px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + 5.28**2)]])


@pytest.fixture(scope="module")
def dijets() -> FinalState:
    """2000 events: a b jet (100 GeV, η 0.5) and a light jet (100 GeV, η −1) back to back."""
    rng = np.random.default_rng(11)
    events = []
    for _ in range(2000):
        phi = rng.uniform(-np.pi, np.pi)
        rows = spray(100.0, 0.5, phi, 8, rng) + spray(100.0, -1.0, phi + np.pi, 8, rng)
        events.append(as_event(rows, b_hadrons=b_hadron(60.0, 0.52, phi + 0.02)))
    return FinalState.from_events(events)


def no_exclusion(fs: FinalState) -> np.ndarray[Any, Any]:
    return np.zeros(fs.n_particles, dtype=bool)


def test_anti_kt_finds_two_jets_with_the_summed_momentum(dijets: FinalState) -> None:
    jets = cluster_jets(dijets, no_exclusion(dijets), np.random.default_rng(1))
    assert np.all(np.bincount(jets.event, minlength=dijets.n_events) == 2)
    central = np.abs(jets.eta - 0.5) < 0.1
    assert central.sum() == dijets.n_events
    # the smearing is unbiased: mean p_T is the summed 100 GeV (spray p_T sum exact)
    assert np.mean(jets.pt) == pytest.approx(100.0, rel=0.01)
    # every particle belongs to a selected jet of its own event
    assert np.all(jets.owner >= 0)
    assert np.all(jets.event[jets.owner] == dijets.event_index)


def test_jet_energy_resolution(dijets: FinalState) -> None:
    jets = cluster_jets(dijets, no_exclusion(dijets), np.random.default_rng(2))
    central = np.abs(jets.eta - 0.5) < 0.1
    true_energy = 100.0 * np.cosh(0.5)
    expected = jet_resolution(np.array([true_energy]), SETTINGS)[0]
    assert np.std(jets.pt[central] / 100.0) == pytest.approx(expected, rel=0.10)
    # S/√E ⊕ C: 100 %/√114 GeV ⊕ 5 % ≈ 10.5 %
    assert 0.09 < expected < 0.12


def test_b_tag_rate_for_matched_and_unmatched_jets(dijets: FinalState) -> None:
    rng = np.random.default_rng(3)
    jets = tag_b_jets(cluster_jets(dijets, no_exclusion(dijets), rng), dijets, rng)
    matched = np.abs(jets.eta - 0.5) < 0.1
    n = int(matched.sum())
    for mask, rate in ((matched, SETTINGS.btag_efficiency), (~matched, SETTINGS.mistag_rate)):
        observed = jets.btag[mask].mean()
        assert abs(observed - rate) < 4 * np.sqrt(rate * (1 - rate) / n)


def test_forward_jets_are_never_b_tagged() -> None:
    rng = np.random.default_rng(4)
    events = [
        as_event(spray(80.0, 3.0, 0.0, 6, rng), b_hadrons=b_hadron(50.0, 3.0, 0.0))
        for _ in range(300)
    ]
    fs = FinalState.from_events(events)
    jets = tag_b_jets(cluster_jets(fs, no_exclusion(fs), rng), fs, rng)
    assert len(jets.pt) > 250
    assert not np.any(jets.btag)


def test_thresholds_muons_and_exclusions() -> None:
    rng = np.random.default_rng(5)
    soft = spray(12.0, 0.0, 0.0, 4, rng)  # below 20 GeV even after smearing (mostly)
    forward = spray(200.0, 4.7, 2.0, 4, rng)  # beyond |η| = 4.5
    hard = spray(100.0, 0.0, -2.0, 4, rng)
    muon = [[13.0, 0.0, 100.0, 0.0, 100.0, -1.0]]  # a 100 GeV muon never makes a jet
    fs = FinalState.from_events([as_event(soft + forward + hard + muon)] * 100)
    jets = cluster_jets(fs, no_exclusion(fs), rng)
    assert np.all(np.abs(jets.eta) < 4.5)
    assert np.mean(np.abs(jets.phi + 2.0) < 0.1) > 0.97
    assert np.all(jets.owner[fs.pdgid == 13] == -1)
    # without the hard spray's particles no jet is left at φ = −2
    local = np.arange(fs.n_particles) - fs.offsets[fs.event_index]
    excluded = (local >= 8) & (local < 12)
    assert not np.any(np.abs(cluster_jets(fs, excluded, rng).phi + 2.0) < 0.5)


def leptons_at(event: list[int], eta: list[float], phi: list[float], pdgid: list[int]) -> Leptons:
    n = len(event)
    zeros = np.zeros(n)
    return Leptons(
        event=np.array(event),
        particle=np.arange(n),
        pdgid=np.array(pdgid),
        pt=np.full(n, 30.0),
        eta=np.array(eta),
        phi=np.array(phi),
        energy=zeros,
        sigma_pt=zeros,
        track_isolation=zeros,
        calo_isolation=zeros,
        selected=np.ones(n, dtype=bool),
        dressing_owner=np.full(n, -1),
    )


def test_overlap_removal() -> None:
    jets = Jets(
        event=np.array([0, 0, 1]),
        pt=np.array([50.0, 40.0, 60.0]),
        eta=np.array([0.0, 2.0, 0.0]),
        phi=np.array([0.0, 0.0, 0.0]),
        mass=np.zeros(3),
        energy=np.zeros(3),
        sigma_pt=np.zeros(3),
        btag=np.zeros(3, dtype=np.int8),
        owner=np.array([0, 1, 2, -1]),
    )
    # event 0: an electron on jet 0 (jet goes) and a muon 0.3 from jet 1 (muon goes);
    # event 1: a muon 0.3 from the jet (muon goes), an electron 1.0 away (both stay)
    leptons = leptons_at(
        [0, 0, 1, 1], [0.05, 2.3, 0.3, 1.0], [0.0, 0.0, 0.0, 0.0], [11, 13, 13, -11]
    )
    kept_jets, kept_leptons = overlap_removal(jets, leptons)
    assert kept_jets.eta.tolist() == [2.0, 0.0]
    assert kept_leptons.tolist() == [True, False, False, True]
    assert kept_jets.owner.tolist() == [-1, 0, 1, -1]
