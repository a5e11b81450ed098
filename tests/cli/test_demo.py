"""``heplearn demo --quick``: the main job runs end to end, and a rerun resumes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from heplearn.data import open_store

from conftest import CliResult


def test_quick_demo_end_to_end_and_rerun(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = cli("demo", "--quick", "--out", out)
    assert result.code == 0, result.err
    assert "ROOT round trip" in result.out
    assert yaml.safe_load((out / "config.yaml").read_text())["kind"] == "calib-sample"
    assert "median m_ee" in result.out
    store = open_store(out / "zee-sample", check_finite=True)
    assert store.rows > 300  # two electrons in most of the 300 Z→ee events
    assert (out / "zee-sample.root").stat().st_size > 0
    shards = sorted((out / "zee-sample").glob("shard-*.h5"))
    shard_times = [p.stat().st_mtime_ns for p in shards]
    assert cli("demo", "--quick", "--out", out).code == 0
    assert [p.stat().st_mtime_ns for p in shards] == shard_times


def test_demo_with_other_seed_needs_overwrite(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    assert cli("demo", "--quick", "--out", out).code == 0
    config_before = (out / "config.yaml").read_text()
    result = cli("demo", "--quick", "--out", out, "--seed", "2")
    assert result.code == 1
    assert "--overwrite" in result.err
    assert (out / "config.yaml").read_text() == config_before
    assert cli("demo", "--quick", "--out", out, "--seed", "2", "--overwrite").code == 0
