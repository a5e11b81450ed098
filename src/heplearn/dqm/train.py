"""``heplearn dqm train``: fit one DQM model and write its run folder.

The run folder holds ``config.yaml`` (the resolved model config), ``run.json``
(data and its fingerprint, split, shape, model), ``training_keys.npy`` (content
keys of the training and validation maps, :mod:`heplearn.data.held_out`),
``model/`` (JSON + safetensors, see
``dqm.models.base``) and ``val_good_scores.safetensors``: the anomaly scores of
good validation maps the model did not tune on, from which ``dqm evaluate`` sets the thresholds at
fixed false-alarm rates.  Supervised models need a labelled (generated) store;
unsupervised ones (``qtest``, ``ae``) are fitted on good maps only — every map of
a user's ROOT/HDF5 file counts as a good reference map.  The folder is written
under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from heplearn.config import dump_config
from heplearn.data.atomic import atomic_output
from heplearn.data.held_out import record_training
from heplearn.dqm.maps import MapSet
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models import build_model
from heplearn.dqm.models.base import MapModel
from heplearn.dqm.sources import is_generated_store, load_maps
from heplearn.dqm.splits import MapSplit, map_keys, split_keys, split_maps
from heplearn.errors import DataError

__all__ = ["RUN_INFO", "VAL_SCORES", "run_split", "train_dqm"]

RUN_INFO = "run.json"
VAL_SCORES = "val_good_scores.safetensors"


def run_split(data: Path, maps: MapSet, config: DqmModelConfig, generated: bool) -> MapSplit:
    """The split a run uses: generated stores keep a test part back, user files do not."""
    keys = split_keys(data, maps, generated)
    return split_maps(keys, config.val_fraction, config.split_seed, hold_out_test=generated)


def _good(maps: MapSet) -> MapSet:
    if maps.map_class is None:
        return maps
    return maps.subset(np.flatnonzero(maps.map_class == 0))


def _fit_parts(model: MapModel, maps: MapSet, split: MapSplit) -> tuple[MapSet, MapSet, MapSet]:
    """Training maps, validation maps for the model's own thresholds, and calibration maps.

    The validation maps are halved: the model tunes on the first half; the second
    half's good maps set the false-alarm thresholds, so those are not tuned twice.
    """
    train = maps.subset(split.train)
    val, calibration = maps.subset(split.val[::2]), maps.subset(split.val[1::2])
    # Anomaly detectors learn "good" only; classifiers see every class.
    return (train if model.supervised else _good(train)), val, calibration


def train_dqm(
    config: DqmModelConfig,
    data: str | Path,
    out: str | Path,
    *,
    dataset: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Fit ``config.model`` on the maps of ``data`` and write the run folder ``out``."""
    data, out = Path(data), Path(out)
    maps = load_maps(data, dataset)
    generated = is_generated_store(data)
    model = build_model(config)
    model.check_labelled(maps, str(data))
    split = run_split(data, maps, config, generated)
    if not model.needs_validation and not generated:
        # Thresholds from a model of the reference: every user map is a reference map.
        split = MapSplit(train=np.arange(len(maps)), val=np.arange(0), test=np.arange(0))
    # The hash split honours val_fraction only on average: a handful of maps can draw none.
    elif len(split.val) < 2 and model.needs_validation:
        raise DataError(
            "too few validation maps",
            str(data),
            f"the split of {len(maps)} maps gives {len(split.val)} validation maps "
            f"(val_fraction {config.val_fraction}); thresholds and false-alarm rates need them",
            "give more maps or raise val_fraction",
        )
    train, val, calibration = _fit_parts(model, maps, split)
    if len(train) == 0:
        raise DataError(
            "no good maps to train on",
            str(data),
            f"model {config.model} learns from good maps and the training split has none",
            "generate a sample with good maps or give more maps",
        )
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        began = time.perf_counter()
        model.fit(train, val, tmp / "training", progress=progress)
        seconds = time.perf_counter() - began
        model.save(tmp / "model")
        good = _good(calibration)
        loo = model.left_out_scores() if len(good) == 0 else None
        if loo is not None:  # the leave-one-out scores are the honest good-map scores
            scores = np.asarray(loo, dtype=np.float32)
        else:
            scores = model.anomaly_score(good.subset(np.flatnonzero(~good.empty)))
            scores = scores.astype(np.float32)
        save_file({"scores": np.ascontiguousarray(scores)}, str(tmp / VAL_SCORES))
        (tmp / "config.yaml").write_text(dump_config(config))
        seen = np.concatenate([split.train, split.val])
        info = {
            "model": config.model,
            **record_training(data, map_keys(maps)[seen], tmp),
            "dataset": dataset,
            "generated": generated,
            "maps": len(maps),
            "shape": list(maps.shape),
            "train_maps": len(train),
            "val_maps": len(val),
            "false_alarm_calibration_maps": len(calibration),
            "test_maps": len(split.test),
            "fit_seconds": seconds,
        }
        if model.calibration() is not None:
            info["calibration"] = model.calibration()
        (tmp / RUN_INFO).write_text(json.dumps(info, indent=2))
    return info
