"""generate dqm → dqm train → evaluate → check on a small simulated sample, and bad inputs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import CliResult, assert_one_error


@pytest.fixture(scope="module")
def dqm_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from heplearn.cli.main import main

    out = tmp_path_factory.mktemp("dqm") / "maps"
    code = main(
        ["generate", "dqm", "--config", "configs/dqm/quick.yaml", "--out", str(out), "-n", "240"]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def qtest_run(dqm_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from heplearn.cli.main import main

    run = tmp_path_factory.mktemp("runs") / "qtest"
    assert (
        main(["dqm", "train", "--model", "qtest", "--data", str(dqm_store), "--out", str(run)]) == 0
    )
    return run


def test_evaluate_reports_efficiency_auc_and_localisation(
    cli: Callable[..., CliResult], dqm_store: Path, qtest_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    result = cli("dqm", "evaluate", "--run", qtest_run, "--data", dqm_store, "--out", out)
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selection"] == "test split of the training store"
    info = json.loads((qtest_run / "run.json").read_text())
    assert metrics["maps"] == info["test_maps"] and 30 < metrics["maps"] < 90  # ≈ 25 % of 240
    efficiency = metrics["efficiency_at_false_alarm"]
    # A few dozen good validation maps cannot resolve 0.1 %: no figure is quoted under it.
    resolution = metrics["false_alarm_resolution"]
    smallest = resolution["smallest_rate"]
    assert smallest == 1 / resolution["validation_good_maps"] > 0.001
    assert all(table["rate"] >= smallest for table in efficiency.values())
    assert "0.001" not in efficiency
    assert any("0.001" in note for note in metrics["notes"])
    assert "smallest resolvable rate" in result.err
    table = next(iter(efficiency.values()))
    # Dead and hot regions of many channels are unmistakable for the classical tests.
    large = [key for key in ("dead_5x5", "hot_5x5", "dead_rbx", "hot_rbx") if key in table["maps"]]
    assert large
    for key in large:
        assert table["efficiency"][key] == 1.0, key
        low, high = table["interval"][key]
        assert low < 1.0 == high  # a handful of maps: 1σ reaches well below 100 %
    assert metrics["auc"]["dead"] > 0.95 and metrics["auc"]["hot"] > 0.95
    assert metrics["localisation"]["precision"] > 0.9
    assert (out / "report.html").read_text().count("<img") >= 3


def test_check_gives_one_json_verdict_per_map(
    cli: Callable[..., CliResult], dqm_store: Path, qtest_run: Path, tmp_path: Path
) -> None:
    from heplearn.dqm.evaluate import held_out_maps
    from heplearn.dqm.models import load_model

    held_out = held_out_maps(qtest_run, dqm_store)
    model = load_model(qtest_run / "model")
    good = held_out.maps.subset(np.flatnonzero(held_out.maps.map_class == 0))
    calm = good.counts[int(np.argmin(model.anomaly_score(good)))]
    dead = calm.copy()
    row, col, depth = np.unravel_index(int(np.argmax(calm)), calm.shape)
    dead[row, col, depth] = 0.0  # the busiest channel stops
    maps = np.stack([calm, dead, np.zeros_like(calm)])  # the last map has no events at all
    path = tmp_path / "new.h5"
    with h5py.File(path, "w") as handle:
        handle["maps"] = maps
    result = cli("dqm", "check", "--run", qtest_run, path, "--json")
    assert result.code == 0, result.err
    records = json.loads(result.out)
    assert [r["verdict"] for r in records] == ["good", "dead", "no-statistics"]
    assert records[1]["flagged"] == [[int(row), int(col), int(depth)]]
    assert records[0]["flagged"] == [] and records[1]["score"] > records[0]["score"]


def test_supervised_model_on_unlabelled_maps_is_refused(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "user.h5"
    with h5py.File(path, "w") as handle:
        handle["maps"] = np.ones((4, 6, 8), np.float32)
    result = cli("dqm", "train", "--model", "lr", "--data", path, "--out", tmp_path / "run")
    assert_one_error(result, "supervised", "unlabelled")
    assert not (tmp_path / "run").exists()


def test_fixed_shape_model_refuses_other_shapes(
    cli: Callable[..., CliResult], dqm_store: Path, tmp_path: Path
) -> None:
    run = tmp_path / "lr"
    assert cli("dqm", "train", "--model", "lr", "--data", dqm_store, "--out", run).code == 0
    path = tmp_path / "ecal.h5"
    with h5py.File(path, "w") as handle:
        handle["maps"] = np.ones((2, 170, 360), np.float32)
    assert_one_error(cli("dqm", "check", "--run", run, path), "(82, 72, 4)", "(170, 360, 1)")


def test_negative_counts_and_existing_output_are_errors(
    cli: Callable[..., CliResult], qtest_run: Path, dqm_store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as handle:
        handle["maps"] = -np.ones((1, 82, 72, 4), np.float32)
    assert_one_error(cli("dqm", "check", "--run", qtest_run, path), "negative")
    result = cli("dqm", "train", "--model", "qtest", "--data", dqm_store, "--out", qtest_run)
    assert_one_error(result, "output exists")
    assert (qtest_run / "model").is_dir()


def test_train_without_model_or_config_says_what_to_pass(
    cli: Callable[..., CliResult], dqm_store: Path, tmp_path: Path
) -> None:
    result = cli("dqm", "train", "--data", dqm_store, "--out", tmp_path / "run")
    assert_one_error(result, "no model chosen", "--model")


def test_evaluate_on_a_copy_scores_only_the_test_maps_and_names_overlap(
    cli: Callable[..., CliResult], dqm_store: Path, qtest_run: Path, tmp_path: Path
) -> None:
    from heplearn.data import open_store, write_store

    info = json.loads((qtest_run / "run.json").read_text())
    copy = tmp_path / "moved" / "maps"
    shutil.copytree(dqm_store, copy)
    result = cli("dqm", "evaluate", "--run", qtest_run, "--data", copy, "--out", tmp_path / "a")
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["maps"] == info["test_maps"] and metrics["warnings"] == []
    assert metrics["selection"] == "test split of the training store"
    # The same maps re-written in another order: not the training store, same maps inside.
    store = open_store(dqm_store)
    order = np.random.default_rng(4).permutation(store.rows)
    columns = {k: v[order] for k, v in store.read().items()}
    rewritten = write_store(tmp_path / "maps.h5", columns, provenance=store.provenance)
    result = cli(
        "dqm", "evaluate", "--run", qtest_run, "--data", rewritten, "--out", tmp_path / "b"
    )
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    seen = info["maps"] - info["test_maps"]
    assert metrics["held_out"]["maps_left_out_as_training"] == seen
    assert metrics["maps"] == info["test_maps"]
    assert f"{seen} of the {info['maps']} maps" in result.err
