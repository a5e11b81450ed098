"""The toy sample is a physics stand-in, so it is held to its own stated physics."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from heplearn.config import parse_config
from heplearn.errors import ConfigError
from heplearn.generate.toy import LAYER_FRACTIONS, ToyConfig, toy_events


def test_images_sum_to_the_accumulated_energy() -> None:
    columns = toy_events(ToyConfig(events=300, shard_events=300), 0)
    total = sum(columns[f"images/lr{i}"].sum(axis=(1, 2), dtype=np.float64) for i in range(4))
    np.testing.assert_allclose(total, columns["scalars/e_acc"], rtol=1e-5)


def test_layer_fractions_match_the_stated_means() -> None:
    columns = toy_events(ToyConfig(events=4000, shard_events=4000), 0)
    layers = np.stack([columns[f"images/lr{i}"].sum(axis=(1, 2)) for i in range(4)], axis=1)
    fractions = (layers / layers.sum(axis=1, keepdims=True)).mean(axis=0)
    np.testing.assert_allclose(fractions, LAYER_FRACTIONS, atol=0.01)


def test_resolution_follows_stochastic_and_constant_terms() -> None:
    """Fit σ/E = a/√E ⊕ c in energy bins and recover the configured terms."""
    config = ToyConfig(events=40_000, shard_events=40_000, energy_range=(5.0, 500.0))
    columns = toy_events(config, 0)
    energy = columns["truth/energy"].astype(np.float64)
    response = columns["scalars/e_acc"] / energy
    edges = np.geomspace(5.0, 500.0, 9)
    centres, widths = [], []
    for low, high in itertools.pairwise(edges):
        selected = (energy >= low) & (energy < high)
        q25, q75 = np.percentile(response[selected], [25, 75])
        centres.append(np.sqrt(low * high))
        widths.append((q75 - q25) / 1.349)
    design = np.stack([1.0 / np.asarray(centres), np.ones(len(centres))], axis=1)
    a2, c2 = np.linalg.lstsq(design, np.asarray(widths) ** 2, rcond=None)[0]
    assert np.sqrt(a2) == pytest.approx(config.stochastic, rel=0.15)
    assert np.sqrt(max(c2, 0.0)) == pytest.approx(config.constant, abs=0.003)


def test_deterministic_per_shard() -> None:
    config = ToyConfig(events=100, shard_events=50, seed=5)
    first, again = toy_events(config, 1), toy_events(config, 1)
    assert first["truth/energy"].tobytes() == again["truth/energy"].tobytes()
    assert not np.array_equal(first["truth/energy"], toy_events(config, 0)["truth/energy"])
    np.testing.assert_array_equal(first["event/id"], np.arange(50, 100))


def test_bad_energy_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="energy_range"):
        parse_config(ToyConfig, {"energy_range": [300.0, 5.0]})
    with pytest.raises(ConfigError, match=r"events.*outside the allowed range"):
        parse_config(ToyConfig, {"events": 0})
