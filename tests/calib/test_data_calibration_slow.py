"""The acceptance of calibration on data, measured on 60k Z→ee pseudo-data against 120k MC.

Shifts of a few per mille to 2 % and extra constant terms of 1.5–2.5 % in three |η|
bins; α_i must come back within ±0.15 % absolute and within twice its quoted error
(the test prints the pulls), c_i within ±0.3 %, and after ``calib correct`` the
inclusive μ_CB of the data must match the smeared MC within 0.05 %.  About 4 min on
2 cores (generation ≈ 3 min).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import correctionlib
import pytest
from zee_stores import zee_sample

from conftest import CliResult

pytestmark = pytest.mark.slow

EDGES = (0.0, 0.8, 1.5, 2.47)
ALPHA = (0.004, -0.008, 0.02)
CONSTANT = (0.015, 0.025, 0.02)


def test_known_shifts_are_recovered_and_close(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    shift = {"eta_edges": list(EDGES), "alpha": list(ALPHA), "constant": list(CONSTANT)}
    data = zee_sample(tmp_path / "data", 60_000, 41, detector_shift=shift, shard_events=5000)
    mc = zee_sample(tmp_path / "mc", 120_000, 42, shard_events=5000)
    corrections = tmp_path / "corrections.json"
    edges = ",".join(str(e) for e in EDGES)
    fitted = cli(
        "calib", "scale-fit", "-d", data, "--mc", mc, "--eta-edges", edges, "-o", corrections
    )
    assert fitted.code == 0, fitted.err
    evaluator = correctionlib.CorrectionSet.from_file(str(corrections))
    for k, eta in enumerate((0.4, 1.1, 2.0)):
        alpha = evaluator["energy_scale"].evaluate("alpha", eta)
        error = evaluator["energy_scale"].evaluate("alpha_err", eta)
        c = evaluator["smearing"].evaluate("c", eta)
        print(f"bin {k}: α {alpha:+.5f} ± {error:.5f} (set {ALPHA[k]:+.4f}), c {c:.5f}")
        assert abs(alpha - ALPHA[k]) < min(0.0015, 2 * error), (k, alpha, error)
        assert abs(c - CONSTANT[k]) < 0.003, (k, c)
    corrected, smeared, closure = tmp_path / "data.h5", tmp_path / "mc.h5", tmp_path / "closure"
    args = ["calib", "correct", "--corrections", corrections]
    assert cli(*args, "--mc", mc, "-o", smeared, "--smear-seed", "3").code == 0
    result = cli(*args, "-d", data, "-o", corrected, "--closure", closure, "--closure-mc", smeared)
    assert result.code == 0, result.err
    summary = json.loads((closure / "closure.json").read_text())
    print(f"closure: μ_CB after − MC = {summary['mu_after_minus_mc_percent']:+.4f} %")
    assert abs(summary["mu_after_minus_mc_percent"]) < 0.05
    assert summary["data before"]["mean"] - summary["MC"]["mean"] > 0.3  # it had to move
