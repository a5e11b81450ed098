"""The calibration part of ``heplearn demo``: guns → BDT + tiny DeepCalo → evaluation on Z→ee.

The training settings are those of the shipped ``configs/calib/train/tiny.yaml`` (``--quick``
trains fewer epochs and trees); the summary gives each comparison its bootstrap error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from heplearn.calib.evaluate import Evaluation, evaluate_run
from heplearn.calib.evaluation_report import write_evaluation
from heplearn.calib.resolution_metrics import bootstrap, eiqr, reiqr
from heplearn.calib.run_staging import resume_source
from heplearn.calib.train import train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import load_config, parse_config, shipped_config
from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.report.summary import Figure, compared

__all__ = ["DEMO_CONFIG", "calib_demo"]


def _gun_config(quick: bool, seed: int, mu: float) -> CalibSampleConfig:
    return parse_config(
        CalibSampleConfig,
        {
            "source": "gun",
            "geometry": "atlas-lar",
            "gun": {"particles": ["electron", "positron", "photon"], "pt_range": [5.0, 300.0]},
            "events": 3000 if quick else 20_000,
            "shard_events": 1500 if quick else 5000,
            "seed": seed + 100,
            "mu": mu,
            "pool_events": 50 if quick else 200,
        },
        "the demo gun sample",
    )


#: The shipped training config the demo runs (also in the wheel, see ``shipped_config``).
DEMO_CONFIG = "calib/train/tiny.yaml"


def _train_config(quick: bool) -> CalibTrainConfig:
    """The shipped tiny config; ``quick`` only trains shorter (4 epochs, a 150-tree BDT)."""
    config = load_config(CalibTrainConfig, shipped_config(DEMO_CONFIG))
    if not quick:
        return config
    assert config.bdt is not None  # the shipped config has its baseline
    return dataclasses.replace(
        config,
        bdt=dataclasses.replace(config.bdt, n_estimators=150),
        trainer=dataclasses.replace(config.trainer, epochs=4),
    )


def calib_demo(
    out: Path,
    zee_store: Path,
    *,
    quick: bool,
    seed: int,
    mu: float,
    overwrite: bool,
    progress: bool,
) -> dict[str, Figure]:
    """Train on a gun sample, evaluate on the Z→ee store; the headline figures with errors."""
    guns = calib_dataset(
        _gun_config(quick, seed, mu),
        out / "gun-sample",
        workers=1 if quick else 2,
        overwrite=overwrite,
        progress=progress,
    )
    run = out / "calib-run"
    config = _train_config(quick)
    # A rerun with the same settings continues (or finds it finished); other settings need
    # --overwrite, which starts afresh.
    resume = resume_source(run).config.is_file() and not overwrite
    train_calib(config, guns, run, resume=resume, overwrite=overwrite, progress=progress)
    evaluation = evaluate_run(run, zee_store, n_boot=50 if quick else 200)
    write_evaluation(evaluation, out / "calib-report", overwrite=True)
    return _figures(evaluation, n_boot=50 if quick else 200)


def _figures(evaluation: Evaluation, n_boot: int) -> dict[str, Figure]:
    """eIQR of each method and the network's gains, with paired bootstrap errors."""
    m = evaluation.metrics
    response = {
        name: values / evaluation.features.e_truth
        for name, values in evaluation.energies.methods().items()
    }
    figures = {"gun clusters for training": Figure(float(m["training"]["info"]["split"]["train"]))}
    for name, label in (("e_acc", "E_acc"), ("bdt", "BDT"), ("network", "DeepCalo tiny")):
        if name in response:
            figures[f"eIQR {label} (Z→ee)"] = Figure(*bootstrap(eiqr, response[name], n=n_boot))
    for baseline, label in (("e_acc", "E_acc"), ("bdt", "BDT")):
        if "network" in response and baseline in response:
            # Resampling both responses together keeps their correlation (same clusters).
            value, error = bootstrap(reiqr, response["network"], response[baseline], n=n_boot)
            figures[f"reIQR75 DeepCalo vs {label}"] = compared(
                value, error, 0.0, f"DeepCalo vs {label}"
            )
    for key, label in (
        ("e_acc", "E_acc"),
        ("bdt", "BDT"),
        ("network", "DeepCalo"),
    ):
        fit = evaluation.mass_fits.get(key)
        if fit is not None:
            figures[f"σ_CB {label} [GeV]"] = Figure(fit.sigma, fit.sigma_err)
    return figures
