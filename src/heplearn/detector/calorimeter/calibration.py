"""The baseline E_acc calibration: an |η| table that puts the median E_acc/E_true at 1.

Derived from 50 GeV electrons and photons (equal numbers), full material, no
pileup, like an in-situ MC calibration.  The table is stored in the geometry
YAML (``e_acc_scale``); ``python -m heplearn.detector.calorimeter.calibration GEOMETRY``
prints a new one when the simulation changes.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, load_geometry
from heplearn.detector.calorimeter.simulate import SimulationSwitches, simulate_clusters
from heplearn.detector.particles import Particles

__all__ = ["derive_e_acc_scale", "median_response"]


def median_response(
    geometry: CalorimeterGeometry, edges: np.ndarray[Any, Any], per_bin: int, seed: int
) -> np.ndarray[Any, Any]:
    """Median E_acc/E_true of 50 GeV e/γ in each |η| bin (found clusters only)."""
    rng = np.random.default_rng(seed)
    low, high = np.repeat(edges[:-1], per_bin), np.repeat(edges[1:], per_bin)
    n = len(low)
    eta = rng.uniform(low, high) * rng.choice(np.array([-1.0, 1.0]), n)
    pdgid = np.where(np.arange(n) % 2 == 0, 11, 22)
    particles = Particles(
        pdgid, np.full(n, 50.0), eta, rng.uniform(-np.pi, np.pi, n), np.zeros(n), np.arange(n)
    )
    result = simulate_clusters(particles, geometry, rng, switches=SimulationSwitches(pileup=False))
    response = result.scalars["e_acc"] / 50.0
    found = result.scalars["cluster_found"] > 0
    bins = np.repeat(np.arange(len(edges) - 1), per_bin)
    return np.array([np.median(response[(bins == b) & found]) for b in range(len(edges) - 1)])


def derive_e_acc_scale(
    geometry: CalorimeterGeometry, step: float = 0.1, per_bin: int = 2000
) -> list[list[float]]:
    """A new ``e_acc_scale`` table (bin centres, 1/median) for ``geometry``."""
    edges = np.arange(0.0, geometry.eta_max + step, step)
    edges[-1] = geometry.eta_max
    unscaled = replace(geometry, e_acc_scale=((0.0, 1.0),))
    medians = median_response(unscaled, edges, per_bin, seed=99)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return [
        [round(float(c), 3), round(float(1.0 / m), 4)]
        for c, m in zip(centres, medians, strict=True)
    ]


if __name__ == "__main__":
    table = derive_e_acc_scale(load_geometry(sys.argv[1]))
    print("e_acc_scale: [" + ", ".join(f"[{c}, {s}]" for c, s in table) + "]")
