"""The autoencoder, trained on good maps only, finds and localises 5×5 dead and hot regions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_maps import SHAPE, make_maps, trainer

from heplearn.config import parse_config
from heplearn.dqm.maps import MapSet
from heplearn.dqm.model_config import DqmModelConfig
from heplearn.dqm.models.autoencoder import AutoencoderModel, ConvAutoencoder
from heplearn.errors import DataError


def config(epochs: int = 8) -> DqmModelConfig:
    ae = {"filters": [8, 8, 4], "threshold_false_flag_rate": 0.01}
    return parse_config(
        DqmModelConfig, {"model": "ae", "trainer": trainer(epochs), "ae": ae}, "test"
    )


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ae(tmp_path_factory: pytest.TempPathFactory) -> AutoencoderModel:
    model = AutoencoderModel(config(epochs=5))
    # Faulty maps in the training set are skipped: it learns good maps only.
    model.fit(
        make_maps(240, 1, (0, 0, 0, 1)), make_maps(100, 2, (0,)), tmp_path_factory.mktemp("ae")
    )
    return model


def test_faulty_maps_reconstruct_worse_than_good_ones(ae: AutoencoderModel) -> None:
    test = make_maps(120, 3, (0, 1, 2))
    assert test.map_class is not None
    score = ae.anomaly_score(test)
    good, bad = score[test.map_class == 0], score[test.map_class != 0]
    assert bad.min() > np.quantile(good, 0.9)  # every 5×5 fault beats 90 % of good maps
    error = ae.score_channels(test)
    assert test.channel_class is not None
    inside = error[test.channel_class > 0].mean()
    assert inside > 10 * error[test.map_class == 0].mean()


def test_flags_localise_the_region_and_name_the_fault(ae: AutoencoderModel) -> None:
    test = make_maps(60, 4, (1, 2))
    assert test.channel_class is not None and test.map_class is not None
    flags, truth = ae.flag_channels(test), test.channel_class > 0
    assert (flags & truth).sum() / truth.sum() > 0.8  # recall
    assert (flags & truth).sum() / flags.sum() > 0.8  # precision
    assert float((ae.predict_class(test) == test.map_class).mean()) > 0.9
    good = make_maps(50, 5, (0,))
    assert (ae.predict_class(good) == 0).mean() > 0.9


def test_masked_channels_and_empty_maps_are_not_flagged(ae: AutoencoderModel) -> None:
    maps = make_maps(4, 6, (0,))
    assert not ae.score_channels(maps)[:, 0, 0, :].any()
    empty = MapSet.from_counts(np.zeros((2, *SHAPE), np.float32), n_events=np.zeros(2))
    assert not ae.flag_channels(empty).any()  # no statistics is not "dead"
    assert (ae.predict_class(empty) == 0).all()


def test_save_load_gives_identical_scores(ae: AutoencoderModel, tmp_path: Path) -> None:
    test = make_maps(30, 7, (0, 1, 2))
    ae.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"model.json", "arrays.safetensors"}
    loaded = AutoencoderModel.load(tmp_path / "m")
    assert np.array_equal(loaded.score_channels(test), ae.score_channels(test))
    assert np.array_equal(loaded.anomaly_score(test), ae.anomaly_score(test))
    assert np.array_equal(loaded.flag_channels(test), ae.flag_channels(test))


def test_other_shape_is_refused(ae: AutoencoderModel) -> None:
    with pytest.raises(DataError) as err:
        ae.score_channels(make_maps(2, 8, (0,), shape=(17, 30, 1)))
    assert "(17, 30, 1)" in err.value.message
    assert "(16, 24, 2)" in err.value.message


def test_any_map_shape_trains(tmp_path: Path) -> None:
    shape = (17, 30, 1)  # neither dimension a multiple of 8
    net = ConvAutoencoder(1, (4, 4, 4)).eval()
    assert net.padding(17, 30) == (7, 2)
    assert net(torch.rand(2, 1, 17, 30)).shape == (2, 1, 17, 30)
    model = AutoencoderModel(config(epochs=4))
    model.fit(make_maps(120, 9, (0,), shape), make_maps(60, 10, (0,), shape), tmp_path)
    test = make_maps(40, 11, (0, 1), shape)
    assert test.map_class is not None
    assert model.score_channels(test).shape == (40, *shape)
    score = model.anomaly_score(test)
    assert score[test.map_class == 1].min() > np.median(score[test.map_class == 0])
