"""The thesis baselines (LR, MLP): 5×5 faults learnt, pickle-free save, fixed shape enforced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.config import parse_config
from heplearn.dqm.maps import MapSet
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models import build_model, load_model
from heplearn.dqm.models.linear import LogisticModel, MlpModel
from heplearn.errors import DataError

SHAPE = (20, 24, 1)


def sample(n: int, seed: int) -> MapSet:
    """Good, dead-5×5 and hot-5×5 maps (one third each) at random positions."""
    rng = np.random.default_rng(seed)
    rate = np.linspace(0.05, 0.2, SHAPE[0])[:, None, None] * np.random.default_rng(0).lognormal(
        0.0, 0.2, SHAPE
    )
    n_events = rng.uniform(2000, 4000, n)
    counts = rng.poisson(rate[None] * n_events[:, None, None, None]).astype(np.float32)
    map_class = np.arange(n) % 3  # 0 good, 1 dead, 2 hot
    channels = np.zeros(counts.shape, np.uint8)
    for i in np.flatnonzero(map_class):
        r, c = rng.integers(0, SHAPE[0] - 5), rng.integers(0, SHAPE[1] - 5)
        counts[i, r : r + 5, c : c + 5] *= 0.0 if map_class[i] == 1 else 4.0
        channels[i, r : r + 5, c : c + 5] = map_class[i]
    return MapSet(
        counts=counts,
        n_events=n_events.astype(np.float32),
        map_class=map_class.astype(np.int8),
        channel_class=channels,
        names=[str(i) for i in range(n)],
    )


@pytest.fixture(scope="module")
def lr(tmp_path_factory: pytest.TempPathFactory) -> LogisticModel:
    model = LogisticModel()
    model.fit(sample(240, 1), sample(90, 2), tmp_path_factory.mktemp("run"))
    return model


def test_lr_is_near_perfect_on_5x5_faults(lr: LogisticModel) -> None:
    test = sample(150, 3)
    assert test.map_class is not None and test.channel_class is not None
    assert (lr.predict_class(test) == test.map_class).mean() >= 0.95
    score = lr.anomaly_score(test)
    good, bad = score[test.map_class == 0], score[test.map_class > 0]
    # Good and faulty maps separate (AUC near 1 with 240 training maps, random positions).
    assert (bad[:, None] > good[None, :]).mean() >= 0.97
    # Channel saliency points at the fault more than at random channels.
    chan = lr.score_channels(test)
    truth = test.channel_class > 0
    assert chan[truth].mean() > 5 * chan[~truth].mean()


def test_lr_save_load_is_exact_and_pickle_free(lr: LogisticModel, tmp_path: Path) -> None:
    folder = tmp_path / "lr"
    lr.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.safetensors", "model.json"]
    assert b"pickle" not in (folder / "model.json").read_bytes()
    again = load_model(folder)
    assert isinstance(again, LogisticModel) and again.fixed_shape == SHAPE
    test = sample(30, 4)
    np.testing.assert_array_equal(lr.anomaly_score(test), again.anomaly_score(test))
    np.testing.assert_array_equal(lr.predict_class(test), again.predict_class(test))
    np.testing.assert_array_equal(lr.flag_channels(test), again.flag_channels(test))


def test_fixed_shape_and_labels_are_required(lr: LogisticModel) -> None:
    ecal = MapSet.from_counts(np.ones((1, 170, 360)))
    with pytest.raises(DataError) as err:
        lr.anomaly_score(ecal)
    assert str(err.value).startswith(
        "model lr was trained on maps (20, 24, 1) in the maps to score: this map is (170, 360, 1);"
        " use qtest or ae for other shapes"
    )
    unlabelled = MapSet.from_counts(sample(6, 5).counts)
    with pytest.raises(DataError, match="supervised"):
        LogisticModel().fit(unlabelled, unlabelled, Path())


def test_mlp_learns_and_round_trips(tmp_path: Path) -> None:
    config = parse_config(DqmModelConfig, {"model": "mlp", "mlp": {"hidden": [16], "max_iter": 60}})
    model = build_model(config)
    assert isinstance(model, MlpModel)
    model.fit(sample(150, 6), sample(60, 7), tmp_path / "run")
    test = sample(90, 8)
    assert test.map_class is not None
    assert (model.predict_class(test) == test.map_class).mean() >= 0.9
    model.save(tmp_path / "mlp")
    again = load_model(tmp_path / "mlp")
    np.testing.assert_allclose(model.anomaly_score(test), again.anomaly_score(test), rtol=1e-6)
    np.testing.assert_allclose(model.score_channels(test), again.score_channels(test), rtol=1e-5)


@pytest.mark.parametrize("name", ["lr", "mlp"])
def test_probabilities_from_stored_arrays_match_scikit_learn(name: str, tmp_path: Path) -> None:
    # Scoring uses the saved weights (float32 fits: agreement to float32 rounding).
    config = parse_config(DqmModelConfig, {"model": name, "mlp": {"hidden": [8], "max_iter": 30}})
    model = build_model(config)
    assert isinstance(model, (LogisticModel, MlpModel))
    model.fit(sample(90, 9), sample(30, 10), tmp_path / "run")
    features = model._features(sample(20, 11))
    np.testing.assert_allclose(
        model._proba(features), model.estimator.predict_proba(features), atol=1e-5
    )
