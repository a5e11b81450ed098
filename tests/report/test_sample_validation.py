"""The validation report of a calibration sample: figures, numbers and a self-contained page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from heplearn.config import parse_config
from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.report import validate_calib_sample

from conftest import CliResult


@pytest.mark.slow
def test_gun_sample_report_recovers_the_resolution_terms(tmp_path: Path) -> None:
    config = parse_config(
        CalibSampleConfig,
        {
            "events": 6000,
            "shard_events": 3000,
            "material": False,
            "noise": False,
            "gun": {
                "particles": ["electron", "photon"],
                "pt_range": [10.0, 300.0],
                "eta_range": [-0.8, 0.8],
            },
        },
    )
    store = calib_dataset(config, tmp_path / "gun")
    numbers = validate_calib_sample(store, tmp_path / "report")
    electrons = numbers["resolution_terms"]["e±"]
    assert electrons["stochastic"] == pytest.approx(0.10, rel=0.2)
    assert electrons["constant"] < 0.012
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 6
    for name in ("delta_e_over_e", "resolution_vs_energy", "mean_images", "conversion_fraction"):
        assert (tmp_path / "report" / f"{name}.pdf").stat().st_size > 0
    assert json.loads((tmp_path / "report" / "numbers.json").read_text())["rows"] == 6000


@pytest.mark.slow
def test_zee_report_has_the_mass_peak(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    config_file = tmp_path / "zee.yaml"
    config_file.write_text("kind: calib-sample\nsource: zee\nevents: 600\nshard_events: 300\n")
    result = cli("generate", "calib", "-c", config_file, "-o", tmp_path / "zee", "--validate")
    assert result.code == 0, result.err
    numbers = json.loads((tmp_path / "zee-validation" / "numbers.json").read_text())
    assert numbers["mass"]["generated median [GeV]"] == pytest.approx(91.19, abs=0.5)
    assert numbers["mass"]["reconstructed median [GeV]"] == pytest.approx(91.19, abs=3.0)
    result = cli("data", "validate", tmp_path / "zee", "--out", tmp_path / "again")
    assert result.code == 0 and "pair mass" in result.out
