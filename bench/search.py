"""Search workflow throughput: generation + reconstruction on 1 and 2 workers, and training.

- Generation: Pythia 8 Drell–Yan μμ and tt̄ (showers, hadronisation), reconstructed
  (leptons, anti-kT jets, E_T^miss) into the sharded store: events/s on 1 and 2 worker
  processes and the scaling ratio.
- Training: synthetic signal/background rows (``--rows`` × 20 features, two shifted
  Gaussians) — XGBoost (200 rounds, depth 5) on 1 thread and on all threads, and the MLP
  (one hidden layer of 64, 3 epochs); events/s over all rounds/epochs, with a plain
  scikit-learn LogisticRegression fit on the same rows as the baseline in the same run.

    python bench/search.py [--events 600] [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.config import parse_config
from heplearn.generate.search import SearchSampleConfig, search_dataset
from heplearn.search.model_config import MlpSettings, XGBoostSettings
from heplearn.search.models import MlpClassifier, XGBoostClassifier
from heplearn.search.observables import EventTable
from heplearn.training import TrainerConfig

Array = np.ndarray[Any, Any]


def generation(events: int, workers: int, folder: Path) -> float:
    """Seconds to generate and reconstruct ``events`` (half DY μμ, half tt̄)."""
    config = parse_config(
        SearchSampleConfig,
        {
            "shard_events": max(1, events // 8),
            "samples": [
                {"process": "dy_mumu", "events": events // 2},
                {"process": "ttbar", "events": events - events // 2},
            ],
        },
    )
    start = time.perf_counter()
    search_dataset(config, folder / f"store-{workers}", workers=workers)
    return time.perf_counter() - start


def synthetic(rows: int, seed: int) -> EventTable:
    """``rows`` events, 20 features; signal (30 %) shifted by 0.3 σ in every feature."""
    rng = np.random.default_rng(seed)
    signal = (rng.random(rows) < 0.3).astype(np.int8)
    features = rng.normal(size=(rows, 20)).astype(np.float32) + 0.3 * signal[:, None]
    return EventTable(
        features=features,
        names=tuple(f"x{i}" for i in range(20)),
        weight=np.ones(rows),
        is_signal=signal,
        sample=signal.astype(np.int16),
        mediator_mass=np.where(signal == 1, 500.0, 0.0).astype(np.float32),
        invisible_mass=np.zeros(rows, np.float32),
        event_id=np.arange(rows, dtype=np.int64),
    )


def rate(fit: Any, rows: int, passes: int) -> float:
    """Training rows × passes per second of ``fit()``."""
    start = time.perf_counter()
    fit()
    return rows * passes / (time.perf_counter() - start)


def training(rows: int, folder: Path) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    train, val = synthetic(rows, 1), synthetic(rows // 5, 2)
    w_train, w_val = np.ones(len(train)), np.ones(len(val))
    result: dict[str, float] = {}
    baseline = LogisticRegression(max_iter=200)
    result["logistic_regression_events_per_s"] = rate(
        lambda: baseline.fit(train.features, train.is_signal), rows, 1
    )
    for threads in (1, os.cpu_count() or 1):
        settings = XGBoostSettings(n_estimators=200, early_stopping=0, n_jobs=threads)
        fit = partial(XGBoostClassifier(settings).fit, train, val, w_train, w_val, folder / "xgb")
        result[f"xgboost_{threads}_threads_events_per_s"] = rate(fit, rows, 200)
    trainer = TrainerConfig(epochs=3, batch_size=4096, patience=0, optimizer="adam", device="cpu")
    mlp = MlpClassifier(MlpSettings(width=64, trainer=trainer))
    result["nn_events_per_s"] = rate(
        lambda: mlp.fit(train, val, w_train, w_val, folder / "nn"), rows, 3
    )
    return {k: round(v) for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=600, help="generated events per run")
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic training rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = generation(args.events, 1, Path(tmp))
        two = generation(args.events, 2, Path(tmp))
        fits = training(args.rows, Path(tmp))
    n_threads = os.cpu_count() or 1
    result = {
        "events": args.events,
        "generation_events_per_s_1_worker": round(args.events / one),
        "generation_events_per_s_2_workers": round(args.events / two),
        "generation_scaling_2_vs_1": round(one / two, 2),
        "training_rows": args.rows,
        **fits,
        "xgboost_per_round_vs_logistic_regression": round(
            fits["xgboost_1_threads_events_per_s"] / fits["logistic_regression_events_per_s"], 3
        ),
        "xgboost_thread_scaling": round(
            fits[f"xgboost_{n_threads}_threads_events_per_s"]
            / fits["xgboost_1_threads_events_per_s"],
            2,
        ),
        "nn_per_epoch_vs_logistic_regression": round(
            fits["nn_events_per_s"] / fits["logistic_regression_events_per_s"], 3
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
