"""``heplearn calib evaluate``: resolution, binned tables, mass fits, pulls and importance.

Which clusters are evaluated is decided by identity (:mod:`heplearn.data.held_out`):
on the training store, recognised by its fingerprint wherever it lies, only
the held-out test rows; on any other store every cluster except those of an
event the run trained or validated on (found by content key), which are left
out with a warning naming how many (``metrics.json``: ``held_out``,
``warnings``).  All numbers go to ``metrics.json``; the figures and
``report.html`` are drawn from them (:mod:`heplearn.calib.evaluation_report`).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.calibrated import CalibRun, Energies
from heplearn.calib.cluster_sets import cluster_keys
from heplearn.calib.features import FeatureArrays, load_features
from heplearn.calib.importance import permutation_importance
from heplearn.calib.input_coverage import InputRanges, coverage_warning, input_coverage
from heplearn.calib.massfit import H_MASS, Z_MASS, MassFit, fit_mass
from heplearn.calib.resolution_metrics import MIN_BIN_EVENTS, binned_table, bootstrap, eiqr, reiqr
from heplearn.calib.train import prepare_split
from heplearn.calib.uncertainty_evaluation import uncertainty_metrics
from heplearn.data.held_out import TrainingStore, exclude_training
from heplearn.data.reader import open_store
from heplearn.detector.calorimeter.kinematics import cluster_pair_mass, pairs_of_events
from heplearn.errors import DataError
from heplearn.report.metrics_json import json_safe

__all__ = ["ABS_ETA_EDGES", "ET_EDGES", "MU_EDGES", "Evaluation", "evaluate_run"]

#: Barrel, barrel end, crack, end-cap inner/outer (ATLAS-like acceptance).
ABS_ETA_EDGES = (0.0, 0.6, 1.37, 1.52, 2.0, 2.5)
ET_EDGES = (0.0, 20.0, 40.0, 60.0, 100.0, 1.0e4)
MU_EDGES = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 300.0)
#: Fewer pairs than this give no meaningful mass fit.
MIN_PAIRS = 50
#: Importance is computed on at most this many clusters (one inference per input).
IMPORTANCE_ROWS = 5000

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Evaluation:
    """Metrics plus the per-cluster arrays the figures need."""

    metrics: dict[str, Any]
    features: FeatureArrays
    energies: Energies
    masses: dict[str, Array]
    mass_fits: dict[str, MassFit]  # the fits that converged, drawn by the report


@dataclass(frozen=True)
class _Selection:
    """The clusters to evaluate, their store rows, and which they are."""

    features: FeatureArrays
    rows: Array
    description: str
    held_out: dict[str, Any]
    warnings: list[str]


def _features_for(run: CalibRun, data: Path) -> _Selection:
    """The training store's test split, or another store's clusters the run never saw."""
    identity = TrainingStore.identify(run.info, data)
    decided = {"training_store": identity.same, "decided_by": identity.basis}
    if identity.same:
        split = prepare_split(run.config, data, str(data))
        return _Selection(
            split.features.take(split.test),
            split.rows[split.test],
            "held-out test split of the training store",
            decided,
            identity.warnings,
        )
    features = load_features(data, run.config.features, str(data))
    overlap = exclude_training(
        run.folder.path,
        run.info,
        cluster_keys(features),
        data,
        groups=features.event_id,
        unit="clusters",
    )
    rows = np.flatnonzero(overlap.keep)
    description = "every cluster of the store"
    if overlap.left_out:
        description = (
            f"the clusters of the store outside the run's training events "
            f"({overlap.left_out} left out)"
        )
    return _Selection(
        features.take(rows),
        rows,
        description,
        {**decided, **overlap.as_dict("clusters")},
        identity.warnings + overlap.warnings,
    )


def _resolution(energies: Energies, e_truth: Array) -> dict[str, Any]:
    re = {name: value / e_truth for name, value in energies.methods().items()}
    out: dict[str, Any] = {}
    for name, values in re.items():
        out[f"eiqr_{name}"] = eiqr(values)
        out[f"eiqr95_{name}"] = eiqr(values, 0.95)
        out[f"median_{name}"] = float(np.median(values))
    if "network" in re:
        out["eiqr_model"], out["eiqr95_model"] = out["eiqr_network"], out["eiqr95_network"]
        out["reiqr75_vs_eacc"] = reiqr(re["network"], re["e_acc"])
        out["reiqr95_vs_eacc"] = reiqr(re["network"], re["e_acc"], 0.95)
        if "bdt" in re:
            out["reiqr75_vs_bdt"] = reiqr(re["network"], re["bdt"])
            out["reiqr95_vs_bdt"] = reiqr(re["network"], re["bdt"], 0.95)
    if "bdt" in re:
        out["reiqr75_bdt_vs_eacc"] = reiqr(re["bdt"], re["e_acc"])
    return out


def _binned(energies: Energies, f: FeatureArrays, n_boot: int) -> dict[str, Any]:
    re = {name: value / f.e_truth for name, value in energies.methods().items()}
    baseline = "bdt" if "bdt" in re else "e_acc"
    variables = {"abs_eta": np.abs(f.eta), "et": f.et, "mu": f.mu}
    tables = {
        "abs_eta": binned_table({"abs_eta": ABS_ETA_EDGES}, variables, re, baseline, n_boot=n_boot),
        "et": binned_table({"et": ET_EDGES}, variables, re, baseline, n_boot=n_boot),
        "abs_eta_x_et": binned_table(
            {"abs_eta": ABS_ETA_EDGES, "et": ET_EDGES}, variables, re, baseline, n_boot=n_boot
        ),
    }
    if np.ptp(f.mu) > 0:
        tables["mu"] = binned_table({"mu": MU_EDGES}, variables, re, baseline, n_boot=n_boot)
    return {"baseline": baseline, **tables}


def _pulls(energies: Energies, f: FeatureArrays) -> dict[str, Any]:
    if energies.sigma is None or energies.network is None:
        return {}
    pull, defined = energies.pulls(f.e_truth)
    undefined = int((~defined).sum())  # clusters with E_acc ≤ 0 carry no σ_E
    pull, f = pull[defined], f.take(np.flatnonzero(defined))
    rows = []
    abs_eta = np.abs(f.eta)
    for lo_eta, hi_eta in itertools.pairwise(ABS_ETA_EDGES):
        for lo_et, hi_et in itertools.pairwise(ET_EDGES):
            inside = (abs_eta >= lo_eta) & (abs_eta < hi_eta) & (f.et >= lo_et) & (f.et < hi_et)
            if inside.sum() >= 20:
                rows.append(
                    {
                        "bin": {"abs_eta": [lo_eta, hi_eta], "et": [lo_et, hi_et]},
                        "n": int(inside.sum()),
                        "mean": float(np.median(pull[inside])),
                        "width": eiqr(pull[inside]),
                    }
                )
    return {
        "pull_width": eiqr(pull),
        "pull_mean": float(np.median(pull)),
        "pull_std_clipped": float(np.std(np.clip(pull, -5, 5))),
        "pull_undefined": undefined,
        "pull_binned": rows,
    }


def _masses(
    energies: Energies, f: FeatureArrays, store_rows: Array, data: Path
) -> tuple[dict[str, Any], dict[str, Array], dict[str, MassFit]]:
    i, j = pairs_of_events(f.event_id)
    if len(i) < MIN_PAIRS:
        return {"mass_pairs": len(i)}, {}, {}
    phi = np.asarray(open_store(data).read(["scalars/phi"])["scalars/phi"], np.float64)[store_rows]
    masses = {
        name: cluster_pair_mass(value, f.eta, phi, i, j)
        for name, value in energies.methods().items()
    }
    masses["truth"] = cluster_pair_mass(f.e_truth, f.eta, phi, i, j)
    resonance = _resonance(data, store_rows[i])
    model = "double-gauss" if abs(resonance - H_MASS) < 10 else "bw-cb"
    outcome = {name: _fit_or_reason(values, model) for name, values in masses.items()}
    converged = {name: fit for name, fit in outcome.items() if isinstance(fit, MassFit)}
    fits = {
        name: fit.as_dict() if isinstance(fit, MassFit) else {"error": fit}
        for name, fit in outcome.items()
    }
    out: dict[str, Any] = {"mass_pairs": len(i), "mass_model": model, "mass_fits": fits}
    for name, key in (
        ("network", "sigma_cb_model"),
        ("bdt", "sigma_cb_bdt"),
        ("e_acc", "sigma_cb_eacc"),
    ):
        if name in fits and "sigma" in fits[name]:
            out[key] = fits[name]["sigma"]
    return out, masses, converged


def _fit_or_reason(values: Array, model: str) -> MassFit | str:
    """The fit, or why it failed (too few pairs in the range …)."""
    try:
        return fit_mass(values, model)
    except DataError as err:
        return err.message


def _resonance(data: Path, rows: Array) -> float:
    store = open_store(data)
    if "truth/resonance_mass" not in store.schema:
        return Z_MASS
    mass = np.asarray(store.read(["truth/resonance_mass"])["truth/resonance_mass"])[rows]
    mass = mass[np.isfinite(mass) & (mass > 0)]
    return float(np.median(mass)) if len(mass) else Z_MASS


def _coverage(run: CalibRun, f: FeatureArrays) -> tuple[dict[str, Any], list[str]]:
    """Per-scalar coverage of the training distribution, and its warning (if any)."""
    ranges = InputRanges.load(run.folder.input_ranges)
    if ranges is None:
        return {
            "available": False,
            "reason": "the run has no input_ranges.json (trained before it was saved)",
        }, []
    table = input_coverage(ranges, f.scalar_names, f.scalars)
    warning = coverage_warning(table)
    return table, [warning] if warning else []


#: PDG id → particle label of the split metrics.
PARTICLES = {11: "e-", -11: "e+", 22: "gamma"}


def _particle_labels(f: FeatureArrays) -> tuple[Array, str] | None:
    """Each cluster's particle (truth/pdgid), else its charge from the leading track's q·pT."""
    labels = np.full(len(f), "", dtype=object)
    if np.any(f.pdgid != 0):
        for pdgid, name in PARTICLES.items():
            labels[f.pdgid == pdgid] = name
        return labels, "truth/pdgid"
    if f.tracks.size and np.any(f.track_count > 0):
        # Column 0 of tracks/features is q·pT; the first track is the best-matched one.
        signed = np.where(f.track_count > 0, f.tracks[:, 0, 0], 0.0)
        labels[signed < 0] = "e-"
        labels[signed > 0] = "e+"
        labels[signed == 0] = "no track"
        return labels, "leading track charge"
    return None


def _by_particle(energies: Energies, f: FeatureArrays, n_boot: int) -> dict[str, Any]:
    """eIQR (bootstrap error) and median response per particle type and charge."""
    found = _particle_labels(f)
    if found is None:
        return {"available": False, "reason": "neither truth/pdgid nor tracks in the store"}
    labels, source = found
    re = {name: value / f.e_truth for name, value in energies.methods().items()}
    particles: dict[str, Any] = {}
    for name in (*PARTICLES.values(), "no track"):
        inside = labels == name
        n = int(inside.sum())
        if n < MIN_BIN_EVENTS:
            continue
        methods = {}
        for method, values in re.items():
            width, error = bootstrap(eiqr, values[inside], n=n_boot, seed=1)
            methods[method] = {
                "eiqr": width,
                "eiqr_err": error,
                "median": float(np.median(values[inside])),
            }
        particles[name] = {"n": n, "methods": methods}
    return {"available": True, "source": source, "particles": particles}


def _importance(run: CalibRun, f: FeatureArrays) -> dict[str, Any]:
    sample = f.take(np.arange(min(len(f), IMPORTANCE_ROWS)))
    out: dict[str, Any] = {}
    for method, images in (("network", True), ("bdt", False)):
        if run.has(method):
            out[method] = permutation_importance(
                functools.partial(run.energy, method=method), sample, images=images
            )
    return out


def evaluate_run(
    run_path: str | Path, data: str | Path, *, n_boot: int = 200, importance: bool = True
) -> Evaluation:
    """Every metric of the run on ``data`` (a calibration store)."""
    run = CalibRun.load(run_path)
    data = Path(data)
    chosen = _features_for(run, data)
    features, store_rows, selection = chosen.features, chosen.rows, chosen.description
    run.check_inputs(features, str(data))
    if len(features) < 20:
        raise DataError(
            "too few clusters to evaluate",
            str(data),
            f"{len(features)} clusters ({selection})",
            "evaluate on a larger sample",
        )
    energies = run.energies(features)
    coverage, coverage_warnings = _coverage(run, features)
    metrics: dict[str, Any] = {
        "data": str(data.resolve()),
        "selection": selection,
        "held_out": chosen.held_out,
        "warnings": chosen.warnings + coverage_warnings,
        "input_coverage": coverage,
        "n_clusters": len(features),
        **_resolution(energies, features.e_truth),
        "by_particle": _by_particle(energies, features, n_boot),
        **_pulls(energies, features),
    }
    mass_metrics, masses, mass_fits = _masses(energies, features, store_rows, data)
    metrics.update(mass_metrics)
    uncertainty = uncertainty_metrics(
        run, energies, features, masses=masses, mass_model=mass_metrics.get("mass_model"),
        n_boot=n_boot,
    )  # fmt: skip
    if uncertainty:
        metrics["uncertainty"] = uncertainty
    metrics["binned"] = _binned(energies, features, n_boot)
    if importance:
        metrics["importance"] = _importance(run, features)
    metrics["training"] = {
        "info": run.info,
        "history": _history(run),
    }
    return Evaluation(json_safe(metrics), features, energies, masses, mass_fits)


def _history(run: CalibRun) -> list[dict[str, Any]]:
    import json

    path = run.folder.network / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
