"""HCAL occupancy per lumisection: η-dependent hit rates, pileup, luminosity, response, drift.

A DQM occupancy map counts, per channel, the events of a lumisection (LS, 2¹⁸ LHC orbits
= 23.3 s) in which the channel had a hit above zero suppression.  The model:

- **Hits per interaction** λ(channel) = ρ · Δη · Δφ/2π · exp(−E_thr / (⟨pT⟩ cosh η)) · w_depth:
  ρ ≈ 9 particles per unit η per pp interaction reach the HCAL (≈ 6 charged + neutral
  hadrons at 13.6 TeV), ⟨pT⟩ ≈ 0.5 GeV, so a particle's energy E = pT cosh η rises
  forward and passes the threshold E_thr (≈ 1 GeV in HB/HE, ≈ 10 GeV in HF, whose
  Cherenkov response to hadrons is weak) more often.  Larger towers beyond |ieta| 20 and
  in HF collect more particles.  w_depth shares the hits among depths (the first depths
  see the electromagnetic part and every hadron shower start; HF long fibres, depths 1/3,
  see more than short ones, 2/4).
- **Pileup**: μ = L · σ_inel / (n_bunches · f_rev) = 29.6 per 10³⁴ cm⁻²s⁻¹ (σ_inel = 80 mb,
  2400 bunches, 11.245 kHz); a triggered event holds μ + 1 interactions.
- **Hit probability** per event p = 1 − (1 − p_noise) · exp(−(μ + 1) · λ · g), with
  p_noise ≈ 0.5 % the zero-suppression noise occupancy (thresholds a few σ above the
  pedestal) and g the channel's relative response.
- **Counts** are binomial(n_events, p) — a channel fires at most once per event; for the
  many low-occupancy channels this is Poisson.
- **Response** g: a per-channel spread fixed by the detector seed (lognormal, ≈ 6 %),
  slow per-channel drifts from run to run (random slope) and a coherent darkening of the
  forward HE scintillator (radiation damage, growing with |ieta|).
- **Luminosity** within a run decays with the fill's lifetime (≈ 12 h) from a peak that
  varies run to run (1.2–2.1 × 10³⁴); each run starts a random time into its fill.  The
  events per LS follow the luminosity (the DQM stream is a prescaled physics stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from heplearn.detector.occupancy.hcal import HCAL_SHAPE, hcal_valid_mask, subdetector_map

# Re-exported: the run and luminosity model is shared with the ECAL barrel.
from heplearn.detector.occupancy.lumi import (
    LS_SECONDS,
    PILEUP_PER_LUMI,
    LumiConditions,
    RunPlan,
    pileup,
)

__all__ = [
    "LS_SECONDS",
    "PILEUP_PER_LUMI",
    "DetectorConditions",
    "LumiConditions",
    "RunPlan",
    "hit_probability",
    "hit_rate_per_interaction",
    "pileup",
    "sample_counts",
]

Array = np.ndarray[Any, Any]

_PARTICLES_PER_ETA = 9.0
_MEAN_PT_GEV = 0.5
#: Zero-suppression threshold in particle energy [GeV] per sub-detector code 1 HB, 2 HE, 3 HF.
_THRESHOLD_GEV = np.array([np.inf, 1.0, 1.0, 10.0])
#: Fraction of above-threshold particles seen per depth, rows HB, HE, HF.
_DEPTH_WEIGHT = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],
        [0.7, 0.5, 0.35, 0.2],
        [0.8, 0.55, 0.4, 0.25],
        [1.0, 0.6, 1.0, 0.6],
    ]
)
# |η| tower edges indexed by |ieta|: HB/HE towers 1–29 and HF rings 29–41.
_BARREL_EDGES = np.concatenate(
    [0.087 * np.arange(21), [1.830, 1.930, 2.043, 2.172, 2.322, 2.500, 2.650, 2.868, 3.000]]
)
_HF_EDGES = np.array(
    [2.853, 2.964, 3.139, 3.314, 3.489, 3.664, 3.839, 4.013, 4.191, 4.363, 4.538, 4.716,
     4.889, 5.191]
)  # fmt: skip


def _frozen(array: Array) -> Array:
    array.flags.writeable = False
    return array


@cache
def hit_rate_per_interaction() -> Array:
    """Read-only float64 (82, 72, 4): λ, mean above-threshold hits per pp interaction (0 if no
    channel)."""
    code = subdetector_map().astype(np.int64)
    rows = np.arange(HCAL_SHAPE[0])
    a = np.abs(np.where(rows < 41, rows - 41, rows - 40))[:, None, None] * np.ones(
        HCAL_SHAPE, dtype=np.int64
    )
    hf = code == 3
    barrel_index = np.clip(a, 1, 29)
    hf_index = np.clip(a - 29, 0, 12)
    low = np.where(hf, _HF_EDGES[hf_index], _BARREL_EDGES[barrel_index - 1])
    high = np.where(hf, _HF_EDGES[hf_index + 1], _BARREL_EDGES[barrel_index])
    # 5° towers to |ieta| 20, 10° beyond, 20° in the last two HF rings.
    dphi_fraction = np.where(a <= 20, 1 / 72, np.where(a <= 39, 1 / 36, 1 / 18))
    energy = _MEAN_PT_GEV * np.cosh(0.5 * (low + high))
    above = np.exp(-_THRESHOLD_GEV[code] / energy)
    depth_weight = _DEPTH_WEIGHT[code, np.arange(HCAL_SHAPE[2])]
    rate = _PARTICLES_PER_ETA * (high - low) * dphi_fraction * above * depth_weight
    return _frozen(np.where(hcal_valid_mask(), rate, 0.0))


def hit_probability(lumi: Any, gains: Array, noise_occupancy: float) -> Array:
    """Per-event hit probability (N, 82, 72, 4) at luminosities ``lumi`` (N,) with channel
    responses ``gains`` ((82, 72, 4) or (N, 82, 72, 4)); 0 where there is no channel."""
    interactions = pileup(lumi)[:, None, None, None] + 1.0
    signal = np.exp(-interactions * hit_rate_per_interaction() * gains)
    p = 1.0 - (1.0 - noise_occupancy) * signal
    return np.where(hcal_valid_mask(), p, 0.0)


def sample_counts(rng: np.random.Generator, n_events: Any, p: Array) -> Array:
    """Binomial hit counts (float32, shape of ``p``) for ``n_events`` (N,) events per map."""
    valid = hcal_valid_mask()
    n = np.asarray(n_events, dtype=np.int64)
    counts = np.zeros(p.shape, dtype=np.float32)
    counts[:, valid] = rng.binomial(n[:, None], np.clip(p[:, valid], 0.0, 1.0))
    return counts


@dataclass(frozen=True)
class DetectorConditions:
    """Channel responses: spread fixed by ``detector_seed``, drifting from run to run.

    ``response_spread`` is the relative σ of the per-channel response; ``drift_per_run`` the σ
    of each channel's random response slope per run; ``darkening_per_run`` the coherent loss
    per run at the most forward HE tower (scaling as ((|ieta| − 16)/13)² over HE).
    """

    detector_seed: int = 1
    response_spread: float = 0.06
    drift_per_run: float = 0.002
    darkening_per_run: float = 0.001
    noise_occupancy: float = 0.005

    def gains(self, run_index: int) -> Array:
        """Relative response (82, 72, 4) of every channel in the sample's run ``run_index``."""
        return _gains(
            self.detector_seed,
            self.response_spread,
            self.drift_per_run,
            self.darkening_per_run,
            run_index,
        )


@cache
def _base_response(detector_seed: int, spread: float) -> tuple[Array, Array]:
    rng = np.random.default_rng(np.random.SeedSequence([detector_seed, 0xCA1]))
    # Lognormal with unit mean: responses stay positive.
    base = np.exp(spread * rng.standard_normal(HCAL_SHAPE) - 0.5 * spread**2)
    slope = rng.standard_normal(HCAL_SHAPE)
    return _frozen(base), _frozen(slope)


def _gains(
    detector_seed: int, spread: float, drift: float, darkening: float, run_index: int
) -> Array:
    base, slope = _base_response(detector_seed, spread)
    code = subdetector_map()
    rows = np.arange(HCAL_SHAPE[0])
    a = np.abs(np.where(rows < 41, rows - 41, rows - 40))[:, None, None]
    he_depth_into = np.where(code == 2, ((a - 16) / 13.0) ** 2, 0.0)
    factor = (1.0 + drift * slope * run_index) * (1.0 - darkening * run_index * he_depth_into)
    return base * np.clip(factor, 0.05, None)
