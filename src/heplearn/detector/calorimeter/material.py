"""What happens between the interaction point and the calorimeter.

- Bending in the solenoid field: a track of transverse momentum pT [GeV] in a field
  B [T] has radius ρ = pT/(0.3 B) [m]; at radius r its azimuth has turned by asin(r/2ρ).
- Electron bremsstrahlung in the tracker (Bethe–Heitler): the fraction z of energy kept
  after t X0 has −ln z ~ Gamma(t/ln 2); the radiated energy goes into one photon emitted
  tangentially at a random radius, so electron and photon reach the calorimeter
  separated in φ.
- Photon conversions: the conversion depth is exponential with mean 9/7 X0; inside the
  tracker the photon becomes an e+e− pair (energy shared uniformly) that opens in φ, and the
  conversion radius is recorded; otherwise the photon starts its shower after the tracker.
- The detector η of each shower accounts for the vertex z position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.detector.calorimeter.cellgrid import wrap_phi
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, interpolate
from heplearn.detector.calorimeter.shower import SubShowers
from heplearn.detector.particles import Particles

__all__ = ["Upstream", "detector_eta", "propagate"]

Array = np.ndarray[Any, Any]

#: Mean free path of a high-energy photon before converting, in radiation lengths.
CONVERSION_LENGTH_X0 = 9.0 / 7.0


@dataclass(frozen=True)
class Upstream:
    """Showers reaching the calorimeter and the truth of what happened before it."""

    showers: SubShowers
    converted: Array
    conversion_radius: Array
    brem_fraction: Array
    impact_eta: Array
    impact_phi: Array


def detector_eta(eta: Array, vertex_z: Array, radius: Array) -> Array:
    """η seen from the detector origin of a particle with η from a vertex displaced in z [mm]."""
    seen: Array = np.arcsinh((vertex_z + radius * np.sinh(eta)) / radius)
    return seen


def _turn(curvature: Array, radius_mm: Array) -> Array:
    """Azimuthal turn of the position at ``radius_mm`` for curvature k = 0.3B/(2pT) [1/m]."""
    return np.arcsin(np.clip(curvature * radius_mm * 1e-3, -1.0, 1.0))


def propagate(
    particles: Particles,
    geometry: CalorimeterGeometry,
    rng: np.random.Generator,
    *,
    material: bool = True,
) -> Upstream:
    """Showers (owned by the index of each particle) that enter the calorimeter."""
    n = len(particles)
    radius = geometry.front_radius(np.abs(particles.eta))
    eta = detector_eta(particles.eta, particles.vertex_z, radius)
    radius = geometry.front_radius(np.abs(eta))
    tracker = interpolate(geometry.tracker_x0, np.abs(eta)) if material else np.zeros(n)
    charge = particles.charge.astype(np.float64)
    pt = np.maximum(particles.pt, 1e-3)
    k = 0.15 * geometry.magnetic_field_t  # 0.3 B / 2  [GeV/m]
    r_tracker = np.minimum(geometry.tracker_radius_mm, radius)
    is_photon = particles.pdgid == 22

    # Photons: where do they convert?
    depth = rng.exponential(CONVERSION_LENGTH_X0, n)
    converted = is_photon & (depth < tracker)
    conversion_radius = np.where(converted, r_tracker * depth / np.maximum(tracker, 1e-9), 0.0)

    # Charged particles: bremsstrahlung (kept fraction z) at a random radius in the tracker.
    shape = np.maximum(tracker / np.log(2.0), 1e-9)
    kept = np.where(~is_photon & material, np.exp(-rng.gamma(shape)), 1.0)
    brem_radius = rng.uniform(0.0, 1.0, n) * r_tracker
    turn_before = _turn(k / pt, brem_radius)
    turn_after = _turn(k / (kept * pt), radius) - _turn(k / (kept * pt), brem_radius)
    charged_phi = particles.phi - charge * (turn_before + turn_after)
    direction = particles.phi - 2.0 * charge * turn_before
    brem_phi = direction + (particles.phi - charge * turn_before - direction) * brem_radius / radius

    # Conversion pairs open in φ: e− and e+ bend opposite ways from the conversion radius.
    share = rng.uniform(0.0, 1.0, n)
    travel = (radius - conversion_radius) * 1e-3

    def pair_phi(sign: float, fraction: Array) -> Array:
        bend: Array = k * travel**2 / (np.maximum(fraction * pt, 1e-3) * radius * 1e-3)
        return particles.phi - sign * bend

    owner = np.arange(n)
    pieces = [
        # (mask, energy, phi, start depth [X0 after the tracker])
        (~is_photon, kept * particles.energy, charged_phi, np.zeros(n)),
        (
            ~is_photon & (kept < 1.0),
            (1.0 - kept) * particles.energy,
            brem_phi,
            rng.exponential(CONVERSION_LENGTH_X0, n),
        ),
        (is_photon & ~converted, particles.energy, particles.phi, depth - tracker),
        (converted, share * particles.energy, pair_phi(-1.0, share), np.zeros(n)),
        (converted, (1.0 - share) * particles.energy, pair_phi(1.0, 1.0 - share), np.zeros(n)),
    ]
    # Tracks that curl up inside the calorimeter radius never reach it.
    reaches = k * radius * 1e-3 < kept * pt
    pieces[0] = (pieces[0][0] & reaches, *pieces[0][1:])
    selected = [(mask & (energy > 1e-3), energy, phi, start) for mask, energy, phi, start in pieces]
    showers = SubShowers(
        energy=np.concatenate([e[m] for m, e, _, _ in selected]),
        eta=np.concatenate([eta[m] for m, _, _, _ in selected]),
        phi=wrap_phi(np.concatenate([p[m] for m, _, p, _ in selected])),
        start_x0=np.concatenate([s[m] for m, _, _, s in selected]),
        owner=np.concatenate([owner[m] for m, _, _, _ in selected]),
    )
    # The cluster is seeded where the most energetic shower of each particle hits.
    order = np.lexsort((-showers.energy, showers.owner))
    first = order[np.searchsorted(showers.owner[order], np.arange(n))]
    has_shower = np.bincount(showers.owner, minlength=n) > 0
    impact_eta = np.where(has_shower, showers.eta[first.clip(0, len(showers) - 1)], eta)
    impact_phi = np.where(has_shower, showers.phi[first.clip(0, len(showers) - 1)], particles.phi)
    return Upstream(
        showers=showers,
        converted=converted,
        conversion_radius=conversion_radius,
        brem_fraction=1.0 - kept,
        impact_eta=impact_eta,
        impact_phi=impact_phi,
    )
