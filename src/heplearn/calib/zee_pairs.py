"""Z→ee pairs of a calibration store without truth: selection, masses and |η| categories.

The two clusters of a pair share ``event/id`` (events with exactly two clusters;
:func:`~heplearn.detector.calorimeter.kinematics.pairs_of_events`).  Cuts: both
clusters found (E > 0), E_T above ``min_et`` and |η| below ``max_abs_eta``, and
opposite charge where the store has a charge field (``scalars/charge``).  No
``truth/*`` or ``validation/*`` field is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.config import setting
from heplearn.data.reader import Store
from heplearn.detector.calorimeter.kinematics import cluster_pair_mass, pairs_of_events
from heplearn.errors import DataError

__all__ = ["CHARGE_FIELD", "PAIR_FIELDS", "PairCuts", "ZeePairs", "select_pairs"]

Array = np.ndarray[Any, Any]

#: The fields a pair selection reads (besides the energies of the method).
PAIR_FIELDS = ("scalars/eta", "scalars/phi", "event/id")
#: An optional per-cluster charge (±1; 0 unknown) in an imported store.
CHARGE_FIELD = "scalars/charge"


@dataclass(frozen=True)
class PairCuts:
    """The Z→ee selection (the thesis' defaults where it gives them)."""

    min_et: float = setting(20.0, low=0.0, high=1000.0, doc="E_T of each cluster [GeV]")
    max_abs_eta: float = setting(2.47, low=0.0, high=5.0, doc="|η| of each cluster")
    opposite_charge: bool = setting(True, doc="require q1·q2 < 0 where the charge is known")


@dataclass(frozen=True)
class ZeePairs:
    """Selected pairs: cluster rows, |η| of both clusters, and the pair mass [GeV]."""

    first: Array
    second: Array
    abs_eta: tuple[Array, Array]
    mass: Array

    def categories(self, edges: Array) -> tuple[Array, Array]:
        """(i, j) |η| bins of each pair with i ≤ j; bins clipped to the first and last."""
        inner = np.asarray(edges[1:-1], dtype=float)
        a = np.searchsorted(inner, self.abs_eta[0], side="right")
        b = np.searchsorted(inner, self.abs_eta[1], side="right")
        return np.minimum(a, b), np.maximum(a, b)

    def masses_with(self, energy: Array, eta: Array, phi: Array) -> Array:
        """The pair masses recomputed from other energies of the same clusters."""
        return cluster_pair_mass(energy, eta, phi, self.first, self.second)


def select_pairs(
    store: Store, energy: Array, cuts: PairCuts, where: str
) -> tuple[ZeePairs, Array, Array]:
    """The Z→ee pairs of ``store`` with cluster energies ``energy``; also returns (η, φ)."""
    absent = [name for name in PAIR_FIELDS if name not in store.schema]
    if absent:
        raise DataError(
            f"missing field{'s' if len(absent) > 1 else ''} {', '.join(absent)}",
            where,
            "a Z→ee pair needs the cluster η and φ and the event id of each cluster",
            "map them with 'heplearn data import --mapping'",
        )
    fields = [*PAIR_FIELDS, *([CHARGE_FIELD] if CHARGE_FIELD in store.schema else [])]
    columns = store.read(fields)
    eta = np.asarray(columns["scalars/eta"], dtype=np.float64)
    phi = np.asarray(columns["scalars/phi"], dtype=np.float64)
    first, second = pairs_of_events(np.asarray(columns["event/id"]))
    et = energy / np.cosh(eta)
    keep = np.ones(len(first), dtype=bool)
    for rows in (first, second):
        keep &= (energy[rows] > 0) & (et[rows] > cuts.min_et)
        keep &= np.abs(eta[rows]) < cuts.max_abs_eta
    if cuts.opposite_charge and CHARGE_FIELD in columns:
        charge = np.asarray(columns[CHARGE_FIELD])
        # An unknown charge (0) does not veto the pair: the cut applies where it is known.
        keep &= charge[first] * charge[second] <= 0
    first, second = first[keep], second[keep]
    mass = cluster_pair_mass(energy, eta, phi, first, second)
    pairs = ZeePairs(first, second, (np.abs(eta[first]), np.abs(eta[second])), mass)
    return pairs, eta, phi
