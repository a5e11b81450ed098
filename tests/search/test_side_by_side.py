"""The report's Z-per-point figure draws whatever the methods scored, zero included."""

from __future__ import annotations

from pathlib import Path

from heplearn.search.evaluation_report import _side_by_side


def test_every_z_zero_draws_on_a_linear_axis(tmp_path: Path) -> None:
    # A selection keeping no signal (Z = 0 at every point) once failed on the log axis.
    metrics = {
        "significance": {"zp_a": {"thesis_cuts": 0.0}, "zp_b": {"thesis_cuts": 0.0}},
        "methods": ["thesis_cuts"],
        "sigma_b": 0.1,
    }
    assert _side_by_side(metrics, tmp_path).is_file()
    metrics["significance"]["zp_a"]["thesis_cuts"] = 2.0
    assert _side_by_side(metrics, tmp_path).is_file()
