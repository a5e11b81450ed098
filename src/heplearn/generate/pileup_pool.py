"""Pileup by premixing: a minimum-bias pool generated once, overlaid Poisson(⟨μ⟩) times per event.

The pool is a few hundred Pythia minimum-bias events, generated once per
(seed, size) and cached in the process.  Each overlaid vertex is a random pool
event with a random φ rotation and η reflection (so a modest pool gives many
distinct configurations) at a vertex z drawn from the beam spot (σz = 45 mm).
Never is Pythia run per pileup vertex, and pileup particles are never all
materialised: the pool is sorted by (event, η) once, so the particles of a
vertex near a cluster are found by binary search.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import wrap_phi
from heplearn.detector.particles import Particles, charge_of
from heplearn.detector.ranges import expand_ranges, pair_by_event
from heplearn.generate.pythia import generate_events

__all__ = ["BEAM_SPOT_SIGMA_Z_MM", "MinBiasPool", "PileupOverlay", "minbias_pool"]

Array = np.ndarray[Any, Any]

BEAM_SPOT_SIGMA_Z_MM = 45.0
#: Probability that a pileup vertex is reconstructed (enough tracks above threshold).
VERTEX_EFFICIENCY = 0.6
#: Tracks are reconstructed above this pT [GeV].
TRACK_PT_MIN = 1.0
#: Separates pool events in the sorted key event·KEY_STRIDE + η (pool |η| < 3).
KEY_STRIDE = 16.0


@dataclass(frozen=True)
class MinBiasPool:
    """Final-state particles of the pool events, sorted by (event, η), with event offsets."""

    pdgid: Array
    energy: Array
    eta: Array
    phi: Array
    offsets: Array
    key: Array
    is_track: Array

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1


@cache
def minbias_pool(n_events: int, seed: int, ecm_gev: float = 13_600.0) -> MinBiasPool:
    """The pool for (``n_events``, ``seed``): generated on first use, then reused."""
    # The pool has its own random stream, far from the shards' (0, 1, 2, …).
    events = generate_events("minbias", n_events, seed, 2**31, ecm_gev=ecm_gev, eta_max=3.0)
    key = events.event * KEY_STRIDE + events.eta
    order = np.argsort(key, kind="stable")
    counts = np.bincount(events.event, minlength=n_events)
    pt = events.energy[order] / np.cosh(events.eta[order])
    charged = charge_of(events.pdgid[order]) != 0
    return MinBiasPool(
        pdgid=events.pdgid[order],
        energy=events.energy[order],
        eta=events.eta[order],
        phi=events.phi[order],
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        key=key[order],
        is_track=charged & (pt > TRACK_PT_MIN) & (np.abs(events.eta[order]) < 2.5),
    )


@dataclass(frozen=True)
class PileupOverlay:
    """The pileup vertices of a set of events: which pool event, how placed, in or out of time."""

    pool: MinBiasPool
    owner_event: Array
    pool_event: Array
    flip: Array
    rotation: Array
    vertex_z: Array
    vertex_number: Array
    sign: Array
    n_vertex: Array

    @classmethod
    def draw(
        cls,
        pool: MinBiasPool,
        mu: Array,
        events: Array,
        rng: np.random.Generator,
        *,
        out_of_time: bool,
    ) -> PileupOverlay:
        """Poisson(μ) in-time vertices per event (and as many again out of time if asked)."""
        in_time = rng.poisson(mu)
        counts = in_time + (rng.poisson(mu) if out_of_time else 0)
        total = int(counts.sum())
        event_row, within = expand_ranges(np.zeros_like(counts), counts)
        owner = events[event_row]
        number = within + 1
        sign = np.where(number <= in_time[event_row], 1.0, -1.0)
        return cls(
            pool=pool,
            owner_event=owner,
            pool_event=rng.integers(0, pool.n_events, total),
            flip=rng.choice(np.array([-1.0, 1.0]), total),
            rotation=rng.uniform(-np.pi, np.pi, total),
            vertex_z=BEAM_SPOT_SIGMA_Z_MM * rng.standard_normal(total),
            vertex_number=number,
            sign=sign,
            n_vertex=1 + rng.binomial(in_time, VERTEX_EFFICIENCY),
        )

    def _particles(self, vertex: Array, index: Array) -> Particles:
        return Particles(
            pdgid=self.pool.pdgid[index],
            energy=self.pool.energy[index],
            eta=self.pool.eta[index] * self.flip[vertex],
            phi=wrap_phi(self.pool.phi[index] + self.rotation[vertex]),
            vertex_z=self.vertex_z[vertex],
            event=self.owner_event[vertex],
        )

    def near(
        self, cluster_eta: Array, cluster_event: Array, margin: float
    ) -> tuple[Particles, Array, Array]:
        """Pileup particles within ``margin`` in η of each cluster (see ``PileupSource``)."""
        cluster, vertex = pair_by_event(cluster_event, self.owner_event)
        # In the pool's frame the cluster sits at η·flip; search its sorted η range.
        centre = cluster_eta[cluster] * self.flip[vertex]
        base = self.pool_event[vertex] * KEY_STRIDE
        low = np.searchsorted(self.pool.key, base + centre - margin, side="left")
        high = np.searchsorted(self.pool.key, base + centre + margin, side="right")
        pair, index = expand_ranges(low, high)
        chosen = vertex[pair]
        return self._particles(chosen, index), cluster[pair], self.sign[chosen]

    def tracks(self) -> tuple[Particles, Array]:
        """Charged in-time pileup particles that make tracks, and their vertex numbers."""
        in_time = np.flatnonzero(self.sign > 0)
        track_index = np.flatnonzero(self.pool.is_track)
        per_event = np.searchsorted(track_index, self.pool.offsets)
        vertex_of, position = expand_ranges(
            per_event[self.pool_event[in_time]], per_event[self.pool_event[in_time] + 1]
        )
        vertex = in_time[vertex_of]
        return self._particles(vertex, track_index[position]), self.vertex_number[vertex]
