"""The ``uncertainty`` section of ``calib evaluate`` for a network with a σ_E head.

- ``sigma_scale``: the run's per-bin σ_E factors (``sigma_scale.json``, fitted on its
  validation split by ``calib train``), applied to σ_E here;
- ``pulls`` (needs the truth): core width of (E − E_truth)/σ_E per |η| × E_T bin,
  ``before`` and ``after`` the rescaling, and how far the well-filled bins are from 1;
- ``mass_quantiles``: BW ⊗ CB fits of the Z→ee mass in σ_M quintiles (σ_M from the
  applied σ_E, :mod:`heplearn.calib.mass_uncertainty`), with the mass pulls on simulation.

:func:`selected_pair_uncertainty` gives the same quintile fits for the selected pairs of
the evaluation on data (no truth).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.calib.calibrated import CalibRun, Energies
from heplearn.calib.features import FeatureArrays
from heplearn.calib.mass_uncertainty import pair_mass_sigma, sigma_m_quantile_fits
from heplearn.calib.massfit import DEFAULT_RANGES
from heplearn.calib.sigma_scale import SigmaScale, pull_width_table, reco_et
from heplearn.calib.zee_pairs import ZeePairs
from heplearn.detector.calorimeter.kinematics import pairs_of_events
from heplearn.stats.bootstrap import bootstrap
from heplearn.stats.spread import eiqr

__all__ = ["WELL_FILLED", "selected_pair_uncertainty", "uncertainty_metrics"]

Array = np.ndarray[Any, Any]

#: The acceptance looks at bins with more clusters than this (issue: "> 500 clusters").
WELL_FILLED = 500


def _pull_summary(pull: Array, abs_eta: Array, et: Array, n_boot: int) -> dict[str, Any]:
    width, error = bootstrap(eiqr, pull, n=n_boot, seed=1)
    rows = pull_width_table(pull, abs_eta, et, n_boot=n_boot)
    filled = [row["width"] for row in rows if row["n"] > WELL_FILLED]
    return {
        "width": width,
        "width_err": error,
        "median": float(np.median(pull)),
        "binned": rows,
        "well_filled": {
            "min_clusters": WELL_FILLED,
            "bins": len(filled),
            "min_width": min(filled) if filled else None,
            "max_width": max(filled) if filled else None,
            "within_0.9_1.1": bool(filled) and all(0.9 <= w <= 1.1 for w in filled),
        },
    }


def _pulls(
    energies: Energies, sigma_after: Array | None, f: FeatureArrays, et: Array, n_boot: int
) -> dict[str, Any]:
    assert energies.network is not None and energies.sigma is not None
    defined = (energies.sigma > 0) & np.isfinite(f.e_truth)
    residual = (energies.network - f.e_truth)[defined]
    abs_eta, et = np.abs(f.eta[defined]), et[defined]
    out = {"before": _pull_summary(residual / energies.sigma[defined], abs_eta, et, n_boot)}
    if sigma_after is not None:
        out["after"] = _pull_summary(residual / sigma_after[defined], abs_eta, et, n_boot)
    return out


def _mass_quantiles(
    energies: Energies,
    sigma: Array,
    f: FeatureArrays,
    masses: dict[str, Array],
    n_boot: int,
) -> dict[str, Any]:
    assert energies.network is not None
    i, j = pairs_of_events(f.event_id)
    mass = masses["network"]
    sigma_m = pair_mass_sigma(mass, energies.network[i], energies.network[j], sigma[i], sigma[j])
    truth = masses.get("truth")
    lo, hi = DEFAULT_RANGES["bw-cb"]
    # Quintiles of the pairs in the fit range, so each fit gets a fifth of the fitted pairs.
    in_range = (mass >= lo) & (mass <= hi) & (sigma > 0)[i] & (sigma > 0)[j]
    true_mass = None
    if truth is not None and np.all(np.isfinite(truth[in_range])):
        true_mass = truth[in_range]
    return sigma_m_quantile_fits(
        mass[in_range], sigma_m[in_range], true_mass=true_mass, n_boot=n_boot
    )


def uncertainty_metrics(
    run: CalibRun,
    energies: Energies,
    f: FeatureArrays,
    *,
    masses: dict[str, Array],
    mass_model: str | None,
    n_boot: int,
) -> dict[str, Any]:
    """The section for ``metrics.json`` (empty when the network predicts no σ_E)."""
    if energies.sigma is None or energies.network is None:
        return {}
    scale = SigmaScale.load(run.folder.sigma_scale)
    et = reco_et(f.e_acc, f.eta)
    sigma_after = None if scale is None else scale.apply(energies.sigma, np.abs(f.eta), et)
    out: dict[str, Any] = {
        "sigma_scale": _scale_section(scale),
        "pull_bins": "|eta| x E_T with E_T = E_acc/cosh(eta); width = eIQR, bootstrap error",
    }
    if np.any(np.isfinite(f.e_truth)):
        out["pulls"] = _pulls(energies, sigma_after, f, et, n_boot)
    if mass_model == "bw-cb" and "network" in masses:
        applied = energies.sigma if sigma_after is None else sigma_after
        out["mass_quantiles"] = _mass_quantiles(energies, applied, f, masses, n_boot)
        out["mass_quantiles"]["sigma"] = "rescaled" if sigma_after is not None else "as predicted"
    return out


def _scale_section(scale: SigmaScale | None) -> dict[str, Any]:
    if scale is None:
        return {"available": False, "reason": "the run has no sigma_scale.json"}
    return {"available": True, **scale.as_dict()}


def selected_pair_uncertainty(
    run: CalibRun,
    energies: Energies,
    f: FeatureArrays,
    *,
    rows: Array,
    pairs: ZeePairs,
    mass: Array,
    n_boot: int = 100,
) -> dict[str, Any]:
    """The section for selected pairs (store rows) and the network's pair ``mass``, no truth."""
    if energies.sigma is None or energies.network is None:
        return {}
    scale = SigmaScale.load(run.folder.sigma_scale)
    sigma = energies.sigma
    if scale is not None:
        sigma = scale.apply(sigma, np.abs(f.eta), reco_et(f.e_acc, f.eta))
    n_rows = 1 + int(
        max(rows.max(initial=-1), pairs.first.max(initial=-1), pairs.second.max(initial=-1))
    )
    energy, on_rows = np.zeros(n_rows), np.zeros(n_rows)
    energy[rows], on_rows[rows] = energies.network, sigma
    first, second = pairs.first, pairs.second
    sigma_m = pair_mass_sigma(mass, energy[first], energy[second], on_rows[first], on_rows[second])
    lo, hi = DEFAULT_RANGES["bw-cb"]
    in_range = (mass >= lo) & (mass <= hi) & (on_rows[first] > 0) & (on_rows[second] > 0)
    quantiles = sigma_m_quantile_fits(mass[in_range], sigma_m[in_range], n_boot=n_boot)
    quantiles["sigma"] = "as predicted" if scale is None else "rescaled"
    return {"sigma_scale": _scale_section(scale), "mass_quantiles": quantiles}
