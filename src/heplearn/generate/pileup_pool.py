"""Pileup by premixing: a minimum-bias pool generated once, overlaid Poisson(⟨μ⟩) times per event.

The pool is a few hundred Pythia minimum-bias events, generated once per
(seed, size) and cached in the process.  Each overlaid vertex is a random pool
event with a random φ rotation and η reflection (so a modest pool gives many
distinct configurations) at a vertex z drawn from the beam spot (σz = 45 mm).
Never is Pythia run per pileup vertex.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from heplearn.detector.cellgrid import wrap_phi
from heplearn.detector.particles import Particles
from heplearn.generate.pythia import generate_events

__all__ = ["BEAM_SPOT_SIGMA_Z_MM", "MinBiasPool", "minbias_pool", "overlay_pileup"]

Array = np.ndarray[Any, Any]

BEAM_SPOT_SIGMA_Z_MM = 45.0
#: Probability that a pileup vertex is reconstructed (enough tracks above threshold).
VERTEX_EFFICIENCY = 0.6


@dataclass(frozen=True)
class MinBiasPool:
    """Final-state particles of the pool events, flat, with event offsets."""

    pdgid: Array
    energy: Array
    eta: Array
    phi: Array
    offsets: Array

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1


@cache
def minbias_pool(n_events: int, seed: int, ecm_gev: float = 13_600.0) -> MinBiasPool:
    """The pool for (``n_events``, ``seed``): generated on first use, then reused."""
    # The pool has its own random stream, far from the shards' (0, 1, 2, …).
    events = generate_events("minbias", n_events, seed, 2**31, ecm_gev=ecm_gev, eta_max=3.0)
    counts = np.bincount(events.event, minlength=n_events)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return MinBiasPool(events.pdgid, events.energy, events.eta, events.phi, offsets)


def overlay_pileup(
    pool: MinBiasPool, mu: Array, events: Array, rng: np.random.Generator
) -> tuple[Particles, Array, Array]:
    """Pileup particles for events with mean pileup ``mu``.

    Returns the particles (``event`` = the hard event id), their vertex index (1, 2, …; 0 is
    the hard scatter), and the number of reconstructed vertices per event.
    """
    n_vertices = rng.poisson(mu)
    owner_event = np.repeat(events, n_vertices)
    vertex_number = (
        np.arange(n_vertices.sum()) - np.repeat(np.cumsum(n_vertices) - n_vertices, n_vertices) + 1
    )
    chosen = rng.integers(0, pool.n_events, len(owner_event))
    flip = rng.choice(np.array([-1.0, 1.0]), len(owner_event))
    rotation = rng.uniform(-np.pi, np.pi, len(owner_event))
    vertex_z = BEAM_SPOT_SIGMA_Z_MM * rng.standard_normal(len(owner_event))
    lengths = pool.offsets[chosen + 1] - pool.offsets[chosen]
    vertex_of_particle = np.repeat(np.arange(len(owner_event)), lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    index = np.repeat(pool.offsets[chosen], lengths) + within
    particles = Particles(
        pdgid=pool.pdgid[index],
        energy=pool.energy[index],
        eta=pool.eta[index] * flip[vertex_of_particle],
        phi=wrap_phi(pool.phi[index] + rotation[vertex_of_particle]),
        vertex_z=vertex_z[vertex_of_particle],
        event=owner_event[vertex_of_particle],
    )
    reconstructed = 1 + rng.binomial(n_vertices, VERTEX_EFFICIENCY)
    return particles, vertex_number[vertex_of_particle], reconstructed
