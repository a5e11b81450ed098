"""A map outside the reference maps' luminosity range is judged by extrapolation: say so.

The statistical qtest fits each channel's luminosity response on the reference maps;
beyond their range it extrapolates (7 % false alarms on HCAL maps of another seed, all
but one of them 10–25 % beyond the reference's pile-up).  Such a map keeps its verdict
and gains a warning naming the range and the fix; a map inside the range gets none.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from ecal_like import as_mapset, good_maps

from heplearn.dqm.statistical_qtest import LUMI_MARGIN, StatisticalTests, lumi_warnings

from conftest import CliResult

REFERENCE_LUMI = (0.8, 1.2)


def _maps(lumi: float, seed: int) -> np.ndarray:
    return good_maps(1, seed, lumi=(lumi, lumi))[0]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return good_maps(10, seed=1, lumi=REFERENCE_LUMI)[0]


def test_a_map_at_twice_the_reference_luminosity_is_warned_about(reference: np.ndarray) -> None:
    tests = StatisticalTests.fit(as_mapset(reference), None, 0.01)
    lo, hi = tests.model.lumi_range or (0.0, 0.0)
    assert 0 < lo < hi and hi / lo == pytest.approx(1.2 / 0.8, rel=0.3)
    new = as_mapset(np.concatenate([_maps(2.0, 7), _maps(1.0, 8), _maps(0.5, 9)]))
    result = tests.evaluate(new)
    high, inside, low = result.warnings
    assert inside == [] and len(high) == 1 and len(low) == 1
    assert f"[{lo:.3g}, {hi:.3g}]" in high[0] and "add reference maps" in high[0]
    assert "extrapolates" in low[0]
    # The warning changes no verdict: the same scores and flags as a model without the range.
    unranged = StatisticalTests(
        dataclasses.replace(tests.model, lumi_range=None), tests.false_alarm, tests.calibration
    )
    again = unranged.evaluate(new)
    np.testing.assert_array_equal(again.score, result.score)
    np.testing.assert_array_equal(again.flags, result.flags)
    assert again.warnings == [[], [], []]


def test_the_margin_is_relative_to_the_range() -> None:
    inside, edge, beyond, below = lumi_warnings(
        np.array([1.0, 1.2 * (1 + LUMI_MARGIN) * 0.99, 1.2 * (1 + LUMI_MARGIN) * 1.01, 0.6]),
        (0.8, 1.2),
    )
    assert inside == [] and edge == [] and len(beyond) == 1 and len(below) == 1
    assert lumi_warnings(np.array([5.0]), None) == [[]]  # a run saved before the range was kept


def test_check_json_carries_the_warning_and_the_cli_one_line(
    cli: Callable[..., CliResult], reference: np.ndarray, tmp_path: Path
) -> None:
    with h5py.File(tmp_path / "ref.h5", "w") as handle:
        handle["maps"] = reference
    with h5py.File(tmp_path / "new.h5", "w") as handle:
        handle["maps"] = np.concatenate([_maps(2.0, 7), _maps(1.0, 8)])
    run = tmp_path / "run"
    train = ("dqm", "train", "--model", "qtest", "--data", tmp_path / "ref.h5", "--out", run)
    assert cli(*train).code == 0
    result = cli("dqm", "check", "--run", run, tmp_path / "new.h5", "--json")
    assert result.code == 0, result.err
    high, inside = json.loads(result.out)
    assert len(high["warnings"]) == 1 and "reference maps' range" in high["warnings"][0]
    assert inside["warnings"] == []
    assert high["verdict"] == "good"  # 2× the luminosity of good maps: still judged good
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: map 0: luminosity"), result.err
