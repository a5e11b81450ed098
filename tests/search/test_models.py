"""Search classifiers: they reach the Bayes limit on Gaussians, respect weights, save without
pickle, refuse mismatched inputs, and the per-category ensemble picks the right category."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from heplearn.config import parse_config
from heplearn.errors import ConfigError, DataError
from heplearn.search.model_config import (
    EnsembleSettings,
    MlpSettings,
    SearchModels,
    XGBoostSettings,
)
from heplearn.search.models import (
    CLASSIFIERS,
    EnsembleClassifier,
    MlpClassifier,
    XGBoostClassifier,
    build_classifier,
    category_of,
    load_classifier,
    signal_family,
)
from heplearn.search.models.mlp import build_net
from heplearn.search.observables import EventTable
from heplearn.search.weights import training_weights
from heplearn.training import TrainerConfig

N_INFORMATIVE, N_NOISE = 10, 2
#: Mean shift per informative feature [σ]: Mahalanobis distance d = 0.74·√10 = 2.34,
#: so the Bayes-optimal AUC is Φ(d/√2) = 0.951.
SHIFT = 0.74
#: Column units differ by up to 10³ (GeV-like and angle-like), so normalisation matters.
SCALES = np.array([1.0, 1000.0, 3.0, 200.0, 0.5, 50.0, 1.0, 400.0, 10.0, 2.0, 100.0, 1.0])
NAMES = tuple(f"x{i}" for i in range(N_INFORMATIVE + N_NOISE))


def gaussian_table(
    n_signal: int,
    n_background: int,
    seed: int,
    *,
    direction: np.ndarray | None = None,
    mediator_mass: float = 500.0,
    invisible_mass: float = 50.0,
    sample: int = 1,
) -> EventTable:
    """Unit Gaussians (times SCALES); signal shifted by SHIFT along ``direction``."""
    rng = np.random.default_rng(seed)
    n = n_signal + n_background
    signal = np.r_[np.ones(n_signal, bool), np.zeros(n_background, bool)]
    if direction is None:
        direction = np.r_[np.ones(N_INFORMATIVE), np.zeros(N_NOISE)]
    x = rng.normal(size=(n, len(NAMES))) + SHIFT * np.outer(signal, direction)
    return EventTable(
        features=(x * SCALES).astype(np.float32),
        names=NAMES,
        weight=np.where(signal, 0.01, 10.0),
        is_signal=signal.astype(np.int8),
        sample=np.where(signal, sample, 0).astype(np.int16),
        mediator_mass=np.where(signal, mediator_mass, 0.0).astype(np.float32),
        invisible_mass=np.where(signal, invisible_mass, 0.0).astype(np.float32),
        event_id=np.arange(n, dtype=np.int64) + 10_000 * seed,
        sample_names=("background", "zp_dm_m500_mx50", "zp_dm_m1200_mx50", "zh_inv_m500"),
    )


def concat(*tables: EventTable) -> EventTable:
    """Rows of several tables (background of later ones included)."""
    first = tables[0]
    arrays: dict[str, Any] = {
        f.name: np.concatenate([getattr(t, f.name) for t in tables])
        for f in dataclasses.fields(EventTable)
        if isinstance(getattr(first, f.name), np.ndarray)
    }
    return dataclasses.replace(first, **arrays)


def balanced(table: EventTable) -> np.ndarray:
    return training_weights(table.weight, table.is_signal, "count-balance")


def auc(table: EventTable, scores: np.ndarray) -> float:
    return float(roc_auc_score(table.is_signal, scores))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def splits() -> tuple[EventTable, EventTable, EventTable]:
    return gaussian_table(2000, 2000, 1), gaussian_table(600, 600, 2), gaussian_table(2000, 2000, 3)


def small_mlp(hidden_layers: int = 1, normalisation: str = "zscore", **trainer: Any) -> MlpSettings:
    loop = TrainerConfig(
        epochs=6, batch_size=256, lr_min=1e-4, lr_max=1e-2, patience=0, optimizer="adam"
    )
    return MlpSettings(
        hidden_layers=hidden_layers,  # type: ignore[arg-type]
        width=32,
        normalisation=normalisation,  # type: ignore[arg-type]
        trainer=dataclasses.replace(loop, **trainer),
    )


def fit(model: object, splits: tuple[EventTable, ...], weights: str, run_dir: Path) -> None:
    train, val, _ = splits
    scheme = {"balanced": "count-balance", "mc": "mc"}[weights]
    assert isinstance(model, (XGBoostClassifier, MlpClassifier, EnsembleClassifier))
    model.fit(
        train,
        val,
        training_weights(train.weight, train.is_signal, scheme),
        training_weights(val.weight, val.is_signal, scheme),
        run_dir,
    )


def test_xgboost_reaches_the_bayes_auc_and_ranks_informative_features(
    splits: tuple[EventTable, EventTable, EventTable], tmp_path: Path
) -> None:
    model = XGBoostClassifier(XGBoostSettings(n_estimators=150, max_depth=3))
    fit(model, splits, "balanced", tmp_path)
    scores = model.predict(splits[2])
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert auc(splits[2], scores) > 0.9  # Bayes: 0.951
    gain = model.feature_importance()
    assert set(gain) == set(NAMES)
    informative = np.mean([gain[n] for n in NAMES[:N_INFORMATIVE]])
    assert max(gain[n] for n in NAMES[N_INFORMATIVE:]) < informative


# Min-max inputs (std ≈ 0.15) learn slowest, as in the thesis (Fig. 5.1): twice the epochs.
@pytest.mark.parametrize(
    ("hidden_layers", "normalisation", "epochs"),
    [(1, "zscore", 6), (3, "zscore", 6), (1, "minmax", 12), (1, "batchnorm", 6)],
)
def test_mlp_reaches_the_bayes_auc(
    splits: tuple[EventTable, EventTable, EventTable],
    tmp_path: Path,
    hidden_layers: int,
    normalisation: str,
    epochs: int,
) -> None:
    model = MlpClassifier(small_mlp(hidden_layers, normalisation, epochs=epochs))
    fit(model, splits, "balanced", tmp_path)
    assert auc(splits[2], model.predict(splits[2])) > 0.9
    assert (tmp_path / "metrics.jsonl").is_file()  # trained by the shared loop


def test_model_settings_parse_with_their_ranges_and_choices() -> None:
    models = parse_config(
        SearchModels,
        {
            "xgboost": {"scale_pos_weight": "auto", "max_depth": 4},
            "nn": {"hidden_layers": 3, "widths": [64, 32, 16], "normalisation": "batchnorm"},
            "ensemble": {"base": "xgboost", "mass_edges": [500, 1000]},
        },
    )
    assert models.xgboost.scale_pos_weight == "auto"
    net = build_net(models.nn, 7)
    linear = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert linear == [64, 32, 16, 1]
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in net.modules())
    ratio = parse_config(XGBoostSettings, {"scale_pos_weight": 250.0})
    assert ratio.scale_pos_weight == 250.0
    for bad, match in (
        ({"nn": {"hidden_layers": 2}}, "not one of the allowed values"),
        ({"nn": {"hidden_layers": 1, "widths": [8, 8]}}, "2 widths for 1 hidden layers"),
        ({"xgboost": {"scale_pos_weight": "balanced"}}, "scale_pos_weight"),
        ({"ensemble": {"mass_edges": [1100, 600]}}, "not strictly increasing"),
        ({"xgboost": {"n_estimator": 5}}, "did you mean 'xgboost.n_estimators'"),
    ):
        with pytest.raises(ConfigError, match=match):
            parse_config(SearchModels, bad)


def test_mlp_training_is_reproducible(
    splits: tuple[EventTable, EventTable, EventTable], tmp_path: Path
) -> None:
    scores = []
    for run in ("a", "b"):
        model = MlpClassifier(small_mlp(epochs=2))
        fit(model, splits, "balanced", tmp_path / run)
        scores.append(model.predict(splits[2]))
    np.testing.assert_array_equal(scores[0], scores[1])


@pytest.mark.parametrize("method", ["xgboost", "nn"])
def test_mc_weights_collapse_the_scores_but_count_balance_does_not(
    tmp_path: Path, method: str
) -> None:
    # Signal is 10⁻⁶ of the weighted events, as in the thesis (40k DM vs 87M SM events).
    tables = [
        dataclasses.replace(t, weight=np.where(t.is_signal == 1, 1e-6, 1.0))
        for t in (gaussian_table(1500, 1500, 4), gaussian_table(500, 500, 5))
    ]
    test = gaussian_table(1000, 1000, 6)
    spreads, aucs, scores_of = {}, {}, {}
    for scheme in ("mc", "balanced"):
        model = build_classifier(
            method, SearchModels(xgboost=XGBoostSettings(n_estimators=60), nn=small_mlp())
        )
        fit(model, (*tables, test), scheme, tmp_path / scheme)
        scores = model.predict(test)
        spreads[scheme] = float(np.percentile(scores, 95) - np.percentile(scores, 5))
        aucs[scheme] = auc(test, scores)
        scores_of[scheme] = scores
    # Scores pile up at the tiny prior: not one event is called signal ("no dark matter").
    assert spreads["mc"] < 0.01
    assert (scores_of["mc"] > 0.5).sum() == 0
    assert spreads["balanced"] > 0.5
    assert aucs["balanced"] > 0.9


def test_scale_pos_weight_auto_rescues_xgboost_on_mc_weights(tmp_path: Path) -> None:
    train, val, test = (
        dataclasses.replace(t, weight=np.where(t.is_signal == 1, 1e-6, 1.0))
        for t in (
            gaussian_table(1500, 1500, 4),
            gaussian_table(500, 500, 5),
            gaussian_table(1000, 1000, 6),
        )
    )
    model = XGBoostClassifier(XGBoostSettings(n_estimators=60, scale_pos_weight="auto"))
    model.fit(train, val, train.weight, val.weight, tmp_path)
    assert model.scale_pos_weight == pytest.approx(1e6)
    assert auc(test, model.predict(test)) > 0.9


def _no_pickle(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir())
    for path in folder.iterdir():
        assert path.suffix not in {".pkl", ".pickle", ".pt"}
        assert not path.read_bytes().startswith(b"\x80")  # the pickle protocol marker
    return names


@pytest.mark.parametrize(
    ("method", "files"),
    [("xgboost", ["meta.json", "model.json"]), ("nn", ["meta.json", "weights.safetensors"])],
)
def test_save_load_round_trip_is_exact_and_pickle_free(
    splits: tuple[EventTable, EventTable, EventTable], tmp_path: Path, method: str, files: list[str]
) -> None:
    settings = SearchModels(xgboost=XGBoostSettings(n_estimators=40), nn=small_mlp(epochs=3))
    model = build_classifier(method, settings)
    fit(model, splits, "balanced", tmp_path / "run")
    model.save(tmp_path / "model")
    assert _no_pickle(tmp_path / "model") == files
    loaded = load_classifier(tmp_path / "model")
    assert type(loaded) is CLASSIFIERS[method]
    np.testing.assert_array_equal(loaded.predict(splits[2]), model.predict(splits[2]))
    with pytest.raises(Exception, match="output exists"):
        model.save(tmp_path / "model")


def test_mismatched_or_bad_inputs_are_refused(
    splits: tuple[EventTable, EventTable, EventTable], tmp_path: Path
) -> None:
    train, val, test = splits
    model = XGBoostClassifier(XGBoostSettings(n_estimators=5))
    fit(model, splits, "balanced", tmp_path)
    swapped = test.select((NAMES[1], NAMES[0], *NAMES[2:]))
    with pytest.raises(DataError, match="feature columns do not match"):
        model.predict(swapped)
    with pytest.raises(DataError, match="feature columns do not match"):
        model.predict(test.select(NAMES[:-1]))
    nan = test.features.copy()
    nan[3, 2] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        model.predict(dataclasses.replace(test, features=nan))
    negative = balanced(train)
    negative[0] = -1.0
    with pytest.raises(DataError, match="negative training weights"):
        XGBoostClassifier().fit(train, val, negative, balanced(val), tmp_path)
    no_signal = np.where(train.is_signal == 1, 0.0, 1.0)
    with pytest.raises(DataError, match="no signal weight"):
        MlpClassifier().fit(train, val, no_signal, balanced(val), tmp_path)
    with pytest.raises(DataError, match="not a heplearn search model"):
        load_classifier(tmp_path)
    with pytest.raises(DataError, match="untrained"):
        MlpClassifier().predict(test)


def test_signal_family_and_thesis_categories() -> None:
    assert signal_family("zp_dm_m500_mx50") == "zp_dm"
    assert signal_family("zh_inv_m125") == "zh_inv"
    thesis = EnsembleSettings()
    assert category_of(thesis, "zp_dm", 600.0, 10.0) == "zp_dm:light:m0-600"
    assert category_of(thesis, "zp_dm", 601.0, 10.0) == "zp_dm:light:m600-1100"
    assert category_of(thesis, "zp_dm", 1500.0, 200.0) == "zp_dm:heavy:m1100-inf"
    # 2 families × 2 dark sectors × 3 mass regions (the thesis had 3 theories: 18).
    labels = {
        category_of(thesis, f, m, mx)
        for f in ("zp_dm", "zh_inv")
        for m in (300.0, 800.0, 1300.0)
        for mx in (1.0, 500.0)
    }
    assert len(labels) == 12


def test_ensemble_scores_a_point_with_its_own_category(tmp_path: Path) -> None:
    low_dir = np.r_[np.ones(5), np.zeros(7)]
    high_dir = np.r_[np.zeros(5), -np.ones(5), np.zeros(2)]

    def mixed(seed: int, n: int) -> tuple[EventTable, EventTable, EventTable]:
        low = gaussian_table(n, 2 * n, seed, direction=2 * low_dir, mediator_mass=500.0)
        high = gaussian_table(
            n, 0, seed + 50, direction=2 * high_dir, mediator_mass=1200.0, sample=2
        )
        return concat(low, high), low, high

    train, _, _ = mixed(10, 600)
    val, _, _ = mixed(11, 300)
    test, test_low, test_high = mixed(12, 600)
    settings = EnsembleSettings(base="xgboost", xgboost=XGBoostSettings(n_estimators=40))
    model = EnsembleClassifier(settings)
    model.fit(train, val, balanced(train), balanced(val), tmp_path / "run")
    assert model.categories() == ("zp_dm:light:m0-600", "zp_dm:light:m1100-inf")
    background = test_low.subset(np.flatnonzero(test_low.is_signal == 0))
    low_vs_bkg = test_low
    high_vs_bkg = concat(test_high, background)
    right = auc(low_vs_bkg, model.predict(low_vs_bkg, mediator_mass=500.0, invisible_mass=50.0))
    wrong = auc(low_vs_bkg, model.predict(low_vs_bkg, mediator_mass=1200.0, invisible_mass=50.0))
    assert right > 0.95
    assert wrong < 0.7
    high = model.predict(high_vs_bkg, mediator_mass=1200.0, invisible_mass=50.0, family="zp_dm")
    assert auc(high_vs_bkg, high) > 0.95
    combined = model.predict(test)  # max over categories: finds both signals
    assert auc(test, combined) > 0.9
    with pytest.raises(DataError, match="no model for this signal point"):
        model.predict(test, mediator_mass=800.0, invisible_mass=50.0)
    model.save(tmp_path / "ensemble")
    loaded = load_classifier(tmp_path / "ensemble")
    np.testing.assert_array_equal(loaded.predict(test), combined)


def test_a_partial_trainer_section_keeps_the_mlp_defaults() -> None:
    from heplearn.config import parse_config
    from heplearn.search.model_config import MlpSettings, default_mlp_trainer
    from heplearn.training import TrainerConfig

    settings = parse_config(MlpSettings, {"trainer": {"epochs": 5}}, "test")
    mlp_defaults, generic = default_mlp_trainer(), TrainerConfig()
    assert settings.trainer.epochs == 5
    assert settings.trainer.lr_max == mlp_defaults.lr_max != generic.lr_max
    assert settings.trainer.batch_size == mlp_defaults.batch_size != generic.batch_size
