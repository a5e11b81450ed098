"""DQM throughput on CPU: maps scored per second and training time per epoch.

    python bench/dqm.py [--maps 256] [--threads 2] [--train-maps 256]

Models: the autoencoder (thesis filters 86/64/32 and a small 16/16/8 variant) and the best
CNN (cnn3bn) at 64 × 72 × 4 (goal ≥ 1,000 maps/s), the classical tests (qtest) at
64 × 72 × 4 and the full 82 × 72 × 4 HCAL map.  Baselines measured in the same run:

- ``forward``: the network alone on ready inputs, with K threads and with 1 thread;
- ``end_to_end``: anomaly score + flagged channels + class from raw counts (normalisation
  by the Reference included), as ``heplearn dqm check`` runs it;
- ``reference_expected``: the Reference normalisation alone (``Reference.expected``).

``watch`` (qtest, 82 × 72 × 4, one HDF5 file per lumisection): maps per second from new
files in a folder to verdicts committed in the SQLite history (``heplearn dqm watch``),
against ``dqm check``'s reading and scoring of the same files alone.

Maps are Poisson counts from a smooth η-dependent rate (labels random: timing only).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from heplearn.dqm.maps import MapSet
from heplearn.dqm.model_config import default_model_config
from heplearn.dqm.models import build_model
from heplearn.dqm.models.base import MapModel
from heplearn.dqm.models.cnn import run_network


def maps(n: int, shape: tuple[int, int, int], seed: int) -> MapSet:
    """Labelled Poisson maps of ``shape`` (classes drawn at random; 1 in 10 channels absent)."""
    rng = np.random.default_rng(seed)
    h, w, d = shape
    eta = np.linspace(-3.0, 3.0, h)[:, None, None]
    rate = 0.02 * np.cosh(eta) / np.cosh(3.0) * np.ones((h, w, d)) + 0.005
    rate *= np.random.default_rng(1).random(shape) > 0.1
    events = rng.uniform(1000.0, 4000.0, n)
    counts = rng.poisson(rate[None] * events[:, None, None, None]).astype(np.float32)
    map_class = rng.integers(0, 5, n).astype(np.int8)
    map_class[: n // 2] = 0
    return MapSet(
        counts=counts,
        n_events=events.astype(np.float32),
        map_class=map_class,
        channel_class=np.zeros(counts.shape, np.uint8),
        names=[str(i) for i in range(n)],
    )


def best_rate(n: int, job: Callable[[], Any], repeat: int = 3) -> float:
    """Maps per second of ``job`` over ``n`` maps: the best of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        tick = time.perf_counter()
        job()
        best = min(best, time.perf_counter() - tick)
    return n / best


def end_to_end(model: MapModel, sample: MapSet) -> None:
    fresh = sample.subset(slice(None))  # a new MapSet: no cached pass is reused
    model.anomaly_score(fresh)
    model.flag_channels(fresh)
    model.predict_class(fresh)


def train(
    name: str, train_maps: MapSet, run_dir: Path, **ae: Any
) -> tuple[MapModel, dict[str, float]]:
    """Fit ``name`` for 2 epochs; return the model and its seconds per epoch (the faster)."""
    config = default_model_config(name)
    trainer = dataclasses.replace(config.trainer, epochs=2, patience=0, device="cpu")
    config = dataclasses.replace(config, trainer=trainer)
    if ae:
        config = dataclasses.replace(config, ae=dataclasses.replace(config.ae, **ae))
    model = build_model(config)
    val = train_maps.subset(slice(0, max(len(train_maps) // 4, 8)))
    tick = time.perf_counter()
    model.fit(train_maps, val, run_dir, progress=False)
    fit_seconds = time.perf_counter() - tick
    log = run_dir / "metrics.jsonl"
    epochs = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    epoch = min((row["seconds"] for row in epochs), default=float("nan"))
    return model, {
        "seconds_per_epoch": epoch,
        "train_maps": float(len(train_maps)),
        "train_maps_per_s": len(train_maps) / epoch,
        "fit_seconds_2_epochs": fit_seconds,
    }


def network_rates(model: MapModel, sample: MapSet, threads: int) -> dict[str, float]:
    """End to end and the network alone on ready inputs, with ``threads`` and with 1 thread."""
    net = model.net  # type: ignore[attr-defined]
    x = model._inputs(sample)[0]  # type: ignore[attr-defined]
    batch = 256 if model.name != "ae" else 64
    rates = {}
    for k in sorted({threads, 1}, reverse=True):
        torch.set_num_threads(k)
        rates[f"end_to_end_{k}_threads_maps_per_s"] = best_rate(
            len(sample), lambda: end_to_end(model, sample)
        )
        rates[f"forward_{k}_threads_maps_per_s"] = best_rate(
            len(x), lambda: run_network(net, x, batch)
        )
    torch.set_num_threads(threads)
    return rates


def torch_model(name: str, args: argparse.Namespace, tmp: Path, **ae: Any) -> dict[str, Any]:
    shape = (64, 72, 4)
    model, training = train(name, maps(args.train_maps, shape, 1), tmp / name, **ae)
    sample = maps(args.maps, shape, 2)
    reference = model.reference  # type: ignore[attr-defined]
    return {
        "shape": list(shape),
        **network_rates(model, sample, args.threads),
        "reference_expected_maps_per_s": best_rate(len(sample), lambda: reference.expected(sample)),
        "training": training,
    }


def qtest(shape: tuple[int, int, int], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    model = build_model(default_model_config("qtest"))
    reference_maps = maps(200, shape, 1)
    reference_maps.map_class[:] = 0  # type: ignore[index]
    model.fit(reference_maps, reference_maps, tmp, progress=False)
    sample = maps(args.maps, shape, 2)
    reference = model.reference  # type: ignore[attr-defined]
    return {
        "shape": list(shape),
        "end_to_end_maps_per_s": best_rate(len(sample), lambda: end_to_end(model, sample)),
        "anomaly_score_maps_per_s": best_rate(len(sample), lambda: model.anomaly_score(sample)),
        "reference_scale_maps_per_s": best_rate(len(sample), lambda: reference.scale(sample)),
        "reference_expected_maps_per_s": best_rate(len(sample), lambda: reference.expected(sample)),
    }


def watch_rate(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """End-to-end ``dqm watch`` throughput into a fresh history, and ``dqm check`` alone."""
    import h5py

    from heplearn.dqm.check import verdicts
    from heplearn.dqm.history import open_history
    from heplearn.dqm.sources import load_maps
    from heplearn.dqm.train import train_dqm
    from heplearn.dqm.watch import Watcher

    shape, per_file = (82, 72, 4), args.maps_per_file
    tmp.mkdir(parents=True)
    reference = tmp / "reference.h5"
    with h5py.File(reference, "w") as handle:
        handle["maps"] = maps(50, shape, 1).counts
    run = tmp / "run-qtest"
    train_dqm(default_model_config("qtest"), reference, run, progress=False)
    folder = tmp / "incoming"
    folder.mkdir()
    sample = maps(args.watch_files * per_file, shape, 2).counts
    for i in range(args.watch_files):
        with h5py.File(folder / f"run1_ls{i * per_file + 1:05d}.h5", "w") as handle:
            handle["maps"] = sample[i * per_file : (i + 1) * per_file]
    files = sorted(folder.iterdir())
    n_maps = len(files) * per_file

    def check_alone() -> None:
        for path in files:
            verdicts(run, load_maps(path))

    with open_history(tmp / "history.sqlite", create=True) as history:
        watcher = Watcher(folder, run, history, log=lambda _line: None)
        watcher.poll()  # first sight: files settle on the next poll
        tick = time.perf_counter()
        watcher.poll()
        seconds = time.perf_counter() - tick
        assert watcher.maps_recorded == n_maps, watcher.maps_recorded
    return {
        "shape": list(shape),
        "files": len(files),
        "maps_per_file": per_file,
        "watch_maps_per_s": n_maps / seconds,
        "watch_files_per_s": len(files) / seconds,
        "check_alone_maps_per_s": best_rate(n_maps, check_alone),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=256, help="maps scored per timing")
    parser.add_argument("--train-maps", type=int, default=256, help="maps per training epoch")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--models",
        default="qtest,cnn3bn,ae-small,ae,watch",
        help="comma-separated subset to run",
    )
    parser.add_argument("--watch-files", type=int, default=64, help="files dqm watch takes")
    parser.add_argument("--maps-per-file", type=int, default=1, help="lumisections per file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    chosen = args.models.split(",")
    results: dict[str, Any] = {"threads": args.threads, "maps": args.maps}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if "qtest" in chosen:
            results["qtest_64x72x4"] = qtest((64, 72, 4), args, tmp / "q64")
            results["qtest_82x72x4"] = qtest((82, 72, 4), args, tmp / "q82")
        if "cnn3bn" in chosen:
            results["cnn3bn_64x72x4"] = torch_model("cnn3bn", args, tmp)
        if "ae-small" in chosen:
            results["ae_16_16_8_64x72x4"] = torch_model(
                "ae", args, tmp / "small", filters=(16, 16, 8)
            )
        if "ae" in chosen:
            results["ae_86_64_32_64x72x4"] = torch_model("ae", args, tmp / "thesis")
        if "watch" in chosen:
            results["watch_qtest_82x72x4"] = watch_rate(args, tmp / "watch")
    results["bench_seconds"] = time.perf_counter() - began
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
