"""Calibration on data: pseudo-data with known shifts → scale-fit → correct → closure.

Fast path (default suite): 2,500 shifted Z→ee events against 4,000 MC events in two
|η| bins, with large shifts and loose tolerances.  The acceptance measurement (60k
pseudo-data against 120k MC, shifts of a few per mille to 2 %) is
``test_data_calibration_slow.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import correctionlib
import h5py
import numpy as np
import pytest
from zee_stores import without_group, zee_sample

from heplearn.calib.apply_corrections import correct_store
from heplearn.calib.category_fits import PeakSettings
from heplearn.calib.data_scale_fit import SkippedCategoryWarning, fit_scale
from heplearn.calib.zee_pairs import PairCuts
from heplearn.data import open_store

from conftest import CliResult, assert_one_error

EDGES = (0.0, 1.5, 2.47)
ALPHA = (0.01, 0.03)
CONSTANT = (0.02, 0.03)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Pseudo-data (shifted, truth in validation/) and nominal MC."""
    folder = tmp_path_factory.mktemp("data-calib")
    shift = {"eta_edges": list(EDGES), "alpha": list(ALPHA), "constant": list(CONSTANT)}
    return {
        "data": zee_sample(folder / "data", 2500, 7, detector_shift=shift),
        "mc": zee_sample(folder / "mc", 4000, 8),
    }


def _edges_arg() -> str:
    return ",".join(str(e) for e in EDGES)


def test_pseudo_data_keeps_its_truth_out_of_truth(stores: dict[str, Path]) -> None:
    store = open_store(stores["data"])
    assert not [name for name in store.schema if name.startswith("truth/")]
    assert {"validation/energy", "validation/eta"} <= set(store.schema)
    assert "detector_shift" in store.provenance["config"]
    # The shift is there: E_acc/E_true is higher in the end-cap bin than in the barrel.
    columns = store.read(["scalars/e_acc", "validation/energy", "scalars/eta"])
    response = columns["scalars/e_acc"] / columns["validation/energy"]
    barrel, endcap = np.abs(columns["scalars/eta"]) < 1.4, np.abs(columns["scalars/eta"]) > 1.6
    mc = open_store(stores["mc"]).read(["scalars/e_acc", "truth/energy", "scalars/eta"])
    mc_response = mc["scalars/e_acc"] / mc["truth/energy"]
    mc_barrel, mc_endcap = np.abs(mc["scalars/eta"]) < 1.4, np.abs(mc["scalars/eta"]) > 1.6

    def shift(mask: np.ndarray, mc_mask: np.ndarray) -> float:
        return float(np.median(response[mask]) / np.median(mc_response[mc_mask]) - 1)

    assert shift(endcap, mc_endcap) - shift(barrel, mc_barrel) > 0.01


def test_scale_fit_recovers_the_shifts_without_truth(
    stores: dict[str, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    out = tmp_path / "corrections.json"
    args = ["calib", "scale-fit", "--data", stores["data"], "--mc", stores["mc"]]
    result = cli(*args, "--eta-edges", _edges_arg(), "--out", out, "--json")
    assert result.code == 0, result.err
    evaluator = correctionlib.CorrectionSet.from_file(str(out))
    summary = json.loads(result.out)
    assert summary["fit"] == "template" and summary["reference"] == "mc"
    for k, eta in enumerate((0.5, 2.0)):
        alpha = evaluator["energy_scale"].evaluate("alpha", eta)
        error = evaluator["energy_scale"].evaluate("alpha_err", eta)
        # Fast path: ≈ 1k pairs, so 4σ and 0.6 % (the slow test holds the acceptance).
        assert abs(alpha - ALPHA[k]) < min(4 * error, 0.006), (k, alpha, error)
        c = evaluator["smearing"].evaluate("c", eta)
        assert abs(c - CONSTANT[k]) < 0.012, (k, c)


def test_the_validation_group_changes_nothing(stores: dict[str, Path], tmp_path: Path) -> None:
    stripped = without_group(stores["data"], tmp_path / "stripped.h5", "validation")
    with h5py.File(stripped) as handle:
        assert "validation" not in handle
    results = [fit_scale(path, mc=stores["mc"], edges=EDGES) for path in (stores["data"], stripped)]
    assert results[0].to_json() == results[1].to_json()
    # The same for the peaks (χ²) fit and for the correction.
    few = PeakSettings(min_fit_pairs=100)
    peaks = [
        fit_scale(p, mc=stores["mc"], edges=EDGES, fit="peaks", settings=few)
        for p in (stores["data"], stripped)
    ]
    assert peaks[0].to_json() == peaks[1].to_json()
    corrections = tmp_path / "c.json"
    corrections.write_text(results[0].to_json())
    energies = [
        correct_store(corrections, p, tmp_path / f"out{k}.h5", mc=False)[2]
        for k, p in enumerate((stores["data"], stripped))
    ]
    np.testing.assert_array_equal(energies[0], energies[1])


def test_correct_divides_data_and_smears_mc_reproducibly(
    stores: dict[str, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    corrections = tmp_path / "c.json"
    corrections.write_text(fit_scale(stores["data"], mc=stores["mc"], edges=EDGES).to_json())
    alpha = np.array(
        json.loads(corrections.read_text())["corrections"][0]["data"]["content"][0]["value"][
            "content"
        ]
    )
    out = tmp_path / "data-corr.h5"
    closure = tmp_path / "closure"
    args = ["calib", "correct", "--corrections", corrections, "--data", stores["data"]]
    result = cli(*args, "--out", out, "--closure", closure, "--closure-mc", stores["mc"])
    assert result.code == 0, result.err
    columns = open_store(out).read(["corrected/energy", "corrected/raw_energy", "scalars/eta"])
    bins = (np.abs(columns["scalars/eta"]) >= 1.5).astype(int)
    raw = columns["corrected/raw_energy"].astype(np.float64)
    expected = np.where(raw > 0, raw / (1 + alpha[bins]), raw)
    np.testing.assert_allclose(columns["corrected/energy"], expected, rtol=1e-6)
    assert (closure / "closure.png").is_file()
    summary = json.loads((closure / "closure.json").read_text())
    # Before: the data peak is ≈ 1.5 % high; after: it matches the MC within the fast path's errors.
    assert abs(summary["mu_after_minus_mc_percent"]) < 4 * summary["mu_after_minus_mc_err_percent"]
    smeared = []
    for seed in (1, 1, 2):
        path = tmp_path / f"mc-{len(smeared)}.h5"
        argv = ["calib", "correct", "--corrections", corrections, "--mc", stores["mc"]]
        assert cli(*argv, "--out", path, "--smear-seed", seed).code == 0
        smeared.append(open_store(path).read(["corrected/energy"])["corrected/energy"])
    np.testing.assert_array_equal(smeared[0], smeared[1])
    assert not np.array_equal(smeared[0], smeared[2])


def test_a_category_with_too_few_pairs_is_skipped_and_named(stores: dict[str, Path]) -> None:
    # 2.2 < |η| < 2.47 holds few clusters: its (2, 2) category cannot be fitted.
    with pytest.warns(SkippedCategoryWarning, match=r"\(2,2\): \d+ pairs"):
        result = fit_scale(stores["data"], mc=stores["mc"], edges=(0.0, 1.5, 2.2, 2.47))
    assert [2, 2] not in result.summary["scale_categories"]
    assert np.isfinite(result.scale.values).all()


def test_commands_needing_truth_name_the_field(
    stores: dict[str, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    result = cli("calib", "train", "--data", stores["data"], "--out", tmp_path / "run")
    assert_one_error(result, "truth/energy")
    assert not (tmp_path / "run").exists()


def test_corrections_for_other_bins_are_refused(
    stores: dict[str, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    corrections = tmp_path / "barrel-only.json"
    result = fit_scale(
        stores["data"], mc=stores["mc"], edges=(0.0, 0.7, 1.4), cuts=PairCuts(max_abs_eta=1.4)
    )
    corrections.write_text(result.to_json())
    out = tmp_path / "out.h5"
    failed = cli(
        "calib", "correct", "--corrections", corrections, "--data", stores["data"], "--out", out
    )
    assert_one_error(failed, "other |η| bins", "0–1.4")
    assert not out.exists()


def test_mc_of_another_geometry_is_refused(
    stores: dict[str, Path], cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    cms = zee_sample(tmp_path / "cms", 40, 3, geometry="cms-ecal")
    out = tmp_path / "c.json"
    result = cli("calib", "scale-fit", "--data", stores["data"], "--mc", cms, "--out", out)
    assert_one_error(result, "cms-ecal", "atlas-lar")
    assert not out.exists()


def test_scale_fit_with_a_bdt_reads_no_truth(
    stores: dict[str, Path], gun_store: Path, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    config = tmp_path / "bdt-only.yaml"
    config.write_text("kind: calib-train\nnetwork: none\nbdt: {n_estimators: 5}\n")
    run = tmp_path / "run"
    assert cli("calib", "train", "-d", gun_store, "-c", config, "-o", run).code == 0
    out = tmp_path / "c.json"
    args = ["calib", "scale-fit", "-d", stores["data"], "--mc", stores["mc"], "-r", run]
    result = cli(*args, "-m", "bdt", "--eta-edges", _edges_arg(), "-o", out, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["method"] == "bdt"
    # The run has no network: asking for it is one clear line.
    missing = cli(*args, "-m", "network", "-o", tmp_path / "n.json")
    assert_one_error(missing, "the run has no network")
