"""``heplearn generate calib``: a run, resume, overrides, and every bad input (one line, exit 1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from heplearn.data import open_store
from heplearn.generate import runner

from conftest import CliResult, assert_one_error

Cli = Callable[..., CliResult]


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("kind: calib-sample\nshard_events: 100\n" + body)
    return path


def test_generate_overrides_and_resume(cli: Cli, tmp_path: Path) -> None:
    config = write_config(tmp_path, "events: 1000\nseed: 3\n")
    out = tmp_path / "gun"
    result = cli(
        "generate", "calib", "--config", config, "--out", out, "--events", "300", "-j", "2"
    )
    assert result.code == 0, result.err
    store = open_store(out)
    assert store.rows == 300
    assert "seed: 3" in store.provenance["config"]
    times = [p.stat().st_mtime_ns for p in sorted(out.glob("shard-*.h5"))]
    assert cli("generate", "calib", "--config", config, "--out", out, "--events", "300").code == 0
    assert [p.stat().st_mtime_ns for p in sorted(out.glob("shard-*.h5"))] == times
    result = cli(
        "generate", "calib", "--config", config, "--out", out, "--events", "300", "--seed", "4"
    )
    assert_one_error(result, "output exists", "--overwrite")


@pytest.mark.parametrize(
    ("body", "options", "fragments"),
    [
        ("source: ttbar\n", (), ("field 'source'", "not one of the allowed values")),
        ("gun: {particles: [muon]}\n", (), ("gun.particles[0]", "not one of the allowed values")),
        ("geometry: cms-ecal\n", (), ("gun.eta_range", "acceptance")),
        ("gun: {pt_range: [-5.0, 100.0]}\n", (), ("gun.pt_range", "outside the allowed range")),
        ("gun: {pt_range: [0.0, 100.0]}\n", (), ("gun.pt_range", "outside the allowed range")),
        ("mu: -1\n", (), ("field 'mu'", "outside the allowed range")),
        ("", ("--events", "0"), ("field 'events'", "outside the allowed range")),
        ("geometry: atlas-lor\n", (), ("geometry 'atlas-lor'", "atlas-lar")),
    ],
)
def test_bad_settings(
    cli: Cli, tmp_path: Path, body: str, options: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    config = write_config(tmp_path, body)
    result = cli("generate", "calib", "--config", config, "--out", tmp_path / "out", *options)
    assert_one_error(result, *fragments)
    assert not (tmp_path / "out").exists()


def test_dask_address_that_does_not_answer(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "DASK_TIMEOUT_S", 1)
    config = write_config(tmp_path, "events: 100\n")
    result = cli(
        "generate",
        "calib",
        "--config",
        config,
        "--out",
        tmp_path / "out",
        "--dask",
        "tcp://127.0.0.1:9",
    )
    assert_one_error(result, "Dask scheduler", "tcp://127.0.0.1:9", "no answer")
    assert not (tmp_path / "out").exists()
