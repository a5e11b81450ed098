"""ECAL-barrel-like occupancy maps (170 × 360) with the effects of real lumisections.

Per lumisection: a luminosity falling through the fill (no event count is kept),
trigger-tower (5 × 5) and supermodule (85 × 20) gain variations shared by their
crystals, and a per-crystal over-dispersion; counts are Poisson on top.  Faults: a
missing supermodule, a dead or hot trigger tower, a single dead or hot crystal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.dqm.maps import MapSet

H, W = 170, 360
#: Crystals that never fire (known dead: masked, never flagged).
KNOWN_DEAD = ((3, 7), (100, 200))
FAULTS = ("missing_sm", "dead_tower", "hot_tower", "dead_crystal", "hot_crystal")

Array = np.ndarray[Any, Any]


def detector_rate(mean: float = 150.0) -> Array:
    """Hits per crystal at luminosity 1: rising with |η|, a fixed ±10 % crystal response."""
    eta = np.linspace(-1.48, 1.48, H)[:, None]
    response = np.random.default_rng(5).lognormal(0.0, 0.10, (H, W))
    rate = mean * (1.0 + 0.3 * eta**2) * response
    for channel in KNOWN_DEAD:
        rate[channel] = 0.0
    return rate


def good_maps(
    n: int,
    seed: int,
    *,
    tower_sigma: float = 0.03,
    sm_sigma: float = 0.01,
    crystal_sigma: float = 0.02,
    lumi: tuple[float, float] = (0.4, 1.2),
    mean: float = 150.0,
) -> tuple[Array, Array]:
    """(n, H, W) Poisson counts of good lumisections, and the expected counts (before Poisson)."""
    rng = np.random.default_rng(seed)
    lumis = rng.uniform(*lumi, n)
    tower = rng.lognormal(0.0, tower_sigma, (n, H // 5, W // 5)).repeat(5, 1).repeat(5, 2)
    module = rng.lognormal(0.0, sm_sigma, (n, 2, W // 20)).repeat(85, 1).repeat(20, 2)
    crystal = rng.gamma(1.0 / crystal_sigma**2, crystal_sigma**2, (n, H, W))
    expected = detector_rate(mean)[None] * lumis[:, None, None] * tower * module * crystal
    return rng.poisson(expected).astype(np.float32), expected


def inject(
    counts: Array, expected: Array, fault: str, rng: np.random.Generator
) -> tuple[Array, Array]:
    """Put ``fault`` into one map (counts redrawn where hot); return it and the truth mask."""
    out = counts.copy()
    truth = np.zeros(counts.shape, bool)
    if fault == "missing_sm":
        r, c = 85 * rng.integers(0, 2), 20 * rng.integers(0, 18)
        truth[r : r + 85, c : c + 20] = True
    elif fault in ("dead_tower", "hot_tower"):
        r, c = 5 * rng.integers(0, 34), 5 * rng.integers(0, 72)
        truth[r : r + 5, c : c + 5] = True
    else:
        while True:
            r, c = rng.integers(0, H), rng.integers(0, W)
            if expected[r, c] > 0:
                break
        truth[r, c] = True
    if fault.startswith("hot"):
        out[truth] = rng.poisson(3.0 * expected[truth])
    else:
        out[truth] = 0.0
    return out, truth


def as_mapset(counts: Array) -> MapSet:
    """User-like maps: no event count (each map's total stands in)."""
    return MapSet.from_counts(counts)
