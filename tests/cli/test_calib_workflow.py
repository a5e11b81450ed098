"""calib train → evaluate on simulated stores, and every bad input of the workflow."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import CliResult, assert_one_error

FAST = """kind: calib-train
preset: tiny
bdt: {n_estimators: 150, learning_rate: 0.15}
trainer: {epochs: 3, batch_size: 128, lr_max: 0.005, patience: 0}
"""


@pytest.fixture(scope="module")
def fast_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "fast.yaml"
    path.write_text(FAST)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, gun_store: Path, fast_config: Path) -> Path:
    from heplearn.cli.main import main

    run = tmp_path_factory.mktemp("runs") / "run"
    code = main(
        ["calib", "train", "--data", str(gun_store), "--out", str(run), "-c", str(fast_config)]
    )
    assert code == 0
    return run


def test_train_writes_a_complete_run_folder(trained: Path) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {"config.yaml", "run.json", "scalers.json", "bdt.json", "network"} <= names
    assert (trained / "network" / "best.safetensors").is_file()
    info = json.loads((trained / "run.json").read_text())
    assert info["shapes"]["image"] == [4, 56, 11]
    assert sum(info["split"].values()) + info["mislabel_removed"] == info["rows"]
    epochs = (trained / "network" / "metrics.jsonl").read_text().splitlines()
    assert len(epochs) == 3


def test_evaluate_on_zee_gives_metrics_fits_and_report(
    cli: Callable[..., CliResult], trained: Path, zee_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    result = cli(
        "calib",
        "evaluate",
        "--run",
        trained,
        "--data",
        zee_store,
        "--out",
        out,
        "--bootstrap",
        "20",
        "--no-importance",
    )
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("reiqr75_vs_bdt", "reiqr95_vs_bdt", "reiqr75_vs_eacc", "eiqr_model", "eiqr_bdt"):
        assert np.isfinite(metrics[key]), key
    # A BDT trained on 1k single particles already narrows E_acc on Z→ee clusters.
    assert metrics["eiqr_bdt"] < metrics["eiqr_e_acc"]
    assert 0.9 < metrics["median_bdt"] < 1.1
    # The Z peak: the fitted mass sits near 91 GeV and σ_CB is a few GeV.
    assert metrics["mass_model"] == "bw-cb"
    assert abs(metrics["mass_fits"]["bdt"]["mean"] - 91.19) < 3.0
    assert 0.3 < metrics["sigma_cb_bdt"] < 8.0
    assert {"abs_eta", "et", "abs_eta_x_et"} <= set(metrics["binned"])
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "relative_energy.png").is_file() and (out / "mass_bdt.pdf").is_file()


def test_evaluate_on_a_copy_of_the_training_store_uses_only_its_test_split(
    cli: Callable[..., CliResult], trained: Path, gun_store: Path, tmp_path: Path
) -> None:
    # The copy lies elsewhere: only its content says it is the training store.
    copy = tmp_path / "moved" / "gun-copy"
    shutil.copytree(gun_store, copy)
    out = tmp_path / "eval"
    result = cli(
        "calib",
        "evaluate",
        "--run",
        trained,
        "--data",
        copy,
        "--out",
        out,
        "--bootstrap",
        "10",
    )
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    info = json.loads((trained / "run.json").read_text())
    assert metrics["n_clusters"] == info["split"]["test"]
    assert metrics["selection"] == "held-out test split of the training store"
    assert metrics["held_out"] == {"training_store": True, "decided_by": "fingerprint"}
    assert "scalar:e_acc" in metrics["importance"]["bdt"]
    assert metrics["warnings"] == [] and "warning" not in result.out


def test_a_rewritten_training_store_is_evaluated_without_its_training_events(
    cli: Callable[..., CliResult], trained: Path, gun_store: Path, tmp_path: Path
) -> None:
    from heplearn.data import open_store, write_store

    # The same events re-written as one reordered file: another fingerprint, the same events.
    store = open_store(gun_store)
    columns = store.read()
    order = np.random.default_rng(5).permutation(store.rows)
    rewritten = write_store(
        tmp_path / "rewritten.h5",
        {k: v[order] for k, v in columns.items()},
        provenance=store.provenance,  # the geometry the images need
    )
    out = tmp_path / "eval"
    args = ("--out", out, "--bootstrap", "10", "--no-importance")
    result = cli("calib", "evaluate", "--run", trained, "--data", rewritten, *args)
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    info = json.loads((trained / "run.json").read_text())
    # One cluster per gun event: the training and validation clusters are the overlap.
    seen = info["split"]["train"] + info["split"]["val"]
    assert metrics["held_out"]["clusters_left_out_as_training"] == seen
    assert metrics["n_clusters"] == info["rows"] - seen
    assert f"{seen} of the {info['rows']} clusters" in result.out
    assert metrics["warnings"] and f"{seen} of the {info['rows']}" in metrics["warnings"][0]


def _rewritten(gun_store: Path, path: Path, shift: dict[str, float]) -> Path:
    """The gun store's events as one new file, with ``shift`` added to some scalars."""
    from heplearn.data import open_store, write_store

    store = open_store(gun_store)
    columns = store.read()
    for name, offset in shift.items():
        columns[f"scalars/{name}"] = columns[f"scalars/{name}"] + np.float32(offset)
    return write_store(path, columns, provenance=store.provenance)


def test_evaluate_warns_when_an_input_leaves_the_training_distribution(
    cli: Callable[..., CliResult], trained: Path, gun_store: Path, tmp_path: Path
) -> None:
    assert (trained / "input_ranges.json").is_file()
    args = ("--bootstrap", "10", "--no-importance")
    # The same events unshifted: covered, no coverage warning.
    same = _rewritten(gun_store, tmp_path / "same.h5", {})
    result = cli(
        "calib", "evaluate", "--run", trained, "--data", same, "--out", tmp_path / "a", *args
    )
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["input_coverage"]["available"] and metrics["input_coverage"]["flagged"] == []
    assert not any("out of the training distribution" in w for w in metrics["warnings"])
    # f0 (a layer fraction in [0, 1]) shifted by 0.5: most clusters beyond the training range.
    shifted = _rewritten(gun_store, tmp_path / "shifted.h5", {"f0": 0.5})
    out = tmp_path / "b"
    result = cli("calib", "evaluate", "--run", trained, "--data", shifted, "--out", out, *args)
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["input_coverage"]["flagged"] == ["f0"]
    row = next(r for r in metrics["input_coverage"]["features"] if r["feature"] == "f0")
    assert row["outside_quantiles"] > 0.5
    warning = next(w for w in metrics["warnings"] if "out of the training distribution" in w)
    assert "f0" in warning and "warning" in result.out and "f0" in result.out
    html = (out / "report.html").read_text()
    assert "out of the training distribution" in html and "Input coverage" in html


def test_evaluate_splits_the_resolution_by_particle_and_charge(
    cli: Callable[..., CliResult], trained: Path, zee_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    args = ("--out", out, "--bootstrap", "10", "--no-importance")
    result = cli("calib", "evaluate", "--run", trained, "--data", zee_store, *args)
    assert result.code == 0, result.err
    split = json.loads((out / "metrics.json").read_text())["by_particle"]
    assert split["source"] == "truth/pdgid" and set(split["particles"]) == {"e-", "e+"}
    n = sum(entry["n"] for entry in split["particles"].values())
    assert n == json.loads((out / "metrics.json").read_text())["n_clusters"]
    for entry in split["particles"].values():
        for method in ("e_acc", "bdt", "network"):
            stats = entry["methods"][method]
            assert 0 < stats["eiqr"] < 0.5 and stats["eiqr_err"] > 0
            assert 0.8 < stats["median"] < 1.2
    assert "Resolution by particle type and charge" in (out / "report.html").read_text()


def test_resume_with_a_changed_config_is_refused(
    cli: Callable[..., CliResult], trained: Path, gun_store: Path, tmp_path: Path
) -> None:
    before = (trained / "config.yaml").read_text()
    changed = tmp_path / "changed.yaml"
    changed.write_text(FAST.replace("epochs: 3", "epochs: 5").replace("0.15", "0.2"))
    result = cli("calib", "train", "--data", gun_store, "--out", trained, "-c", changed, "--resume")
    assert_one_error(result, "changed config on resume", "bdt.learning_rate", "trainer.epochs")
    assert (trained / "config.yaml").read_text() == before


def test_existing_run_is_not_overwritten(
    cli: Callable[..., CliResult], trained: Path, gun_store: Path, fast_config: Path
) -> None:
    result = cli("calib", "train", "--data", gun_store, "--out", trained, "-c", fast_config)
    assert_one_error(result, str(trained), "--overwrite")
    assert (trained / "network" / "best.safetensors").is_file()


def test_run_without_checkpoint_and_foreign_model_files(
    cli: Callable[..., CliResult], trained: Path, zee_store: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    (broken / "network" / "best.safetensors").unlink()
    result = cli("calib", "evaluate", "--run", broken, "--data", zee_store, "--out", tmp_path / "e")
    assert_one_error(result, "no model weights", "best.safetensors")
    (broken / "network" / "best.safetensors").write_bytes(b"\x00" * 64)
    result = cli("calib", "evaluate", "--run", broken, "--data", zee_store, "--out", tmp_path / "e")
    assert_one_error(result, "unreadable model file")
    (broken / "bdt.json").write_text('{"not": "xgboost"}')
    result = cli("calib", "evaluate", "--run", broken, "--data", zee_store, "--out", tmp_path / "e")
    assert_one_error(result, "bdt.json")
    assert not (tmp_path / "e").exists()


def _copy_store_with(store: Path, folder: Path, edit: Callable[[h5py.File], None]) -> Path:
    copy = folder / "store"
    shutil.copytree(store, copy)
    for shard in sorted(copy.glob("*.h5"))[:1]:
        with h5py.File(shard, "r+") as handle:
            edit(handle)
    return copy


def test_nan_inputs_name_the_field_and_count(
    cli: Callable[..., CliResult], gun_store: Path, fast_config: Path, tmp_path: Path
) -> None:
    def poison(handle: h5py.File) -> None:
        values = handle["scalars/r12"][...]
        values[[3, 5, 8]] = np.nan
        handle["scalars/r12"][...] = values

    store = _copy_store_with(gun_store, tmp_path, poison)
    result = cli("calib", "train", "--data", store, "--out", tmp_path / "run", "-c", fast_config)
    assert_one_error(result, "NaN/inf", "scalars/r12 (3 events)")
    assert not (tmp_path / "run" / "bdt.json").exists()


def test_store_without_the_requested_inputs(
    cli: Callable[..., CliResult], gun_store: Path, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(FAST + "features: {scalars: [e_acc, r9_typo], layers: [middle, hcal]}\n")
    result = cli("calib", "train", "--data", gun_store, "--out", tmp_path / "run", "-c", config)
    assert_one_error(result, "missing")
