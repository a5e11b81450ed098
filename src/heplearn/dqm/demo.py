"""The DQM part of ``heplearn demo``: HCAL maps → qtest + cnn3bn + autoencoder → one report.

A small sample with the settings of ``configs/dqm/quick.yaml`` (quick: 300 maps, else
1500), the classical quality tests, the thesis' best CNN (cnn3bn) and a small-filter
autoencoder trained for a few epochs, all evaluated on the same held-out maps into
``out/dqm-report`` (``metrics.json``, figures, ``report.html``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from heplearn.config import parse_config
from heplearn.dqm.evaluate import evaluate_run, held_out_maps
from heplearn.dqm.evaluation_report import write_dqm_evaluation
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.train import train_dqm
from heplearn.generate.dqm import DqmSampleConfig, dqm_dataset

__all__ = ["dqm_demo"]


def _sample_config(quick: bool, seed: int) -> DqmSampleConfig:
    return parse_config(
        DqmSampleConfig,
        {
            "events": 300 if quick else 1500,
            "shard_events": 150 if quick else 500,
            "seed": seed + 200,
            "lumisections_per_run": 100,
            "good_fraction": 0.5,
            "fault_shapes": {"1x1": 1.0, "5x5": 1.0, "rbx": 1.0, "depth": 0.25},
        },
        "the demo DQM sample",
    )


def _model_configs(quick: bool) -> dict[str, DqmModelConfig]:
    """qtest, cnn3bn and a small autoencoder, trained briefly (the shipped YAML are longer)."""
    trainer: dict[str, Any] = {
        "optimizer": "adam",
        "schedule": "one-cycle",
        "lr_min": 0.0001,
        "patience": 0,
    }
    settings: dict[str, dict[str, Any]] = {
        "qtest": {"model": "qtest"},
        "cnn3bn": {
            "model": "cnn3bn",
            "trainer": {**trainer, "epochs": 4 if quick else 15, "batch_size": 32, "lr_max": 0.005},
        },
        "ae": {
            "model": "ae",
            "ae": {"filters": [16, 16, 8] if quick else [32, 32, 16]},
            "trainer": {**trainer, "epochs": 3 if quick else 10, "batch_size": 16, "lr_max": 0.003},
        },
    }
    return {
        name: parse_config(DqmModelConfig, values, f"the demo {name} config")
        for name, values in settings.items()
    }


def dqm_demo(
    out: Path, *, quick: bool, seed: int, overwrite: bool, progress: bool
) -> dict[str, float]:
    """Generate, train qtest/cnn3bn/ae, evaluate into ``out/dqm-report``; the headline figures."""
    store = dqm_dataset(
        _sample_config(quick, seed), out / "dqm-sample", overwrite=overwrite, progress=progress
    )
    runs = []
    for name, config in _model_configs(quick).items():
        run = out / f"dqm-run-{name}"
        # Runs are cheap and follow the sample: always retrained.
        train_dqm(config, store, run, overwrite=True, progress=progress)
        runs.append(run)
    held_out = held_out_maps(runs[0], store)
    evaluations = [evaluate_run(run, held_out) for run in runs]
    write_dqm_evaluation(evaluations, held_out, store, out / "dqm-report", overwrite=True)
    qtest, cnn, ae = (ev.metrics for ev in evaluations)
    efficiency = qtest["efficiency_at_false_alarm"]["0.01"]
    figures = {
        "dqm: held-out maps": float(qtest["maps"]),
        "dqm: dead 1×1 efficiency @1 % FA (qtest)": efficiency.get("dead_1x1"),
        "dqm: hot 1×1 efficiency @1 % FA (qtest)": efficiency.get("hot_1x1"),
        "dqm: localisation recall (qtest)": qtest["localisation"]["recall"],
        "dqm: cnn3bn accuracy": cnn["accuracy"],
        "dqm: AE AUC (worst class)": min(ae["auc"].values(), default=None),
    }
    # A class absent from a small held-out set has no figure.
    return {
        key: float(value)
        for key, value in figures.items()
        if value is not None and not math.isnan(float(value))
    }
