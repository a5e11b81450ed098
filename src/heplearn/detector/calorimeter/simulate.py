"""The whole fast simulation of e/γ clusters: material → showers (+ pileup) → cells → clusters."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import Window, place_windows
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry
from heplearn.detector.calorimeter.material import Upstream, propagate
from heplearn.detector.calorimeter.pileup import PileupSource, pileup_showers
from heplearn.detector.calorimeter.reconstruction import reconstruct_clusters
from heplearn.detector.calorimeter.response import ResponseSwitches, measure_cells
from heplearn.detector.calorimeter.shift import DetectorShift, shift_cells
from heplearn.detector.calorimeter.shower import Deposits, SubShowers, deposit_showers
from heplearn.detector.particles import Particles

__all__ = ["SimulatedClusters", "SimulationSwitches", "ideal", "simulate_clusters"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class SimulationSwitches:
    """What to simulate; all on by default.  ``ideal()`` turns off material, noise and pileup."""

    material: bool = True
    shower_fluctuations: bool = True
    pileup: bool = True
    response: ResponseSwitches = field(default_factory=ResponseSwitches)


def ideal() -> SimulationSwitches:
    """No upstream material, no noise, no pileup, no dead cells: the intrinsic resolution."""
    return SimulationSwitches(
        material=False,
        pileup=False,
        response=ResponseSwitches(noise=False, dead_cells=False),
    )


@dataclass(frozen=True)
class SimulatedClusters:
    """One cluster per primary particle, with everything the sample builder stores."""

    windows: dict[str, Window]
    cells: dict[str, Array]
    deposits: Deposits
    upstream: Upstream
    scalars: dict[str, Array]


def _concat(first: SubShowers, second: SubShowers) -> SubShowers:
    return SubShowers(
        energy=np.concatenate([first.energy, second.energy]),
        eta=np.concatenate([first.eta, second.eta]),
        phi=np.concatenate([first.phi, second.phi]),
        start_x0=np.concatenate([first.start_x0, second.start_x0]),
        owner=np.concatenate([first.owner, second.owner]),
    )


#: Showers below this |energy| [GeV] (mostly pileup) use one depth slice per layer: their
#: lateral detail is far below the noise, and they are most of the showers at high ⟨μ⟩.
SOFT_SHOWER_GEV = 2.0


def _subset(showers: SubShowers, mask: Array) -> SubShowers:
    return SubShowers(
        showers.energy[mask],
        showers.eta[mask],
        showers.phi[mask],
        showers.start_x0[mask],
        showers.owner[mask],
    )


def _deposit_hard_and_soft(
    showers: SubShowers,
    *,
    windows: dict[str, Window],
    geometry: CalorimeterGeometry,
    n: int,
    rng: np.random.Generator,
    switches: SimulationSwitches,
) -> Deposits:
    soft = np.abs(showers.energy) < SOFT_SHOWER_GEV
    coarse = replace(geometry, layers=tuple(replace(layer, slices=1) for layer in geometry.layers))
    parts = [
        deposit_showers(
            _subset(showers, mask),
            windows,
            layout,
            n,
            rng if switches.shower_fluctuations else None,
            material=switches.material,
        )
        for mask, layout in ((~soft, geometry), (soft, coarse))
    ]
    hard, light = parts
    return Deposits(
        cells={name: hard.cells[name] + light.cells[name] for name in hard.cells},
        layer_total=hard.layer_total + light.layer_total,
        dead=hard.dead + light.dead,
        leakage=hard.leakage + light.leakage,
    )


def simulate_clusters(
    primaries: Particles,
    geometry: CalorimeterGeometry,
    rng: np.random.Generator,
    *,
    pileup: PileupSource | None = None,
    companions: Particles | None = None,
    companion_owner: Array | None = None,
    switches: SimulationSwitches = SimulationSwitches(),
    shift: DetectorShift | None = None,
) -> SimulatedClusters:
    """Simulate one cluster per primary.

    ``companions`` are other e/γ of the hard event (e.g. final-state radiation) whose showers
    join the cluster of the primary ``companion_owner``; ``pileup`` particles join every
    cluster whose window they reach (matched by ``event``).  ``shift`` scales and smears the
    measured cells per |η| bin (a pseudo-data detector, see ``shift``).
    """
    n = len(primaries)
    upstream = propagate(primaries, geometry, rng, material=switches.material)
    windows = place_windows(upstream.impact_eta, upstream.impact_phi, geometry)
    showers = upstream.showers
    if companions is not None and companion_owner is not None and len(companions):
        extra = propagate(companions, geometry, rng, material=switches.material).showers
        showers = _concat(
            showers,
            SubShowers(
                extra.energy, extra.eta, extra.phi, extra.start_x0, companion_owner[extra.owner]
            ),
        )
    if switches.pileup and pileup is not None:
        seed = geometry.seed
        half = (seed.window[0] * seed.d_eta / 2 + 0.05, seed.window[1] * seed.d_phi / 2 + 0.05)
        near, near_owner, sign = pileup.near(upstream.impact_eta, primaries.event, half[0] + 0.1)
        showers = _concat(
            showers,
            pileup_showers(
                near,
                owner=near_owner,
                sign=sign,
                cluster_eta=upstream.impact_eta,
                cluster_phi=upstream.impact_phi,
                geometry=geometry,
                rng=rng,
                half_size=half,
            ),
        )
    deposits = _deposit_hard_and_soft(
        showers, windows=windows, geometry=geometry, n=n, rng=rng, switches=switches
    )
    cells = measure_cells(deposits.cells, windows, geometry, rng, switches.response)
    if shift is not None:
        cells = shift_cells(cells, upstream.impact_eta, shift, rng)
    scalars = reconstruct_clusters(cells, windows, geometry)
    return SimulatedClusters(
        windows=windows, cells=cells, deposits=deposits, upstream=upstream, scalars=scalars
    )
