"""The calibration report draws what is defined and skips what a collapsed model leaves out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from heplearn.calib.evaluation_report import _importance


def test_importance_of_a_collapsed_network_is_skipped_not_a_crash(tmp_path: Path) -> None:
    # metrics.json stores NaN as null: a network with zero eIQR has no defined importance.
    metrics: dict[str, Any] = {
        "importance": {
            "bdt": {"scalar:e_acc": 0.8, "scalar:eta": 0.1},
            "network": {"scalar:e_acc": None, "image:lr2": None},
        }
    }
    figures = _importance(SimpleNamespace(metrics=metrics), tmp_path)  # type: ignore[arg-type]
    assert [caption for _, caption in figures] == ["permutation importance, bdt"]
    assert (tmp_path / "importance_bdt.png").is_file()
