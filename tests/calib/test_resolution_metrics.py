"""RE, eIQR, reIQR and their bootstrap errors behave as the thesis defines them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from heplearn.calib.resolution_metrics import (
    binned_table,
    bootstrap,
    eiqr,
    reiqr,
    relative_energy,
)
from heplearn.errors import ConfigError, DataError


def test_relative_energy_is_the_ratio_and_refuses_bad_truth() -> None:
    np.testing.assert_allclose(
        relative_energy(np.array([50.0, 99.0]), np.array([50.0, 100.0])), [1.0, 0.99]
    )
    with pytest.raises(DataError, match="E_truth"):
        relative_energy(np.array([1.0]), np.array([0.0]))
    with pytest.raises(DataError, match="shape"):
        relative_energy(np.ones(2), np.ones(3))


@pytest.mark.parametrize("coverage", [0.5, 0.95])
def test_eiqr_of_a_gaussian_is_its_sigma(coverage: float) -> None:
    re = np.random.default_rng(0).normal(1.0, 0.03, 200_000)
    assert eiqr(re, coverage) == pytest.approx(0.03, rel=0.01)


def test_eiqr95_sees_tails_that_the_iqr_ignores() -> None:
    rng = np.random.default_rng(1)
    core = rng.normal(1.0, 0.02, 100_000)
    tails = np.where(rng.random(core.size) < 0.1, core - rng.exponential(0.2, core.size), core)
    assert eiqr(tails, 0.95) > 2 * eiqr(tails, 0.5)
    assert math.isnan(eiqr(np.array([])))
    with pytest.raises(ConfigError, match="coverage"):
        eiqr(core, 1.5)


def test_reiqr_of_a_twice_narrower_model_is_one_half() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0.0, 1.0, 100_000)
    assert reiqr(1 + 0.01 * noise, 1 + 0.02 * noise) == pytest.approx(0.5, abs=1e-9)
    independent = 1 + 0.01 * rng.normal(0.0, 1.0, 100_000)
    assert reiqr(independent, 1 + 0.02 * noise, coverage=0.95) == pytest.approx(0.5, abs=0.02)


def test_bootstrap_error_scales_like_sigma_over_sqrt_n() -> None:
    rng = np.random.default_rng(3)
    small = rng.normal(0.0, 1.0, 400)
    large = rng.normal(0.0, 1.0, 6_400)
    value, error_small = bootstrap(np.mean, small, n=300, seed=1)
    _, error_large = bootstrap(np.mean, large, n=300, seed=1)
    assert value == pytest.approx(float(np.mean(small)))
    assert error_small == pytest.approx(1 / math.sqrt(400), rel=0.15)
    assert error_small / error_large == pytest.approx(4.0, rel=0.2)


def test_bootstrap_of_a_ratio_resamples_the_same_events() -> None:
    # Model = baseline/2 event by event, so reIQR is exactly 0.5 in every resample.
    baseline = 1 + 0.02 * np.random.default_rng(4).normal(0.0, 1.0, 2_000)
    model = 1 + (baseline - 1) / 2
    value, error = bootstrap(reiqr, model, baseline, n=50, seed=0)
    assert value == pytest.approx(0.5)
    assert error < 1e-9


def _sample(n: int = 6_000) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    abs_eta = rng.uniform(0.0, 2.6, n)
    et = rng.uniform(10.0, 200.0, n)
    noise = rng.normal(0.0, 1.0, n)
    return {"abs_eta": abs_eta, "et": et}, {"bdt": 1 + 0.04 * noise, "cnn": 1 + 0.02 * noise}


def test_binned_table_counts_add_up_and_metrics_are_right() -> None:
    variables, re = _sample()
    edges = {"abs_eta": [0.0, 0.8, 1.37, 2.47], "et": [10.0, 50.0, 200.0]}
    rows = binned_table(edges, variables, re, baseline="bdt", n_boot=50)
    assert len(rows) == 6
    inside = variables["abs_eta"] <= 2.47
    assert sum(row["n"] for row in rows) == int(inside.sum())
    first = rows[0]
    assert first["bin"] == {"abs_eta": [0.0, 0.8], "et": [10.0, 50.0]}
    cnn = first["models"]["cnn"]
    assert cnn["reiqr"] == pytest.approx(0.5, abs=1e-9)  # same events, half the spread
    assert cnn["eiqr"] == pytest.approx(0.02, rel=0.15)
    assert 0 < cnn["eiqr_err"] < 0.005
    assert first["models"]["bdt"]["reiqr"] == 0.0
    assert first["models"]["bdt"]["median"] == pytest.approx(1.0, abs=0.01)
    json.dumps(rows, allow_nan=False)


def test_small_bins_give_none_and_stay_json() -> None:
    variables, re = _sample(200)
    rows = binned_table({"et": [10.0, 12.0, 200.0]}, {"et": variables["et"]}, re, n_boot=20)
    small = next(row for row in rows if row["n"] < 10)
    assert all(v is None for stats in small["models"].values() for v in stats.values())
    json.dumps(rows, allow_nan=False)


def test_binned_table_refuses_bad_edges_and_unknown_baseline() -> None:
    variables, re = _sample(100)
    with pytest.raises(ConfigError, match="edges"):
        binned_table({"et": [50.0, 10.0]}, variables, re)
    with pytest.raises(ConfigError, match="baseline"):
        binned_table({"et": [10.0, 200.0]}, variables, re, baseline="gnn")
    with pytest.raises(ConfigError, match="binning variable"):
        binned_table({"mu": [0.0, 80.0]}, variables, re)
