"""Run by test_distributed.py under torchrun: a small regression trained with DDP (gloo)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from heplearn.config import parse_config
from heplearn.training import TensorSet, TrainerConfig, fit


def main(out: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1024, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)).astype(np.float32)
    data = TensorSet.from_numpy({"x": x, "y": y})
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

    def mse(m: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.nn.functional.mse_loss(m(batch["x"]).squeeze(1), batch["y"])

    config = parse_config(
        TrainerConfig, {"epochs": 4, "batch_size": 64, "lr_max": 0.02, "device": "cpu"}, "ddp"
    )
    result = fit(model, mse, (data, data), config, out)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.save(flat, out / f"weights-rank{dist.get_rank()}.pt")
    if dist.get_rank() == 0:
        (out / "best_val_loss.txt").write_text(str(result.best_val_loss))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
