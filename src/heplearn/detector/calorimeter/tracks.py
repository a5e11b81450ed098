"""Tracks: charged particles seen by the tracker, and the 15 closest to each cluster.

Tracks are charged particles with pT above a threshold and |η| < 2.5, with a
smeared transverse momentum (σ(pT)/pT = 0.036 %·pT ⊕ 1.3 %, ATLAS-like), impact
parameters, and hit counts.  An electron's track was fitted through the
tracker in which it radiated: its measured pT is between the momentum before
and after bremsstrahlung, weighted by where the photon was emitted.  Around
each cluster the tracks within ΔR < 0.4 are sorted by the isolation score
``pT · exp(−ΔR/σ_R)`` (DeepCalo thesis eq. 3.1, a = b = 1) and the first 15 kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import wrap_phi
from heplearn.detector.particles import Particles
from heplearn.detector.ranges import pair_by_event

__all__ = ["TRACK_FEATURES", "Tracks", "select_tracks", "smear_tracks"]

Array = np.ndarray[Any, Any]

TRACK_FEATURES = (
    "pt_over_q",
    "d0_significance",
    "delta_r",
    "vertex",
    "z0",
    "eta",
    "phi",
    "n_pixel",
    "n_sct",
    "n_trt",
)
MAX_TRACKS = 15
CONE = 0.4
SIGMA_R = 0.1


@dataclass(frozen=True)
class Tracks:
    """Reconstructed tracks, flat; ``event`` says which event each belongs to."""

    pt: Array
    eta: Array
    phi: Array
    charge: Array
    z0: Array
    d0_significance: Array
    vertex: Array
    hits: Array  # (n, 3): pixel, SCT, TRT
    event: Array

    def __len__(self) -> int:
        return len(self.pt)


def smear_tracks(
    particles: Particles, vertex: Array, rng: np.random.Generator, *, pt_min: float = 1.0
) -> Tracks:
    """Tracks of the charged ``particles`` with pT > ``pt_min`` GeV and |η| < 2.5.

    ``vertex`` is the index of each particle's vertex (0: the hard scatter).
    """
    charge = particles.charge
    keep = (charge != 0) & (particles.pt > pt_min) & (np.abs(particles.eta) < 2.5)
    pt, eta, phi, charge = (
        particles.pt[keep],
        particles.eta[keep],
        particles.phi[keep],
        charge[keep],
    )
    n = len(pt)
    resolution = np.hypot(0.00036 * pt, 0.013)
    measured_pt = pt * (1.0 + resolution * rng.standard_normal(n))
    trt = np.where(np.abs(eta) < 2.0, rng.poisson(30, n), 0)
    hits = np.stack([rng.poisson(4, n), rng.poisson(8, n), trt], axis=1)
    return Tracks(
        pt=np.abs(measured_pt),
        eta=eta + 0.001 * rng.standard_normal(n),
        phi=wrap_phi(phi + 0.001 * rng.standard_normal(n)),
        charge=charge,
        z0=particles.vertex_z[keep] + 0.1 * rng.standard_normal(n),
        d0_significance=rng.standard_normal(n),
        vertex=vertex[keep],
        hits=hits,
        event=particles.event[keep],
    )


def select_tracks(
    tracks: Tracks, cluster_eta: Array, cluster_phi: Array, cluster_event: Array
) -> tuple[Array, Array]:
    """(clusters, 15, 10) features of the tracks in ΔR < 0.4 sorted by score, and their counts."""
    n = len(cluster_eta)
    out = np.zeros((n, MAX_TRACKS, len(TRACK_FEATURES)), dtype=np.float32)
    counts = np.zeros(n, dtype=np.int32)
    if n == 0 or len(tracks) == 0:
        return out, counts
    cluster_of_pair, track_of_pair = pair_by_event(cluster_event, tracks.event)
    d_eta = tracks.eta[track_of_pair] - cluster_eta[cluster_of_pair]
    d_phi = wrap_phi(tracks.phi[track_of_pair] - cluster_phi[cluster_of_pair])
    delta_r = np.hypot(d_eta, d_phi)
    inside = delta_r < CONE
    cluster_of_pair, track_of_pair, delta_r = (
        cluster_of_pair[inside],
        track_of_pair[inside],
        delta_r[inside],
    )
    score = tracks.pt[track_of_pair] * np.exp(-delta_r / SIGMA_R)
    ranking = np.lexsort((-score, cluster_of_pair))
    cluster_of_pair, track_of_pair, delta_r = (
        cluster_of_pair[ranking],
        track_of_pair[ranking],
        delta_r[ranking],
    )
    first = np.searchsorted(cluster_of_pair, cluster_of_pair, side="left")
    rank = np.arange(len(cluster_of_pair)) - first
    counts = np.bincount(cluster_of_pair, minlength=n).astype(np.int32)
    kept = rank < MAX_TRACKS
    c, t, r, dr = cluster_of_pair[kept], track_of_pair[kept], rank[kept], delta_r[kept]
    features = np.stack(
        [
            tracks.pt[t] * tracks.charge[t],
            tracks.d0_significance[t],
            dr,
            tracks.vertex[t],
            tracks.z0[t],
            tracks.eta[t],
            tracks.phi[t],
            tracks.hits[t, 0],
            tracks.hits[t, 1],
            tracks.hits[t, 2],
        ],
        axis=1,
    )
    out[c, r] = features
    return out, counts
