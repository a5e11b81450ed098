"""``heplearn search study``: one run per --vary value, a comparison, resume, bad keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CliResult, assert_one_error

QUICK_TRAINING = Path("configs/search/train-quick.yaml")
POINTS = ("zp_dm_m500_mx10", "zh_inv_m125")
BALANCED = ("count-balance", "weight-balance")


def _store(folder: Path, events: int) -> Path:
    from heplearn.cli.main import main

    out = folder / "store"
    args = ["generate", "search", "--config", "configs/search/quick.yaml", "--out", str(out)]
    assert main([*args, "--events", str(events)]) == 0
    return out


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(tmp_path_factory.mktemp("study"), 500)


def _config(folder: Path, **changes: object) -> Path:
    data = yaml.safe_load(QUICK_TRAINING.read_text())
    data.update(changes)
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_vary_key_that_is_not_a_field_is_one_error(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    out = tmp_path / "study"
    args = ["search", "study", "-c", QUICK_TRAINING, "-d", tmp_path / "no-store", "-o", out]
    result = cli(*args, "--vary", "weights.schme=mc,none")
    assert_one_error(result, "--vary key 'weights.schme'", "did you mean 'weights.scheme'")
    result = cli(*args, "--vary", "weights.scheme=mc,raw")
    assert_one_error(result, "weights.scheme", "'raw' is not one of")
    assert list(tmp_path.iterdir()) == []


def test_a_killed_study_resumes_and_skips_finished_variants(
    cli: Callable[..., CliResult],
    small_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heplearn.search import study

    store = small_store
    config = _config(tmp_path, methods=["thesis_cuts", "xgboost"], signal_points=[POINTS[0]])
    out = tmp_path / "study"
    args = ["search", "study", "-c", config, "-d", store, "-o", out]
    vary = ("--vary", "padding=thesis,mean")
    original = study.scan_search
    calls: list[str] = []

    def second_fails(config: Any, data: Any, folder: Path, **kwargs: Any) -> Any:
        calls.append(folder.name)
        if len(calls) > 1:
            raise RuntimeError("killed half-way")
        return original(config, data, folder, **kwargs)

    monkeypatch.setattr(study, "scan_search", second_fails)
    assert cli(*args, *vary).code != 0
    assert not out.exists()
    first = tmp_path / ".study.partial" / "runs" / "padding=thesis"
    assert (first / "metrics.json").is_file()
    assert not (tmp_path / ".study.partial" / "runs" / "padding=mean").exists()
    stamp = (first / "metrics.json").stat().st_mtime_ns
    monkeypatch.setattr(study, "scan_search", original)

    result = cli(*args, *vary)
    assert result.code == 0, result.err
    assert "padding=thesis: finished before, skipped" in result.out
    assert (out / "runs" / "padding=thesis" / "metrics.json").stat().st_mtime_ns == stamp
    assert not (tmp_path / ".study.partial").exists()
    comparison = json.loads((out / "comparison.json").read_text())
    assert [v["name"] for v in comparison["variants"]] == ["padding=thesis", "padding=mean"]
    assert comparison["variants"][0]["seconds"] is None  # not rerun
    entry = comparison["results"]["padding=mean"][POINTS[0]]["xgboost"]
    assert set(entry) == {"auc", "z_asimov", "z_likelihood", "limit_expected"}
    assert 0.5 < entry["auc"] <= 1 + 1e-9  # roc_auc can round just above 1
    # A variant made with another config is not taken for a finished one.
    calls.clear()
    monkeypatch.setattr(study, "scan_search", second_fails)
    assert cli(*args, *vary, "--overwrite").code != 0
    monkeypatch.setattr(study, "scan_search", original)
    (first / "run" / "config.yaml").write_text("kind: search-train\n")
    result = cli(*args, *vary, "--overwrite")
    assert result.code == 0, result.err
    assert "skipped" not in result.out


def test_variants_run_on_a_dask_cluster(
    cli: Callable[..., CliResult], small_store: Path, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    store = small_store
    config = _config(tmp_path, methods=["xgboost"], signal_points=[POINTS[0]])
    out = tmp_path / "study"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        args = ["search", "study", "-c", config, "-d", store, "-o", out, "--vary", "sigma_b=0,0.5"]
        result = cli(*args, "--dask", cluster.scheduler_address)
    assert result.code == 0, result.err
    results = json.loads((out / "comparison.json").read_text())["results"]
    exact = results["sigma_b=0"][POINTS[0]]["xgboost"]["z_asimov"]
    uncertain = results["sigma_b=0.5"][POINTS[0]]["xgboost"]["z_asimov"]
    # The same classifier on the same split: a larger background uncertainty, a lower best Z.
    assert 0 < uncertain < exact
    auc = [results[v][POINTS[0]]["xgboost"]["auc"] for v in ("sigma_b=0", "sigma_b=0.5")]
    assert auc[0] == pytest.approx(auc[1])  # σ_b does not enter the training


@pytest.mark.slow
def test_raw_mc_weights_collapse_the_classifier_in_one_comparison(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """The thesis' finding (§5.2.3): AUC 0.5 with raw MC weights, not with balanced ones."""
    store = _store(tmp_path, 1200)
    config = _config(tmp_path, methods=["thesis_cuts", "xgboost", "nn"])
    out = tmp_path / "weights"
    vary = "weights.scheme=none,mc,count-balance,weight-balance"
    result = cli("search", "study", "-c", config, "-d", store, "-o", out, "--vary", vary, "-j", "2")
    assert result.code == 0, result.err
    comparison = json.loads((out / "comparison.json").read_text())
    results = comparison["results"]
    assert "report.html" in {p.name for p in out.iterdir()}
    for point in POINTS:
        raw = results["weights.scheme=mc"][point]["xgboost"]["auc"]
        assert raw == pytest.approx(0.5, abs=0.02), (point, raw)
        for scheme in BALANCED:
            balanced = results[f"weights.scheme={scheme}"][point]["xgboost"]["auc"]
            assert balanced > 0.9, (point, scheme, balanced)
    # The collapse is named in the mc variant's warnings, and only there.
    warned = {v["name"] for v in comparison["variants"] if v["warnings"]}
    assert warned == {"weights.scheme=mc"}
