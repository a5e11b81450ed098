"""Pileup in the calorimeter: overlaid minimum-bias particles near a cluster window.

Photons and electrons (mostly from π0 decays) deposit EM showers.  Charged and
neutral hadrons get a simple hadronic response in the EM calorimeter: a
minimum-ionising deposit (≈ 0.2 GeV along the path, at most the particle's
energy) and, in the ≈ 50 % of cases where they interact in its ≈ 1 λ of depth,
a fraction of their energy drawn uniformly in [0.1, 0.6], deposited late in the
shower depth.  Charged particles are bent in the field and curl up below
pT = 0.3 B R / 2.

With a bipolar pulse shape (LAr), the signal of earlier bunch crossings enters
with the opposite sign, so that the average pileup in a cell is zero while its
fluctuations add up: such out-of-time particles carry ``sign = −1``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from heplearn.detector.calorimeter.cellgrid import wrap_phi
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry
from heplearn.detector.calorimeter.material import detector_eta
from heplearn.detector.calorimeter.shower import SubShowers
from heplearn.detector.particles import Particles

__all__ = ["PileupSource", "pileup_showers"]

Array = np.ndarray[Any, Any]

MIP_GEV = 0.2
INTERACTION_PROBABILITY = 0.5


class PileupSource(Protocol):
    """Gives the pileup particles within ``margin`` in η of each cluster of each event."""

    def near(
        self, cluster_eta: Array, cluster_event: Array, margin: float
    ) -> tuple[Particles, Array, Array]:
        """(particles, index of the cluster each belongs to, sign ±1 of its signal)."""
        ...


def pileup_showers(
    near: Particles,
    *,
    owner: Array,
    sign: Array,
    cluster_eta: Array,
    cluster_phi: Array,
    geometry: CalorimeterGeometry,
    rng: np.random.Generator,
    half_size: tuple[float, float],
) -> SubShowers:
    """Showers (signed energies) of pileup particles inside each cluster's (η, φ) half-size."""
    radius = geometry.front_radius(np.abs(near.eta))
    eta = detector_eta(near.eta, near.vertex_z, radius)
    charge = near.charge.astype(np.float64)
    pt = near.pt
    k = 0.15 * geometry.magnetic_field_t
    reaches = (charge == 0) | (k * radius * 1e-3 < pt)
    bend = np.arcsin(np.clip(k * radius * 1e-3 / np.maximum(pt, 1e-3), -1.0, 1.0))
    phi = wrap_phi(near.phi - charge * bend)
    em = (near.pdgid == 22) | (np.abs(near.pdgid) == 11)
    n = len(near)
    interacts = rng.random(n) < INTERACTION_PROBABILITY
    hadronic = np.minimum(near.energy, MIP_GEV * np.cosh(eta) ** 0.5) + np.where(
        interacts, rng.uniform(0.1, 0.6, n) * near.energy, 0.0
    )
    deposit = np.where(em, near.energy, np.minimum(hadronic, near.energy))
    start = np.where(em, rng.exponential(9.0 / 7.0, n), rng.uniform(2.0, 15.0, n))
    inside = (
        reaches
        & (deposit > 1e-3)
        & (np.abs(eta - cluster_eta[owner]) < half_size[0])
        & (np.abs(wrap_phi(phi - cluster_phi[owner])) < half_size[1])
    )
    return SubShowers(
        energy=(sign * deposit)[inside],
        eta=eta[inside],
        phi=phi[inside],
        start_x0=start[inside],
        owner=owner[inside],
    )
