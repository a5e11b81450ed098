"""``heplearn demo --quick``: the main job runs end to end, and a rerun resumes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from heplearn.data import open_store

from conftest import CliResult


@pytest.mark.slow
def test_quick_demo_end_to_end_rerun_and_other_seed(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    result = cli("demo", "--quick", "--out", out)
    assert result.code == 0, result.err
    assert "ROOT round trip" in result.out
    # The command that serves the demo's DQM history (watched held-out maps).
    assert f"heplearn dqm serve --history {out / 'dqm-history.sqlite'}" in result.out
    assert yaml.safe_load((out / "config.yaml").read_text())["kind"] == "calib-sample"
    assert "median m_ee" in result.out
    store = open_store(out / "zee-sample", check_finite=True)
    assert store.rows > 300  # two electrons in most of the 300 Z→ee events
    assert (out / "zee-sample.root").stat().st_size > 0
    metrics = json.loads((out / "calib-report" / "metrics.json").read_text())
    # The BDT trained on the gun sample narrows the E_acc response of the Z→ee electrons.
    assert metrics["eiqr_bdt"] < metrics["eiqr_e_acc"]
    assert (out / "calib-report" / "report.html").is_file()
    # Pseudo-data shifted by +2 % at 1.5 < |η| < 2.47: scale-fit finds it, correct closes it.
    closure = json.loads((out / "calib-closure" / "closure.json").read_text())
    assert abs(closure["mu_after_minus_mc_percent"]) < 3 * closure["mu_after_minus_mc_err_percent"]
    assert abs(closure["data before"]["mean"] / closure["data after"]["mean"] - 1) > 0.003
    assert "α(|η| 1.5–2.47) [%]" in result.out and "correct closes" in result.out
    assert "energy_scale" in (out / "corrections.json").read_text()
    dqm = json.loads((out / "dqm-report" / "metrics.json").read_text())
    # A dead channel among ~17,000 is found by the quality tests in every faulty map.
    assert dqm["auc"]["dead"] > 0.95
    search = json.loads((out / "search-report" / "metrics.json").read_text())
    # XGBoost's selection is far purer than none (×17 measured on the same 1,200-event sample).
    zp = "zp_dm_m500_mx10"
    assert search["significance"][zp]["xgboost"] > 3 * search["yields"][zp]["before_cuts"]["z"] > 0

    shards = sorted((out / "zee-sample").glob("shard-*.h5"))
    stamps = [p.stat().st_mtime_ns for p in [*shards, out / "calib-run" / "bdt.json"]]
    assert cli("demo", "--quick", "--out", out).code == 0
    assert [p.stat().st_mtime_ns for p in [*shards, out / "calib-run" / "bdt.json"]] == stamps

    config_before = (out / "config.yaml").read_text()
    result = cli("demo", "--quick", "--out", out, "--seed", "2")
    assert result.code == 1
    assert "--overwrite" in result.err
    assert (out / "config.yaml").read_text() == config_before
