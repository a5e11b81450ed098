"""Fit a run's σ_E rescaling on its validation clusters and save it as ``sigma_scale.json``.

Called by ``calib train`` once the network is trained: the validation split is
what the run may tune on (the test split stays untouched for ``calib evaluate``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heplearn.calib.calibrated import CalibRun
from heplearn.calib.features import FeatureArrays
from heplearn.calib.sigma_scale import MIN_FIT_CLUSTERS, SigmaScale, reco_et

__all__ = ["fit_sigma_scale", "write_sigma_scale"]


def fit_sigma_scale(run: CalibRun, validation: FeatureArrays, where: str) -> SigmaScale | None:
    """The per-bin factors of the run's σ_E (None without an uncertainty head or clusters)."""
    energies = run.energies(validation)
    if energies.sigma is None or energies.network is None:
        return None
    pull, defined = energies.pulls(validation.e_truth)
    if int(defined.sum()) < MIN_FIT_CLUSTERS:
        return None
    eta = validation.eta[defined]
    et = reco_et(validation.e_acc[defined], eta)
    return SigmaScale.fit(pull[defined], np.abs(eta), et, where)


def write_sigma_scale(run_path: Path, validation: FeatureArrays, where: str) -> SigmaScale | None:
    """Fit on ``validation`` and write ``sigma_scale.json`` into the run (when there is one)."""
    run = CalibRun.load(run_path)
    scale = fit_sigma_scale(run, validation, where)
    if scale is not None:
        run.folder.write_json(run.folder.sigma_scale, scale.as_dict())
    return scale
