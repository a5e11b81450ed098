"""The training loop: epochs of shuffled batches, validation, checkpoints, early stopping.

``fit`` trains any ``torch.nn.Module`` given an *objective* (model, batch) → mean
loss.  Each epoch ends with ``last.pt`` (everything needed to resume exactly) and
a line in ``metrics.jsonl``; the best epoch's weights go to ``best.safetensors``.
The shuffling of epoch *e* depends only on (seed, e), so a run killed after
epoch *k* and resumed gives the same weights as one that never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from heplearn.errors import DataError
from heplearn.progress import progress_bar
from heplearn.training.checkpoint import (
    BEST,
    LAST,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from heplearn.training.device import autocast, autocast_dtype, select_device
from heplearn.training.distributed import Distributed, init_distributed
from heplearn.training.metric_log import MetricLog
from heplearn.training.schedules import make_optimizer, make_schedule
from heplearn.training.seeding import epoch_generator, seed_everything
from heplearn.training.settings import TrainerConfig
from heplearn.training.tensors import TensorSet

__all__ = ["Objective", "TrainResult", "fit", "place_data", "predict"]

#: (model, batch of named tensors) → scalar mean loss of the batch.
Objective = Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or early-stopped) run reports."""

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    history: list[dict[str, Any]]
    seconds: float


def place_data(data: TensorSet, device: torch.device, config: TrainerConfig) -> TensorSet:
    """Keep the data on the GPU when it fits in ``resident_fraction`` of its memory, else pinned."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        if data.nbytes < config.resident_fraction * free:
            return data.to(device)
        return data.to(torch.device("cpu"), pin=True)
    return data


def _batches(
    n: int, batch_size: int, generator: torch.Generator, dist: Distributed
) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    if dist.active:
        # Equal shares so every process takes the same number of steps (DDP needs it).
        share = n // dist.world_size
        order = order[dist.rank * share : (dist.rank + 1) * share]
    return list(torch.split(order, batch_size))


def _evaluate(
    model: torch.nn.Module, objective: Objective, data: TensorSet, engine: _Engine
) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), autocast(engine.device, engine.dtype):
        for index in torch.split(torch.arange(len(data)), engine.config.batch_size):
            loss = objective(model, data.batch(index, engine.device))
            total += float(loss) * len(index)
            count += len(index)
    return total / max(count, 1)


@dataclass
class _Progress:
    """Counters saved with every checkpoint."""

    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    stale: int = 0


@dataclass
class _Engine:
    """Device, precision and optimisation state of one run."""

    config: TrainerConfig
    dist: Distributed
    device: torch.device
    dtype: torch.dtype | None
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    show: bool = field(default=False)

    def step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        if self.config.grad_clip is not None:
            # Unscaled first, so the threshold means the same with and without fp16.
            self.scaler.unscale_(self.optimizer)
            parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(parameters, self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()

    def state(self, model: torch.nn.Module, progress: _Progress) -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": torch.get_rng_state(),
            **asdict(progress),
        }

    def restore(self, model: torch.nn.Module, state: dict[str, Any]) -> _Progress:
        model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        return _Progress(
            int(state["epoch"]),
            float(state["best_loss"]),
            int(state["best_epoch"]),
            int(state["stale"]),
        )


def _engine(model: torch.nn.Module, config: TrainerConfig, n_train: int) -> _Engine:
    dist = init_distributed()
    # Each process steps through its equal share of the rows (see _batches).
    steps = math.ceil(n_train // dist.world_size / config.batch_size)
    device = select_device(config.device)
    if device.type == "cuda" and dist.active:
        device = torch.device("cuda", dist.local_rank)
    model.to(device)
    dtype = autocast_dtype(device, config.precision)
    optimizer = make_optimizer(list(model.parameters()), config)
    return _Engine(
        config,
        dist,
        device,
        dtype,
        optimizer,
        make_schedule(optimizer, config, steps),
        torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
    )


def _wrap(model: torch.nn.Module, engine: _Engine) -> torch.nn.Module:
    wrapped: torch.nn.Module = model
    if engine.dist.active:
        cuda = engine.device.type == "cuda"
        wrapped = DistributedDataParallel(
            model, device_ids=[engine.dist.local_rank] if cuda else None
        )
    if engine.config.compile:
        wrapped = torch.compile(wrapped)  # type: ignore[assignment]
    return wrapped


def _train_epoch(
    wrapped: torch.nn.Module, objective: Objective, train: TensorSet, engine: _Engine, epoch: int
) -> float:
    config, dist = engine.config, engine.dist
    wrapped.train()
    generator = epoch_generator(config.seed, epoch)
    batches = _batches(len(train), config.batch_size, generator, dist)
    total = 0.0
    title = f"epoch {epoch}/{config.epochs}"
    with progress_bar(title, len(batches), enabled=engine.show and dist.is_main) as advance:
        for index in batches:
            batch = train.batch(index, engine.device)
            with autocast(engine.device, engine.dtype):
                loss = objective(wrapped, batch)
            engine.step(loss)
            total += float(loss.detach())
            advance(1)
    return dist.mean(total / max(len(batches), 1))


def _check_finite(loss: float, epoch: int, run_dir: Path) -> None:
    if not math.isfinite(loss):
        raise DataError(
            "training diverged",
            str(run_dir),
            f"the loss became {loss} in epoch {epoch}",
            "lower lr_max, check the inputs for extreme values, or use precision: fp32",
        )


def fit(
    model: torch.nn.Module,
    objective: Objective,
    data: tuple[TensorSet, TensorSet],
    config: TrainerConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    progress: bool = False,
    val_objective: Objective | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train ``model`` on (train, val) in place; it ends with the best epoch's weights.

    ``val_objective`` scores the validation set (default: ``objective``); it picks the best
    epoch, so it must rank models fairly across epochs, which a re-weighted loss may not.
    ``on_epoch(epoch)`` is called in the main process after each epoch's checkpoint (a study
    reports a validation metric there; an exception it raises stops the run, resumable).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    engine = _engine(model, config, len(data[0]))
    engine.show = progress
    train, val = (place_data(part, engine.device, config) for part in data)
    state = engine.restore(model, load_checkpoint(run_dir / LAST)) if resume else _Progress()
    log = MetricLog(run_dir / "metrics.jsonl", keep_epochs=state.epoch, writer=engine.dist.is_main)
    wrapped = _wrap(model, engine)
    began = time.perf_counter()
    while state.epoch < config.epochs and not (config.patience and state.stale >= config.patience):
        epoch = state.epoch + 1
        tick = time.perf_counter()
        train_loss = _train_epoch(wrapped, objective, train, engine, epoch)
        _check_finite(train_loss, epoch, run_dir)
        val_loss = _evaluate(model, val_objective or objective, val, engine)
        seconds = time.perf_counter() - tick
        improved = val_loss < state.best_loss
        state = _Progress(
            epoch,
            min(val_loss, state.best_loss),
            epoch if improved else state.best_epoch,
            0 if improved else state.stale + 1,
        )
        if engine.dist.is_main:
            if improved:
                save_weights(model, run_dir / BEST)
            log.append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "lr": engine.schedule.get_last_lr()[0],
                    "seconds": seconds,
                    "samples_per_s": len(train) / seconds,
                }
            )
            save_checkpoint(engine.state(model, state), run_dir / LAST)
            if on_epoch is not None:
                on_epoch(epoch)
    if engine.dist.active:
        torch.distributed.barrier()
    if (run_dir / BEST).is_file():
        load_weights(model, run_dir / BEST)
    return TrainResult(
        state.epoch, state.best_epoch, state.best_loss, log.read(), time.perf_counter() - began
    )


def predict(
    model: torch.nn.Module,
    data: TensorSet,
    forward: Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor],
    *,
    batch_size: int = 4096,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Model outputs for every row of ``data`` (eval mode, no gradients), on the CPU."""
    device = device or next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        outputs = [
            forward(model, data.batch(index, device)).float().cpu()
            for index in torch.split(torch.arange(len(data)), batch_size)
        ]
    return torch.cat(outputs) if outputs else torch.empty(0)
