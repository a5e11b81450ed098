"""ECAL barrel occupancy per lumisection: noise and pileup hits, correlated gains, over-dispersion.

A map counts, per crystal, the events of a lumisection (LS, 23.3 s) with a reconstructed hit
above a threshold E_thr.  Per event a crystal fires with probability p = 1 − exp(−h·G):

- **Noise**: electronic noise σ_n(η) = σ_n0 · (1 + 0.5 (|η|/1.479)²) — forward crystals
  lost more transparency, which the laser correction scales back up with their noise — so
  the noise part of h is −ln(1 − Φ̄(E_thr/σ_n)).  At the default low threshold (0.12 GeV
  over σ_n0 = 45 MeV, 2.7 σ) this is 0.4 % per event at η = 0 and 3.8 % at the barrel's
  end: noise dominates the occupancy except in the most central crystals.
- **Pileup**: each of the μ + 1 interactions of an event sends ρ ≈ 5 photons and charged
  hadrons per unit η into the barrel (Δη · Δφ/2π of them per crystal), each putting a hit
  above threshold in ≈ 1.5 crystals with probability exp(−E_thr/(⟨pT⟩ cosh η)), ⟨pT⟩ ≈
  0.3 GeV for the mostly soft photons: 0.6–0.8 % per event at μ = 25, rising with |η|.
  μ follows the luminosity (:mod:`heplearn.detector.occupancy.lumi`), so the occupancy
  falls through a fill.
- **Gains** G multiply h: a static per-crystal response spread fixed by the detector seed;
  a per-run factor per trigger tower; factors per tower (front-end board) and per
  supermodule (readout unit) drawn afresh every LS (unit-mean lognormals); and per crystal
  and LS a Gamma factor of mean 1 and relative σ κ_c, so counts over lumisections are
  negative-binomial-like, var = m + κ_c² m², with κ_c spread around the configured κ
  (pedestal shifts and noise bursts of single channels).
- **Noisy towers**: occasionally (a rate per map) one tower's noise rises by a factor
  1 + e for that LS.  The map stays good: this is part of the nominal behaviour that
  quality tests must survive; its tower is stored as truth.

Counts are binomial(n_events, p): a crystal fires at most once per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy.special import ndtr

from heplearn.detector.occupancy.ecal_barrel import (
    CRYSTAL_SIZE,
    ECAL_BARREL_SHAPE,
    N_SUPERMODULES,
    N_TOWERS,
    crystal_eta,
    supermodule_map,
    tower_map,
)
from heplearn.detector.occupancy.lumi import pileup

__all__ = ["EcalConditions", "LsEffects", "hit_intensity", "sample_counts"]

Array = np.ndarray[Any, Any]

_PARTICLES_PER_ETA = 5.0
_CRYSTALS_PER_PARTICLE = 1.5
_MEAN_PT_GEV = 0.3
_BARREL_EDGE_ETA = 1.479
#: Log-σ of the per-crystal over-dispersion κ_c around κ (channels differ in how noisy they are).
_KAPPA_LOG_SPREAD = 0.5


def _frozen(array: Array) -> Array:
    array.flags.writeable = False
    return array


def _unit_lognormal(rng: np.random.Generator, sigma: float, shape: Any) -> Array:
    # Mean 1 and relative σ ≈ sigma: gains stay positive.
    return np.asarray(np.exp(sigma * rng.standard_normal(shape) - 0.5 * sigma**2))


@cache
def hit_intensity(threshold_gev: float, noise_gev: float) -> tuple[Array, Array]:
    """Read-only float64 (170, 360) each: the noise hit intensity per event and the pileup hit
    intensity per pp interaction (h = noise + (μ + 1)·pileup before gains)."""
    eta = np.abs(crystal_eta())
    sigma = noise_gev * (1.0 + 0.5 * (eta / _BARREL_EDGE_ETA) ** 2)
    noise = -np.log1p(-ndtr(-threshold_gev / sigma))
    per_crystal = _PARTICLES_PER_ETA * CRYSTAL_SIZE * CRYSTAL_SIZE / (2 * np.pi)
    above = np.exp(-threshold_gev / (_MEAN_PT_GEV * np.cosh(eta)))
    return _frozen(noise), _frozen(per_crystal * _CRYSTALS_PER_PARTICLE * above)


@dataclass(frozen=True)
class LsEffects:
    """Per-LS effects of N maps: gains and the noisy tower (−1 if none) with its excess."""

    gains: Array  # float64 (N, 170, 360)
    noisy_tower: Array  # int16 (N,)
    noisy_excess: Array  # float64 (N,), 0 where no noisy tower


@dataclass(frozen=True)
class EcalConditions:
    """The ECAL barrel's channel response and its variations (see the module docstring)."""

    detector_seed: int = 1
    threshold_gev: float = 0.12
    noise_gev: float = 0.045
    response_spread: float = 0.05
    tower_spread_run: float = 0.03
    tower_spread_ls: float = 0.04
    supermodule_spread_ls: float = 0.02
    overdispersion: float = 0.06
    noisy_tower_rate: float = 0.02
    noisy_tower_excess: tuple[float, float] = (0.5, 2.0)

    def run_gains(self, run_index: int) -> Array:
        """Read-only (170, 360): static crystal response × the run's tower factors."""
        return _run_gains(
            self.detector_seed, self.response_spread, self.tower_spread_run, run_index
        )

    def kappa(self) -> Array:
        """Read-only (170, 360): each crystal's over-dispersion κ_c (mean of κ_c² is κ²)."""
        return _kappa(self.detector_seed, self.overdispersion)

    def ls_effects(self, rng: np.random.Generator, n: int) -> LsEffects:
        """Draw the per-LS effects of ``n`` maps."""
        tower = _unit_lognormal(rng, self.tower_spread_ls, (n, N_TOWERS))
        module = _unit_lognormal(rng, self.supermodule_spread_ls, (n, N_SUPERMODULES))
        gains = tower[:, tower_map()] * module[:, supermodule_map()]
        kappa = self.kappa()
        if self.overdispersion > 0:
            shape = 1.0 / kappa**2
            gains *= rng.gamma(shape, 1.0 / shape, size=(n, *ECAL_BARREL_SHAPE))
        noisy = rng.random(n) < self.noisy_tower_rate
        where = np.where(noisy, rng.integers(0, N_TOWERS, n), -1).astype(np.int16)
        excess = np.where(noisy, rng.uniform(*self.noisy_tower_excess, n), 0.0)
        return LsEffects(gains, where, excess)

    def intensity(self, lumi: Any, run_gains: Array, effects: LsEffects) -> Array:
        """Hit intensity h·G (N, 170, 360) of maps at luminosities ``lumi`` (N,)."""
        noise, per_interaction = hit_intensity(self.threshold_gev, self.noise_gev)
        interactions = pileup(lumi)[:, None, None] + 1.0
        noise_n = np.broadcast_to(noise, (len(interactions), *ECAL_BARREL_SHAPE)).copy()
        for i in np.flatnonzero(effects.noisy_tower >= 0):
            in_tower = tower_map() == effects.noisy_tower[i]
            noise_n[i, in_tower] *= 1.0 + effects.noisy_excess[i]
        return (noise_n + interactions * per_interaction) * run_gains * effects.gains


@cache
def _run_gains(detector_seed: int, spread: float, tower_spread: float, run_index: int) -> Array:
    static = np.random.default_rng(np.random.SeedSequence([detector_seed, 0xEB]))
    crystal = _unit_lognormal(static, spread, ECAL_BARREL_SHAPE)
    run = np.random.default_rng(np.random.SeedSequence([detector_seed, 0xEB, run_index]))
    tower = _unit_lognormal(run, tower_spread, N_TOWERS)
    return _frozen(crystal * tower[tower_map()])


@cache
def _kappa(detector_seed: int, overdispersion: float) -> Array:
    rng = np.random.default_rng(np.random.SeedSequence([detector_seed, 0xD15]))
    # κ_c² lognormal with mean κ²: the configured κ is the typical channel's.
    log_spread = _KAPPA_LOG_SPREAD
    squared = overdispersion**2 * _unit_lognormal(rng, log_spread, ECAL_BARREL_SHAPE)
    return _frozen(np.sqrt(np.maximum(squared, 1e-12)))


def sample_counts(rng: np.random.Generator, n_events: Any, intensity: Array) -> Array:
    """Binomial hit counts (float32, shape of ``intensity``) for ``n_events`` (N,) events."""
    p = -np.expm1(-np.maximum(intensity, 0.0))
    n = np.asarray(n_events, dtype=np.int64).reshape(-1, *([1] * (p.ndim - 1)))
    return rng.binomial(n, p).astype(np.float32)
