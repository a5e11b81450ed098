"""Pileup in the calorimeter: overlaid minimum-bias particles that fall into a cluster window.

Photons and electrons (mostly from π0 decays) deposit EM showers.  Charged and
neutral hadrons get a simple hadronic response in the EM calorimeter: a
minimum-ionising deposit (≈ 0.2 GeV along the path, at most the particle's
energy) and, in the ≈ 50 % of cases where they interact in its ≈ 1 λ of depth,
a fraction of their energy drawn uniformly in [0.1, 0.6], deposited late in the
shower depth.  Charged particles are bent in the field and curl up below
pT = 0.3 B R / 2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.detector.cellgrid import wrap_phi
from heplearn.detector.geometry import CalorimeterGeometry
from heplearn.detector.material import detector_eta
from heplearn.detector.particles import Particles
from heplearn.detector.shower import SubShowers

__all__ = ["pileup_showers"]

Array = np.ndarray[Any, Any]

MIP_GEV = 0.2
INTERACTION_PROBABILITY = 0.5


def pileup_showers(
    pileup: Particles,
    *,
    cluster_eta: Array,
    cluster_phi: Array,
    cluster_event: Array,
    geometry: CalorimeterGeometry,
    rng: np.random.Generator,
    half_size: tuple[float, float],
) -> SubShowers:
    """Showers of pileup particles inside the (η, φ) half-size around each cluster, owned by it."""
    empty = np.zeros(0)
    if len(pileup) == 0 or len(cluster_eta) == 0:
        return SubShowers(empty, empty, empty, empty, np.zeros(0, np.int64))
    radius = geometry.front_radius(np.abs(pileup.eta))
    eta = detector_eta(pileup.eta, pileup.vertex_z, radius)
    charge = pileup.charge.astype(np.float64)
    k = 0.15 * geometry.magnetic_field_t
    reaches = (charge == 0) | (k * radius * 1e-3 < pileup.pt)
    bend = np.arcsin(np.clip(k * radius * 1e-3 / np.maximum(pileup.pt, 1e-3), -1.0, 1.0))
    phi = wrap_phi(pileup.phi - charge * bend)
    em = (pileup.pdgid == 22) | (np.abs(pileup.pdgid) == 11)
    interacts = rng.random(len(pileup)) < INTERACTION_PROBABILITY
    hadronic = np.minimum(pileup.energy, MIP_GEV * np.cosh(eta) ** 0.5) + np.where(
        interacts, rng.uniform(0.1, 0.6, len(pileup)) * pileup.energy, 0.0
    )
    deposit = np.where(em, pileup.energy, np.minimum(hadronic, pileup.energy))
    start = np.where(
        em, rng.exponential(9.0 / 7.0, len(pileup)), rng.uniform(2.0, 15.0, len(pileup))
    )
    usable = reaches & (np.abs(eta) < geometry.eta_max + 0.2) & (deposit > 1e-3)

    # Pair clusters with the pileup particles of their event (sorted by event for speed).
    index = np.flatnonzero(usable)
    index = index[np.argsort(pileup.event[index], kind="stable")]
    events = pileup.event[index]
    starts = np.searchsorted(events, cluster_event, side="left")
    lengths = np.searchsorted(events, cluster_event, side="right") - starts
    cluster = np.repeat(np.arange(len(cluster_eta)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    particle = index[np.repeat(starts, lengths) + offsets]
    near = (np.abs(eta[particle] - cluster_eta[cluster]) < half_size[0]) & (
        np.abs(wrap_phi(phi[particle] - cluster_phi[cluster])) < half_size[1]
    )
    cluster, particle = cluster[near], particle[near]
    return SubShowers(
        energy=deposit[particle],
        eta=eta[particle],
        phi=phi[particle],
        start_x0=start[particle],
        owner=cluster,
    )
