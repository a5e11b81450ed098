"""metrics.json is strict JSON: non-finite numbers are null, numpy values plain Python."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.errors import OutputExistsError
from heplearn.report.metrics_json import write_metrics_json
from strict_json import strict_json_errors, strict_load


def test_non_finite_and_numpy_values_become_strict_json(tmp_path: Path) -> None:
    metrics = {
        "z": np.float32("nan"),
        "limits": (float("inf"), -np.inf, np.float64(1.5)),
        "n": np.int64(3),
        "ok": np.bool_(True),
        "curve": np.array([0.5, np.nan]),
        7: "a key that is not a string",
    }
    path = write_metrics_json(tmp_path / "metrics.json", metrics)
    assert strict_load(path.read_text()) == {
        "z": None,
        "limits": [None, None, 1.5],
        "n": 3,
        "ok": True,
        "curve": [0.5, None],
        "7": "a key that is not a string",
    }
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left
    with pytest.raises(OutputExistsError):
        write_metrics_json(path, {})


def test_the_session_check_catches_bare_nan(tmp_path: Path) -> None:
    # The check the conftest runs over every metrics.json of the session can fail (another
    # file name here, or the session's own check would find this deliberately bad file).
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.json").write_text('{"z": NaN}')
    (tmp_path / "m.json").write_text('{"z": null}')
    count, errors = strict_json_errors(tmp_path, "m.json")
    assert count == 2 and len(errors) == 1 and "NaN is not JSON" in errors[0]
