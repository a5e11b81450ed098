"""A run whose σ_E is twice too wide: the factor measured on validation undoes it, and
``calib evaluate`` applies it (held-out pulls as those of the same run with its own σ_E)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heplearn.calib import calibrated
from heplearn.calib.calibrated import CalibRun
from heplearn.calib.data_evaluation import evaluate_on_data
from heplearn.calib.data_evaluation_report import write_data_evaluation
from heplearn.calib.evaluate import evaluate_run
from heplearn.calib.sigma_scale import SigmaScale, reco_et
from heplearn.calib.sigma_scale_fit import write_sigma_scale
from heplearn.calib.train import prepare_split, train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import parse_config
from heplearn.stats.spread import eiqr

from conftest import CliResult, assert_one_error

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _twice_too_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every σ_E the run predicts, ×2 (ln σ² + ln 4)."""
    real = calibrated.CalibRun.target_outputs

    def wider(self: CalibRun, features: Any) -> tuple[np.ndarray, np.ndarray | None]:
        target, log_var = real(self, features)
        return target, None if log_var is None else log_var + math.log(4.0)

    monkeypatch.setattr(calibrated.CalibRun, "target_outputs", wider)


def _pull_widths(run: Path, store: Path) -> dict[str, Any]:
    metrics = evaluate_run(run, store, n_boot=2, importance=False).metrics
    pulls = metrics["uncertainty"]["pulls"]
    return {
        stage: [row["width"] for row in pulls[stage]["binned"]] + [pulls[stage]["width"]]
        for stage in ("before", "after")
    }


def test_a_sigma_twice_too_wide_is_rescaled_like_the_nominal_one(
    gun_store: Path,
    zee_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
) -> None:
    config = parse_config(
        CalibTrainConfig,
        {
            "preset": "tiny",
            "loss": "beta-nll",
            "bdt": None,
            "split": [0.6, 0.2, 0.2],  # ≈ 240 validation and test clusters each
            "trainer": {"epochs": 3, "batch_size": 64, "grad_clip": 1.0, "seed": 1},
        },
        "test",
    )
    train_calib(config, gun_store, tmp_path / "run")
    run = CalibRun.load(tmp_path / "run")
    assert "validation split" in run.folder.sigma_scale.read_text()
    nominal = _pull_widths(tmp_path / "run", gun_store)
    # On Z→ee evaluated as data (no truth): σ_M quintile fits of the selected pairs, no pulls.
    evaluation = evaluate_on_data(tmp_path / "run", zee_store)
    report = write_data_evaluation(evaluation, tmp_path / "eval-data") / "report.html"
    assert "σ_M quintiles" in report.read_text()
    on_data = evaluation.metrics["uncertainty"]
    assert on_data["sigma_scale"]["available"] and "pulls" not in on_data
    quantiles = on_data["mass_quantiles"]
    assert quantiles["sigma"] == "rescaled" and len(quantiles["bins"]) == 5
    assert not any("pull_width" in row for row in quantiles["bins"])
    # The factors come from the validation clusters (never the test split): their pulls
    # divided by the factors have unit core width.
    split = prepare_split(config, gun_store, "test")
    validation = split.features.take(split.val)
    scale = SigmaScale.load(run.folder.sigma_scale)
    assert scale is not None
    energies = run.energies(validation)
    assert energies.network is not None and energies.sigma is not None
    et = reco_et(validation.e_acc, validation.eta)
    rescaled = scale.apply(energies.sigma, np.abs(validation.eta), et)
    assert eiqr((energies.network - validation.e_truth) / rescaled) == pytest.approx(1.0, abs=0.05)
    # The same run with every σ_E twice too wide, refitted as calib train does.
    _twice_too_wide(monkeypatch)
    write_sigma_scale(tmp_path / "run", validation, "validation split")
    wide = _pull_widths(tmp_path / "run", gun_store)
    print(
        f"held-out pull width nominal {nominal['before'][-1]:.3f} -> {nominal['after'][-1]:.3f}, "
        f"×2 {wide['before'][-1]:.3f} -> {wide['after'][-1]:.3f}"
    )
    np.testing.assert_allclose(wide["before"], np.asarray(nominal["before"]) / 2, rtol=1e-4)
    np.testing.assert_allclose(wide["after"], nominal["after"], rtol=1e-4)
    # A damaged factor file: one error line naming it, no evaluation folder.
    run.folder.sigma_scale.write_text('{"factors": "none"}')
    out = tmp_path / "eval"
    result = cli("calib", "evaluate", "--run", tmp_path / "run", "--data", gun_store, "--out", out)
    assert_one_error(result, "sigma_scale.json")
    assert not out.exists()
