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
    assert figures["dqm: held-out maps"].value == metrics["maps"] > 50
    # 75 held-out maps leave too few good validation maps for 1 %: the rate is 1/N, and says so.
    resolution = metrics["false_alarm_resolution"]
    rate = f"@{100 / resolution['validation_good_maps']:.2g} % FA"
    dead = figures[f"dqm: dead 1x1 efficiency {rate} (qtest)"]
    assert "too few for 1 %, 0.1 %" in dead.note
    # Single dead channels are easy for the classical tests; a few maps leave a wide error.
    assert dead.value >= 0.9 and 0.0 < dead.error < 0.2
    auc = figures["dqm: AE AUC (worst class)"]
    assert 0.5 < auc.value <= 1.0 and auc.error > 0
    assert "significant" in figures["dqm: cnn3bn − qtest accuracy"].note
    assert (tmp_path / "dqm-report" / "report.html").is_file()
    # The held-out maps, watched by the qtest run: the history dqm serve shows.
    from heplearn.dqm.history import open_history

    with open_history(tmp_path / "dqm-history.sqlite") as history:
        verdicts = history.verdicts()
    assert len(verdicts) == metrics["maps"] and {v["run"] for v in verdicts} == {900_001}
    assert any(v["verdict"] not in ("good", "no-statistics") for v in verdicts)


def test_the_demo_trains_the_shipped_model_configs() -> None:
    from heplearn.config import load_config, shipped_config
    from heplearn.dqm.demo import DEMO_MODELS, _model_configs
    from heplearn.dqm.model_config import DqmModelConfig

    full, quick = _model_configs(quick=False), _model_configs(quick=True)
    for name, file in DEMO_MODELS.items():
        shipped = load_config(DqmModelConfig, shipped_config(f"dqm/models/{file}"))
        assert full[name] == shipped
        # --quick shortens training only: the same model, optimiser and learning rates.
        assert quick[name].model == shipped.model
        assert quick[name].trainer.lr_max == shipped.trainer.lr_max
        assert quick[name].trainer.epochs <= shipped.trainer.epochs
