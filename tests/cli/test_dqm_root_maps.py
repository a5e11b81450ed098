"""Real maps of the user's own detector: ROOT TH2 maps → dqm train (qtest, ae) → dqm check.

The maps are ECAL-like 34 × 72 lumisection maps written with uproot: Poisson counts
from a smooth η-dependent rate with a per-channel response spread, the per-map
luminosity varying, and one channel that is empty in every map (known dead: it
must be masked, never flagged).  New maps carry an injected dead 3 × 3 region,
a hot 3 × 3 region, or no hits at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import CliResult, assert_one_error

H, W = 34, 72
KNOWN_DEAD = (5, 10)
DEAD_REGION = (slice(10, 13), slice(30, 33))
HOT_REGION = (slice(20, 23), slice(50, 53))


def _region(rows: slice, cols: slice) -> list[list[int]]:
    """[row, col] of every channel of a region, in row-major (np.argwhere) order."""
    return [[r, c] for r in range(rows.start, rows.stop) for c in range(cols.start, cols.stop)]


def _rate() -> np.ndarray:
    """Mean hits per channel of a nominal map: rises towards both ends in η, ±5 % response."""
    eta = np.linspace(-1.5, 1.5, H)[:, None]
    response = np.random.default_rng(11).lognormal(0.0, 0.05, (H, W))
    rate = 150.0 * (1.0 + 0.5 * eta**2) * response
    rate[KNOWN_DEAD] = 0.0
    return rate


def _maps(n: int, seed: int) -> np.ndarray:
    """(n, H, W) Poisson maps; the luminosity of each lumisection varies by ±20 %."""
    rng = np.random.default_rng(seed)
    lumi = rng.uniform(0.8, 1.2, n)
    return rng.poisson(_rate()[None] * lumi[:, None, None]).astype(np.float64)


def _write_th2(path: Path, maps: dict[str, np.ndarray]) -> None:
    import uproot

    x_edges = np.linspace(-1.479, 1.479, H + 1)
    y_edges = np.linspace(-np.pi, np.pi, W + 1)
    with uproot.recreate(path) as handle:
        for name, values in maps.items():
            # uproot's values() gives back this (x bin, y bin) array: flagged [row, col] index it.
            handle[name] = (values, x_edges, y_edges)


@pytest.fixture(scope="module")
def root_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("root-maps")
    reference = folder / "maps.root"
    _write_th2(reference, {f"ls{i:03d}": m for i, m in enumerate(_maps(120, seed=1))})
    good, dead, hot = _maps(3, seed=2)
    dead[DEAD_REGION] = 0.0
    hot[HOT_REGION] *= 5.0
    new = folder / "new.root"
    _write_th2(new, {"good": good, "dead": dead, "hot": hot, "empty": np.zeros((H, W))})
    return reference, new


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny networks: one thread avoids the spin-waits of a second one on a busy 2-core runner."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(data: Path, run: Path, *extra: str) -> None:
    from heplearn.cli.main import main

    assert main(["dqm", "train", "--data", str(data), "--out", str(run), *extra]) == 0


@pytest.fixture(scope="module")
def qtest_run(root_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "qtest"
    _train(root_files[0], run, "--model", "qtest")  # no --config: model defaults apply
    return run


@pytest.fixture(scope="module")
def ae_run(root_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ae")
    config = folder / "tiny-ae.yaml"
    config.write_text(
        "kind: dqm-model\nmodel: ae\nae:\n  filters: [8, 8]\n"
        "trainer:\n  epochs: 12\n  batch_size: 16\n  optimizer: adam\n"
        "  lr_min: 0.001\n  lr_max: 0.01\n  patience: 0\n  device: cpu\n"
    )
    run = folder / "run"
    _train(root_files[0], run, "--config", str(config))
    return run


def _check(cli: Callable[..., CliResult], run: Path, maps: Path) -> dict[str, dict[str, object]]:
    result = cli("dqm", "check", "--run", run, maps, "--json")
    assert result.code == 0, result.err
    records = json.loads(result.out)
    assert [r["map"] for r in records] == ["good", "dead", "hot", "empty"]
    return {str(r["map"]): r for r in records}


def test_qtest_on_th2_maps_finds_the_injected_regions_exactly(
    cli: Callable[..., CliResult], root_files: tuple[Path, Path], qtest_run: Path
) -> None:
    info = json.loads((qtest_run / "run.json").read_text())
    assert info["shape"] == [H, W, 1] and info["generated"] is False and info["maps"] == 120
    records = _check(cli, qtest_run, root_files[1])
    assert {name: r["verdict"] for name, r in records.items()} == {
        "good": "good",
        "dead": "dead",
        "hot": "hot",
        "empty": "no-statistics",
    }
    # 2-D maps: [row, col] in uproot values() order; the known-dead channel is masked.
    assert records["dead"]["flagged"] == _region(*DEAD_REGION)
    assert records["hot"]["flagged"] == _region(*HOT_REGION)
    assert records["good"]["flagged"] == [] and records["empty"]["flagged"] == []
    assert float(records["dead"]["score"]) > 1.0 and float(records["hot"]["score"]) > 1.0  # type: ignore[arg-type]
    assert float(records["good"]["score"]) <= 1.0  # type: ignore[arg-type]


def test_ae_on_th2_maps_flags_dead_and_hot_regions(
    cli: Callable[..., CliResult], root_files: tuple[Path, Path], ae_run: Path
) -> None:
    records = _check(cli, ae_run, root_files[1])
    assert records["empty"]["verdict"] == "no-statistics"
    for name, region in (("dead", DEAD_REGION), ("hot", HOT_REGION)):
        record = records[name]
        assert record["verdict"] not in ("good", "no-statistics"), record
        flagged = {tuple(f) for f in record["flagged"]}  # type: ignore[attr-defined]
        assert flagged & {tuple(f) for f in _region(*region)}, (name, record)
        assert list(KNOWN_DEAD) not in record["flagged"]  # type: ignore[operator]
    assert records["dead"]["verdict"] == "dead" and records["hot"]["verdict"] == "hot"
    # The score of the faulty maps is far above the good map's.
    good_score = float(records["good"]["score"])  # type: ignore[arg-type]
    assert float(records["dead"]["score"]) > 10 * good_score  # type: ignore[arg-type]


def test_known_dead_channel_is_masked_in_the_reference(qtest_run: Path) -> None:
    from heplearn.dqm.models import load_model

    model = load_model(qtest_run / "model")
    mask = model.reference.mask  # type: ignore[attr-defined]
    assert mask.shape == (H, W, 1)
    assert not mask[KNOWN_DEAD][0] and int(mask.sum()) == H * W - 1


def test_root_file_without_th2_lists_what_it_holds(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    import uproot

    path = tmp_path / "no-maps.root"
    with uproot.recreate(path) as handle:
        handle["energy"] = np.histogram(np.arange(10.0), bins=5)
        handle.mktree("events", {"x": np.float64}).extend({"x": np.arange(4.0)})
    result = cli("dqm", "train", "--model", "qtest", "--data", path, "--out", tmp_path / "run")
    assert_one_error(result, "no TH2 histograms", "TH1D energy", "TTree events")
    assert not (tmp_path / "run").exists()


def test_th2_file_cut_to_a_fifth_is_refused_by_check_and_import(
    cli: Callable[..., CliResult], qtest_run: Path, root_files: tuple[Path, Path], tmp_path: Path
) -> None:
    import uproot

    whole = tmp_path / "whole.root"
    with uproot.recreate(whole) as handle:
        handle["good"] = (_maps(1, seed=4)[0], np.arange(H + 1.0), np.arange(W + 1.0))
        handle["pad"] = {"x": np.random.default_rng(4).normal(size=20_000)}  # written after it
    data = whole.read_bytes()
    whole.unlink()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: len(data) // 5])
    with uproot.open(cut) as handle:  # what made this a silent pass: uproot reads the TH2
        assert handle["good"].values().shape == (H, W)
    why = f"truncated ROOT file in {cut}: {len(data) // 5} bytes, header says {len(data)}; "
    assert_one_error(cli("dqm", "check", "--run", qtest_run, cut, "--json"), why)
    assert_one_error(cli("data", "import", cut, "--out", tmp_path / "s.h5"), why)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.root"]
