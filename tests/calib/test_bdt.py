"""The XGBoost baseline: the scouting loss, training, weights, save/load and input checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heplearn.calib.bdt import (
    BdtConfig,
    load_bdt,
    scouting_gradient,
    scouting_loss,
    train_bdt,
)
from heplearn.config import parse_config
from heplearn.errors import ConfigError, DataError, OutputExistsError

NAMES = ("x0", "x1", "x2")
# One thread: OpenMP threads spinning at barriers are 40× slower when the cores are shared.
FAST = BdtConfig(
    n_estimators=150, learning_rate=0.2, max_depth=4, early_stopping_rounds=20, n_jobs=1, seed=3
)


def _synthetic(n: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """y = 1 + 0.1·x0² + 0.002 noise; x1, x2 carry no information."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, (n, len(NAMES)))
    y = 1.0 + 0.1 * x[:, 0] ** 2 + 0.002 * rng.standard_normal(n)
    return x, y


@pytest.fixture(scope="module")
def split() -> dict[str, np.ndarray[Any, Any]]:
    x_train, y_train = _synthetic(3000, 1)
    x_val, y_val = _synthetic(1000, 2)
    x_test, y_test = _synthetic(1000, 3)
    return {"xt": x_train, "yt": y_train, "xv": x_val, "yv": y_val, "xs": x_test, "ys": y_test}


def _train(split: dict[str, np.ndarray[Any, Any]], config: BdtConfig = FAST) -> Any:
    return train_bdt(
        config, split["xt"], split["yt"], split["xv"], split["yv"], feature_names=NAMES
    )


def _rms(pred: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    return float(np.sqrt(np.mean((pred / y - 1.0) ** 2)))


@pytest.mark.parametrize("loss", ["scouting", "mse"])
def test_bdt_beats_the_mean_threefold(split: dict[str, Any], loss: str) -> None:
    model = _train(split, dataclasses.replace(FAST, loss=loss))
    baseline = _rms(np.full_like(split["ys"], split["yt"].mean()), split["ys"])
    assert _rms(model.predict(split["xs"]), split["ys"]) * 3 <= baseline
    assert model.best_iteration < FAST.n_estimators
    importance = model.feature_importance()
    assert set(importance) == set(NAMES)
    assert max(importance, key=importance.__getitem__) == "x0"


@pytest.mark.parametrize("loss", ["scouting", "mse"])
def test_best_score_is_the_validation_loss(split: dict[str, Any], loss: str) -> None:
    """Not XGBoost's 6-decimal print of a custom metric: the loss here is ~1e-5."""
    model = _train(split, dataclasses.replace(FAST, loss=loss))
    pred = model.predict(split["xv"])
    if loss == "scouting":
        expected = scouting_loss(pred, split["yv"])
    else:
        expected = float(np.mean((pred - split["yv"]) ** 2))
    assert expected < 1e-4
    assert model.best_score == pytest.approx(expected, rel=1e-4)


def test_scouting_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    pred, truth, weight = (
        rng.uniform(0.5, 1.5, 20),
        rng.uniform(0.8, 1.3, 20),
        rng.uniform(0, 2, 20),
    )
    grad, hess = scouting_gradient(pred, truth, weight)

    def total(p: np.ndarray[Any, Any]) -> float:
        return scouting_loss(p, truth, weight) * weight.sum()

    step = 1e-6
    for i in range(len(pred)):
        up, down = pred.copy(), pred.copy()
        up[i] += step
        down[i] -= step
        assert grad[i] == pytest.approx((total(up) - total(down)) / (2 * step), rel=1e-5, abs=1e-8)
        grad_up = scouting_gradient(up, truth, weight)[0][i]
        grad_down = scouting_gradient(down, truth, weight)[0][i]
        assert hess[i] == pytest.approx((grad_up - grad_down) / (2 * step), rel=1e-5, abs=1e-8)


def test_weights_move_the_optimum() -> None:
    """With no information in X the prediction is the weighted optimum E_w[1/y] / E_w[1/y²]."""
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(2000, 3))
    y = rng.choice([1.0, 2.0], 2000)
    w = np.where(y == 1.0, 3.0, 1.0)
    config = dataclasses.replace(FAST, min_child_weight=1e4)
    weighted = train_bdt(config, x, y, x, y, w_train=w, w_val=w, feature_names=NAMES).predict(
        x[:10]
    )
    plain = train_bdt(config, x, y, x, y, feature_names=NAMES).predict(x[:10])
    expected = np.sum(w / y) / np.sum(w / y**2)
    assert weighted == pytest.approx(np.full(10, expected), rel=1e-4)
    assert plain == pytest.approx(np.full(10, np.mean(1 / y) / np.mean(1 / y**2)), rel=1e-4)


def test_save_load_round_trip(split: dict[str, Any], tmp_path: Path) -> None:
    model = _train(split)
    path = model.save(tmp_path / "bdt.json")
    document = json.loads(path.read_text())
    assert document["learner"]["feature_names"] == list(NAMES)
    loaded = load_bdt(path)
    assert np.array_equal(loaded.predict(split["xs"]), model.predict(split["xs"]))
    assert loaded.config == model.config
    assert loaded.feature_names == NAMES
    assert loaded.best_iteration == model.best_iteration
    assert loaded.best_score == model.best_score
    with pytest.raises(OutputExistsError):
        model.save(path)
    model.save(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["bdt.json"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x80\x04\x95 pickled", "not JSON"),
        (b'{"hello": "world"}', "no 'learner'"),
        (b'{"learner": {"attributes": {}}, "version": [3, 2, 0]}', "without heplearn"),
    ],
)
def test_garbage_model_file_is_refused(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=why):
        load_bdt(path)


def test_corrupt_xgboost_json_is_refused(split: dict[str, Any], tmp_path: Path) -> None:
    path = _train(split).save(tmp_path / "bdt.json")
    document = json.loads(path.read_text())
    del document["learner"]["gradient_booster"]
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match="XGBoost cannot read it"):
        load_bdt(path)


def test_nan_feature_names_the_feature_and_count(split: dict[str, Any]) -> None:
    x = split["xt"].copy()
    x[[3, 10, 20], 1] = np.nan
    x[7, 2] = np.inf
    with pytest.raises(DataError) as info:
        train_bdt(FAST, x, split["yt"], split["xv"], split["yv"], feature_names=NAMES)
    message = info.value.message
    assert "'x1' has 3 NaN of 3000 values" in message
    assert "'x2' has 1 inf" in message
    assert "training set" in message


def test_input_checks(split: dict[str, Any]) -> None:
    args = (split["xt"], split["yt"], split["xv"], split["yv"])
    with pytest.raises(DataError, match=r"expected \(rows, 2\)"):
        train_bdt(FAST, *args, feature_names=NAMES[:2])
    with pytest.raises(DataError, match="feature name 'x\\[0\\]'"):
        train_bdt(FAST, *args, feature_names=("x[0]", "x1", "x2"))
    y_val = split["yv"].copy()
    y_val[0] = -1.0
    with pytest.raises(DataError, match="y > 0"):
        train_bdt(FAST, split["xt"], split["yt"], split["xv"], y_val, feature_names=NAMES)
    model = _train(split)
    with pytest.raises(DataError, match="prediction input"):
        model.predict(np.full((2, 3), np.nan))


def test_config_from_yaml_mapping() -> None:
    config = parse_config(BdtConfig, {"kind": "bdt", "loss": "mse", "max_depth": 3})
    assert (config.loss, config.max_depth, config.metric) == ("mse", 3, "rmse")
    with pytest.raises(ConfigError, match="did you mean 'scouting'"):
        parse_config(BdtConfig, {"kind": "bdt", "loss": "scoutin"})
