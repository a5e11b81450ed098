"""Pythia 8 processes: the Z line shape and the H→γγ final state."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from heplearn.errors import ConfigError
from heplearn.generate.pythia import generate_events


def breit_wigner(m: np.ndarray, norm: float, mass: float, width: float) -> np.ndarray:
    return norm * (mass * width) ** 2 / ((m**2 - mass**2) ** 2 + (mass * width) ** 2)


def test_z_to_ee_truth_mass_peak_and_width() -> None:
    events = generate_events("zee", 6000, seed=3, stream=0)
    counts, edges = np.histogram(events.resonance_mass, bins=np.linspace(84.0, 98.0, 57))
    centres = 0.5 * (edges[1:] + edges[:-1])
    errors = np.sqrt(np.maximum(counts, 1.0))
    (_, mass, width), cov = curve_fit(
        breit_wigner, centres, counts, p0=(counts.max(), 91.0, 2.5), sigma=errors
    )
    assert mass == pytest.approx(91.19, abs=0.1)
    assert width == pytest.approx(2.495, abs=3 * np.sqrt(cov[2, 2]) + 0.1)
    leptons = np.bincount(events.event[np.abs(events.pdgid) == 11], minlength=6000)
    assert (leptons == 2).mean() > 0.95  # both Z decay electrons are kept
    assert events.sigma_mb > 0


def test_higgs_decays_to_two_photons() -> None:
    events = generate_events("hgg", 300, seed=1, stream=0)
    photons = np.bincount(events.event[events.pdgid == 22], minlength=300)
    assert (photons >= 2).mean() > 0.98
    assert np.median(events.resonance_mass) == pytest.approx(125.0, abs=0.5)


def test_unknown_process_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"process 'ttbar'.*known processes"):
        generate_events("ttbar", 10, seed=1, stream=0)
