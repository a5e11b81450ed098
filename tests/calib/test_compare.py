"""``calib compare``: the MC-vs-data classifier, quantile maps (1-D, conditional) and odds weights.

The stores here are synthetic scalars written directly (milliseconds): "data" differs
from "MC" by known shifts, one of them growing with |η| (what only the conditional
map can undo).  The measurement on simulated pseudo-data is ``test_compare_slow.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from heplearn.calib.compare import CompareSettings, compare_stores
from heplearn.calib.mc_data_classifier import ClassifierSettings, odds_weights
from heplearn.calib.quantile_mapping import MappingTransform, QuantileMap, load_transform
from heplearn.data.writer import StoreWriter
from heplearn.errors import DataError

from conftest import CliResult, assert_one_error

N_EVENTS = 3000  # two clusters each: 6000 per sample


def _scalars(rng: np.random.Generator, n: int, shifted: bool) -> dict[str, np.ndarray]:
    eta = rng.uniform(-2.4, 2.4, n)
    e_acc = 30 + rng.gamma(4.0, 10.0, n)
    f0 = rng.gamma(2.0, 0.02, n) * (1 + 0.3 * np.abs(eta))
    r12 = rng.normal(0.6, 0.05, n)
    sigma = rng.normal(0.0100, 0.0010, n)
    tracks = rng.poisson(2.0, n).astype(float)
    if shifted:
        f0 = f0 * (1 + 1.5 * np.abs(eta))  # more material at large |η|
        r12 = r12 + 0.03
        sigma = 0.0102 + (sigma - 0.0100) * 1.4  # more noise
        tracks = tracks + (rng.random(n) < 0.4)
    return {
        "e_acc": e_acc,
        "eta": eta,
        "f0": f0,
        "r12": r12,
        "sigma_ieta_ieta": sigma,
        "n_tracks": tracks,
    }


def _store(
    path: Path, seed: int, shifted: bool, geometry: str = "atlas-lar", drop: str = ""
) -> Path:
    rng = np.random.default_rng(seed)
    n = 2 * N_EVENTS
    columns = {
        f"scalars/{k}": v.astype(np.float32)
        for k, v in _scalars(rng, n, shifted).items()
        if k != drop
    }
    columns["event/id"] = np.repeat(np.arange(N_EVENTS, dtype=np.int64), 2)
    config = f"kind: calib-sample\ngeometry: {geometry}\nsource: zee\n"
    with StoreWriter(path, provenance={"config": config, "seed": seed}) as writer:
        writer.append(columns)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("compare")
    return {
        "mc": _store(folder / "mc.h5", 1, shifted=False),
        "data": _store(folder / "data.h5", 2, shifted=True),
        "mc2": _store(folder / "mc2.h5", 3, shifted=False),
    }


FAST = CompareSettings(classifier=ClassifierSettings(n_estimators=100, n_boot=50))


def test_equalisation_brings_the_auc_towards_one_half(stores: dict[str, Path]) -> None:
    result = compare_stores(stores["mc"], stores["data"], FAST)
    auc, error = result.metrics["auc"], result.metrics["auc_err"]
    print({k: f"{v:.4f} ± {error[k]:.4f}" for k, v in auc.items()})
    assert auc["before"] > 0.7
    # The maps remove most of the difference: the excess over 0.5 falls by > 70 % …
    assert auc["quantile_conditional"] - 0.5 < 0.3 * (auc["before"] - 0.5)
    assert auc["quantile_conditional"] < auc["before"] - 10 * error["before"]
    # … and the conditional map (the f0 shift grows with |η|) does better than the 1-D one.
    assert auc["quantile_conditional"] < auc["quantile_1d"]
    before = result.metrics["results"]["before"]
    assert max(before["gain_importance"], key=before["gain_importance"].get) in {
        "f0",
        "r12",
        "sigma_ieta_ieta",
    }
    single = before["single_variable_auc"]
    assert single["f0"] > 0.6 and abs(single["e_acc"] - 0.5) < 0.04
    # Only the variables that differ are mapped; E_acc and η are left alone.
    mapped = set(result.metrics["results"]["quantile_1d"]["mapped_variables"])
    assert mapped == {"f0", "r12", "sigma_ieta_ieta", "n_tracks"}


def test_the_same_distribution_is_left_alone(stores: dict[str, Path]) -> None:
    result = compare_stores(stores["mc"], stores["mc2"], FAST)
    auc, error = result.metrics["auc"], result.metrics["auc_err"]
    assert abs(auc["before"] - 0.5) < 4 * error["before"]
    assert result.metrics["transforms"]["quantile_1d"]["variables"] == []


def test_reweighting_by_the_odds(stores: dict[str, Path]) -> None:
    settings = CompareSettings(
        reweight=True, classifier=ClassifierSettings(n_estimators=100, n_boot=50)
    )
    result = compare_stores(stores["mc"], stores["data"], settings)
    auc = result.metrics["auc"]
    assert auc["reweighted"] - 0.5 < 0.5 * (auc["before"] - 0.5)
    assert result.weights is not None
    assert np.isclose(result.weights.mean(), 1.0)
    assert result.weights.max() <= 10.0 * 1.5  # clipped at 10, then normalised to mean 1
    lines = result.weights_csv().splitlines()
    assert lines[0] == "row,event_id,weight" and len(lines) == 2 * N_EVENTS + 1


def test_odds_weights_are_clipped() -> None:
    weights = odds_weights(np.array([0.5, 0.999, 0.001, 0.75]), max_weight=10.0)
    raw = np.array([1.0, 10.0, 0.1, 3.0])
    np.testing.assert_allclose(weights, raw / raw.mean())


# ---- the quantile maps ----


def test_quantile_map_matches_a_continuous_distribution() -> None:
    rng = np.random.default_rng(0)
    mc, data = rng.normal(0, 1, 20_000), rng.gamma(3.0, 1.0, 20_000)
    mapped = QuantileMap.fit(mc, data).apply(rng.normal(0, 1, 20_000), rng.random(20_000))
    np.testing.assert_allclose(
        np.quantile(mapped, [0.1, 0.5, 0.9]), np.quantile(data, [0.1, 0.5, 0.9]), rtol=0.05
    )
    # Outside the fitted range a value is shifted by the end point's difference.
    quantile_map = QuantileMap.fit(mc, data)
    far = quantile_map.apply(np.array([100.0]), np.zeros(1))
    assert far[0] == pytest.approx(100.0 - quantile_map.mc[-1] + quantile_map.data[-1])


def test_quantile_map_spreads_atoms_and_keeps_integers() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    # An atom at 0 holding 30 % of MC and 50 % of data, continuous elsewhere.
    mc = np.where(rng.random(n) < 0.3, 0.0, rng.normal(1, 0.3, n))
    data = np.where(rng.random(n) < 0.5, 0.0, rng.normal(1, 0.3, n))
    mapped = QuantileMap.fit(mc, data).apply(mc, rng.random(n))
    assert np.mean(mapped == 0) == pytest.approx(0.5, abs=0.02)
    # Counts: integers in, the data's integers out, in the data's proportions.
    counts_mc, counts_data = rng.poisson(2.0, n).astype(float), rng.poisson(3.0, n).astype(float)
    count_map = QuantileMap.fit(counts_mc, counts_data)
    assert count_map.discrete
    out = count_map.apply(counts_mc, rng.random(n))
    assert np.all(out == np.round(out))
    expected = np.bincount(counts_data.astype(int), minlength=12)[:8] / n
    np.testing.assert_allclose(
        np.bincount(out.astype(int), minlength=12)[:8] / n, expected, atol=0.01
    )


def test_transform_round_trips_through_json_and_is_batch_independent(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    mc = _scalars(rng, 4000, shifted=False)
    data = _scalars(rng, 4000, shifted=True)
    names = tuple(mc)
    transform = MappingTransform.fit(mc, data, names, conditional=True, min_bin=100)
    assert transform.conditional and any(m is not None for m in transform.binned["f0"])
    path = transform.save(tmp_path / "t.json")
    loaded = load_transform(path)
    event_id = np.arange(4000)
    whole = loaded.apply(mc, event_id)
    for name, values in transform.apply(mc, event_id).items():
        np.testing.assert_array_equal(values, whole[name])
    # Mapped in two batches: the same values (the atoms' uniforms hash each cluster).
    first = loaded.apply({k: v[:1234] for k, v in mc.items()}, event_id[:1234])
    np.testing.assert_array_equal(first["n_tracks"], whole["n_tracks"][:1234])
    assert (
        "pickle" not in path.read_text() and json.loads(path.read_text())["kind"] == "conditional"
    )


def test_a_damaged_transform_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "heplearn-mc-to-data", "version": 1, "variables": ["f0"]}')
    with pytest.raises(DataError, match="not a heplearn MC-to-data transform"):
        load_transform(bad)
    with pytest.raises(DataError, match="does not exist"):
        load_transform(tmp_path / "missing.json")


# ---- the command ----


def test_compare_command_writes_everything(
    stores: dict[str, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    out = tmp_path / "compare"
    args = ["calib", "compare", "--mc", stores["mc"], "--data", stores["data"], "--out", out]
    result = cli(*args, "--reweight", "--bootstrap", "20", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert set(summary["auc"]) == {"before", "quantile_1d", "quantile_conditional", "reweighted"}
    names = {p.name for p in out.iterdir()}
    expected = {"metrics.json", "report.html", "mc_weights.csv", "mc_to_data_1d.json"}
    assert expected | {"mc_to_data_conditional.json", "input_f0.png"} <= names
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["auc"] == summary["auc"]
    assert load_transform(out / "mc_to_data_conditional.json").conditional
    assert "Classifier AUC" in (out / "report.html").read_text()


def test_mc_of_another_geometry_or_with_other_fields_is_refused(
    stores: dict[str, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    cms = _store(tmp_path / "cms.h5", 4, shifted=False, geometry="cms-ecal")
    out = tmp_path / "out"
    result = cli("calib", "compare", "--mc", cms, "--data", stores["data"], "--out", out)
    assert_one_error(result, str(cms), "cms-ecal", "atlas-lar")
    fewer = _store(tmp_path / "fewer.h5", 5, shifted=False, drop="r12")
    result = cli("calib", "compare", "--mc", fewer, "--data", stores["data"], "--out", out)
    assert_one_error(result, str(fewer), "missing scalars r12")
    assert not out.exists()
