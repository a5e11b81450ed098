"""The calibration part of ``heplearn demo``: guns → BDT + tiny DeepCalo → evaluation on Z→ee."""

from __future__ import annotations

from pathlib import Path

from heplearn.calib.evaluate import evaluate_run
from heplearn.calib.evaluation_report import write_evaluation
from heplearn.calib.run_staging import resume_source
from heplearn.calib.train import train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import parse_config
from heplearn.generate.calib import CalibSampleConfig, calib_dataset

__all__ = ["calib_demo"]


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


def _train_config(quick: bool) -> CalibTrainConfig:
    return parse_config(
        CalibTrainConfig,
        {
            "preset": "tiny",
            "features": {"image_scaling": "per-event"},
            "logcosh_scale": 0.02,
            "bdt": {"n_estimators": 150 if quick else 400, "learning_rate": 0.1},
            "trainer": {
                "epochs": 4 if quick else 12,
                "batch_size": 256,
                "lr_max": 0.003,
                "patience": 5,
            },
        },
        "the demo training config",
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
) -> dict[str, float]:
    """Train on a gun sample, evaluate on the Z→ee store; return the headline figures."""
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
    m = evaluation.metrics
    figures = {
        "gun clusters for training": float(m["training"]["info"]["split"]["train"]),
        "eIQR E_acc (Z→ee)": m["eiqr_e_acc"],
        "eIQR BDT (Z→ee)": m["eiqr_bdt"],
        "eIQR DeepCalo tiny (Z→ee)": m["eiqr_model"],
        "reIQR75 DeepCalo vs E_acc": m["reiqr75_vs_eacc"],
        "reIQR75 DeepCalo vs BDT": m["reiqr75_vs_bdt"],
    }
    for key, label in (
        ("sigma_cb_eacc", "E_acc"),
        ("sigma_cb_bdt", "BDT"),
        ("sigma_cb_model", "DeepCalo"),
    ):
        if m.get(key) is not None:
            figures[f"σ_CB {label} [GeV]"] = m[key]
    return {k: float(v) for k, v in figures.items() if v is not None}
