"""Whole-event reconstruction: columns, Z→ee-like events, invisible momentum, leptons in jets."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest

from heplearn.data.schema import spec_of
from heplearn.detector.objects.event_reconstruction import RECONSTRUCTION_FIELDS, reconstruct
from heplearn.detector.objects.final_state import FinalState
from heplearn.errors import DataError

CHARGE = {11: -1.0, -11: 1.0, 13: -1.0, -13: 1.0, 211: 1.0, -211: -1.0}


def particles(*specs: tuple[int, float, float, float], **extra: Any) -> dict[str, Any]:
    """One event from (pdgid, p_T, η, φ) tuples (pions get the pion mass)."""
    rows = []
    for pdgid, pt, eta, phi in specs:
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        mass = 0.1396 if abs(pdgid) == 211 else 0.0
        rows.append(
            (pdgid, px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + mass**2), CHARGE.get(pdgid, 0.0))
        )
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    keys = ("pdgid", "px", "py", "pz", "e", "charge")
    return {key: table[:, k] for k, key in enumerate(keys)} | extra


def jet(pt: float, eta: float, phi: float, n: int = 6) -> list[tuple[int, float, float, float]]:
    """``n`` pions sharing ``pt`` close to (η, φ)."""
    return [
        (211 if k % 2 else -211, pt / n, eta + 0.04 * (k % 3 - 1), phi + 0.03 * (k % 2))
        for k in range(n)
    ]


def z_to_ee(rng: np.random.Generator) -> dict[str, Any]:
    """A Z (91.19 GeV) at rest decaying to e⁻e⁺ at η = ±η*, plus three soft pions."""
    eta, phi = rng.uniform(-1.2, 1.2), rng.uniform(-np.pi, np.pi)
    pt = 91.1876 / 2 / np.cosh(eta)
    soft = [(211, 1.0, rng.uniform(-2, 2), rng.uniform(-np.pi, np.pi)) for _ in range(3)]
    return particles((11, pt, eta, phi), (-11, pt, -eta, phi + np.pi), *soft)


@pytest.fixture(scope="module")
def zee() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    return reconstruct(FinalState.from_events([z_to_ee(rng) for _ in range(2000)]), rng)


def test_columns_and_types(zee: dict[str, Any]) -> None:
    assert set(zee) == set(RECONSTRUCTION_FIELDS)
    for name, described in RECONSTRUCTION_FIELDS.items():
        assert spec_of(zee[name]).describe() == described, name
        assert len(zee[name]) == 2000
    pt = zee["leptons/pt"]
    # p_T-descending within every event
    assert ak.all(pt[:, 1:] <= pt[:, :-1])


def test_z_to_ee(zee: dict[str, Any]) -> None:
    two = ak.num(zee["leptons/pt"]) == 2
    # ≈ 0.93² identification efficiency (both within acceptance and isolated)
    assert 0.8 < np.mean(two) < 0.93
    pdgid = zee["leptons/pdgid"][two]
    assert ak.all(pdgid[:, 0] * pdgid[:, 1] == -121)
    pt, eta, phi = (zee[f"leptons/{x}"][two] for x in ("pt", "eta", "phi"))
    mll = np.sqrt(
        2 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(phi[:, 0] - phi[:, 1]))
    )
    # mass peak at the Z, width ≈ √2/2 × σ_E/E(45 GeV) × m ≈ 1.2 GeV
    assert np.median(mll) == pytest.approx(91.19, abs=0.2)
    assert 0.8 < (np.percentile(mll, 75) - np.percentile(mll, 25)) / 1.349 < 1.8
    assert ak.all(zee["leptons/isolation"] < 0.15)
    # balanced: small E_T^miss, significance ~ χ²(2)
    assert np.median(zee["met/met"][two]) < 15.0
    assert np.mean(zee["met/significance"][two] > 5) < 0.01
    assert np.all(zee["truth/met"] == 0)


def test_invisible_momentum_gives_met() -> None:
    rng = np.random.default_rng(2)
    events = [
        particles(
            (-13, 120.0, 0.3, 0.0), *jet(10.0, -1.0, 2.0), invisible_px=-120.0, invisible_py=0.0
        )
        for _ in range(1000)
    ]
    columns = reconstruct(FinalState.from_events(events), rng)
    assert np.allclose(columns["truth/met"], 120.0)
    assert np.median(columns["met/met"]) == pytest.approx(120.0, rel=0.05)
    phi = np.abs(np.asarray(columns["met/phi"]))
    assert np.median(np.abs(phi - np.pi)) < 0.1
    # the thesis' cut E_T^miss/σ > 10 keeps such a clean 120 GeV imbalance
    assert np.median(columns["met/significance"]) > 10


def test_lepton_inside_a_jet_is_removed_and_the_jet_kept() -> None:
    rng = np.random.default_rng(3)
    events = [
        particles((13, 20.0, 0.52, 1.01), *jet(80.0, 0.5, 1.0), *jet(100.0, -0.5, 1.0 + np.pi))
        for _ in range(500)
    ]
    columns = reconstruct(FinalState.from_events(events), rng)
    assert ak.sum(ak.num(columns["leptons/pt"])) == 0
    assert np.mean(ak.num(columns["jets/pt"]) == 2) > 0.99
    # the non-isolated muon still enters E_T^miss: the event stays balanced
    assert np.median(columns["met/met"]) < 25.0


def test_b_tag_column_follows_b_hadrons() -> None:
    rng = np.random.default_rng(4)
    b = np.array([[60.0, 0.0, 0.0, 60.3]])
    events = [
        particles(*jet(100.0, 0.0, 0.0), *jet(100.0, 0.0, np.pi), b_hadrons=b) for _ in range(2000)
    ]
    columns = reconstruct(FinalState.from_events(events), rng)
    btag, phi = columns["jets/btag"], columns["jets/phi"]
    near_b = np.abs(phi) < 0.3
    assert np.mean(ak.flatten(btag[near_b])) == pytest.approx(0.77, abs=0.04)
    assert np.mean(ak.flatten(btag[~near_b])) < 0.03


def test_empty_events_and_bad_input() -> None:
    columns = reconstruct(FinalState.empty(3), np.random.default_rng(5))
    assert ak.num(columns["jets/pt"]).tolist() == [0, 0, 0]
    assert np.all(np.isfinite(columns["met/significance"]))
    good = FinalState.from_events([particles((11, 50.0, 0.0, 0.0))])
    broken = FinalState(**{**good.__dict__, "px": np.array([np.nan])})
    with pytest.raises(DataError, match="NaN"):
        reconstruct(broken, np.random.default_rng(6))
    short = FinalState(**{**good.__dict__, "charge": np.zeros(0, dtype=np.float32)})
    with pytest.raises(DataError, match="charge"):
        reconstruct(short, np.random.default_rng(7))
