"""The shared training loop: it learns, logs, checkpoints, stops early and resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from linear_problem import linear_data, mse, small_model, trainer_config
from torch.optim.optimizer import register_optimizer_step_pre_hook

from heplearn.errors import ConfigError, DataError
from heplearn.training import LAST, fit, load_checkpoint, predict


def test_fit_learns_and_writes_log_and_checkpoints(tmp_path: Path) -> None:
    model = small_model()
    result = fit(
        model, mse, (linear_data(2000, 1), linear_data(500, 2)), trainer_config(), tmp_path
    )
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 7))
    assert rows[-1]["val_loss"] < 0.05 * rows[0]["val_loss"]
    assert result.best_val_loss == min(r["val_loss"] for r in rows)
    assert (tmp_path / "best.safetensors").is_file()
    assert load_checkpoint(tmp_path / LAST)["epoch"] == 6
    # The model ends with the best epoch's weights.
    out = predict(model, linear_data(500, 2), lambda m, b: m(b["x"]).squeeze(1))
    val_mse = float(torch.mean((out - linear_data(500, 2).tensors["y"]) ** 2))
    assert val_mse == pytest.approx(result.best_val_loss, rel=1e-4)


class _KilledError(Exception):
    pass


def test_resume_after_a_kill_gives_the_same_weights(tmp_path: Path) -> None:
    data = (linear_data(1000, 1), linear_data(200, 2))
    straight = small_model()
    fit(straight, mse, data, trainer_config(), tmp_path / "straight")

    calls = {"n": 0}

    def dies_in_epoch_4(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] > 3 * (16 + 4) + 5:  # 16 train + 4 val batches per epoch
            raise _KilledError
        return mse(model, batch)

    killed = small_model()
    with pytest.raises(_KilledError):
        fit(killed, dies_in_epoch_4, data, trainer_config(), tmp_path / "killed")
    assert load_checkpoint(tmp_path / "killed" / LAST)["epoch"] == 3
    resumed = small_model()
    fit(resumed, mse, data, trainer_config(), tmp_path / "killed", resume=True)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    epochs = [json.loads(x)["epoch"] for x in (tmp_path / "killed/metrics.jsonl").open()]
    assert epochs == list(range(1, 7))


def test_early_stopping_stops_when_validation_stalls(tmp_path: Path) -> None:
    # A constant LR of ~0 cannot improve the validation loss after the first epoch.
    config = trainer_config(schedule="constant", lr_max=1e-9, lr_min=1e-9, patience=2, epochs=50)
    result = fit(small_model(), mse, (linear_data(300, 1), linear_data(100, 2)), config, tmp_path)
    assert result.epochs_run <= 4


def test_resume_without_checkpoint_and_foreign_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no checkpoint"):
        fit(
            small_model(),
            mse,
            (linear_data(100, 1), linear_data(50, 2)),
            trainer_config(),
            tmp_path,
            resume=True,
        )
    (tmp_path / LAST).write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataError, match="unreadable checkpoint"):
        load_checkpoint(tmp_path / LAST)


def test_pickled_code_in_a_checkpoint_is_never_executed(tmp_path: Path) -> None:
    import pickle

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    path = tmp_path / LAST
    path.write_bytes(pickle.dumps({"model": Payload()}, protocol=2))
    with pytest.raises(DataError):
        load_checkpoint(path)


def test_inconsistent_lr_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lr_min"):
        trainer_config(lr_min=0.1, lr_max=0.01)


@pytest.mark.parametrize("clip", [None, 0.5])
def test_grad_clip_bounds_every_step_the_optimiser_takes(
    tmp_path: Path, clip: float | None
) -> None:
    norms: list[float] = []

    def record(optimizer: torch.optim.Optimizer, *_: object) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

    handle = register_optimizer_step_pre_hook(record)
    try:
        fit(
            small_model(),
            mse,
            (linear_data(500, 1), linear_data(100, 2)),
            trainer_config(epochs=2, grad_clip=clip),
            tmp_path,
        )
    finally:
        handle.remove()
    assert len(norms) == 2 * 8  # every step seen
    if clip is None:
        assert max(norms) > 0.5  # the MSE of an untrained net: the clip below really bites
    else:
        assert max(norms) <= clip * (1 + 1e-5)


def test_the_validation_objective_picks_the_best_epoch(tmp_path: Path) -> None:
    def shifted(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return mse(model, batch) + 100.0

    data = (linear_data(500, 1), linear_data(100, 2))
    fit(small_model(), mse, data, trainer_config(epochs=2), tmp_path, val_objective=shifted)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(r["val_loss"] >= 100.0 > r["train_loss"] for r in rows)
