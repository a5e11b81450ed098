"""``heplearn calib study``: a grid of calib train runs, resumed, the same with 1 or 2 workers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from heplearn.calib.study_report import results_table

from conftest import CliResult, assert_one_error

TINY = Path("configs/calib/study/tiny.yaml").resolve()


@pytest.fixture(scope="module")
def small_gun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 guns: a few seconds per trial of the tiny preset."""
    from conftest import _make

    return _make(
        tmp_path_factory.mktemp("study") / "gun",
        geometry="atlas-lar",
        source="gun",
        events=300,
        shard_events=300,
        seed=4,
        mu=20.0,
        pool_events=50,
    )


def _study(folder: Path, **changes: str) -> Path:
    text = TINY.read_text().replace(
        "base: ../train/tiny.yaml", f"base: {TINY.parent}/../train/tiny.yaml"
    )
    for old, new in changes.items():
        text = text.replace(old, new)
    path = folder / "study.yaml"
    path.write_text(text)
    return path


def _summary(out: Path) -> dict[str, object]:
    return json.loads((out / "study.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "  trainer.lr_mx: [0.003, 0.01]",
            ("search-space key 'trainer.lr_mx'", "'trainer.lr_max'"),
        ),
        ("space: {}", ("field 'space'", "the search space is empty")),
        ("base: ../train/tiny.yaml", ("base config not found",)),
    ],
)
def test_a_bad_study_config_is_one_error_and_writes_nothing(
    cli: Callable[..., CliResult], tmp_path: Path, text: str, fragments: tuple[str, ...]
) -> None:
    body = TINY.read_text().replace(
        "base: ../train/tiny.yaml", f"base: {TINY.parent / '../train/tiny.yaml'}"
    )
    if text.startswith("  trainer"):
        body = body.replace("  trainer.lr_max: [0.003, 0.01]", text)
    elif text.startswith("space"):
        body = body.split("space:")[0] + "space: {}\n"
    else:
        body = body.replace(f"base: {TINY.parent / '../train/tiny.yaml'}", "base: nowhere.yaml")
    config = tmp_path / "study.yaml"
    config.write_text(body)
    out = tmp_path / "out"
    result = cli("calib", "study", "-c", config, "-d", tmp_path / "no-store", "-o", out)
    assert_one_error(result, *fragments)
    assert not out.exists()


def test_a_base_config_that_fails_to_parse_is_named(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "base.yaml").write_text("kind: calib-train\ntrainer: {epochz: 2}\n")
    config = tmp_path / "study.yaml"
    config.write_text("kind: calib-study\nbase: base.yaml\nspace: {trainer.seed: [1, 2]}\n")
    out = tmp_path / "out"
    result = cli("calib", "study", "-c", config, "-d", tmp_path / "no-store", "-o", out)
    assert_one_error(result, str(tmp_path / "base.yaml"), "trainer.epochz", "trainer.epochs")
    assert not out.exists()


def test_a_study_stopped_after_one_trial_resumes_without_redoing_it(
    cli: Callable[..., CliResult], small_gun: Path, tmp_path: Path
) -> None:
    config = _study(tmp_path, **{"trainer.epochs: 2": "trainer.epochs: 1"})
    out = tmp_path / "study"
    args = ["calib", "study", "-c", config, "-d", small_gun, "-o", out]
    first = cli(*args, "-n", "1")
    assert first.code == 0, first.err
    trial = out / "trials" / "trial-0000"
    stamp = (trial / "validation.json").stat().st_mtime_ns
    assert _summary(out)["counts"]["complete"] == 1  # type: ignore[index]
    second = cli(*args, "-n", "2")
    assert second.code == 0, second.err
    summary = _summary(out)
    assert summary["counts"] == {"complete": 2, "pruned": 0, "failed": 0, "new": 1}
    assert (trial / "validation.json").stat().st_mtime_ns == stamp  # not rerun
    rows = summary["trials"]
    assert [r["point"] for r in rows] == [0, 1]  # type: ignore[index]
    for row in rows:  # type: ignore[union-attr]
        assert 0 < row["eiqr"] < 0.2 and row["seconds"] > 0
        assert row["eiqr_bdt"] is not None and row["reiqr75_vs_bdt"] is not None
    assert (out / "report.html").is_file()
    # A changed space is another study: refused, naming what to do.
    changed = _study(tmp_path, **{"[0.003, 0.01]": "[0.002, 0.01]"})
    result = cli("calib", "study", "-c", changed, "-d", small_gun, "-o", out)
    assert_one_error(result, "another base config, search space")


@pytest.mark.slow
def test_two_workers_give_the_results_table_of_one_and_a_resume_keeps_it(
    cli: Callable[..., CliResult], small_gun: Path, tmp_path: Path
) -> None:
    config = _study(tmp_path)
    tables = {}
    for workers in ("1", "2"):
        out = tmp_path / f"j{workers}"
        args = ["calib", "study", "-c", config, "-d", small_gun, "-o", out, "-j", workers]
        result = cli(*args, "--threads", "1")
        assert result.code == 0, result.err
        tables[workers] = results_table(_summary(out))
    assert len(tables["1"]) == 4
    assert tables["1"] == tables["2"]  # same points, same seeds, same threads: bit for bit
    summary = _summary(tmp_path / "j2")
    assert summary["importance"] is not None and set(summary["importance"]) == {  # type: ignore[arg-type]
        "trainer.lr_max",
        "deepcalo.film_inputs",
    }
    # Resumed with -j 2 after two trials of -j 1: the same table, the first two not rerun.
    out = tmp_path / "resumed"
    args = ["calib", "study", "-c", config, "-d", small_gun, "-o", out, "--threads", "1"]
    assert cli(*args, "-n", "2").code == 0
    result = cli(*args, "-j", "2")
    assert result.code == 0, result.err
    assert _summary(out)["counts"]["new"] == 2  # type: ignore[index]
    assert results_table(_summary(out)) == tables["1"]


def test_a_tpe_study_reports_every_epoch_for_median_pruning(
    cli: Callable[..., CliResult], small_gun: Path, tmp_path: Path
) -> None:
    config = tmp_path / "tpe.yaml"
    config.write_text(
        f"kind: calib-study\nbase: {TINY.parent / '../train/tiny.yaml'}\nsampler: tpe\n"
        "n_trials: 3\nstartup_trials: 1\npruning_warmup_epochs: 0\n"
        "fixed: {trainer.epochs: 2, trainer.batch_size: 128, bdt.n_estimators: 10}\n"
        "space: {trainer.lr_max: {low: 0.001, high: 0.01, log: true}}\n"
    )
    out = tmp_path / "tpe"
    result = cli("calib", "study", "-c", config, "-d", small_gun, "-o", out, "--threads", "1")
    assert result.code == 0, result.err
    summary = _summary(out)
    counts = summary["counts"]
    assert counts["complete"] + counts["pruned"] == 3 and counts["failed"] == 0  # type: ignore[index]
    for row in summary["trials"]:  # type: ignore[union-attr]
        assert 0.001 <= row["params"]["trainer.lr_max"] <= 0.01
        assert row["last_reported_eiqr"] is not None  # the pruner's per-epoch numbers


def test_trials_run_on_a_dask_cluster(
    cli: Callable[..., CliResult], small_gun: Path, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    config = _study(tmp_path, **{"trainer.epochs: 2": "trainer.epochs: 1"})
    out = tmp_path / "dask"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        args = ["calib", "study", "-c", config, "-d", small_gun, "-o", out, "-n", "2"]
        result = cli(*args, "--dask", cluster.scheduler_address)
    assert result.code == 0, result.err
    summary = _summary(out)
    assert summary["counts"]["complete"] == 2  # type: ignore[index]
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["trial-0000", "trial-0001"]


def test_a_trial_left_running_by_a_killed_driver_is_failed_and_its_point_rerun(
    cli: Callable[..., CliResult], small_gun: Path, tmp_path: Path
) -> None:
    import optuna

    from heplearn.calib.study import default_storage

    config = _study(tmp_path, **{"trainer.epochs: 2": "trainer.epochs: 1"})
    out = tmp_path / "study"
    args = ["calib", "study", "-c", config, "-d", small_gun, "-o", out]
    assert cli(*args, "-n", "1").code == 0
    # What a driver killed mid-trial leaves: point 1 RUNNING, owned by a process now gone.
    study = optuna.load_study(study_name="tiny", storage=default_storage(out))
    study.enqueue_trial(
        {"trainer.lr_max": "0.003", "deepcalo.film_inputs": "[]"}, user_attrs={"point": 1}
    )
    trial = study.ask()
    trial.suggest_categorical("trainer.lr_max", ["0.003", "0.01"])
    trial.suggest_categorical("deepcalo.film_inputs", ["[scalars]", "[]"])
    import socket

    trial.set_user_attr("driver", f"{socket.gethostname()}:999999999")
    (out / "trials" / ".trial-0001.partial").mkdir()
    result = cli(*args, "-n", "2")
    assert result.code == 0, result.err
    assert "trial 1: its driver stopped" in result.out
    summary = _summary(out)
    states = [(r["point"], r["state"]) for r in summary["trials"]]  # type: ignore[union-attr]
    assert states == [(0, "complete"), (1, "fail"), (1, "complete")]
    assert not (out / "trials" / ".trial-0001.partial").exists()
