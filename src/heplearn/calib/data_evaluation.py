"""``calib evaluate`` on data: Z→ee peaks of every method, no truth read, optionally against MC.

A store without ``truth/energy`` (real data, pseudo-data), or any store with
``--no-truth``, is evaluated by its Z→ee mass peaks
(:mod:`heplearn.calib.zee_peak_bins`): E_acc, the BDT and the network of the run,
inclusive and in |η|, E_T and ⟨μ⟩ bins.  With an MC store the same is done on
it, each peak compared (μ_CB data/MC − 1, σ_CB data/MC) and the run's inputs
compared (:mod:`heplearn.calib.input_distributions`).  Which clusters are
evaluated is decided as for MC (:mod:`heplearn.data.held_out`): the training
store's test split only, or every cluster outside the run's training events.
No ``truth/*`` or ``validation/*`` field is used: E_truth is blanked right after
the clusters are chosen.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.calibrated import CalibRun
from heplearn.calib.cluster_sets import cluster_keys
from heplearn.calib.features import TRACK_SIGNED_PT, FeatureArrays, load_features
from heplearn.calib.input_coverage import InputRanges, coverage_warning, input_coverage
from heplearn.calib.input_distributions import InputHistogram, compare_inputs, input_variables
from heplearn.calib.method_energies import check_same_geometry
from heplearn.calib.train import prepare_split
from heplearn.calib.uncertainty_evaluation import selected_pair_uncertainty
from heplearn.calib.zee_pairs import CHARGE_FIELD, PairCuts, ZeePairs, select_pairs
from heplearn.calib.zee_peak_bins import (
    ABS_ETA_BINS,
    MU_BINS,
    PeakFitSettings,
    SamplePeaks,
    et_bins,
    fit_peaks,
)
from heplearn.data.held_out import TrainingStore, exclude_training
from heplearn.data.reader import Store, open_store
from heplearn.errors import DataError
from heplearn.report.metrics_json import json_safe

__all__ = ["DataEvaluation", "SampleEvaluation", "evaluate_on_data"]

Array = np.ndarray[Any, Any]

#: metrics.json keys of the inclusive σ_CB per method, as in the MC evaluation.
SIGMA_KEYS = {"e_acc": "sigma_cb_eacc", "bdt": "sigma_cb_bdt", "network": "sigma_cb_model"}


@dataclass(frozen=True)
class SampleEvaluation:
    """One evaluated sample (data or MC): its clusters, pair masses and fits."""

    label: str
    features: FeatureArrays
    masses: dict[str, Array]
    peaks: SamplePeaks
    summary: dict[str, Any]


@dataclass(frozen=True)
class DataEvaluation:
    """Metrics plus what the figures need."""

    metrics: dict[str, Any]
    samples: dict[str, SampleEvaluation]
    inputs: list[InputHistogram]


def _chosen(run: CalibRun, path: Path) -> tuple[FeatureArrays, Array, dict[str, Any], list[str]]:
    """The clusters the run never trained on: (features, store rows, held-out record, warnings)."""
    identity = TrainingStore.identify(run.info, path)
    decided: dict[str, Any] = {"training_store": identity.same, "decided_by": identity.basis}
    if identity.same:
        split = prepare_split(run.config, path, str(path))
        decided["selection"] = "held-out test split of the training store"
        return split.features.take(split.test), split.rows[split.test], decided, identity.warnings
    features = load_features(path, run.config.features, str(path), require_truth=False)
    overlap = exclude_training(
        run.folder.path, run.info, cluster_keys(features), path, groups=features.event_id,
        unit="clusters",
    )  # fmt: skip
    rows = np.flatnonzero(overlap.keep)
    decided |= overlap.as_dict("clusters")
    decided["selection"] = "every cluster of the store outside the run's training events"
    return features.take(rows), rows, decided, identity.warnings + overlap.warnings


def _without_truth(f: FeatureArrays) -> FeatureArrays:
    """The same clusters with E_truth (and E_T from it) blanked: nothing below can read it."""
    blank = np.full(len(f), np.nan)
    return dataclasses.replace(f, e_truth=blank, et=blank, pdgid=np.zeros_like(f.pdgid))


def _on_store_rows(values: Array, rows: Array, n_rows: int) -> Array:
    """Per-cluster ``values`` of the chosen ``rows`` on all store rows (0 elsewhere: no pair)."""
    full = np.zeros(n_rows)
    full[rows] = values
    return full


def _opposite_track_charge(store: Store, pairs: ZeePairs, cuts: PairCuts) -> tuple[ZeePairs, str]:
    """Without ``scalars/charge``, the leading track's charge vetoes same-sign pairs where known."""
    if not cuts.opposite_charge:
        return pairs, "not required"
    if CHARGE_FIELD in store.schema:
        return pairs, CHARGE_FIELD  # select_pairs applied it
    if "tracks/features" not in store.schema or "tracks/count" not in store.schema:
        return pairs, "unknown (no charge field, no tracks)"
    columns = store.read(["tracks/features", "tracks/count"])
    signed = np.asarray(columns["tracks/features"])[:, 0, TRACK_SIGNED_PT]
    charge = np.where(np.asarray(columns["tracks/count"]) > 0, np.sign(signed), 0.0)
    keep = charge[pairs.first] * charge[pairs.second] <= 0  # 0: a cluster without a track
    kept = ZeePairs(
        pairs.first[keep], pairs.second[keep],
        (pairs.abs_eta[0][keep], pairs.abs_eta[1][keep]), pairs.mass[keep],
    )  # fmt: skip
    return kept, "leading track q·pT"


def _evaluate_sample(
    run: CalibRun, path: Path, label: str, settings: PeakFitSettings
) -> SampleEvaluation:
    store = open_store(path)
    where = str(path)
    chosen, rows, held_out, warnings = _chosen(run, path)
    run.check_inputs(chosen, where)
    features = _without_truth(chosen)
    calibrated = run.energies(features)
    energies = {
        name: _on_store_rows(values, rows, store.rows)
        for name, values in calibrated.methods().items()
    }
    pairs, eta, phi = select_pairs(store, energies["e_acc"], settings.cuts, where)
    selected = len(pairs.mass)
    pairs, charge_source = _opposite_track_charge(store, pairs, settings.cuts)
    if len(pairs.mass) == 0:
        cuts = settings.cuts
        raise DataError(
            "no Z→ee pairs",
            where,
            f"none of its {len(features)} evaluated clusters pairs with another of its event "
            f"(two clusters, E_T > {cuts.min_et:g} GeV, |η| < {cuts.max_abs_eta:g}"
            f"{', opposite charge' if cuts.opposite_charge else ''})",
            "evaluate a Z→ee sample, or loosen --min-et / --max-eta",
        )
    masses = {name: pairs.masses_with(e, eta, phi) for name, e in energies.items()}
    abs_eta = np.abs(eta)
    bins = {
        "abs_eta": (abs_eta, ABS_ETA_BINS),
        "et": (energies["e_acc"] / np.cosh(eta), et_bins(settings.cuts.min_et)),
    }
    if np.ptp(features.mu) > 0:  # a store with one ⟨μ⟩ (or none) has no ⟨μ⟩ dependence to show
        bins["mu"] = (_on_store_rows(features.mu, rows, store.rows), MU_BINS)
    peaks = fit_peaks(pairs, masses, bins, settings, label)
    uncertainty = selected_pair_uncertainty(
        run, calibrated, features, rows=rows, pairs=pairs, mass=masses.get("network", pairs.mass)
    )
    summary = {
        "store": str(path.resolve()),
        "selection": held_out.pop("selection"),
        "held_out": held_out,
        "n_clusters": len(features),
        "n_pairs": peaks.n_pairs,
        "charge": {"source": charge_source, "same_sign_removed": selected - len(pairs.mass)},
        "warnings": warnings,
        **({"uncertainty": uncertainty} if uncertainty else {}),
    }
    return SampleEvaluation(label, features, masses, peaks, summary)


def _ratio(a: float, da: float, b: float, db: float) -> tuple[float, float]:
    """a/b and its error (independent samples)."""
    r = a / b
    return r, abs(r) * math.hypot(da / a, db / b)


def _compared(data: dict[str, Any], mc: dict[str, Any]) -> dict[str, Any] | None:
    if data.get("mean") is None or mc.get("mean") is None:
        return None
    mean, mean_err = _ratio(data["mean"], data["mean_err"], mc["mean"], mc["mean_err"])
    sigma, sigma_err = _ratio(data["sigma"], data["sigma_err"], mc["sigma"], mc["sigma_err"])
    return {
        "mu_shift": mean - 1,
        "mu_shift_err": mean_err,
        "sigma_ratio": sigma,
        "sigma_ratio_err": sigma_err,
    }


def _data_vs_mc(data: SamplePeaks, mc: SamplePeaks) -> dict[str, Any]:
    """Per method: μ_CB(data)/μ_CB(MC) − 1 and σ_CB(data)/σ_CB(MC), inclusive and per bin."""
    out: dict[str, Any] = {}
    for method, d in data.methods.items():
        m = mc.methods[method]
        binned = {
            variable: [
                {"bin": a["bin"], **(_compared(a, b) or {"skipped": "no fit in data or MC"})}
                for a, b in zip(rows, m["binned"].get(variable, []), strict=False)
            ]
            for variable, rows in d["binned"].items()
        }
        inclusive = _compared(d["inclusive"], m["inclusive"]) or {"skipped": "no fit"}
        out[method] = {"inclusive": inclusive, "binned": binned}
    return out


def _coverage(run: CalibRun, f: FeatureArrays) -> tuple[dict[str, Any], list[str]]:
    ranges = InputRanges.load(run.folder.input_ranges)
    if ranges is None:
        return {"available": False, "reason": "the run has no input_ranges.json"}, []
    table = input_coverage(ranges, f.scalar_names, f.scalars)
    warning = coverage_warning(table)
    return table, [warning] if warning else []


def evaluate_on_data(
    run_path: str | Path,
    data: str | Path,
    *,
    mc: str | Path | None = None,
    settings: PeakFitSettings | None = None,
) -> DataEvaluation:
    """The Z→ee evaluation of the run on ``data`` (no truth read), against ``mc`` if given."""
    settings = settings or PeakFitSettings()
    run = CalibRun.load(run_path)
    data, mc = Path(data), None if mc is None else Path(mc)
    if mc is not None:
        check_same_geometry(open_store(data), open_store(mc))
    # MC first: a bad MC store is refused before the data's fits are spent.
    reference = None if mc is None else _evaluate_sample(run, mc, "MC", settings)
    samples = {"data": _evaluate_sample(run, data, "data", settings)}
    if reference is not None:
        samples["mc"] = reference
    first = samples["data"]
    coverage, coverage_warnings = _coverage(run, first.features)
    skipped = [name for s in samples.values() for name in s.peaks.skipped]
    warnings = [w for s in samples.values() for w in s.summary["warnings"]] + coverage_warnings
    if skipped:
        warnings.append(
            f"{len(skipped)} peak fits skipped (named in 'skipped'): " + "; ".join(skipped)
        )
    fits = {method: entry["inclusive"] for method, entry in first.peaks.methods.items()}
    metrics: dict[str, Any] = {
        "evaluation": "Z→ee peaks on data (no truth read)",
        "truth_read": False,
        "data": first.summary["store"],
        "selection": first.summary["selection"],
        "held_out": first.summary["held_out"],
        "n_clusters": first.summary["n_clusters"],
        "warnings": warnings,
        "input_coverage": coverage,
        "pair_selection": dataclasses.asdict(settings),
        "pair_charge": first.summary["charge"],
        "mass_model": "bw-cb",
        "mass_pairs": first.peaks.n_pairs,
        "mass_fits": fits,
        **{SIGMA_KEYS[m]: f["sigma"] for m, f in fits.items() if f.get("sigma") is not None},
        "peaks": {label: s.peaks.methods for label, s in samples.items()},
        "skipped": skipped,
        "training": {"info": run.info},
    }
    if "uncertainty" in first.summary:  # σ_M quintiles of the data's pairs (σ_E head)
        metrics["uncertainty"] = first.summary["uncertainty"]
    inputs: list[InputHistogram] = []
    if "mc" in samples:
        other = samples["mc"]
        metrics["mc"] = {k: v for k, v in other.summary.items() if k != "warnings"}
        metrics["data_vs_mc"] = _data_vs_mc(first.peaks, other.peaks)
        table, inputs = compare_inputs(
            input_variables(first.features), input_variables(other.features)
        )
        metrics["inputs"] = table
    return DataEvaluation(json_safe(metrics), samples, inputs)
