"""The search part of ``heplearn demo``: a small Pythia sample, every method, the comparison.

The sample mirrors ``configs/search/quick.yaml`` (Drell–Yan μμ, tt̄, a Z′ → ℓℓ + dark
scalar point and ZH → ℓℓ + invisible, at 139 fb⁻¹) and the training mirrors
``configs/search/train-quick.yaml``; both are built here so that the demo does not
depend on the working directory (a test checks they match the shipped files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heplearn.config import parse_config
from heplearn.generate.search import SearchSampleConfig, scale_events, search_dataset
from heplearn.search.scan import scan_search
from heplearn.search.train_config import SearchTrainConfig

__all__ = ["DEMO_POINT", "QUICK_SAMPLE", "QUICK_TRAINING", "search_demo"]

#: The signal point whose figures the demo reports.
DEMO_POINT = "zp_dm_m500_mx10"

QUICK_SAMPLE: dict[str, Any] = {
    "kind": "search-sample",
    "luminosity_fb": 139.0,
    "seed": 1,
    "shard_events": 200,
    "samples": [
        {"process": "dy_mumu", "events": 400},
        {"process": "ttbar", "events": 400},
        {"process": "zp_dm", "events": 400, "mediator_mass": 500.0, "invisible_mass": 10.0},
        {"process": "zh_inv", "events": 400, "mediator_mass": 125.0, "invisible_mass": 1.0},
    ],
}

_TINY_TRAINER = {
    "epochs": 12,
    "batch_size": 128,
    "lr_min": 0.0003,
    "lr_max": 0.01,
    "patience": 4,
    "optimizer": "adam",
    "device": "cpu",
}
_TINY_XGB = {"max_depth": 3, "learning_rate": 0.2, "n_jobs": 1}

QUICK_TRAINING: dict[str, Any] = {
    "kind": "search-train",
    "signal_points": [],
    "padding": "thesis",
    "weights": {"scheme": "weight-balance", "negative": "clip"},
    "methods": ["thesis_cuts", "optimised_cuts", "xgboost", "nn", "parameterised_nn"],
    "sigma_b": 0.10,
    "split_fractions": [0.5, 0.2, 0.3],
    "split_seed": 0,
    "cut_grid": 10,
    "models": {
        "xgboost": {"n_estimators": 60, "early_stopping": 15, **_TINY_XGB},
        "nn": {"hidden_layers": 1, "width": 16, "trainer": _TINY_TRAINER},
        "parameterised_nn": {"mlp": {"hidden_layers": 1, "width": 16, "trainer": _TINY_TRAINER}},
        "ensemble": {
            "base": "xgboost",
            "scheme": "family",
            "xgboost": {"n_estimators": 40, "early_stopping": 10, **_TINY_XGB},
        },
    },
}


def search_demo(
    out: Path, *, quick: bool, seed: int, overwrite: bool, progress: bool
) -> dict[str, float]:
    """Generate the sample into ``out/search-sample``, scan into ``out/search-report``.

    ``quick``: 1,200 events in all (≈ 10 s), else 6,000.  Returns the headline figures
    of :data:`DEMO_POINT` (Z ratios, AUC).
    """
    sample = parse_config(SearchSampleConfig, {**QUICK_SAMPLE, "seed": seed}, "the search demo")
    sample = scale_events(sample, 1200 if quick else 6000)
    store = search_dataset(
        sample,
        out / "search-sample",
        workers=1 if quick else 2,
        overwrite=overwrite,
        progress=progress,
        where="the search demo",
    )
    training = parse_config(SearchTrainConfig, QUICK_TRAINING, "the search demo")
    # The report is cheap to redo, so it is always replaced (like the calibration report).
    evaluation = scan_search(training, store, out / "search-report", overwrite=True)
    m = evaluation.metrics
    figures: dict[str, float] = {}
    for label, value in (
        (f"search: best ML Z / thesis-cut Z ({DEMO_POINT})", m["ratio_best_ml_vs_thesis_cuts"]),
        (
            f"search: best ML Z / optimised-cut Z ({DEMO_POINT})",
            m["ratio_best_ml_vs_optimised_cuts"],
        ),
        (f"search: XGBoost AUC ({DEMO_POINT})", m["auc"]),
    ):
        entry = value.get(DEMO_POINT)
        if isinstance(entry, dict):
            entry = entry.get("xgboost")
        if entry is not None:
            figures[label] = float(entry)
    best = m["best_ml"].get(DEMO_POINT, {})
    if best.get("z") is not None:
        figures[f"search: best ML Z, {best['method']} ({DEMO_POINT})"] = float(best["z"])
    return figures
