"""Particles entering the detector simulation, as flat arrays (no per-particle Python objects)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

__all__ = ["Particles", "charge_of"]

Array = np.ndarray[Any, Any]

#: Charge of the long-lived particles that reach the calorimeter, by |PDG id|; the sign of the
#: id flips it (e−: 11 → −1, e+: −11 → +1; π+: 211 → +1).
_CHARGE = {11: -1, 13: -1, 15: -1, 211: 1, 321: 1, 2212: 1, 3222: 1, 3112: -1, 3312: -1, 3334: -1}


def charge_of(pdgid: Array) -> Array:
    """Electric charge [e] of particles given their PDG ids (0 for neutral or unknown)."""
    pdgid = np.asarray(pdgid)
    magnitude = np.zeros(pdgid.shape, dtype=np.int8)
    for code, charge in _CHARGE.items():
        magnitude[np.abs(pdgid) == code] = charge
    signed: Array = (magnitude * np.sign(pdgid)).astype(np.int8)
    return signed


@dataclass(frozen=True)
class Particles:
    """Massless kinematics are enough for e/γ: E = pT cosh η.  Units: GeV, radians, mm."""

    pdgid: Array
    energy: Array
    eta: Array
    phi: Array
    vertex_z: Array
    event: Array

    def __len__(self) -> int:
        return len(self.energy)

    @property
    def pt(self) -> Array:
        pt: Array = self.energy / np.cosh(self.eta)
        return pt

    @property
    def charge(self) -> Array:
        return charge_of(self.pdgid)

    def take(self, index: Array) -> Particles:
        """The subset (or reordering) of particles at ``index``."""
        return Particles(**{f.name: getattr(self, f.name)[index] for f in fields(self)})
