"""Training and inference samples/s of the DeepCalo presets, through the shared training loop.

    python bench/train_calib.py [--preset thesis] [--samples 8192] [--device auto]

Shapes as in the thesis: 4×56×11 images, 14 scalars, 15×10 tracks, batch 2048, Nadam +
one-cycle, log-cosh.  Baselines in the same run: a plain eager PyTorch loop (fp32, no
channels-last, what one writes by hand) for training and inference, and torch inference
of ``tiny`` for the onnxruntime rate.  The Keras ``deepcalo`` reference on this 2-core
machine (DESIGN.md: ≈800 train, ≈3,000 inference samples/s) is printed beside the ratio.
On a GPU it also times one epoch over 2M resident events and the batch-gather rate of
the loader (goal: ≥ 10× the step rate, so loading never limits training).

Against the limit (``bench/machine_peak.py``, same run): the fp32 peak of a large matmul
and of a 3×3 convolution at the thesis' image size, the preset's FLOPs per sample forward
and per training step, and the achieved GFLOP/s and fraction of the matmul peak for
training and inference (of the better of the two peaks).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from heplearn.calib.inputs import InputShapes
from heplearn.calib.losses import logcosh
from heplearn.calib.models import build_model, deepcalo_preset
from heplearn.calib.objective import calib_forward, calib_objective
from heplearn.calib.onnx_export import OnnxCalibrator, export_onnx
from heplearn.config import parse_config
from heplearn.training import TensorSet, TrainerConfig, fit, predict, select_device
from machine_peak import conv_peak, matmul_peak, model_flops

SHAPES = InputShapes(image=(4, 56, 11), scalars=14, tracks=(15, 10))
KERAS_REFERENCE = {"train": 800.0, "infer": 3000.0}


def data(n: int, seed: int = 0) -> TensorSet:
    rng = np.random.default_rng(seed)
    return TensorSet.from_numpy(
        {
            "images": rng.exponential(0.5, (n, *SHAPES.image)).astype(np.float32),
            "scalars": rng.normal(size=(n, SHAPES.scalars)).astype(np.float32),
            "tracks": rng.normal(size=(n, *SHAPES.tracks)).astype(np.float32),
            "target": rng.normal(1.0, 0.05, n).astype(np.float32),
            "weight": np.ones(n, np.float32),
        }
    )


def engine_train(preset: str, train: TensorSet, device: str, epochs: int) -> float:
    model = build_model(deepcalo_preset(preset), SHAPES)
    config = parse_config(
        TrainerConfig,
        {"epochs": epochs, "batch_size": 2048, "patience": 0, "device": device},
        "bench",
    )
    with tempfile.TemporaryDirectory() as tmp:
        pair = (train.channels_last(), data(2048, 1).channels_last())
        result = fit(model, calib_objective("logcosh"), pair, config, Path(tmp))
    best = max(row["samples_per_s"] for row in result.history)
    return float(best)


def plain_train(preset: str, train: TensorSet, steps: int) -> float:
    model = build_model(deepcalo_preset(preset), SHAPES)
    optimizer = torch.optim.NAdam(model.parameters(), lr=1e-3)
    t = train.tensors
    model.train()
    best = 0.0
    for _ in range(steps):
        tick = time.perf_counter()
        for start in range(0, len(train), 2048):
            rows = slice(start, start + 2048)
            out = model(t["images"][rows], t["scalars"][rows], t["tracks"][rows])
            loss = logcosh(out, t["target"][rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        best = max(best, len(train) / (time.perf_counter() - tick))
    return best


def inference(model: torch.nn.Module, sample: TensorSet, repeat: int = 3) -> float:
    best = 0.0
    for _ in range(repeat):
        tick = time.perf_counter()
        predict(model, sample, calib_forward, batch_size=2048)
        best = max(best, len(sample) / (time.perf_counter() - tick))
    return best


def onnx_rate(n: int) -> dict[str, float]:
    model = build_model(deepcalo_preset("tiny"), SHAPES).eval()
    sample = data(n)
    arrays = [sample.tensors[k].numpy() for k in ("images", "scalars", "tracks")]
    with tempfile.TemporaryDirectory() as tmp:
        calibrate = OnnxCalibrator(export_onnx(model, SHAPES, Path(tmp) / "tiny.onnx"))
        calibrate(*(a[:2048] for a in arrays))  # warm-up: the session opened once, as in production
        best = 0.0
        for _ in range(3):
            tick = time.perf_counter()
            for start in range(0, n, 8192):
                calibrate(*(a[start : start + 8192] for a in arrays))
            best = max(best, n / (time.perf_counter() - tick))
    return {"onnx_tiny_infer_per_s": best, "torch_tiny_infer_per_s": inference(model, sample)}


def gpu_epoch(preset: str) -> dict[str, float]:
    device = select_device("cuda")
    n = 2_000_000
    big = data(n).to(device)
    model = build_model(deepcalo_preset(preset), SHAPES)
    config = parse_config(TrainerConfig, {"epochs": 1, "batch_size": 2048, "device": "cuda"}, "gpu")
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(model, calib_objective("logcosh"), (big, data(20_000, 1)), config, Path(tmp))
    order = torch.randperm(n, device=device)
    torch.cuda.synchronize()
    tick = time.perf_counter()
    for index in torch.split(order, 2048):
        big.batch(index, device)
    torch.cuda.synchronize()
    gather = n / (time.perf_counter() - tick)
    step = float(result.history[-1]["samples_per_s"])
    return {
        "gpu_epoch_2M_s": float(result.history[-1]["seconds"]),
        "gpu_train_per_s": step,
        "gpu_loader_per_s": gather,
        "loader_over_step": gather / step,
    }


def against_peak(preset: str, report: dict[str, Any]) -> dict[str, float]:
    """The machine's fp32 peak, the preset's FLOPs and the fraction the engine reaches."""
    model = build_model(deepcalo_preset(preset), SHAPES)
    sample = data(256).tensors
    inputs = (sample["images"], sample["scalars"], sample["tracks"])
    flops = model_flops(model, inputs, lambda out: logcosh(out, sample["target"]))
    peak = {"matmul_peak_gflops": matmul_peak(), "conv_peak_gflops": conv_peak()}
    train = report["engine_train_per_s"] * flops["train_step_flops"] / 1e9
    infer = report["engine_infer_per_s"] * flops["forward_flops"] / 1e9
    return {
        **peak,
        **flops,
        "train_gflops": train,
        "infer_gflops": infer,
        # The better of the two microbenchmarks is what this engine can reach at best.
        "train_fraction_of_peak": train / max(peak.values()),
        "infer_fraction_of_peak": infer / max(peak.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="thesis")
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    train = data(args.samples)
    model = build_model(deepcalo_preset(args.preset), SHAPES)
    report: dict[str, Any] = {
        "preset": args.preset,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
        "engine_train_per_s": engine_train(args.preset, train, args.device, args.epochs),
        "plain_train_per_s": plain_train(args.preset, train, args.epochs),
        "engine_infer_per_s": inference(
            model.to(memory_format=torch.channels_last), train.channels_last()
        ),
        "plain_infer_per_s": inference(build_model(deepcalo_preset(args.preset), SHAPES), train),
    }
    report["train_vs_plain"] = report["engine_train_per_s"] / report["plain_train_per_s"]
    report["infer_vs_plain"] = report["engine_infer_per_s"] / report["plain_infer_per_s"]
    report["train_vs_keras_reference"] = report["engine_train_per_s"] / KERAS_REFERENCE["train"]
    report["infer_vs_keras_reference"] = report["engine_infer_per_s"] / KERAS_REFERENCE["infer"]
    report.update(onnx_rate(65_536))
    report["onnx_vs_torch_tiny"] = (
        report["onnx_tiny_infer_per_s"] / report["torch_tiny_infer_per_s"]
    )
    report.update(against_peak(args.preset, report))
    if torch.cuda.is_available():
        report.update(gpu_epoch(args.preset))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
