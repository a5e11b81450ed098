"""The classical quality tests find and localise dead, hot and region faults, few false flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from heplearn.dqm.labels import CLASS_NAMES
from heplearn.dqm.maps import MapSet
from heplearn.dqm.model_config import default_model_config
from heplearn.dqm.models import build_model, load_model
from heplearn.dqm.models.qtest import QTestModel
from heplearn.dqm.qtests import threshold_for_rate
from heplearn.errors import DataError

SHAPE = (20, 24, 1)


def rates() -> np.ndarray:
    rng = np.random.default_rng(0)
    rate = np.linspace(0.05, 0.2, SHAPE[0])[:, None, None] * rng.lognormal(0.0, 0.2, SHAPE)
    rate[:, 23, :] = 0.0  # a column that does not exist: masked, never flagged
    return rate


def poisson_maps(n: int, seed: int, events: float = 3000.0) -> MapSet:
    rng = np.random.default_rng(seed)
    n_events = rng.uniform(0.7, 1.3, n) * events
    counts = rng.poisson(rates()[None] * n_events[:, None, None, None]).astype(np.float32)
    return MapSet(
        counts=counts,
        n_events=n_events.astype(np.float32),
        map_class=np.zeros(n, np.int8),
        channel_class=np.zeros(counts.shape, np.uint8),
        names=[f"ls{i}" for i in range(n)],
    )


def inject(maps: MapSet, kind: str, rows: slice, cols: slice) -> None:
    """Put a fault of ``kind`` in every map (truth labels included)."""
    index = CLASS_NAMES.index(kind)
    factor = {"dead": 0.0, "hot": 5.0, "partial": 0.4}[kind]
    maps.counts[:, rows, cols] = np.round(maps.counts[:, rows, cols] * factor)
    assert maps.channel_class is not None and maps.map_class is not None
    maps.channel_class[:, rows, cols] = index
    maps.map_class[:] = index


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> QTestModel:
    qtest = QTestModel()
    qtest.fit(poisson_maps(60, 1), poisson_maps(200, 2), tmp_path_factory.mktemp("run"))
    return qtest


@pytest.fixture(scope="module")
def validation_model(tmp_path_factory: pytest.TempPathFactory) -> QTestModel:
    """The empirical mode: thresholds from quantiles of good validation maps."""
    config = default_model_config("qtest")
    config = dataclasses.replace(
        config, qtest=dataclasses.replace(config.qtest, thresholds="validation")
    )
    qtest = QTestModel(config)
    qtest.fit(poisson_maps(60, 1), poisson_maps(200, 2), tmp_path_factory.mktemp("run"))
    return qtest


@pytest.mark.parametrize(
    ("kind", "rows", "cols"),
    [
        ("dead", slice(3, 4), slice(4, 5)),
        ("hot", slice(10, 11), slice(10, 11)),
        ("dead", slice(12, 17), slice(2, 7)),
        ("partial", slice(12, 17), slice(2, 7)),
        ("hot", slice(0, 5), slice(18, 22)),
    ],
)
def test_faults_are_detected_localised_and_classified(
    model: QTestModel, kind: str, rows: slice, cols: slice
) -> None:
    maps = poisson_maps(20, 7)
    inject(maps, kind, rows, cols)
    assert (model.anomaly_score(maps) > 1.0).all()
    flags = model.flag_channels(maps)
    assert maps.channel_class is not None
    truth = maps.channel_class > 0
    # Every faulty channel flagged, (almost) nothing else: < 0.05 % of the good channels.
    assert flags[truth].mean() == 1.0
    assert flags[~truth].sum() <= 5
    assert (model.predict_class(maps) == CLASS_NAMES.index(kind)).all()
    scores = model.score_channels(maps)
    assert scores[truth].min() > scores[~truth].max()


@pytest.mark.parametrize("mode", ["model", "validation"])
def test_good_maps_rarely_flagged_and_masked_channels_never(
    mode: str, model: QTestModel, validation_model: QTestModel
) -> None:
    model = model if mode == "model" else validation_model
    good = poisson_maps(300, 11)
    # A channel dead in every reference map stays silent even with hits now.
    good.counts[:, 5, 23, 0] = 1000.0
    assert (model.anomaly_score(good) > 1.0).mean() <= 0.04
    flags = model.flag_channels(good)
    assert not flags[:, :, 23].any()
    assert flags.reshape(300, -1).any(axis=1).mean() <= 0.03
    assert (model.predict_class(good) == 0).mean() >= 0.96
    if mode == "validation":
        # Chosen on good maps; the pull cut lies well above 3σ for 460 channels.
        assert model.thresholds["pull"] > 3.0 and model.thresholds["dead"] >= 9.0
    else:
        # Šidák over 460 channels + 20 blocks at 1 % per map: z* ≈ 4.1.
        assert model.statistical is not None and 3.9 < model.statistical.z_star < 4.3


def test_noisy_map_and_empty_map(model: QTestModel) -> None:
    maps = poisson_maps(3, 13)
    rng = np.random.default_rng(3)
    # Raised spread: every channel of a region scattered by ±60 % around nominal.
    region = maps.counts[:, 2:12, 2:12]
    maps.counts[:, 2:12, 2:12] = np.round(region * rng.uniform(0.4, 1.6, region.shape))
    maps.counts[2] = 0.0
    maps.n_events[2] = 0.0
    classes = model.predict_class(maps)
    assert classes[:2].tolist() == [CLASS_NAMES.index("noisy")] * 2
    assert model.anomaly_score(maps)[2] == 0.0 and not model.flag_channels(maps)[2].any()


def test_save_load_and_shape_errors(model: QTestModel, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert isinstance(again, QTestModel) and again.thresholds == model.thresholds
    maps = poisson_maps(4, 17)
    inject(maps, "hot", slice(1, 2), slice(1, 2))
    np.testing.assert_array_equal(model.anomaly_score(maps), again.anomaly_score(maps))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "arrays.safetensors",
        "model.json",
    ]
    with pytest.raises(DataError, match="fitted on maps"):
        model.anomaly_score(MapSet.from_counts(np.ones((1, 6, 6))))
    assert isinstance(build_model(default_model_config("qtest")), QTestModel)


def test_threshold_for_rate() -> None:
    values = np.arange(1000, dtype=float)
    # At most 1 % of the values lie above the chosen threshold.
    assert (values > threshold_for_rate(values, 0.01)).mean() == 0.01
    assert threshold_for_rate(values, 0.01, floor=5000.0) == 5000.0
    assert threshold_for_rate(np.array([1.0, 2.0]), 0.01) == 2.0


def test_region_tests_find_a_mild_spread_fault_the_channel_test_misses(
    validation_model: QTestModel,
) -> None:
    model = validation_model
    maps = poisson_maps(20, 11)
    rows, cols = slice(6, 11), slice(8, 13)
    maps.counts[:, rows, cols] = np.round(maps.counts[:, rows, cols] * 0.85)  # gain 0.85
    assert maps.channel_class is not None
    maps.channel_class[:, rows, cols] = CLASS_NAMES.index("partial")
    truth = maps.channel_class > 0
    stats = [s for _, s, _ in model._stats(maps)]
    # Each channel is only ~2 σ low: the per-channel pull test alone sees almost nothing ...
    channel_only = np.concatenate([model._channel_flags(s) for s in stats])
    assert channel_only[truth].mean() < 0.2
    # ... the pooled windows find the region in every map and flag most of its channels.
    assert (model.anomaly_score(maps) > 1.0).all()
    flags = model.flag_channels(maps)
    assert flags[truth].mean() > 0.5
    assert flags[truth].sum() / flags.sum() > 0.8
    assert (model.predict_class(maps) == CLASS_NAMES.index("partial")).all()
