"""``calib evaluate`` on data without truth: Z→ee peaks per method, data/MC, held-out clusters.

Pseudo-data from ``generate calib`` with a ``detector_shift`` (truth only under
``validation/``) against nominal MC, and a BDT-only run trained on a separate
Z→ee MC sample (seconds).  The physics: a +2 % scale in every |η| bin puts the
data's E_acc peak 2 % above the MC's within its error, no shift leaves them equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from zee_stores import without_group

from heplearn.calib.data_evaluation import evaluate_on_data
from heplearn.calib.zee_peak_bins import PeakFitSettings
from heplearn.config import parse_config
from heplearn.data import open_store
from heplearn.data.writer import StoreWriter
from heplearn.generate.calib import CalibSampleConfig, calib_dataset

from conftest import CliResult, assert_one_error

SHIFT = 0.02
BDT_ONLY = "kind: calib-train\nnetwork: none\nbdt: {n_estimators: 30, learning_rate: 0.3}\n"


def _sample(folder: Path, events: int, seed: int, alpha: float | None = None) -> Path:
    settings: dict[str, object] = {}
    if alpha is not None:  # a "data" detector: truth kept only under validation/
        shift = {"eta_edges": [0.0, 2.47], "alpha": [alpha], "constant": [0.0]}
        settings["detector_shift"] = shift
    config = parse_config(
        CalibSampleConfig,
        {"source": "zee", "events": events, "shard_events": events, "seed": seed, **settings},
        "test",
    )
    return calib_dataset(config, folder)


def _with_pileup_labels(source: Path, out: Path) -> Path:
    """A copy whose events carry ⟨μ⟩ = 5, 15, 25, 35 (by event id): labels only, no pileup."""
    store = open_store(source)
    with StoreWriter(out, provenance=store.provenance) as writer:
        for batch in store.iter_batches(100_000):
            batch["event/mu"] = (5 + 10 * (batch["event/id"] % 4)).astype(np.float32)
            writer.append(batch)
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data-eval")
    shifted = _sample(folder / "shifted-raw", 1200, 7, alpha=SHIFT)
    return {
        "shifted": _with_pileup_labels(shifted, folder / "shifted.h5"),
        "unshifted": _sample(folder / "unshifted", 1200, 9, alpha=0.0),
        "mc": _sample(folder / "mc", 1200, 8),
        "train": _sample(folder / "train", 600, 11),
    }


@pytest.fixture(scope="module")
def run(stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from heplearn.cli.main import main

    folder = tmp_path_factory.mktemp("data-eval-run")
    config = folder / "bdt.yaml"
    config.write_text(BDT_ONLY)
    out = folder / "run"
    args = ["calib", "train", "--data", str(stores["train"]), "-c", str(config), "--out", str(out)]
    assert main(args) == 0
    return out


def test_a_two_percent_scale_is_seen_in_the_data_peak(
    stores: dict[str, Path], run: Path, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    args = ["calib", "evaluate", "--run", run, "--data", stores["shifted"], "--mc", stores["mc"]]
    result = cli(*args, "--out", out)
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["truth_read"] is False and metrics["mass_model"] == "bw-cb"
    assert set(metrics["peaks"]["data"]) == {"e_acc", "bdt"}  # the run has no network
    e_acc = metrics["data_vs_mc"]["e_acc"]["inclusive"]
    # μ_CB(data)/μ_CB(MC) − 1 = +2 % within 3σ (σ ≈ 0.36 % with ≈ 470 pairs each).
    assert abs(e_acc["mu_shift"] - SHIFT) < 3 * e_acc["mu_shift_err"], e_acc
    assert e_acc["mu_shift_err"] < 0.006
    # The BDT sees E_acc 2 % higher: its peak moves the same way.
    bdt = metrics["data_vs_mc"]["bdt"]["inclusive"]
    assert abs(bdt["mu_shift"] - SHIFT) < 3 * bdt["mu_shift_err"], bdt
    # Every |η| bin with a fit in data and MC shows the shift (each pair in its clusters' bins).
    fitted = [r for r in metrics["data_vs_mc"]["e_acc"]["binned"]["abs_eta"] if "mu_shift" in r]
    assert len(fitted) >= 3
    for row in fitted:
        assert abs(row["mu_shift"] - SHIFT) < 4 * row["mu_shift_err"], row
    # ⟨μ⟩ bins where the data's ⟨μ⟩ varies (not the MC's: it has none); the shift in each.
    assert "mu" not in metrics["peaks"]["mc"]["e_acc"]["binned"]
    mc_peak = metrics["peaks"]["mc"]["e_acc"]["inclusive"]
    fitted_mu = [r for r in metrics["peaks"]["data"]["e_acc"]["binned"]["mu"] if "mean" in r]
    assert len(fitted_mu) >= 3 and all(r["bin"][1] <= 40 for r in fitted_mu)  # ≈ 120 pairs each
    for row in fitted_mu:
        error = np.hypot(row["mean_err"] / row["mean"], mc_peak["mean_err"] / mc_peak["mean"])
        assert abs(row["mean"] / mc_peak["mean"] - 1 - SHIFT) < 3 * error, row
    # The crack bin has too few pairs: skipped and named, not fitted.
    crack = metrics["peaks"]["data"]["e_acc"]["binned"]["abs_eta"][2]
    assert crack["bin"] == [1.37, 1.52] and "skipped" in crack and "mean" not in crack
    assert "data e_acc abs_eta 1.37–1.52" in " ".join(metrics["skipped"])
    assert any("peak fits skipped" in w for w in metrics["warnings"])
    assert "warning:" in result.out and "+" in result.out
    # As for MC: σ_CB per method at the top level, and the run's inputs compared.
    assert 0.5 < metrics["sigma_cb_eacc"] < 5.0
    assert "scalar e_acc" in metrics["inputs"] and "layer middle energy" in metrics["inputs"]
    # The shift scales energies, not directions: η of data and MC are one distribution.
    assert metrics["inputs"]["scalar eta"]["ks_p_value"] > 1e-3
    for name in ("mass_data_mc_e_acc", "mass_data_mc_bdt", "peaks_vs_abs_eta", "inputs_1"):
        assert (out / f"{name}.png").is_file() and (out / f"{name}.pdf").is_file(), name
    assert (out / "report.html").stat().st_size > 20_000


def test_without_a_shift_data_and_mc_peaks_agree(stores: dict[str, Path], run: Path) -> None:
    ev = evaluate_on_data(run, stores["unshifted"], mc=stores["mc"])
    for method in ("e_acc", "bdt"):
        shift = ev.metrics["data_vs_mc"][method]["inclusive"]
        assert abs(shift["mu_shift"]) < 3 * shift["mu_shift_err"], (method, shift)
    assert ev.metrics["mc"]["held_out"]["training_store"] is False


def test_removing_the_validation_group_changes_nothing(
    stores: dict[str, Path], run: Path, tmp_path: Path
) -> None:
    stripped = without_group(stores["shifted"], tmp_path / "stripped.h5", "validation")
    with h5py.File(stripped) as handle:
        assert "validation" not in handle
    # No fit (every one skipped): the fits are a function of the masses, compared exactly here.
    no_fits = PeakFitSettings(min_pairs=10**6)
    results = [evaluate_on_data(run, p, settings=no_fits) for p in (stores["shifted"], stripped)]
    masses = [r.samples["data"].masses for r in results]
    assert set(masses[0]) == set(masses[1]) == {"e_acc", "bdt"}
    for method in masses[0]:
        np.testing.assert_array_equal(masses[0][method], masses[1][method])
    assert results[0].metrics["mass_pairs"] == results[1].metrics["mass_pairs"] > 300
    assert results[0].metrics["skipped"] == results[1].metrics["skipped"]


def _with_flipped_tracks(source: Path, out: Path) -> Path:
    """A copy where the first cluster of every third event has its track's charge flipped."""
    store = open_store(source)
    with StoreWriter(out, provenance=store.provenance) as writer:
        for batch in store.iter_batches(100_000):
            ids = batch["event/id"]
            first = np.r_[True, ids[1:] != ids[:-1]] & (ids % 3 == 0)
            batch["tracks/features"][first, :, 0] *= -1  # column 0 is q·pT
            writer.append(batch)
    return out


def test_same_sign_pairs_by_track_charge_are_left_out(
    stores: dict[str, Path], run: Path, tmp_path: Path
) -> None:
    no_fits = PeakFitSettings(min_pairs=10**6)
    flipped = _with_flipped_tracks(stores["unshifted"], tmp_path / "flipped.h5")
    before, after = (
        evaluate_on_data(run, p, settings=no_fits).metrics for p in (stores["unshifted"], flipped)
    )
    assert before["pair_charge"] == {"source": "leading track q·pT", "same_sign_removed": 0}
    removed = after["pair_charge"]["same_sign_removed"]
    # A third of the events, fewer where the flipped cluster has no track: ≈ 1/3 of the pairs.
    assert removed + after["mass_pairs"] == before["mass_pairs"]
    assert 0.25 < removed / before["mass_pairs"] < 0.4


def test_the_training_store_is_evaluated_on_its_test_split_only(
    stores: dict[str, Path], run: Path
) -> None:
    # --no-truth on the run's own (MC) store: only its held-out test clusters are used.
    settings = PeakFitSettings(min_pairs=20)
    ev = evaluate_on_data(run, stores["train"], settings=settings)
    info = json.loads((run / "run.json").read_text())
    assert ev.metrics["held_out"]["training_store"] is True
    assert ev.metrics["n_clusters"] == info["split"]["test"]
    assert ev.metrics["selection"] == "held-out test split of the training store"
    assert ev.metrics["mass_pairs"] <= info["split"]["test"] // 2


def test_bad_requests_are_one_error_and_write_nothing(
    stores: dict[str, Path],
    run: Path,
    gun_store: Path,
    cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    out = tmp_path / "eval"
    evaluate = ("calib", "evaluate", "--run", run, "--out", out)
    # A store with truth is evaluated as MC unless --no-truth: --mc alone is refused.
    result = cli(*evaluate, "--data", stores["mc"], "--mc", stores["mc"])
    assert_one_error(result, "--mc", "--no-truth")
    # Single particles make no Z→ee pair.
    result = cli(*evaluate, "--data", gun_store, "--no-truth")
    assert_one_error(result, "no Z→ee pairs", str(gun_store))
    result = cli(*evaluate, "--data", stores["shifted"], "--range", "100", "80")
    assert_one_error(result, "--range")
    assert not out.exists()
