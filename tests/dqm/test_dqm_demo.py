"""The DQM part of ``heplearn demo`` (quick): three models on one held-out set, one report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heplearn.dqm.demo import dqm_demo


@pytest.mark.slow  # ~15 s on an idle 2-core machine (figures for three models)
def test_quick_dqm_demo_trains_three_models_and_reports(tmp_path: Path) -> None:
    figures = dqm_demo(tmp_path, quick=True, seed=1, overwrite=False, progress=False)
    metrics = json.loads((tmp_path / "dqm-report" / "metrics.json").read_text())
    assert [m["model"] for m in metrics["models"].values()] == ["qtest", "cnn3bn", "ae"]
    assert figures["dqm: held-out maps"] == 75.0
    # Single dead or hot channels are easy for the classical tests at 1 % false alarms.
    assert figures["dqm: dead 1×1 efficiency @1 % FA (qtest)"] >= 0.9
    assert 0.5 < figures["dqm: AE AUC (worst class)"] <= 1.0
    assert (tmp_path / "dqm-report" / "report.html").is_file()
