"""E_label from the Z mass (thesis eq. 5.6): the training target of clusters without truth.

For a selected Z→ee pair (:mod:`heplearn.calib.zee_pairs`) whose mass from the
reference energies lies in the window (86–97 GeV, the thesis' selection), the
label of cluster 1 is the energy that puts the pair on the Z mass given the
partner's reference energy (E_acc, or the BDT or network of a run trained on MC,
``reference_run``: the thesis uses the MC-trained BDT):

    E_label,1 = M_Z² / (2 E_T,2 (cosh(η1 − η2) − cos(φ1 − φ2))) · cosh η1,

and vice versa.  Clusters not in a selected pair get no label and are dropped
(counted).  No ``truth/*`` or ``validation/*`` field is read: the label needs only
the reference energies, η, φ and the event id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from heplearn.calib.resolution_metrics import eiqr
from heplearn.calib.zee_pairs import PairCuts, select_pairs
from heplearn.config import setting
from heplearn.data.reader import Store
from heplearn.errors import ConfigError, DataError

__all__ = [
    "DataTrainingConfig",
    "ZMassLabels",
    "label_check",
    "reference_energies",
    "z_mass_labels",
]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class DataTrainingConfig:
    """Training on data: the target of each cluster from the Z mass instead of the truth."""

    label: Literal["z-mass"] = setting("z-mass", doc="E_label from the Z mass (thesis eq. 5.6)")
    reference: Literal["e_acc", "bdt", "network"] = setting(
        "e_acc", doc="the partner's energy the label is computed from"
    )
    reference_run: str | None = setting(
        None, doc="the calib run (trained on MC) whose bdt or network gives the reference"
    )
    z_mass: float = setting(91.1876, low=1.0, high=1000.0, doc="M_Z [GeV]")
    mass_window: tuple[float, float] = setting(
        (86.0, 97.0), low=0.0, high=1000.0, doc="pairs kept by their reference mass [GeV]"
    )
    cuts: PairCuts = setting(PairCuts())

    def validate(self, where: str) -> None:
        if (self.reference == "e_acc") != (self.reference_run is None):
            raise ConfigError(
                "field 'data_training.reference_run'",
                where,
                f"reference {self.reference} with reference_run {self.reference_run}",
                "give a run for reference bdt or network, none for e_acc",
            )
        lo, hi = self.mass_window
        if not lo < self.z_mass < hi:
            raise ConfigError(
                "field 'data_training.mass_window'",
                where,
                f"{[lo, hi]} does not contain z_mass {self.z_mass}",
                "use e.g. [86, 97]",
            )


@dataclass(frozen=True)
class ZMassLabels:
    """Store rows with a label (both clusters of each kept pair), the labels [GeV], counts."""

    rows: Array
    energy: Array
    pairs: int
    unpaired: int


def _partner_label(
    reference: Array, eta: Array, phi: Array, mine: Array, partner: Array, *, z_mass: float
) -> Array:
    et_partner = reference[partner] / np.cosh(eta[partner])
    angle = np.cosh(eta[mine] - eta[partner]) - np.cos(phi[mine] - phi[partner])
    label: Array = z_mass**2 / (2.0 * et_partner * angle) * np.cosh(eta[mine])
    return label


def z_mass_labels(
    store: Store, reference: Array, config: DataTrainingConfig, where: str
) -> ZMassLabels:
    """E_label of every cluster in a selected pair; ``reference`` is per store row."""
    pairs, eta, phi = select_pairs(store, reference, config.cuts, where)
    lo, hi = config.mass_window
    inside = (pairs.mass > lo) & (pairs.mass < hi)
    first, second = pairs.first[inside], pairs.second[inside]
    if len(first) == 0:
        raise DataError(
            "no Z→ee pairs",
            where,
            f"no event has two clusters passing the pair cuts with a {config.reference} mass "
            f"in {lo:g}–{hi:g} GeV: no cluster can get a Z-mass label",
            "train on a Z→ee store, or loosen data_training.cuts / mass_window",
        )
    rows = np.concatenate([first, second])
    energy = np.concatenate(
        [
            _partner_label(reference, eta, phi, first, second, z_mass=config.z_mass),
            _partner_label(reference, eta, phi, second, first, z_mass=config.z_mass),
        ]
    )
    order = np.argsort(rows, kind="stable")  # store order: the split hashes event ids anyway
    return ZMassLabels(rows[order], energy[order], len(first), len(reference) - len(rows))


def reference_energies(store: Store, e_acc: Array, config: DataTrainingConfig, where: str) -> Array:
    """The reference energy per store row; rows past ``e_acc`` (max_events) get 0 (no pair)."""
    reference = np.zeros(store.rows)
    if config.reference == "e_acc":
        reference[: len(e_acc)] = e_acc
        return reference
    # method_energies loads the run, which imports the training code that imports this module.
    from heplearn.calib.method_energies import method_energies

    assert config.reference_run is not None
    energy = method_energies(store, config.reference, Path(config.reference_run), where)
    reference[: len(e_acc)] = energy[: len(e_acc)]
    return reference


def label_check(label: Array, truth: Array) -> dict[str, float] | None:
    """Median and eIQR of E_label/E_truth where the truth exists (MC): the thesis' check."""
    known = np.isfinite(truth) & (truth > 0)
    if not known.any():
        return None
    ratio = label[known] / truth[known]
    return {"clusters": int(known.sum()), "median": float(np.median(ratio)), "eiqr": eiqr(ratio)}
