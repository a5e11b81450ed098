"""Optuna tuning of the BDT: improvement, resuming from SQLite, pruning, storage errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from heplearn.calib.bdt import BdtConfig, scouting_loss, train_bdt
from heplearn.calib.bdt_tuning import SEARCH_SPACE, tune_bdt
from heplearn.errors import ConfigError

# Few rounds and one thread keep a trial at ~0.1 s on a shared 2-core machine.
BASE = BdtConfig(n_estimators=40, early_stopping_rounds=10, n_jobs=1, seed=2)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    rng = np.random.default_rng(4)
    x = rng.uniform(-2.0, 2.0, (1500, 3))
    y = 1.0 + 0.1 * x[:, 0] ** 2 + 0.05 * x[:, 1] + 0.01 * rng.standard_normal(1500)
    return {"x_train": x[:1000], "y_train": y[:1000], "x_val": x[1000:], "y_val": y[1000:]}


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def test_tuning_improves_on_the_first_trial(data: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    result = tune_bdt(BASE, **data, n_trials=4, storage=url, study_name="t", seed=7)
    trials = _study(url, "t").trials
    assert (result.n_trials, result.n_new_trials, len(trials)) == (4, 4, 4)
    assert trials[0].value is not None
    # The search finds a much better point than its first draw and than the untuned BASE
    # (measured: 0.0004 vs 0.0068 and 0.0015).
    assert result.best_value < 0.5 * trials[0].value
    untuned = train_bdt(BASE, *data.values(), feature_names=["x0", "x1", "x2"]).best_score
    assert result.best_value < 0.8 * untuned
    assert result.best_value == min(t.value for t in trials if t.value is not None)
    # The returned config reproduces the best trial's loss when trained again.
    tuned = set(SEARCH_SPACE)
    assert {f.name for f in dataclasses.fields(BdtConfig)} >= tuned
    assert result.config.n_estimators == BASE.n_estimators
    model = train_bdt(result.config, *data.values(), feature_names=["x0", "x1", "x2"])
    assert model.best_score == pytest.approx(result.best_value, rel=1e-9)
    assert model.best_iteration + 1 == result.best_rounds
    pred = model.predict(data["x_val"])
    assert scouting_loss(pred, data["y_val"]) == pytest.approx(result.best_value, rel=1e-4)


def test_a_second_call_resumes(data: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'study.db'}"
    first = tune_bdt(BASE, **data, n_trials=2, storage=url, study_name="r", seed=1)
    again = tune_bdt(BASE, **data, n_trials=3, storage=url, study_name="r", seed=1)
    same = tune_bdt(BASE, **data, n_trials=3, storage=url, study_name="r", seed=1)
    assert (first.n_trials, again.n_trials, same.n_trials) == (2, 3, 3)
    assert (first.n_new_trials, again.n_new_trials, same.n_new_trials) == (2, 1, 0)
    trials = _study(url, "r").trials
    assert len(trials) == 3
    # The resumed sampler does not replay the first run's random suggestions.
    assert trials[2].params != trials[0].params
    assert same.best_value == again.best_value <= first.best_value


def test_killed_run_leaves_a_running_trial_that_is_redone(
    data: dict[str, Any], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tune_bdt(BASE, **data, n_trials=1, storage=url, study_name="k", seed=1)
    _study(url, "k").ask()  # what a process killed mid-trial leaves behind
    result = tune_bdt(BASE, **data, n_trials=2, storage=url, study_name="k", seed=1)
    states = [t.state for t in _study(url, "k").trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert (result.n_trials, result.n_new_trials) == (2, 1)


def test_resuming_with_another_problem_is_refused(data: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tune_bdt(BASE, **data, n_trials=1, storage=url, study_name="p", seed=1)
    with pytest.raises(ConfigError, match="another base config"):
        tune_bdt(
            dataclasses.replace(BASE, loss="mse"),
            **data,
            n_trials=2,
            storage=url,
            study_name="p",
            seed=1,
        )


def test_bad_trials_are_pruned(data: dict[str, Any]) -> None:
    """MedianPruner needs 5 finished trials first; then a trial worse than the median stops."""
    result = tune_bdt(
        dataclasses.replace(BASE, n_estimators=40, early_stopping_rounds=40),
        **data,
        n_trials=12,
        storage=None,
        study_name="m",
        seed=0,
        report_every=4,
    )
    assert result.n_trials == 12
    assert result.n_pruned >= 1


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("study.db", "not a URL"),
        ("nosuchdialect://x/y", "cannot open it"),
        ("sqlite:///" + "/dev/null/study.db", "folder cannot be created"),
    ],
)
def test_invalid_storage_url(data: dict[str, Any], url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as info:
        tune_bdt(BASE, **data, n_trials=1, storage=url, study_name="s", seed=1)
    assert "sqlite:///path/to/study.db" in info.value.message


def test_optuna_logging_is_restored(data: dict[str, Any]) -> None:
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        tune_bdt(BASE, **data, n_trials=1, storage=None, study_name="q", seed=1)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
