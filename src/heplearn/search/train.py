"""``heplearn search train``: every method of the comparison, per signal point, in one run folder.

Steps: the store's preselected events → observables (:func:`build_table`) → the
event-id-hash split → (``mean`` padding fitted on the training split) → for each signal
point the events of all backgrounds plus that point's signal, with training weights of
the configured scheme (a raw-MC-weight collapse is warned about in ``run.log`` and
``run.json``).  Per point: an XGBoost and an MLP (the thesis trained per point) and the
optimised cuts (scanned on the training split).  Over all points at once: the
mass-parameterised MLP and, if listed, the per-category ensemble.  The score threshold of
every classifier and point is chosen on the *validation* split; the test split is never
looked at here.

Run folder (written under a temporary name, renamed when complete): ``config.yaml``,
``run.json`` (data and its fingerprint, split, points, fit summaries, thresholds, cuts,
warnings), ``training_keys.npy`` (content keys of the training and validation events,
:mod:`heplearn.data.held_out`), ``run.log``,
``models/<method>/<point>/`` (``models/parameterised_nn/``, ``models/ensemble/``),
``train_scores/<point>.safetensors`` (training-split scores for the overtraining check),
``training/`` (the networks' logs and checkpoints) and ``jet_means.json`` with mean padding.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from heplearn.config import dump_config
from heplearn.data.atomic import atomic_output
from heplearn.data.held_out import record_training
from heplearn.data.splits import TEST
from heplearn.errors import ConfigError
from heplearn.report.metrics_json import json_safe
from heplearn.search.cuts import THESIS_CUTS, optimise_cuts
from heplearn.search.models import Classifier, build_classifier
from heplearn.search.observables import EventTable, build_table
from heplearn.search.padding import JetMeans
from heplearn.search.signal_points import (
    SignalPoint,
    declared_signal,
    point_events,
    resolve_points,
    score_events,
)
from heplearn.search.significance import best_threshold
from heplearn.search.splits import Splits, event_keys, split_labels, split_table
from heplearn.search.train_config import SearchTrainConfig
from heplearn.search.weights import (
    ClassifierCollapseWarning,
    collapse_warning,
    training_weights,
)

__all__ = ["GLOBAL_METHODS", "JET_MEANS", "RUN_INFO", "load_events", "train_search"]

Array = np.ndarray[Any, Any]

RUN_INFO = "run.json"
JET_MEANS = "jet_means.json"
#: Classifiers trained once over every signal point (the others are trained per point).
GLOBAL_METHODS = ("parameterised_nn", "ensemble")


def _weights(table: EventTable, config: SearchTrainConfig) -> Array:
    return training_weights(
        table.weight, table.is_signal, config.weights.scheme, config.weights.negative
    )


def _combined_weights(table: EventTable, config: SearchTrainConfig) -> Array:
    """Training weights over several points; balanced schemes give each point equal signal."""
    w = _weights(table, config)
    if config.weights.scheme not in ("count-balance", "weight-balance"):
        return w
    signal = table.is_signal == 1
    points = np.unique(table.sample[signal])
    total = float(w[signal].sum())
    for sample in points:
        mine = signal & (table.sample == sample)
        share = float(w[mine].sum())
        if share > 0:
            w = np.where(mine, w * total / (len(points) * share), w)
    return w


def _collapse(weights: Array, table: EventTable) -> str | None:
    # Reported in run.log and run.json; a Python warning would only reach a terminal.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassifierCollapseWarning)
        return collapse_warning(weights, table.is_signal)


def _fit_info(summary: Any) -> dict[str, Any]:
    return {**dataclasses.asdict(summary), "events_per_s": summary.events_per_s}


def load_events(data: Path, config: SearchTrainConfig) -> EventTable:
    """The store's preselected events with observables; ``config.sample_names`` if unnamed."""
    table = build_table(data, config.padding)
    if table.sample_names or not config.sample_names:
        return table
    n_samples = int(table.sample.max()) + 1 if len(table) else 0
    if n_samples > len(config.sample_names):
        raise ConfigError(
            f"{len(config.sample_names)} sample names",
            "field 'sample_names' of the search config",
            f"the store {data} has event/sample indices up to {n_samples - 1}",
            "give one name per sample index, in index order",
        )
    return dataclasses.replace(table, sample_names=config.sample_names)


def _prepared(
    config: SearchTrainConfig, data: Path
) -> tuple[list[SignalPoint], Splits, JetMeans | None, Array]:
    """The checked signal points, the three splits, (mean padding) the jet means, and the
    content keys of the training and validation events."""
    table = load_events(data, config)
    declared = declared_signal(data)
    points = resolve_points(table, config.signal_points, declared, str(data))
    splits = split_table(table, config.split_fractions, config.split_seed)
    labels = split_labels(table.event_id, table.sample, config.split_fractions, config.split_seed)
    seen = event_keys(table)[labels != TEST]
    if config.padding != "mean":
        return points, splits, None, seen
    means = JetMeans.fit(splits.train)
    return points, Splits(*(means.apply(part) for part in splits)), means, seen


def _with_threads(config: SearchTrainConfig) -> SearchTrainConfig:
    if not config.n_jobs:
        return config
    xgb = dataclasses.replace(config.models.xgboost, n_jobs=config.n_jobs)
    return dataclasses.replace(config, models=dataclasses.replace(config.models, xgboost=xgb))


def train_search(
    config: SearchTrainConfig,
    data: str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train every method of ``config`` on the store ``data``; write the run folder ``out``.

    Returns the content of ``run.json``.  ``echo`` receives the log lines (with ``progress``).
    """
    import torch

    data, out = Path(data), Path(out)
    config = _with_threads(config)
    lines: list[str] = []  # run.log, echoed to the terminal with ``progress``

    def log(line: str) -> None:
        lines.append(line)
        if progress and echo is not None:
            echo(line)

    points, splits, means, seen = _prepared(config, data)
    features = config.input_features
    threads = torch.get_num_threads()
    info: dict[str, Any] = {
        "data": str(data.resolve()),
        "split": {
            "fractions": list(config.split_fractions),
            "seed": config.split_seed,
            "events": {k: len(v) for k, v in splits._asdict().items()},
        },
        "points": [p.to_dict() for p in points],
        "features": list(features),
        "methods": list(config.methods),
        "sigma_b": config.sigma_b,
        "score_bins": config.score_bins,
        "weights": dataclasses.asdict(config.weights),
        "fits": {},
        "thresholds": {},
        "cuts": {},
        "warnings": [],
    }
    began = time.perf_counter()
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        if config.n_jobs:
            torch.set_num_threads(config.n_jobs)
        try:
            _train_all(config, splits, points, features, tmp, info, log, progress)
        finally:
            torch.set_num_threads(threads)
        if means is not None:
            means.save(tmp / JET_MEANS)
        info["seconds"] = time.perf_counter() - began
        info.update(record_training(data, seen, tmp))
        (tmp / "config.yaml").write_text(dump_config(config), encoding="utf-8")
        (tmp / RUN_INFO).write_text(
            json.dumps(json_safe(info), indent=2, allow_nan=False), encoding="utf-8"
        )
        (tmp / "run.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return info


def _train_all(  # noqa: PLR0917
    config: SearchTrainConfig,
    splits: Splits,
    points: list[SignalPoint],
    features: tuple[str, ...],
    tmp: Path,
    info: dict[str, Any],
    log: Callable[[str], None],
    progress: bool,
) -> None:
    """Fit the models and choose cuts and thresholds; fills ``info`` and the folder ``tmp``."""
    ml = config.ml_methods
    models: dict[str, dict[str, Classifier]] = {m: {} for m in ml}
    for point in points:
        train, val = point_events(splits.train, point.name), point_events(splits.val, point.name)
        log(f"{point.name}: {int(train.is_signal.sum())} signal / {len(train)} training events")
        info["cuts"][point.name] = {"thesis_cuts": [c.to_dict() for c in THESIS_CUTS]}
        if "optimised_cuts" in config.methods:
            chosen = optimise_cuts(train, config.sigma_b, n_grid=config.cut_grid)
            info["cuts"][point.name]["optimised_cuts"] = [c.to_dict() for c in chosen.cuts]
            info["cuts"][point.name]["optimised_train"] = chosen.train.to_dict()
            log(f"  optimised cuts: {', '.join(c.describe() for c in chosen.cuts) or 'none'}")
        per_point = [m for m in ml if m not in GLOBAL_METHODS]
        if not per_point:
            continue
        w_train, w_val = _weights(train, config), _weights(val, config)
        message = _collapse(w_train, train)
        if message:
            info["warnings"].append(f"{point.name}: {message}")
            log(f"  warning: {message}")
        for method in per_point:
            model = build_classifier(method, config.models)
            run_dir = tmp / "training" / method / point.name
            summary = model.fit(
                train.select(features), val.select(features), w_train, w_val, run_dir, progress
            )
            model.save(tmp / "models" / method / point.name)
            models[method][point.name] = model
            info["fits"].setdefault(method, {})[point.name] = _fit_info(summary)
            log(f"  {method}: {summary.seconds:.1f} s, best iteration {summary.best_iteration}")
    global_methods = [m for m in ml if m in GLOBAL_METHODS]
    if global_methods:
        names = [p.name for p in points]
        train, val = point_events(splits.train, *names), point_events(splits.val, *names)
        w_train, w_val = _combined_weights(train, config), _combined_weights(val, config)
        message = _collapse(w_train, train)
        if message:
            info["warnings"].append(f"all points: {message}")
            log(f"all points: warning: {message}")
        for method in global_methods:
            model = build_classifier(method, config.models)
            summary = model.fit(
                train.select(features),
                val.select(features),
                w_train,
                w_val,
                tmp / "training" / method,
                progress,
            )
            model.save(tmp / "models" / method)
            for point in points:
                models[method][point.name] = model
            info["fits"][method] = {"all": _fit_info(summary)}
            log(f"{method} over {len(points)} points: {summary.seconds:.1f} s")
    _thresholds(config, splits, points, features, models, tmp, info, log)


def _thresholds(  # noqa: PLR0917
    config: SearchTrainConfig,
    splits: Splits,
    points: list[SignalPoint],
    features: tuple[str, ...],
    models: dict[str, dict[str, Classifier]],
    tmp: Path,
    info: dict[str, Any],
    log: Callable[[str], None],
) -> None:
    """Best threshold per point and classifier on the validation split; training-split scores."""
    if not models:
        return
    (tmp / "train_scores").mkdir()
    for point in points:
        val = point_events(splits.val, point.name)
        train = point_events(splits.train, point.name)
        val_x, train_x = val.select(features), train.select(features)
        chosen: dict[str, Any] = {}
        saved = {
            "is_signal": np.ascontiguousarray(train.is_signal),
            "weight": np.ascontiguousarray(train.weight),
        }
        for method, by_point in models.items():
            model = by_point[point.name]
            result = best_threshold(
                score_events(model, val_x, point), val.weight, val.is_signal, config.sigma_b
            )
            chosen[method] = {"threshold": result.threshold, "validation": result.to_dict()}
            saved[method] = np.ascontiguousarray(score_events(model, train_x, point))
            log(f"{point.name} {method}: threshold {result.threshold:.4g}, val Z {result.z:.3f}")
        info["thresholds"][point.name] = chosen
        save_file(saved, str(tmp / "train_scores" / f"{point.name}.safetensors"))
