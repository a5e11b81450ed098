"""The thesis CNNs learn dead/hot 5×5 regions on small Poisson maps, and save/load exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_maps import DEAD, SHAPE, make_maps, trainer

from heplearn.config import parse_config
from heplearn.dqm.maps import MapSet
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models.cnn import Cnn2Model, Cnn3BnModel, Cnn3Model, CnnModel, build_cnn
from heplearn.errors import DataError


def config(model: str, epochs: int = 6) -> DqmModelConfig:
    return parse_config(DqmModelConfig, {"model": model, "trainer": trainer(epochs)}, "test")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cnn3(tmp_path_factory: pytest.TempPathFactory) -> CnnModel:
    model = Cnn3Model(config("cnn3"))
    train, val = make_maps(300, 1, (0, 1, 2)), make_maps(100, 2, (0, 1, 2))
    model.fit(train, val, tmp_path_factory.mktemp("cnn3"))
    return model


def test_cnn3_tells_dead_and_hot_from_good(cnn3: CnnModel) -> None:
    test = make_maps(150, 3, (0, 1, 2))
    assert test.map_class is not None
    predicted = cnn3.predict_class(test)
    accuracy = float((predicted == test.map_class).mean())
    assert accuracy > 0.6, accuracy  # chance is 1/3
    score = cnn3.anomaly_score(test)
    assert score[test.map_class != 0].mean() > score[test.map_class == 0].mean() + 0.3


def test_cnn3_flags_lie_in_the_injected_region(cnn3: CnnModel) -> None:
    test = make_maps(60, 4, (1, 2))
    assert test.channel_class is not None
    flags = cnn3.flag_channels(test)
    truth = test.channel_class > 0
    assert flags.sum() > 0
    assert (flags & truth).sum() / flags.sum() > 0.9  # flagged channels are truly faulty
    assert (flags & truth).sum() / truth.sum() > 0.5
    assert not cnn3.score_channels(test)[:, 0, 0, :].any()  # masked channel scores 0


def test_cnn3_save_load_gives_identical_scores(cnn3: CnnModel, tmp_path: Path) -> None:
    test = make_maps(40, 5, (0, 1, 2))
    cnn3.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "arrays.safetensors",
        "model.json",
    ]
    assert json.loads((tmp_path / "m" / "model.json").read_text())["fixed_shape"] == list(SHAPE)
    loaded = Cnn3Model.load(tmp_path / "m")
    assert np.array_equal(loaded.anomaly_score(test), cnn3.anomaly_score(test))
    assert np.array_equal(loaded.predict_class(test), cnn3.predict_class(test))
    assert np.array_equal(loaded.flag_channels(test), cnn3.flag_channels(test))


def test_cnn3_refuses_another_shape(cnn3: CnnModel) -> None:
    with pytest.raises(DataError) as err:
        cnn3.anomaly_score(make_maps(3, 6, (0,), shape=(16, 20, 2)))
    assert "(16, 24, 2)" in err.value.message
    assert "(16, 20, 2)" in err.value.message


def test_cnn2_is_binary_and_names_faults_from_flags(tmp_path: Path) -> None:
    model = Cnn2Model(config("cnn2"))
    model.fit(make_maps(300, 7, (0, 1)), make_maps(80, 8, (0, 1)), tmp_path)
    test = make_maps(100, 9, (0, 1))
    assert test.map_class is not None
    predicted = model.predict_class(test)
    assert set(np.unique(predicted)) <= {0, DEAD}  # bad maps named dead by their zero channels
    assert float((predicted == test.map_class).mean()) > 0.75


def test_cnn3bn_learns_a_separable_fault_set(tmp_path: Path) -> None:
    # Good, dead-5×5 and hot-5×5 maps are separable; a network that does not learn stays at
    # chance (1/3) and scores faulty maps like good ones.
    model = Cnn3BnModel(config("cnn3bn"))
    model.fit(make_maps(300, 10, (0, 1, 2)), make_maps(100, 11, (0, 1, 2)), tmp_path)
    test = make_maps(150, 12, (0, 1, 2))
    assert test.map_class is not None
    accuracy = float((model.predict_class(test) == test.map_class).mean())
    print(f"cnn3bn accuracy {accuracy:.3f}")
    assert accuracy > 0.6, accuracy
    score = model.anomaly_score(test)
    assert score.shape == (150,) and ((score >= 0) & (score <= 1)).all()
    assert score[test.map_class != 0].mean() > score[test.map_class == 0].mean() + 0.3


@pytest.mark.parametrize(("name", "classes"), [("cnn2", 2), ("cnn3", 5), ("cnn3bn", 5)])
def test_networks_take_the_hcal_shape(name: str, classes: int) -> None:
    net = build_cnn(name, (82, 72, 4), classes, 0.25).eval()
    assert net(torch.zeros(3, 4, 82, 72)).shape == (3, classes)


def test_too_small_maps_and_unlabelled_maps_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="too small"):
        build_cnn("cnn3", (6, 6, 1), 5, 0.25)
    unlabelled = MapSet.from_counts(make_maps(10, 13, (0,)).counts)
    with pytest.raises(DataError, match="supervised"):
        Cnn3Model(config("cnn3")).fit(unlabelled, unlabelled, tmp_path)
