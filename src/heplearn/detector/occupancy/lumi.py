"""Runs, fills and lumisections: luminosity decaying through a fill, pileup, events per LS.

Shared by every occupancy simulation (HCAL, ECAL barrel).  A lumisection (LS) is 2¹⁸ LHC
orbits = 23.3 s.  Pileup μ = L · σ_inel / (n_bunches · f_rev) = 29.6 per 10³⁴ cm⁻²s⁻¹
(σ_inel = 80 mb, 2400 bunches, 11.245 kHz).  Within a run the luminosity decays with the
fill's lifetime from a peak that varies run to run; each run starts a random time into its
fill, and the events per LS follow the luminosity (a prescaled physics stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LS_SECONDS", "PILEUP_PER_LUMI", "LumiConditions", "RunPlan", "pileup"]

Array = np.ndarray[Any, Any]

#: Length of a lumisection [s]: 2^18 orbits of 88.924 µs.
LS_SECONDS = 2**18 * 88.924e-6
_SIGMA_INEL_CM2 = 80e-27
_N_BUNCHES = 2400
_F_REV_HZ = 11_245.0
#: Mean pileup per unit of instantaneous luminosity [1e34 cm^-2 s^-1].
PILEUP_PER_LUMI = _SIGMA_INEL_CM2 * 1e34 / (_N_BUNCHES * _F_REV_HZ)


def pileup(lumi: Any) -> Array:
    """Mean pileup μ at instantaneous luminosity ``lumi`` [1e34 cm^-2 s^-1]."""
    return PILEUP_PER_LUMI * np.asarray(lumi, dtype=np.float64)


@dataclass(frozen=True)
class LumiConditions:
    """Per-map run conditions (arrays of one length)."""

    run_index: Array  # int64: run's position in the sample (0, 1, …)
    run: Array  # int32 CMS-like run number
    lumisection: Array  # int32, from 1
    lumi: Array  # float64 [1e34 cm^-2 s^-1]
    n_events: Array  # int64 events in the lumisection


@dataclass(frozen=True)
class RunPlan:
    """Runs of consecutive lumisections; map i is LS (i mod L) + 1 of run i // L.

    Each run draws (from ``seed`` and its index only, so any map range gives the same
    conditions) its peak luminosity in ``peak_lumi``, its start 0–6 h into the fill and its
    events per LS at the start in ``events_per_ls``; both then decay with ``lifetime_h``.
    """

    seed: int = 1
    lumisections_per_run: int = 300
    events_per_ls: tuple[float, float] = (1000.0, 4000.0)
    peak_lumi: tuple[float, float] = (1.2, 2.1)
    lifetime_h: float = 12.0
    first_run: int = 360_000

    def conditions(self, first: int, stop: int) -> LumiConditions:
        """Conditions of maps ``first`` … ``stop - 1``."""
        index = np.arange(first, stop)
        runs = index // self.lumisections_per_run
        parts = [self._run(int(k)) for k in np.unique(runs)]
        lumi = np.concatenate([p[1] for p in parts])
        n_events = np.concatenate([p[2] for p in parts])
        offset = runs[0] * self.lumisections_per_run
        pick = index - offset
        run_numbers = np.array([p[0] for p in parts])
        return LumiConditions(
            run_index=runs.astype(np.int64),
            run=run_numbers[runs - runs[0]].astype(np.int32),
            lumisection=(index % self.lumisections_per_run + 1).astype(np.int32),
            lumi=lumi[pick],
            n_events=n_events[pick],
        )

    def _run(self, k: int) -> tuple[int, Array, Array]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5EED, k]))
        # Runs are numbered upwards with gaps (runs without collisions in between).
        number = self.first_run + 8 * k + int(rng.integers(0, 8))
        peak = rng.uniform(*self.peak_lumi)
        start_h = rng.uniform(0.0, 6.0)
        rate = rng.uniform(*self.events_per_ls)
        hours = start_h + np.arange(self.lumisections_per_run) * LS_SECONDS / 3600.0
        decay = np.exp(-hours / self.lifetime_h)
        lumi = peak * decay
        n_events = np.maximum(rng.poisson(rate * decay / decay[0]), 1)
        return number, lumi, n_events
