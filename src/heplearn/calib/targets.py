"""The regression target: r = E_truth / E_acc (default) or its inverse E_acc / E_truth.

Predicting a ratio close to 1 instead of an energy over 5 GeV–TeV keeps the
output and the loss on one scale for every energy (thesis eq. 3.3: the energy is
E_acc · r̂).  ``inverse`` is the thesis' literal r = E_acc / E_truth (then E = E_acc / r̂).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from heplearn.errors import DataError

__all__ = ["TARGET_KINDS", "TargetKind", "energy_from_target", "make_target"]

Array = np.ndarray[Any, Any]
TargetKind = Literal["ratio", "inverse"]
TARGET_KINDS: tuple[TargetKind, ...] = ("ratio", "inverse")


def make_target(e_truth: Array, e_acc: Array, kind: TargetKind = "ratio") -> Array:
    """float32 target per cluster; refuses E_acc ≤ 0 or E_truth ≤ 0 (no ratio exists)."""
    truth = np.asarray(e_truth, dtype=np.float64)
    acc = np.asarray(e_acc, dtype=np.float64)
    bad = int(((truth <= 0) | (acc <= 0)).sum())
    if bad:
        raise DataError(
            "non-positive energies",
            "the calibration target",
            f"{bad} of {len(acc)} clusters have E_acc ≤ 0 or E_truth ≤ 0 "
            "(e.g. no cluster was reconstructed)",
            "apply the mislabel cut or drop clusters with scalars/cluster_found = 0",
        )
    ratio = truth / acc if kind == "ratio" else acc / truth
    return ratio.astype(np.float32)


def energy_from_target(pred: Array, e_acc: Array, kind: TargetKind = "ratio") -> Array:
    """Calibrated energy [GeV] (float64) from the predicted target (N,) or (N, k) and E_acc.

    Of an (N, k) output (target, ln σ², ...) the first column is the target.
    """
    r = np.asarray(pred, dtype=np.float64)
    r = r[:, 0] if r.ndim == 2 else r
    acc = np.asarray(e_acc, dtype=np.float64)
    if kind == "ratio":
        energy: Array = acc * r
        return energy
    with np.errstate(divide="ignore"):
        # A prediction of 0 gives an infinite energy: visible in the metrics, not hidden.
        inverse: Array = acc / r
    return inverse
