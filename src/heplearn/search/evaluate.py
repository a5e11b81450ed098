"""``heplearn search evaluate``: every method of a run, per signal point, on held-out events.

On the store the run was trained on, recognised by its fingerprint wherever it lies, only
its *test* split is used (the thresholds and the optimised cuts were chosen on the
training/validation splits).  Any other store is used whole, its weights as they are, except
for the events the run trained or validated on (found by content key,
:mod:`heplearn.data.held_out`): those are left out with a warning naming how many, and the
weights of the rest of each sample are scaled by (events of the sample)/(events kept) so the
yields stay at the store's luminosity (the left-out events are a hash-random part of it).
Per point and method: the Asimov Z with the run's σ_b
(thesis cuts, optimised cuts, each classifier at its validation threshold), s, b and MC
event counts, the weighted AUC (negative weights kept), the binned significance over the
score, the train-vs-test Kolmogorov–Smirnov overtraining check per class, Z against the
score threshold, and the XGBoost gain importances.  The headline is the profile likelihood
of every selection (:mod:`heplearn.search.likelihood_eval`: ee + μμ pyhf fit with MC
statistics, normalisation and luminosity uncertainties; expected Z and 95 % CLs limit on μ);
the Asimov Z stays as the quick figure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from heplearn.config import load_config
from heplearn.data.held_out import TrainingStore, exclude_training
from heplearn.data.saved_json import read_saved_json
from heplearn.errors import DataError
from heplearn.report.metrics_json import json_safe
from heplearn.search.cuts import THESIS_CUTS, Cut, apply_cuts
from heplearn.search.likelihood import Workspace
from heplearn.search.likelihood_eval import check_signal, point_likelihood, ranking
from heplearn.search.models import Classifier, load_classifier
from heplearn.search.observables import EventTable
from heplearn.search.observed import load_observed, observed_counts
from heplearn.search.padding import JetMeans
from heplearn.search.signal_points import SignalPoint, point_events, score_events
from heplearn.search.significance import (
    MIN_BACKGROUND,
    MIN_BACKGROUND_EVENTS,
    asimov_z,
    binned_significance,
    count,
)
from heplearn.search.splits import event_keys, split_table
from heplearn.search.train import GLOBAL_METHODS, JET_MEANS, RUN_INFO, load_events
from heplearn.search.train_config import ML_METHODS, SearchTrainConfig
from heplearn.stats import roc_auc, weighted_ks

__all__ = ["MethodScores", "SearchEvaluation", "evaluate_search", "z_curve"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class MethodScores:
    """One classifier on one point: scores of the evaluated and the training events."""

    scores: Array
    is_signal: Array
    weight: Array
    train_scores: Array
    train_is_signal: Array
    train_weight: Array
    threshold: float


@dataclass(frozen=True)
class SearchEvaluation:
    """``metrics`` (what ``metrics.json`` holds) plus the arrays the figures need."""

    metrics: dict[str, Any]
    scores: dict[str, dict[str, MethodScores]]  # point → method → scores
    config: SearchTrainConfig
    #: point → method → the pyhf workspace of that selection.
    workspaces: dict[str, dict[str, Workspace]] = field(default_factory=dict)
    #: The evaluated events (every point's: point_events(table, point)).
    table: EventTable | None = None


def _read_run(run: Path) -> tuple[dict[str, Any], SearchTrainConfig]:
    path = run / RUN_INFO
    if not path.is_file():
        raise DataError(
            "not a search run",
            str(run),
            f"{RUN_INFO} is missing",
            "give the --out folder of 'heplearn search train'",
        )
    info = read_saved_json(path, "search run")
    return info, load_config(SearchTrainConfig, run / "config.yaml")


@dataclass(frozen=True)
class _Selection:
    """The evaluated events, which they are, and how that was decided."""

    table: EventTable
    description: str
    held_out: dict[str, Any]
    warnings: list[str]


def _rescaled(table: EventTable, kept: EventTable) -> EventTable:
    """``kept`` with each sample's weights scaled by its events in ``table`` / events kept."""
    weight = kept.weight.copy()
    for sample in np.unique(kept.sample):
        mine = kept.sample == sample
        weight[mine] *= np.count_nonzero(table.sample == sample) / np.count_nonzero(mine)
    return dataclasses.replace(kept, weight=weight)


def _events(run: Path, data: Path, info: dict[str, Any], config: SearchTrainConfig) -> _Selection:
    """The test split of the training store, or another store's events the run never saw."""
    table = load_events(data, config)
    identity = TrainingStore.identify(info, data)
    decided = {"training_store": identity.same, "decided_by": identity.basis}
    if identity.same:
        table = split_table(table, config.split_fractions, config.split_seed).test
        description = "test split of the training store"
        warnings = identity.warnings
    else:
        overlap = exclude_training(run, info, event_keys(table), data, unit="events")
        decided.update(overlap.as_dict("events"))
        warnings = identity.warnings + overlap.warnings
        description = "all events of the store"
        if overlap.left_out:
            table = _rescaled(table, table.subset(np.flatnonzero(overlap.keep)))
            description = (
                f"the events of the store outside the run's training events "
                f"({overlap.left_out} left out, weights rescaled per sample)"
            )
    if (run / JET_MEANS).is_file():
        table = JetMeans.load(run / JET_MEANS).apply(table)
    return _Selection(table, description, decided, warnings)


def _checked_points(table: EventTable, info: dict[str, Any], where: str) -> list[SignalPoint]:
    points = [
        SignalPoint(p["name"], float(p["mediator_mass"]), float(p["invisible_mass"]))
        for p in info["points"]
    ]
    for point in points:
        if point.name not in table.sample_names:
            raise DataError(
                f"signal point '{point.name}' missing",
                where,
                f"the store's samples are {list(table.sample_names)}",
                "evaluate on a store that holds the run's signal samples",
            )
        events = point_events(table, point.name)
        n_signal = int(events.is_signal.sum())
        if n_signal == 0 or n_signal == len(events):
            raise DataError(
                f"no {'signal' if n_signal == 0 else 'background'} events for '{point.name}'",
                where,
                f"{n_signal} signal among {len(events)} evaluated events",
                "generate more events (every point needs signal and background in the test split)",
            )
    return points


def z_curve(
    scores: Array, weights: Array, is_signal: Array, sigma_b_rel: float, n: int = 101
) -> tuple[Array, Array]:
    """Z of ``score ≥ t`` at ``n`` score quantiles; NaN where too little background is left."""
    x = np.asarray(scores, np.float64)
    sig = np.asarray(is_signal).astype(bool)
    thresholds = np.unique(np.quantile(x, np.linspace(0.0, 1.0, n)))
    order = np.argsort(-x, kind="stable")
    xs, ws, ss = x[order], np.asarray(weights, np.float64)[order], sig[order]
    s_cum = np.r_[0.0, np.cumsum(np.where(ss, ws, 0.0))]
    b_cum = np.r_[0.0, np.cumsum(np.where(ss, 0.0, ws))]
    nb_cum = np.r_[0, np.cumsum(~ss)]
    selected = np.searchsorted(-xs, -thresholds, side="right")
    s, b, nb = s_cum[selected], b_cum[selected], nb_cum[selected]
    z = np.asarray(asimov_z(s, b, sigma_b_rel), dtype=np.float64)
    allowed = (b >= MIN_BACKGROUND) & (nb >= MIN_BACKGROUND_EVENTS)
    return thresholds, np.where(allowed, z, np.nan)


def _ks(method: MethodScores) -> dict[str, dict[str, float | None]]:
    """KS distance and p-value of training vs evaluated scores, per class."""
    result: dict[str, dict[str, float | None]] = {}
    for label, value in (("signal", 1), ("background", 0)):
        a = method.train_is_signal == value
        b = method.is_signal == value
        try:
            distance, p_value = weighted_ks(
                method.train_scores[a], method.scores[b], method.train_weight[a], method.weight[b]
            )
        except ValueError:  # a class without positive weight in one of the samples
            result[label] = {"distance": None, "p_value": None}
            continue
        result[label] = {"distance": distance, "p_value": p_value}
    return result


def _models(run: Path, info: dict[str, Any]) -> dict[str, dict[str, Classifier]]:
    models: dict[str, dict[str, Classifier]] = {}
    for method in (m for m in info["methods"] if m in ML_METHODS):
        if method in GLOBAL_METHODS:
            shared = load_classifier(run / "models" / method)
            models[method] = {p["name"]: shared for p in info["points"]}
        else:
            models[method] = {
                p["name"]: load_classifier(run / "models" / method / p["name"])
                for p in info["points"]
            }
    return models


def _ratio(numerator: float | None, denominator: float) -> float | None:
    if numerator is None or not denominator > 0:
        return None
    return numerator / denominator


def evaluate_search(
    run: str | Path, data: str | Path, observed: str | Path | None = None
) -> SearchEvaluation:
    """Evaluate every method of the run folder ``run`` on the store ``data`` (see module doc).

    ``observed``: a store of real or pseudo events whose counts after each selection are the
    likelihood's observations (:mod:`heplearn.search.observed`).
    """
    run, data = Path(run), Path(data)
    info, config = _read_run(run)
    seen = None if observed is None else load_observed(Path(observed), run, config)
    chosen = _events(run, data, info, config)
    table, selection = chosen.table, chosen.description
    points = _checked_points(table, info, str(data))
    models = _models(run, info)
    features = tuple(info["features"])
    sigma_b = float(info["sigma_b"])
    metrics: dict[str, Any] = {
        "run": str(run),
        "data": str(data),
        "observed": None if observed is None else str(observed),
        "selection": selection,
        "sigma_b": sigma_b,
        "methods": list(info["methods"]),
        "points": {p.name: p.to_dict() for p in points},
        "events": {"evaluated": len(table), "background": int((table.is_signal == 0).sum())},
        "held_out": chosen.held_out,
        "warnings": [*info.get("warnings", []), *chosen.warnings],
    }
    for key in ("significance", "auc", "yields", "binned_significance", "ks", "thresholds"):
        metrics[key] = {}
    # The same selections with the MC statistical uncertainty of b added to σ_b in quadrature.
    metrics["significance_with_mc_stat"] = {}
    for key in ("cuts", "feature_importance", "best_ml"):
        metrics[key] = {}
    for key in ("ratio_best_ml_vs_thesis_cuts", "ratio_best_ml_vs_optimised_cuts"):
        metrics[key] = {}
    for key in ("likelihood", "likelihood_ranking"):
        metrics[key] = {}
    metrics["low_statistics"], metrics["likelihood_warnings"] = [], []
    arrays: dict[str, dict[str, MethodScores]] = {}
    workspaces: dict[str, dict[str, Workspace]] = {}
    for point in points:
        events = point_events(table, point.name)
        check_signal(events, point.name, str(data))
        metrics["events"].setdefault("signal", {})[point.name] = int(events.is_signal.sum())
        z, yields, cuts, selections = _cut_methods(events, info, point.name, sigma_b)
        metrics["cuts"][point.name] = cuts
        arrays[point.name] = _ml_methods(
            run, events, models, point, info, features, sigma_b, z, yields, metrics
        )
        selections.update({m: a.scores >= a.threshold for m, a in arrays[point.name].items()})
        counts = None
        if seen is not None:
            warned = metrics["likelihood_warnings"]
            counts = observed_counts(seen, point, info, models, features, warnings=warned)
        fitted = point_likelihood(
            events, selections, point.name, config.likelihood, sigma_b, observed=counts
        )
        metrics["likelihood"][point.name] = fitted.metrics
        metrics["likelihood_ranking"][point.name] = ranking(fitted.metrics)
        metrics["likelihood_warnings"] += fitted.warnings
        metrics["low_statistics"] += fitted.low_statistics
        workspaces[point.name] = fitted.workspaces
        metrics["significance"][point.name] = z
        metrics["significance_with_mc_stat"][point.name] = {
            method: yields[method]["z_with_mc_stat"] for method in z
        }
        metrics["yields"][point.name] = yields
        ml = {m: v for m, v in z.items() if m in ML_METHODS}
        best = max(ml, key=lambda m: ml[m]) if ml else None
        best_z = ml[best] if best is not None else None
        metrics["best_ml"][point.name] = {"method": best, "z": best_z}
        for key, method in (
            ("ratio_best_ml_vs_thesis_cuts", "thesis_cuts"),
            ("ratio_best_ml_vs_optimised_cuts", "optimised_cuts"),
        ):
            metrics[key][point.name] = _ratio(best_z, z.get(method, float("nan")))
    metrics["likelihood_settings"] = {
        **dataclasses.asdict(config.likelihood),
        "normalisation": config.likelihood.normalisation
        if config.likelihood.normalisation is not None
        else sigma_b,
    }
    return SearchEvaluation(json_safe(metrics), arrays, config, workspaces, table)


def _cut_methods(
    events: EventTable, info: dict[str, Any], point: str, sigma_b: float
) -> tuple[dict[str, float], dict[str, Any], dict[str, list[str]], dict[str, Array]]:
    everything = count(np.ones(len(events), bool), events.weight, events.is_signal, sigma_b)
    yields: dict[str, Any] = {"before_cuts": everything.to_dict()}
    z: dict[str, float] = {}
    chosen = {"thesis_cuts": list(THESIS_CUTS)}
    if "optimised_cuts" in info["methods"]:
        saved = info["cuts"][point].get("optimised_cuts", [])
        chosen["optimised_cuts"] = [Cut(c["variable"], c["op"], float(c["value"])) for c in saved]
    cuts: dict[str, list[str]] = {}
    masks: dict[str, Array] = {}
    for method, selection in chosen.items():
        if method not in info["methods"]:
            continue
        masks[method] = apply_cuts(events, selection)
        result = count(masks[method], events.weight, events.is_signal, sigma_b)
        z[method] = result.z
        yields[method] = result.to_dict()
        cuts[method] = [c.describe() for c in selection]
    return z, yields, cuts, masks


def _ml_methods(  # noqa: PLR0917
    run: Path,
    events: EventTable,
    models: dict[str, dict[str, Classifier]],
    point: SignalPoint,
    info: dict[str, Any],
    features: tuple[str, ...],
    sigma_b: float,
    z: dict[str, float],
    yields: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, MethodScores]:
    """Score the point's events with every classifier; fills z, yields and ``metrics``."""
    if not models:
        return {}
    name = point.name
    train = load_file(str(run / "train_scores" / f"{name}.safetensors"))
    x = events.select(features)
    arrays: dict[str, MethodScores] = {}
    for key in ("auc", "binned_significance", "ks", "thresholds"):
        metrics[key][name] = {}
    for method, by_point in models.items():
        model = by_point[name]
        scores = np.asarray(score_events(model, x, point), np.float64)
        threshold = float(info["thresholds"][name][method]["threshold"])
        result = count(scores >= threshold, events.weight, events.is_signal, sigma_b)
        z[method] = result.z
        yields[method] = {**result.to_dict(), "threshold": threshold}
        entry = MethodScores(
            scores,
            np.asarray(events.is_signal),
            np.asarray(events.weight),
            np.asarray(train[method], np.float64),
            np.asarray(train["is_signal"]),
            np.asarray(train["weight"], np.float64),
            threshold,
        )
        arrays[method] = entry
        metrics["auc"][name][method] = roc_auc(scores, events.is_signal == 1, events.weight)
        metrics["binned_significance"][name][method] = binned_significance(
            scores, events.weight, events.is_signal, sigma_b, bins=int(info.get("score_bins", 20))
        )
        metrics["ks"][name][method] = _ks(entry)
        metrics["thresholds"][name][method] = threshold
        gains = model.feature_importance() if method == "xgboost" else {}
        total = sum(gains.values())
        if total > 0:
            metrics["feature_importance"][name] = {f: g / total for f, g in gains.items()}
    return arrays
