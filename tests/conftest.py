"""Shared fixtures: a CLI runner and small synthetic columns (made in the test, never fetched)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from heplearn.cli.main import main
from heplearn.config import parse_config
from heplearn.generate import CalibSampleConfig, calib_dataset
from strict_json import strict_json_errors


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests, with the reason, where torch sees no CUDA device."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch  # only when a gpu test was collected

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def strict_metrics_json(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, every metrics.json any test wrote must be strict JSON."""
    yield
    count, errors = strict_json_errors(tmp_path_factory.getbasetemp())
    assert not errors, f"{len(errors)} of {count} metrics.json are not strict JSON:\n" + "\n".join(
        errors
    )


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``heplearn ARGS`` in-process and return exit code, stdout and stderr."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module: small nets gain nothing from two on a shared 2-core machine.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch  # only the modules that ask for it pay for the import

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def columns() -> dict[str, Any]:
    """Twelve events with fixed, image-shaped and jagged fields."""
    rng = np.random.default_rng(7)
    n = 12
    counts = rng.integers(0, 4, n)
    return {
        "truth/energy": rng.uniform(5, 300, n).astype(np.float32),
        "truth/pdgid": rng.choice(np.array([11, 22], dtype=np.int32), n),
        "images/lr2": rng.exponential(1.0, (n, 7, 11)).astype(np.float32),
        "tracks/pt": ak.unflatten(
            rng.exponential(3.0, int(counts.sum())).astype(np.float32), counts
        ),
        "event/id": np.arange(n, dtype=np.int64),
    }


def assert_columns_equal(left: dict[str, Any], right: dict[str, Any]) -> None:
    """Exact equality of fixed (numpy) and jagged (awkward) columns, dtypes included."""
    assert sorted(left) == sorted(right)
    for name, a in left.items():
        b = right[name]
        if isinstance(a, ak.Array):
            assert ak.to_list(a) == ak.to_list(b), name
            assert str(ak.type(a.layout.content)) == str(ak.type(b.layout.content)), name
        else:
            assert np.asarray(b).dtype == np.asarray(a).dtype, name
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def assert_one_error(result: CliResult, *fragments: str) -> None:
    """Exit code 1 and exactly one ``error: ...`` line on stderr containing every fragment."""
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# Small calibration stores made by the real simulation (a few seconds, once per session).
def _make(folder: Path, **settings: object) -> Path:
    config = parse_config(CalibSampleConfig, {"kind": "calib-sample", **settings}, "test")
    return calib_dataset(config, folder)


@pytest.fixture(scope="session")
def gun_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 ATLAS-like single e±/γ, pT 5–300 GeV, ⟨μ⟩ = 20 premixed pileup."""
    return _make(
        tmp_path_factory.mktemp("calib") / "gun",
        geometry="atlas-lar",
        source="gun",
        events=1200,
        shard_events=600,
        seed=3,
        mu=20.0,
        pool_events=50,
    )


@pytest.fixture(scope="session")
def zee_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 Z→ee events (two clusters each), ⟨μ⟩ = 20."""
    return _make(
        tmp_path_factory.mktemp("calib") / "zee",
        geometry="atlas-lar",
        source="zee",
        events=300,
        shard_events=300,
        seed=5,
        mu=20.0,
        pool_events=50,
    )
