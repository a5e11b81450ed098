"""``heplearn dqm evaluate``: score held-out labelled maps with one or more trained runs.

On the store a run was trained on, recognised by its fingerprint wherever it
lies, only its test maps are scored; any other labelled store is scored without
the maps the run trained or validated on (found by content key, left out with a
warning naming how many; :mod:`heplearn.data.held_out`).
Thresholds at the false-alarm rates come from
the run's *validation* good maps (``val_good_scores.safetensors``), so the
false-alarm rate realised on the test maps is an honest check, reported too.
N good validation maps resolve no rate below 1/N: such a rate is quoted at 1/N,
with a note (``notes``).  Efficiencies and accuracy carry 1σ binomial intervals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from heplearn.config import load_config
from heplearn.data.held_out import TrainingStore, exclude_training
from heplearn.data.reader import open_store
from heplearn.data.saved_json import read_saved_json
from heplearn.dqm.labels import CLASS_NAMES, SHAPE_NAMES
from heplearn.dqm.maps import MapSet
from heplearn.dqm.metrics import (
    FALSE_ALARM_RATES,
    confusion_matrix,
    efficiency_at_false_alarm,
    false_alarm_resolution,
    localisation,
    per_class_auc,
)
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models import load_model
from heplearn.dqm.models.base import MapModel
from heplearn.dqm.sources import is_generated_store, load_maps
from heplearn.dqm.splits import map_keys
from heplearn.dqm.train import RUN_INFO, VAL_SCORES, run_split
from heplearn.errors import DataError
from heplearn.stats import roc_auc
from heplearn.stats.binomial import clopper_pearson

__all__ = ["HeldOut", "ModelEvaluation", "evaluate_run", "held_out_maps"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class ModelEvaluation:
    """What one run gives on the held-out maps: metrics plus the arrays the figures need."""

    name: str
    metrics: dict[str, Any]
    scores: Array
    predicted: Array
    channel_scores_example: dict[str, tuple[Array, Array]]  # class → (normalised-ish input, score)
    history: list[dict[str, Any]]


def _read_run(run: Path) -> tuple[dict[str, Any], DqmModelConfig]:
    info_path = run / RUN_INFO
    if not info_path.is_file():
        raise DataError(
            "not a DQM run",
            str(run),
            f"{RUN_INFO} is missing",
            "give the --out folder of 'heplearn dqm train'",
        )
    info = read_saved_json(info_path, "DQM run")
    return info, load_config(DqmModelConfig, run / "config.yaml")


@dataclass(frozen=True)
class HeldOut:
    """Labelled maps to evaluate, their fault shapes, and which maps they are."""

    maps: MapSet
    fault_shape: Array
    selection: str
    held_out: dict[str, Any] = field(default_factory=dict)  # how the maps were chosen
    warnings: list[str] = field(default_factory=list)


def held_out_maps(run: Path, data: Path) -> HeldOut:
    """The maps to evaluate: the run's test split on its own store, unseen maps elsewhere."""
    info, config = _read_run(run)
    if not is_generated_store(data):
        raise DataError(
            "unlabelled maps",
            str(data),
            "evaluation needs per-map and per-channel truth (a generated store)",
            "use 'heplearn dqm check' for verdicts on unlabelled maps",
        )
    maps = load_maps(data)
    shapes = np.asarray(open_store(data).read(["labels/fault_shape"])["labels/fault_shape"])
    identity = TrainingStore.identify(info, data)
    decided = {"training_store": identity.same, "decided_by": identity.basis}
    if identity.same:
        rows = run_split(data, maps, config, bool(info["generated"])).test
        selection = "test split of the training store"
        return HeldOut(maps.subset(rows), shapes[rows], selection, decided, identity.warnings)
    overlap = exclude_training(run, info, map_keys(maps), data, unit="maps")
    rows = np.flatnonzero(overlap.keep)
    selection = "all maps of the store"
    if overlap.left_out:
        selection = (
            f"the maps of the store outside the run's training maps ({overlap.left_out} left out)"
        )
    return HeldOut(
        maps.subset(rows),
        shapes[rows],
        selection,
        {**decided, **overlap.as_dict("maps")},
        identity.warnings + overlap.warnings,
    )


def _localisation_by_shape(flags: Array, maps: MapSet, shapes: Array) -> dict[str, Any]:
    """Localisation over all maps, per fault size, and per fault type × size."""
    assert maps.map_class is not None and maps.channel_class is not None
    result: dict[str, Any] = dict(localisation(flags, maps.channel_class))
    by_shape: dict[str, dict[str, float]] = {}
    by_fault: dict[str, dict[str, float]] = {}
    faulty = maps.map_class > 0
    for shape in np.unique(shapes[faulty]):
        rows = np.flatnonzero((shapes == shape) & faulty)
        by_shape[SHAPE_NAMES[int(shape)]] = localisation(flags[rows], maps.channel_class[rows])
        for klass in np.unique(maps.map_class[rows]):
            chosen = rows[maps.map_class[rows] == klass]
            key = f"{CLASS_NAMES[int(klass)]}_{SHAPE_NAMES[int(shape)]}"
            by_fault[key] = localisation(flags[chosen], maps.channel_class[chosen])
    result["by_shape"] = by_shape
    result["by_fault"] = by_fault
    return result


def _auc_by_fault(scores: Array, map_class: Array, shapes: Array) -> dict[str, float]:
    """AUC of good maps against each fault type × size (e.g. ``dead_1x1``, ``hot_rbx``)."""
    good = map_class == 0
    result: dict[str, float] = {}
    for klass, shape in sorted(
        {(int(c), int(s)) for c, s in zip(map_class, shapes, strict=True) if c > 0}
    ):
        chosen = (map_class == klass) & (shapes == shape)
        result[f"{CLASS_NAMES[klass]}_{SHAPE_NAMES[shape]}"] = roc_auc(
            scores[good | chosen], chosen[good | chosen]
        )
    return result


def _examples(model: MapModel, maps: MapSet) -> dict[str, tuple[Array, Array]]:
    """One map per class: its counts and the model's channel scores (for the figures)."""
    assert maps.map_class is not None
    examples = {}
    for klass in np.unique(maps.map_class):
        row = int(np.flatnonzero(maps.map_class == klass)[0])
        one = maps.subset([row])
        examples[CLASS_NAMES[int(klass)]] = (one.counts[0], model.score_channels(one)[0])
    return examples


def _history(run: Path) -> list[dict[str, Any]]:
    log = run / "training" / "metrics.jsonl"
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def evaluate_run(run: Path, held_out: HeldOut) -> ModelEvaluation:
    """Score the held-out labelled maps with the model of ``run``."""
    maps, shapes = held_out.maps, held_out.fault_shape
    info, _ = _read_run(run)
    model = load_model(run / "model")
    model.check_shape(maps)
    assert maps.map_class is not None and maps.channel_class is not None
    scores = np.asarray(model.anomaly_score(maps), dtype=np.float64)
    predicted = np.asarray(model.predict_class(maps))
    flags = model.flag_channels(maps)
    val_good = np.asarray(load_file(str(run / VAL_SCORES))["scores"], dtype=np.float64)
    if val_good.size == 0:
        raise DataError(
            "no good validation maps",
            str(run / VAL_SCORES),
            "the false-alarm thresholds are set on the run's good validation maps",
            "retrain with more maps or a larger val_fraction",
        )
    resolution = false_alarm_resolution(val_good.size, FALSE_ALARM_RATES)
    metrics: dict[str, Any] = {
        "model": info["model"],
        "maps": len(maps),
        "maps_per_class": {
            CLASS_NAMES[int(k)]: int(np.sum(maps.map_class == k)) for k in np.unique(maps.map_class)
        },
        "efficiency_at_false_alarm": efficiency_at_false_alarm(
            scores,
            maps.map_class,
            shapes,
            val_good,
            class_names=CLASS_NAMES,
            shape_names=SHAPE_NAMES,
        ),
        "false_alarm_resolution": resolution,
        "notes": resolution["notes"],
        "auc": per_class_auc(scores, maps.map_class, CLASS_NAMES),
        "auc_by_fault": _auc_by_fault(scores, maps.map_class, shapes),
        "localisation": _localisation_by_shape(flags, maps, shapes),
        "confusion_matrix": confusion_matrix(maps.map_class, predicted, len(CLASS_NAMES)).tolist(),
        "accuracy": float(np.mean(predicted == maps.map_class)),
        "accuracy_interval": list(
            clopper_pearson(int(np.sum(predicted == maps.map_class)), len(maps))
        ),
        "training": info,
    }
    metrics["selection"] = held_out.selection
    metrics["held_out"] = held_out.held_out
    metrics["warnings"] = held_out.warnings
    return ModelEvaluation(
        run.name, metrics, scores, predicted, _examples(model, maps), _history(run)
    )
