"""calib-study configs: grid order, seeded random points, presets kept, storage checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from heplearn.calib.study_config import load_study, trial_config
from heplearn.errors import ConfigError
from heplearn.training.study_storage import network_filesystem

TINY_TRAIN = Path("configs/calib/train/tiny.yaml").resolve()


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(f"kind: calib-study\nbase: {TINY_TRAIN}\n{body}")
    return path


def test_grid_points_run_in_written_order_first_key_outermost(tmp_path: Path) -> None:
    plan = load_study(_write(tmp_path, "space: {trainer.seed: [1, 2], loss: [logcosh, mse]}\n"))
    assert [tuple(p.values()) for p in plan.points()] == [
        ("1", "logcosh"),
        ("1", "mse"),
        ("2", "logcosh"),
        ("2", "mse"),
    ]
    assert plan.settings(plan.points()[1]) == {"trainer.seed": 1, "loss": "mse"}
    assert len(plan.points(3)) == 3


def test_random_points_are_seeded_in_range_and_prefix_stable(tmp_path: Path) -> None:
    body = (
        "sampler: random\nn_trials: 5\nseed: 3\nspace:\n"
        "  trainer.lr_max: {low: 0.001, high: 0.01, log: true}\n"
        "  trainer.batch_size: {low: 64, high: 512}\n"
    )
    plan = load_study(_write(tmp_path, body))
    points = plan.points()
    assert points[:3] == plan.points(3) and points == load_study(tmp_path / "study.yaml").points()
    for point in points:
        assert 0.001 <= point["trainer.lr_max"] <= 0.01
        assert isinstance(point["trainer.batch_size"], int)
        assert 64 <= point["trainer.batch_size"] <= 512


def test_a_deepcalo_key_varies_the_base_preset(tmp_path: Path) -> None:
    plan = load_study(_write(tmp_path, "space: {deepcalo.film_inputs: [[], [scalars]]}\n"))
    config = trial_config(plan.base, {"deepcalo.film_inputs": []}, "test")
    assert config.deepcalo is not None
    assert config.deepcalo.first_width == 8  # the tiny preset's, not the thesis network's
    assert config.deepcalo.film_inputs == ()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("space: {trainer.lr_max: {low: 0.001, high: 0.01}}\n", "a grid takes a list"),
        ("sampler: tpe\nspace: {trainer.seed: [1]}\n", "needs the number of trials"),
        ("space: {trainer.seed: []}\n", "lists no values"),
        ("space: {trainer.lr_max: [100.0]}\n", "trainer.lr_max"),  # out of range, as a config
        ("space: {film_inputs: [[]]}\n", "did you mean 'deepcalo.film_inputs'"),
    ],
)
def test_bad_spaces_are_refused(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        load_study(_write(tmp_path, body))
    assert fragment in caught.value.message


def test_network_file_systems_are_recognised(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\nserver:/export /shared nfs4 rw 0 0\n"
        "tmpfs /shared/local tmpfs rw 0 0\n"
    )
    assert network_filesystem(Path("/shared/study/study.db"), str(mounts)) == "nfs4"
    assert network_filesystem(Path("/shared/local/study.db"), str(mounts)) is None
    assert network_filesystem(Path("/home/study.db"), str(mounts)) is None
