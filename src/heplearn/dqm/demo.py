"""The DQM part of ``heplearn demo``: HCAL maps → qtest + cnn3bn + autoencoder → one report.

A small sample with the settings of ``configs/dqm/quick.yaml`` (quick: 300 maps, else
1500), the classical quality tests, the thesis' best CNN (cnn3bn) and a small-filter
autoencoder, from the shipped ``configs/dqm/models/{qtest,cnn3bn-small,ae-small}.yaml``
(``--quick`` trains fewer epochs), all evaluated on the same held-out maps into
``out/dqm-report`` (``metrics.json``, figures, ``report.html``); the held-out maps are
then watched by the qtest run into ``out/dqm-history.sqlite`` for ``heplearn dqm serve``
(:mod:`heplearn.dqm.demo_history`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.config import load_config, shipped_config
from heplearn.dqm.demo_history import write_demo_history
from heplearn.dqm.evaluate import HeldOut, ModelEvaluation, evaluate_run, held_out_maps
from heplearn.dqm.evaluation_report import write_dqm_evaluation
from heplearn.dqm.labels import CLASS_NAMES
from heplearn.dqm.metrics import rate_label
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.train import train_dqm
from heplearn.generate.dqm import DqmSampleConfig, dqm_dataset
from heplearn.report.summary import Figure, compared
from heplearn.stats.auc_error import auc_error
from heplearn.stats.binomial import binomial_error
from heplearn.stats.bootstrap import bootstrap

__all__ = ["dqm_demo"]


def _sample_config(quick: bool, seed: int) -> DqmSampleConfig:
    """The shipped ``configs/dqm/quick.yaml`` physics; the demo sets size and seed."""
    shipped = load_config(DqmSampleConfig, shipped_config("dqm/quick.yaml"))
    return dataclasses.replace(
        shipped,
        events=300 if quick else 1500,
        shard_events=150 if quick else 500,
        seed=seed + 200,
    )


#: The CMS run number of the demo's history is this plus the seed.
DEMO_CMS_RUN = 900_000

#: The shipped model configs the demo trains (configs/dqm/models/).
DEMO_MODELS = {"qtest": "qtest.yaml", "cnn3bn": "cnn3bn-small.yaml", "ae": "ae-small.yaml"}


def _quick(name: str, config: DqmModelConfig) -> DqmModelConfig:
    """The ``--quick`` cut of a shipped config: fewer epochs and, for the AE, fewer filters."""
    epochs = {"cnn3bn": 4, "ae": 3}
    if name not in epochs:
        return config
    config = dataclasses.replace(
        config, trainer=dataclasses.replace(config.trainer, epochs=epochs[name])
    )
    if name == "ae":
        config = dataclasses.replace(config, ae=dataclasses.replace(config.ae, filters=(16, 16, 8)))
    return config


def _model_configs(quick: bool) -> dict[str, DqmModelConfig]:
    """qtest, cnn3bn and a small autoencoder from their shipped configs (shorter with quick)."""
    configs = {
        name: load_config(DqmModelConfig, shipped_config(f"dqm/models/{file}"))
        for name, file in DEMO_MODELS.items()
    }
    return {name: _quick(name, c) if quick else c for name, c in configs.items()}


def dqm_demo(
    out: Path, *, quick: bool, seed: int, overwrite: bool, progress: bool
) -> dict[str, Figure]:
    """Generate, train qtest/cnn3bn/ae, evaluate into ``out/dqm-report``; figures with errors."""
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
    # Online: the held-out maps as lumisection files, watched by qtest into a history.
    write_demo_history(out, runs[0], held_out.maps, cms_run=DEMO_CMS_RUN + seed)
    return _figures(evaluations, held_out)


def _efficiency(metrics: dict[str, Any], fault: str) -> tuple[str, Figure] | None:
    """Efficiency of ``fault`` at the largest resolved rate, its 1σ binomial error and n."""
    table = next(iter(metrics["efficiency_at_false_alarm"].values()))
    if fault not in table["efficiency"]:
        return None  # a fault absent from a small held-out set has no figure
    low, high = table["interval"][fault]
    value = table["efficiency"][fault]
    label = f"dqm: {fault.replace('_', ' ')} efficiency @{rate_label(table['rate'])} FA (qtest)"
    n_val = metrics["false_alarm_resolution"]["validation_good_maps"]
    note = f"{table['maps'][fault]} maps; threshold set on {n_val} good validation maps"
    if table["requested"] != [table["rate"]]:
        requested = ", ".join(f"{100 * r:g} %" for r in table["requested"])
        note += f", too few for {requested}"
    return label, Figure(value, (high - low) / 2, note)


def _accuracy_difference(cnn: ModelEvaluation, qtest: ModelEvaluation, truth: Any) -> Figure:
    """cnn3bn accuracy minus qtest's on the same maps, with a paired bootstrap error."""
    gain = (cnn.predicted == truth).astype(np.float64) - (qtest.predicted == truth)
    value, error = bootstrap(np.mean, gain)
    return compared(value, error, 0.0, "cnn3bn vs qtest")


def _figures(evaluations: list[ModelEvaluation], held_out: HeldOut) -> dict[str, Figure]:
    qtest, cnn, ae = evaluations
    truth = held_out.maps.map_class
    local = qtest.metrics["localisation"]
    figures = {"dqm: held-out maps": Figure(float(qtest.metrics["maps"]))}
    for fault in ("dead_1x1", "hot_1x1"):
        entry = _efficiency(qtest.metrics, fault)
        if entry is not None:
            figures[entry[0]] = entry[1]
    n_faulty = int(local["faulty_channels"])
    if n_faulty:
        hits = round(local["recall"] * n_faulty)
        figures["dqm: localisation recall (qtest)"] = Figure(
            local["recall"],
            binomial_error(hits, n_faulty),
            f"{n_faulty} faulty channels; binomial, a lower bound: a fault's channels go together",
        )
    n_maps = len(held_out.maps)
    accuracy = cnn.metrics["accuracy"]
    figures["dqm: cnn3bn accuracy"] = Figure(
        accuracy,
        binomial_error(round(accuracy * n_maps), n_maps),
        f"{n_maps} maps, {len(CLASS_NAMES)} classes",
    )
    figures["dqm: cnn3bn − qtest accuracy"] = _accuracy_difference(cnn, qtest, truth)
    aucs = ae.metrics["auc"]
    if aucs:
        worst = min(aucs, key=aucs.__getitem__)
        good = int(np.sum(truth == 0))
        bad = int(np.sum(truth == CLASS_NAMES.index(worst)))
        figures["dqm: AE AUC (worst class)"] = Figure(
            aucs[worst], auc_error(aucs[worst], bad, good), f"{worst}: {bad} vs {good} good maps"
        )
    return {k: f for k, f in figures.items() if math.isfinite(f.value)}
