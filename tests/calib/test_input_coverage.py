"""The coverage check flags a shifted input and stays quiet on one drawn like the training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.calib.input_coverage import InputRanges, coverage_warning, input_coverage
from heplearn.errors import DataError

NAMES = ("e_acc", "delta_phi2", "n_tracks")


def _sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [rng.exponential(50.0, n), rng.normal(0.0, 0.01, n), rng.integers(0, 5, n)]
    )


def test_a_sample_like_the_training_one_is_not_flagged() -> None:
    ranges = InputRanges.fit(NAMES, _sample(20_000, 1))
    for n, seed in ((100, 2), (2_000, 3), (50_000, 4)):
        table = input_coverage(ranges, NAMES, _sample(n, seed))
        assert table["flagged"] == [], (n, table)
        assert coverage_warning(table) is None
        for row in table["features"]:
            assert row["outside_quantiles"] < 0.01


def test_a_shifted_feature_is_flagged_by_name_and_fraction() -> None:
    ranges = InputRanges.fit(NAMES, _sample(20_000, 1))
    shifted = _sample(2_000, 5)
    shifted[:, 1] += 0.02  # two σ: about 16 % of clusters beyond the 99.9 % quantile
    table = input_coverage(ranges, NAMES, shifted)
    assert table["flagged"] == ["delta_phi2"]
    row = next(r for r in table["features"] if r["feature"] == "delta_phi2")
    assert 0.08 < row["outside_quantiles"] < 0.3
    warning = coverage_warning(table)
    assert warning is not None and "delta_phi2" in warning and "e_acc" not in warning
    assert f"{100 * row['outside_quantiles']:.1f} %" in warning


def test_a_few_tail_clusters_in_a_small_sample_are_not_significant() -> None:
    ranges = InputRanges.fit(NAMES, _sample(20_000, 1))
    small = _sample(100, 6)
    small[:2, 0] = 1e6  # 2 % outside, but two clusters of 100 happen at 0.2 % per cluster
    table = input_coverage(ranges, NAMES, small)
    assert table["flagged"] == []


def test_ranges_round_trip_and_old_runs_have_none(tmp_path: Path) -> None:
    ranges = InputRanges.fit(NAMES, _sample(1_000, 1))
    path = ranges.save(tmp_path / "input_ranges.json")
    assert InputRanges.load(path) == ranges
    assert InputRanges.load(tmp_path / "absent.json") is None
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="input-ranges"):
        InputRanges.load(tmp_path / "bad.json")
