"""The search part of ``heplearn demo``: a small Pythia sample, every method, the comparison.

The sample is the shipped ``configs/search/quick.yaml`` (Drell–Yan μμ, tt̄, a Z′ → ℓℓ + dark
scalar point and ZH → ℓℓ + invisible, at 139 fb⁻¹) and the training the shipped
``configs/search/train-quick.yaml``, read from the installed package (``shipped_config``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from heplearn.config import load_config, shipped_config
from heplearn.generate.search import SearchSampleConfig, scale_events, search_dataset
from heplearn.report.summary import Figure, compared
from heplearn.search.scan import scan_search
from heplearn.search.significance import z_statistical_error
from heplearn.search.train_config import SearchTrainConfig
from heplearn.stats.auc_error import auc_error

__all__ = ["DEMO_POINT", "QUICK_SAMPLE", "QUICK_TRAINING", "search_demo"]

#: The signal point whose figures the demo reports.
DEMO_POINT = "zp_dm_m500_mx10"

#: The shipped configs the demo runs.
QUICK_SAMPLE = "search/quick.yaml"
QUICK_TRAINING = "search/train-quick.yaml"


def search_demo(
    out: Path, *, quick: bool, seed: int, overwrite: bool, progress: bool
) -> dict[str, Figure]:
    """Generate the sample into ``out/search-sample``, scan into ``out/search-report``.

    ``quick``: 1,200 events in all (≈ 10 s), else 6,000.  Returns the headline figures
    of :data:`DEMO_POINT` (Z ratios, AUC) with their MC-statistical errors.
    """
    shipped = load_config(SearchSampleConfig, shipped_config(QUICK_SAMPLE))
    sample = dataclasses.replace(shipped, seed=seed)
    sample = scale_events(sample, 1200 if quick else 6000)
    store = search_dataset(
        sample,
        out / "search-sample",
        workers=1 if quick else 2,
        overwrite=overwrite,
        progress=progress,
        where="the search demo",
    )
    training = load_config(SearchTrainConfig, shipped_config(QUICK_TRAINING))
    # The report is cheap to redo, so it is always replaced (like the calibration report).
    evaluation = scan_search(training, store, out / "search-report", overwrite=True)
    return _figures(evaluation.metrics)


def _figures(m: dict[str, Any]) -> dict[str, Figure]:
    """Z of the best ML method against the cuts, and the XGBoost AUC, with MC-stat errors."""
    yields, sigma_b = m["yields"].get(DEMO_POINT, {}), float(m["sigma_b"])
    best = m["best_ml"].get(DEMO_POINT, {})
    figures: dict[str, Figure] = {}
    if best.get("z") is None:
        return figures
    z_best, z_best_err = float(best["z"]), z_statistical_error(yields[best["method"]], sigma_b)
    for method, label in (("thesis_cuts", "thesis-cut"), ("optimised_cuts", "optimised-cut")):
        z_cut = yields.get(method, {}).get("z")
        if not z_cut:
            continue
        ratio = z_best / z_cut
        # Treated as independent: the two selections share events, so this is conservative.
        error = ratio * math.hypot(
            z_best_err / z_best, z_statistical_error(yields[method], sigma_b) / z_cut
        )
        figures[f"search: best ML Z / {label} Z ({DEMO_POINT})"] = compared(
            ratio, error, 1.0, f"{best['method']} vs {label.replace('-', ' ')}s"
        )
    auc = m["auc"].get(DEMO_POINT, {}).get("xgboost")
    if auc is not None:
        n_signal = int(m["events"]["signal"][DEMO_POINT])
        n_background = int(m["events"]["background"])
        error = auc_error(float(auc), n_signal, n_background)
        # The Hanley–McNeil error vanishes at a perfect separation: say what it rests on.
        note = f"{n_signal} signal, {n_background} background events"
        figures[f"search: XGBoost AUC ({DEMO_POINT})"] = Figure(
            float(auc), error if error > 0 else None, note
        )
    figures[f"search: best ML Z, {best['method']} ({DEMO_POINT})"] = Figure(z_best, z_best_err)
    return figures
