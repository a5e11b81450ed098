"""``heplearn search tune``: Optuna on the validation split, resumable, shared storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from heplearn.config import load_config
from heplearn.search.train_config import SearchTrainConfig
from heplearn.search.tuning import SPACES

from conftest import CliResult, assert_one_error

QUICK_TRAINING = Path("configs/search/train-quick.yaml")
POINT = "zp_dm_m500_mx10"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from heplearn.cli.main import main

    out = tmp_path_factory.mktemp("tune") / "store"
    args = ["generate", "search", "--config", "configs/search/quick.yaml", "--out", str(out)]
    assert main([*args, "--events", "500"]) == 0
    return out


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = yaml.safe_load(QUICK_TRAINING.read_text())
    data.update(methods=["xgboost"], signal_points=[POINT])
    path = tmp_path_factory.mktemp("tune-config") / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _complete(out: Path) -> list[dict[str, object]]:
    trials = json.loads((out / "tuning.json").read_text())["trials"]
    return [t for t in trials if t["state"] == "COMPLETE"]


def test_the_best_trial_is_what_search_train_gets_with_best_yaml(
    cli: Callable[..., CliResult], store: Path, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tune"
    args = ["search", "tune", "-c", config, "-d", store, "-o", out]
    result = cli(*args, "-n", "3")
    assert result.code == 0, result.err
    assert (out / "study.db").is_file()
    summary = json.loads((out / "tuning.json").read_text())
    assert len(_complete(out)) == 3
    assert set(summary["best_params"]) == set(SPACES["xgboost"])
    best = load_config(SearchTrainConfig, out / "best.yaml")
    assert best.models.xgboost.max_depth == summary["best_params"]["models.xgboost.max_depth"]
    # The objective is the validation Z that search train reaches with these settings.
    run = tmp_path / "run"
    assert cli("search", "train", "-c", out / "best.yaml", "-d", store, "-o", run).code == 0
    info = json.loads((run / "run.json").read_text())
    z = info["thresholds"][POINT]["xgboost"]["validation"]["z"]
    assert summary["best_value"] == pytest.approx(z, rel=1e-9)
    assert summary["best_value"] == max(t["value"] for t in _complete(out))

    # Rerun: the study resumes (--trials is the total) ...
    result = cli(*args, "-n", "5")
    assert result.code == 0, result.err
    assert "after 5 trials (2 new)" in result.out
    assert len(_complete(out)) == 5
    # ... and refuses another problem under the same name.
    result = cli(*args, "-n", "5", "--objective", "auc")
    assert_one_error(result, "study 'xgboost'", "another method, objective")


def test_the_network_is_tuned_on_a_journal_storage(
    cli: Callable[..., CliResult], store: Path, config: Path, tmp_path: Path
) -> None:
    out, journal = tmp_path / "tune-nn", tmp_path / "shared" / "nn.log"
    args = ["search", "tune", "-c", config, "-d", store, "-o", out, "-m", "nn"]
    result = cli(*args, "-n", "2", "--objective", "auc", "--storage", f"journal:{journal}")
    assert result.code == 0, result.err
    assert journal.is_file() and not (out / "study.db").exists()
    trials = _complete(out)
    assert len(trials) == 2
    for trial in trials:
        assert 0.5 < float(trial["value"]) <= 1 + 1e-9  # type: ignore[arg-type]
    best = load_config(SearchTrainConfig, out / "best.yaml")
    params = json.loads((out / "tuning.json").read_text())["best_params"]
    assert best.models.nn.width == params["models.nn.width"]
    assert best.models.nn.trainer.lr_max == params["models.nn.trainer.lr_max"]


def test_an_unknown_method_is_one_error(
    cli: Callable[..., CliResult], config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tune"
    result = cli("search", "tune", "-c", config, "-d", tmp_path, "-o", out, "-m", "bdt")
    assert_one_error(result, "method 'bdt'", "xgboost, nn")
    result = cli("search", "tune", "-c", config, "-d", tmp_path, "-o", out, "--objective", "f1")
    assert_one_error(result, "objective 'f1'", "z, auc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_two_workers_share_one_study(store: Path, config: Path, tmp_path: Path) -> None:
    journal = tmp_path / "shared.log"
    argv = [sys.executable, "-m", "heplearn.cli.main", "search", "tune", "-c", str(config)]
    argv += ["-d", str(store), "-n", "6", "--storage", f"journal:{journal}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(
            [*argv, "-o", str(tmp_path / f"worker{i}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    # Both see the same study: 6 completed trials in all (a trial in flight may add one).
    counts = [len(_complete(tmp_path / f"worker{i}")) for i in range(2)]
    assert all(6 <= c <= 7 for c in counts), counts
    ran = [out.count("trial ") for out, _ in outputs]
    assert sum(ran) == max(counts) and min(ran) >= 1, ran
