"""``heplearn calib fit-mass``: a mass column of a CSV or ROOT file in, σ_CB and a plot out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import uproot

from heplearn.calib.massfit import Z_MASS, Z_WIDTH
from heplearn.data import ShardedWriter, write_store

from conftest import CliResult, assert_one_error

Cli = Callable[..., CliResult]


def z_masses(n: int = 8_000, sigma: float = 1.5, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return Z_MASS + Z_WIDTH / 2 * rng.standard_cauchy(n) + rng.normal(0.0, sigma, n)


@pytest.fixture
def zee_csv(tmp_path: Path) -> Path:
    path = tmp_path / "zee.csv"
    masses = z_masses()
    pd.DataFrame({"m_ee": masses, "pt": np.full(masses.size, 40.0)}).to_csv(path, index=False)
    return path


@pytest.fixture
def zee_root(tmp_path: Path) -> Path:
    path = tmp_path / "zee.root"
    masses = z_masses(seed=12)
    with uproot.recreate(path) as handle:
        tree = handle.mktree("events", {"m_ee": np.float64, "n_vertices": np.int32})
        half = masses.size // 2  # two baskets, as a real ntuple is written
        for part in (slice(0, half), slice(half, None)):
            tree.extend({"m_ee": masses[part], "n_vertices": np.ones(masses[part].size, np.int32)})
    return path


def _fit(cli: Cli, *args: str | Path) -> dict[str, object]:
    result = cli("calib", "fit-mass", *args, "--json")
    assert result.code == 0, result
    lines = result.out.strip().splitlines()
    assert len(lines) == 1
    out: dict[str, object] = json.loads(lines[0])
    return out


def test_csv_column_gives_the_resolution(cli: Cli, zee_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "fit"
    summary = _fit(cli, zee_csv, "--column", "m_ee", "--out", out)
    assert summary["model"] == "bw-cb"
    assert summary["sigma"] == pytest.approx(1.5, rel=0.1)
    assert summary["mean"] == pytest.approx(Z_MASS, abs=0.1)
    assert isinstance(summary["n_events"], int) and summary["n_events"] > 7_000
    assert {"mean_err", "sigma_err", "chi2_ndf"} <= set(summary)
    assert (out / "mass_fit.png").is_file() and (out / "mass_fit.pdf").is_file()
    assert json.loads((out / "fit.json").read_text())["sigma"] == summary["sigma"]
    assert not list(tmp_path.glob(".fit.tmp-*"))


def test_root_tree_gives_the_resolution(cli: Cli, zee_root: Path, tmp_path: Path) -> None:
    summary = _fit(
        cli, zee_root, "--column", "m_ee", "--tree", "events", "--range", "82", "100",
        "--out", tmp_path / "fit",
    )  # fmt: skip
    assert summary["sigma"] == pytest.approx(1.5, rel=0.1)
    assert summary["mass_range"] == [82.0, 100.0]


def test_store_file_and_sharded_store(cli: Cli, tmp_path: Path) -> None:
    masses = z_masses(seed=13)
    store = write_store(tmp_path / "zee.h5", {"pair/mass": masses}, provenance={})
    summary = _fit(cli, store, "--column", "pair/mass", "--out", tmp_path / "fit")
    assert summary["sigma"] == pytest.approx(1.5, rel=0.1)
    writer = ShardedWriter(tmp_path / "zee", fingerprint="f", provenance={})
    half = masses.size // 2
    writer.write_shard(0, {"pair/mass": masses[:half]})
    writer.write_shard(1, {"pair/mass": masses[half:]})
    writer.finalize(2)
    sharded = _fit(cli, tmp_path / "zee", "--column", "pair/mass", "--out", tmp_path / "fit2")
    assert sharded["sigma"] == summary["sigma"]
    assert sharded["n_events"] == summary["n_events"]


def test_human_table(cli: Cli, zee_csv: Path, tmp_path: Path) -> None:
    result = cli("calib", "fit-mass", zee_csv, "--column", "m_ee", "--out", tmp_path / "fit")
    assert result.code == 0, result
    assert "σ_CB" in result.out and "events in range" in result.out


def test_existing_output_is_kept(cli: Cli, zee_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "fit"
    out.mkdir()
    result = cli("calib", "fit-mass", zee_csv, "--column", "m_ee", "--out", out)
    assert_one_error(result, "output exists", "--overwrite")


def test_missing_column_lists_the_others(cli: Cli, zee_csv: Path, tmp_path: Path) -> None:
    result = cli("calib", "fit-mass", zee_csv, "--column", "m_e", "--out", tmp_path / "fit")
    assert_one_error(result, "column 'm_e' not found", "m_ee, pt", "did you mean 'm_ee'")


def test_too_few_events_is_one_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    pd.DataFrame({"m_ee": z_masses(n=12)}).to_csv(path, index=False)
    result = cli("calib", "fit-mass", path, "--column", "m_ee", "--out", tmp_path / "fit")
    assert_one_error(result, "too few events", "at least 20")
    assert not (tmp_path / "fit").exists()


def test_unknown_model_is_one_error(cli: Cli, zee_csv: Path, tmp_path: Path) -> None:
    result = cli(
        "calib", "fit-mass", zee_csv, "--column", "m_ee", "--model", "voigt",
        "--out", tmp_path / "fit",
    )  # fmt: skip
    assert_one_error(result, "unknown model 'voigt'", "--model")
