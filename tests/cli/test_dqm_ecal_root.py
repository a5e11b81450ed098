"""Real-like ECAL barrel maps as ROOT TH2 (170 × 360): train qtest on 10, check new maps.

The maps (``tests/dqm/ecal_like.py``) carry what real lumisections do: tower- and
supermodule-correlated gain variations, over-dispersion, a luminosity falling through
the fill and no event count.  Trained on 10 maps with ``--geometry ecal-barrel``, the
good maps pass and each injected fault is found, localised and its group named.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import CliResult, assert_one_error

sys.path.insert(0, str(Path(__file__).parents[1] / "dqm"))  # the shared map generator
from ecal_like import KNOWN_DEAD, H, W, good_maps, inject

FAULTS = {
    "missing_sm": "SM",
    "dead_tower": "TT",
    "hot_tower": "TT",
    "dead_crystal": None,
    "hot_crystal": None,
}


def _write_th2(path: Path, maps: dict[str, np.ndarray]) -> None:
    import uproot

    x_edges, y_edges = np.arange(H + 1) - 85.0, np.arange(W + 1) + 1.0  # iη, iφ bins
    with uproot.recreate(path) as handle:
        for name, values in maps.items():
            handle[name] = (values, x_edges, y_edges)


@pytest.fixture(scope="module")
def ecal_files(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, dict[str, np.ndarray]]:
    folder = tmp_path_factory.mktemp("ecal")
    reference, _ = good_maps(10, seed=1)
    _write_th2(folder / "ref.root", {f"ls{i:03d}": m for i, m in enumerate(reference)})
    counts, expected = good_maps(12, seed=2)
    rng = np.random.default_rng(4)
    new = {f"good{i}": counts[i] for i in range(6)}
    truth = {}
    for i, fault in enumerate(FAULTS):
        new[fault], truth[fault] = inject(counts[6 + i], expected[6 + i], fault, rng)
    # A lumisection with a handful of entries: no verdict possible.
    new["sparse"] = rng.poisson(0.01, (H, W)).astype(np.float32)
    _write_th2(folder / "new.root", new)
    return folder / "ref.root", folder / "new.root", truth


@pytest.fixture(scope="module")
def ecal_run(
    ecal_files: tuple[Path, Path, dict[str, np.ndarray]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from heplearn.cli.main import main

    run = tmp_path_factory.mktemp("runs") / "qtest"
    args = ["dqm", "train", "--model", "qtest", "--data", str(ecal_files[0]), "--out", str(run)]
    assert main([*args, "--geometry", "ecal-barrel", "--false-alarm", "0.01"]) == 0
    return run


def test_ecal_maps_good_pass_faults_found_and_groups_named(
    cli: Callable[..., CliResult],
    ecal_files: tuple[Path, Path, dict[str, np.ndarray]],
    ecal_run: Path,
) -> None:
    info = json.loads((ecal_run / "run.json").read_text())
    assert info["train_maps"] == 10 and info["calibration"]["target"] == 0.01
    result = cli("dqm", "check", "--run", ecal_run, ecal_files[1], "--json")
    assert result.code == 0, result.err
    records = {r["map"]: r for r in json.loads(result.out)}
    for i in range(6):
        good = records[f"good{i}"]
        assert good["verdict"] == "good" and good["flagged"] == [] and good["groups"] == []
        assert good["score"] <= 1.0 and "agrees" in good["calibration"]
    for fault, group in FAULTS.items():
        record = records[fault]
        assert record["verdict"] == ("hot" if fault.startswith("hot") else "dead"), record
        flagged = {tuple(f) for f in record["flagged"]}
        faulty = {tuple(int(v) for v in f) for f in np.argwhere(ecal_files[2][fault])}
        faulty -= set(KNOWN_DEAD)
        assert flagged == faulty, fault
        if group is not None:
            assert record["groups"] and record["groups"][0].startswith(group), record["groups"]
    sparse = records["sparse"]
    assert sparse["verdict"] == "no-statistics" and "too few entries" in sparse["reason"]


def test_grouping_file_must_fit_the_map(
    cli: Callable[..., CliResult],
    ecal_files: tuple[Path, Path, dict[str, np.ndarray]],
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("all: {rows: [0, 170], cols: [0, 360]}\nextra: [[170, 3]]\n")
    out = tmp_path / "run"
    result = cli("dqm", "train", "--model", "qtest", "--data", ecal_files[0], "--out", out,
                 "--geometry", outside)  # fmt: skip
    assert_one_error(result, "'extra'", "[170, 3]", "outside the maps")
    partial = tmp_path / "partial.json"
    partial.write_text('{"EB+": {"rows": [85, 170], "cols": [0, 360]}}')
    result = cli("dqm", "train", "--model", "qtest", "--data", ecal_files[0], "--out", out,
                 "--geometry", partial)  # fmt: skip
    assert_one_error(result, "does not cover the map", "[0, 0]")
    result = cli("dqm", "train", "--model", "qtest", "--data", ecal_files[0], "--out", out,
                 "--false-alarm", "2")  # fmt: skip
    assert_one_error(result, "--false-alarm")
    assert not out.exists()
