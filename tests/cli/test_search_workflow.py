"""generate search → search scan / train / evaluate on a small Pythia sample, and bad inputs."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file

from heplearn.search import build_table, split_table

from conftest import CliResult, assert_one_error

QUICK_TRAINING = Path("configs/search/train-quick.yaml")
Z_PRIME = "zp_dm_m500_mx10"
ZH = "zh_inv_m125"
CLASSIFIERS = ("xgboost", "nn", "parameterised_nn")
METHODS = ("thesis_cuts", "optimised_cuts", *CLASSIFIERS)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from heplearn.cli.main import main

    out = tmp_path_factory.mktemp("search") / "store"
    args = ["generate", "search", "--config", "configs/search/quick.yaml", "--out", str(out)]
    assert main([*args, "--events", "1200"]) == 0
    return out


@pytest.fixture(scope="module")
def scan(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from heplearn.cli.main import main

    out = tmp_path_factory.mktemp("scan") / "scan"
    args = ["search", "scan", "--config", str(QUICK_TRAINING), "--data", str(store)]
    assert main([*args, "--out", str(out)]) == 0
    return out


def _config(tmp_path: Path, **changes: object) -> Path:
    """train-quick.yaml with some top-level keys replaced."""
    data = yaml.safe_load(QUICK_TRAINING.read_text())
    data.update(changes)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _copy(store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    return copy


def test_scan_compares_every_method_per_point(scan: Path) -> None:
    metrics = json.loads((scan / "metrics.json").read_text())
    assert set(metrics["significance"]) == {Z_PRIME, ZH}
    for point in (Z_PRIME, ZH):
        z = metrics["significance"][point]
        assert set(z) == set(METHODS)
        assert all(math.isfinite(v) for v in z.values()), z
        assert set(metrics["auc"][point]) == set(CLASSIFIERS)
        assert set(metrics["binned_significance"][point]) == set(CLASSIFIERS)
        assert set(metrics["ks"][point]["xgboost"]) == {"signal", "background"}
        yields = metrics["yields"][point]
        # A selection keeps at most what was there before the cuts.
        for method in METHODS:
            assert yields[method]["s"] <= yields["before_cuts"]["s"] * (1 + 1e-9)
        best = max(z[m] for m in CLASSIFIERS)
        ratio = metrics["ratio_best_ml_vs_optimised_cuts"][point]
        assert ratio is None or ratio == pytest.approx(best / z["optimised_cuts"])
    # A Z' at 500 GeV with light dark matter (large E_T^miss, m_ll = 500 GeV) is easy to separate.
    assert metrics["auc"][Z_PRIME]["xgboost"] > 0.8
    assert metrics["selection"] == "test split of the training store"
    report = (scan / "report.html").read_text()
    assert report.count("<img") >= 7 and "thesis cuts" in report
    assert (scan / f"roc_{Z_PRIME}.pdf").is_file()
    run = json.loads((scan / "run" / "run.json").read_text())
    assert run["warnings"] == []  # weight-balance: no collapse
    # Thresholds come from the validation split, which the test split never overlaps.
    assert set(run["thresholds"][Z_PRIME]) == set(CLASSIFIERS)
    assert (scan / "run" / "models" / "xgboost" / ZH / "meta.json").is_file()
    assert (scan / "run" / "models" / "parameterised_nn" / "meta.json").is_file()


def _asimov(s: float, b: float, rel: float) -> float:
    """Cowan et al.'s Asimov Z with a relative background uncertainty, written out here."""
    if s <= 0 or b <= 0:
        return 0.0  # heplearn's convention: no claim without signal and background estimates
    var = (rel * b) ** 2
    first = (s + b) * math.log((s + b) * (b + var) / (b * b + (s + b) * var))
    second = b * b / var * math.log1p(var * s / (b * (b + var))) if var else s
    return math.sqrt(2.0 * (first - second))


def test_evaluate_on_the_training_store_uses_only_test_events(store: Path, scan: Path) -> None:
    from heplearn.search.evaluate import evaluate_search

    metrics = evaluate_search(scan / "run", store).metrics
    test = split_table(build_table(store), (0.5, 0.2, 0.3), 0).test
    assert metrics["selection"] == "test split of the training store"
    assert metrics["events"]["evaluated"] == len(test)
    assert metrics["events"]["background"] == int((test.is_signal == 0).sum())
    # Yields before any selection, summed here from the test split's weights.
    signal = (test.is_signal == 1) & (test.sample == test.sample_names.index(Z_PRIME))
    before = metrics["yields"][Z_PRIME]["before_cuts"]
    assert before["s"] == pytest.approx(float(test.weight[signal].sum()), rel=1e-9)
    assert before["b"] == pytest.approx(float(test.weight[test.is_signal == 0].sum()), rel=1e-9)
    # Every Z is the Asimov Z of its own yields (the formula written out independently).
    for method, z in metrics["significance"][Z_PRIME].items():
        y = metrics["yields"][Z_PRIME][method]
        assert z == pytest.approx(_asimov(y["s"], y["b"], metrics["sigma_b"]), rel=1e-4), method
    # A classifier that learned something selects a far purer sample than no selection
    # (measured ×17 for XGBoost; a constant score keeps everything or nothing).
    assert metrics["significance"][Z_PRIME]["xgboost"] > 5 * before["z"] > 0


@pytest.mark.slow
def test_evaluate_on_a_copy_of_the_training_store_uses_only_its_test_split(
    cli: Callable[..., CliResult], store: Path, scan: Path, tmp_path: Path
) -> None:
    other = _copy(store, tmp_path)
    out = tmp_path / "eval"
    result = cli("search", "evaluate", "--run", scan / "run", "--data", other, "--out", out)
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    test = split_table(build_table(other), (0.5, 0.2, 0.3), 0).test
    assert metrics["events"]["evaluated"] == len(test) < len(build_table(other))
    assert metrics["selection"] == "test split of the training store"
    assert "ML/opt." in result.out and (out / "report.html").is_file()


def test_a_rewritten_training_store_is_evaluated_without_its_training_events(
    store: Path, scan: Path, tmp_path: Path
) -> None:
    from heplearn.data import open_store, write_store
    from heplearn.search.evaluate import evaluate_search

    # The same events in one reordered file: another fingerprint, the training events inside.
    source = open_store(store)
    order = np.random.default_rng(6).permutation(source.rows)
    columns = {k: v[order] for k, v in source.read().items()}
    rewritten = write_store(tmp_path / "events.h5", columns, provenance=source.provenance)
    metrics = evaluate_search(scan / "run", rewritten).metrics
    table = build_table(store)
    test = split_table(table, (0.5, 0.2, 0.3), 0).test
    seen = len(table) - len(test)
    assert metrics["held_out"]["events_left_out_as_training"] == seen
    assert metrics["events"]["evaluated"] == len(test)
    assert f"{seen} of the {len(table)} events" in metrics["warnings"][-1]


def test_raw_mc_weights_warn_of_the_thesis_collapse(
    cli: Callable[..., CliResult], store: Path, tmp_path: Path
) -> None:
    config = _config(
        tmp_path,
        weights={"scheme": "mc", "negative": "clip"},
        methods=["xgboost"],
        signal_points=[Z_PRIME],
    )
    run = tmp_path / "run"
    result = cli("search", "train", "--config", config, "--data", store, "--out", run)
    assert result.code == 0, result.err
    info = json.loads((run / "run.json").read_text())
    # σ·L of the Z' (~10³ events) against Drell-Yan + tt̄ (~10⁶): fraction ~10⁻³ < 1 %.
    assert len(info["warnings"]) == 1 and info["warnings"][0].startswith(Z_PRIME)
    assert "weighted signal fraction" in info["warnings"][0]
    assert "weight-balance" in (run / "run.log").read_text()
    assert "warning" in result.out
    # And the collapse itself: the signal's hessian is too small for any split, so XGBoost
    # gives every event the same score (AUC 0.5), as the thesis' networks did.
    scores = load_file(str(run / "train_scores" / f"{Z_PRIME}.safetensors"))
    assert np.ptp(scores["xgboost"]) == 0.0


def test_unknown_method_or_observable_is_one_error(
    cli: Callable[..., CliResult], store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scan"
    config = _config(tmp_path, methods=["xgboost", "bdt"])
    result = cli("search", "scan", "--config", config, "--data", store, "--out", out)
    assert_one_error(result, "unknown method 'bdt'", "did you mean")
    config = _config(tmp_path, features=["met", "mll", "mtt2"])
    result = cli("search", "scan", "--config", config, "--data", store, "--out", out)
    assert_one_error(result, "unknown observable 'mtt2'", "did you mean 'mt2'")
    assert not out.exists()


def test_signal_point_must_be_a_signal_sample_of_the_store(
    cli: Callable[..., CliResult], store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    for point, why in (("zp_dm_m900_mx10", "not a sample of the store"), ("ttbar", "background")):
        config = _config(tmp_path, signal_points=[point])
        result = cli("search", "train", "--config", config, "--data", store, "--out", out)
        assert_one_error(result, f"signal point '{point}'", why, Z_PRIME)
    assert not out.exists()


def test_signal_with_zero_weight_sum_is_refused(
    cli: Callable[..., CliResult], store: Path, tmp_path: Path
) -> None:
    copy = _copy(store, tmp_path)
    for shard in copy.glob("shard-*.h5"):
        with h5py.File(shard, "r+") as handle:
            sample = handle["event/sample"][:]
            weight = handle["event/weight"][:]
            handle["event/weight"][:] = np.where(sample == 3, 0.0, weight)  # zh_inv_m125
    out = tmp_path / "scan"
    result = cli("search", "scan", "--config", QUICK_TRAINING, "--data", copy, "--out", out)
    assert_one_error(result, f"signal point '{ZH}' with zero weight sum")
    assert not out.exists()


def test_nan_observable_names_the_field(
    cli: Callable[..., CliResult], store: Path, tmp_path: Path
) -> None:
    copy = _copy(store, tmp_path)
    with h5py.File(sorted(copy.glob("shard-*.h5"))[0], "r+") as handle:
        handle["met/met"][3] = np.nan
    out = tmp_path / "run"
    result = cli("search", "train", "--config", QUICK_TRAINING, "--data", copy, "--out", out)
    assert_one_error(result, "NaN", "met/met")
    assert not out.exists()


def test_existing_output_is_not_overwritten(
    cli: Callable[..., CliResult], store: Path, scan: Path
) -> None:
    before = (scan / "metrics.json").read_bytes()
    result = cli("search", "scan", "--config", QUICK_TRAINING, "--data", store, "--out", scan)
    assert_one_error(result, "output exists", "--overwrite")
    run = scan / "run"
    result = cli("search", "train", "--config", QUICK_TRAINING, "--data", store, "--out", run)
    assert_one_error(result, "output exists")
    assert (scan / "metrics.json").read_bytes() == before


def test_the_demo_reads_the_shipped_quick_configs() -> None:
    from heplearn.config import shipped_config
    from heplearn.search import demo

    for name in (demo.QUICK_SAMPLE, demo.QUICK_TRAINING):
        assert shipped_config(name).resolve() == (Path("configs") / name).resolve()


def test_a_root_ntuple_comes_in_through_the_data_layer(
    cli: Callable[..., CliResult], store: Path, tmp_path: Path
) -> None:
    from heplearn.data.reader import open_store
    from heplearn.search import build_table

    ntuple, imported = tmp_path / "ntuple.root", tmp_path / "imported.h5"
    assert cli("data", "export", store, "--out", ntuple).code == 0
    assert cli("data", "import", ntuple, "--out", imported).code == 0
    names = tuple(open_store(store).provenance["samples"])
    original = build_table(store)
    # An ntuple does not list its samples: the analysis is told their names.
    again = build_table(imported, sample_names=names)
    np.testing.assert_array_equal(again.features, original.features)
    np.testing.assert_array_equal(again.weight, original.weight)
    assert again.sample_names == original.sample_names


def test_the_likelihood_is_the_headline_per_channel_with_workspaces(scan: Path) -> None:
    metrics = json.loads((scan / "metrics.json").read_text())
    assert metrics["likelihood_settings"]["normalisation"] == pytest.approx(0.10)  # = sigma_b
    for point in (Z_PRIME, ZH):
        entries = metrics["likelihood"][point]
        assert set(entries) == set(METHODS)
        assert sorted(metrics["likelihood_ranking"][point]) == sorted(METHODS)
        for method, entry in entries.items():
            rows = entry["channels"]
            assert set(rows) - {"combined"} <= {"ee", "mumu"} and "combined" in rows
            # The channels split the method's selection: their s adds up to its yield.
            s = sum(row["s"] for name, row in rows.items() if name != "combined")
            assert s == pytest.approx(metrics["yields"][point][method]["s"])
            assert entry["z_expected"] is not None or entry["note"]
            if entry["workspace"] is not None:
                spec = json.loads((scan / entry["workspace"]).read_text())
                assert {c["name"] for c in spec["channels"]} <= {"ee", "mumu"}
                assert entry["z_expected"] >= 0
    report = (scan / "report.html").read_text()
    assert "Profile likelihood (pyhf)" in report and "thesis tables 5.4 / 5.5" in report
    # Luminosity-scaled stacks of m_T and the scores, one figure per point.
    assert (scan / f"stacked_{Z_PRIME}.png").is_file() and (scan / f"stacked_{ZH}.png").is_file()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:jsonschema.RefResolver:DeprecationWarning")  # pyhf 0.7
def test_expected_limits_of_evaluate_are_reproduced_by_plain_pyhf(
    store: Path, scan: Path, tmp_path: Path
) -> None:
    import pyhf

    from heplearn.search.evaluate import evaluate_search

    run = tmp_path / "run"
    shutil.copytree(scan / "run", run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["likelihood"]["limits"] = True
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    evaluation = evaluate_search(run, store)
    entries = evaluation.metrics["likelihood"][Z_PRIME]
    with_limits = [m for m, e in entries.items() if e["limit_expected_band"]]
    # On this tiny sample (b from a few events of weight ~1e4-1e5) some fits are unstable:
    # those selections say so instead of giving a limit.
    for method, entry in entries.items():
        assert method in with_limits or entry["note"], (method, entry)
    for method in with_limits:
        band = entries[method]["limit_expected_band"]
        assert band == sorted(band) and band[2] == entries[method]["limit_expected"]
        workspace = pyhf.Workspace(evaluation.workspaces[Z_PRIME][method].spec)
        model = workspace.model()
        data = workspace.data(model)
        if "jumps" in (entries[method]["note"] or ""):  # located at a CLs cliff
            near = [0.9 * band[2], 1.1 * band[2]]
            cls = [
                pyhf.infer.hypotest(mu, data, model, return_expected_set=True)[1][2] for mu in near
            ]
            assert float(cls[0]) >= 0.05 > float(cls[1]), (method, band)
            continue
        for k, mu in enumerate(band):  # plain pyhf: CLs = 0.05 at each limit of the band
            _, cls = pyhf.infer.hypotest(mu, data, model, return_expected_set=True)
            assert float(cls[k]) == pytest.approx(0.05, abs=0.01), (method, k, mu)


def test_observed_events_give_an_observed_significance(store: Path, scan: Path) -> None:
    """The whole store as pseudo-data (signal included): observed Z near the expected one."""
    from heplearn.search.evaluate import evaluate_search

    metrics = evaluate_search(scan / "run", store, observed=store).metrics
    assert metrics["observed"] == str(store)
    fitted = [
        entry
        for by_method in metrics["likelihood"].values()
        for entry in by_method.values()
        if entry["workspace"] is not None
    ]
    assert fitted
    for entry in fitted:
        assert entry["z_observed"] is not None and entry["z_observed"] >= 0
    # Signal is in the pseudo-data: it looks like a signal somewhere, not like no signal.
    assert max(e["z_observed"] for e in fitted) > 0.5 * max(e["z_expected"] for e in fitted)
