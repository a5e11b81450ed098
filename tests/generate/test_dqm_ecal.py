"""ECAL barrel DQM sample: columns, no event count, luminosity decay, faults as their truth says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heplearn.config import load_config, parse_config
from heplearn.data import open_store
from heplearn.detector.occupancy.ecal_barrel import supermodule_map, tower_map
from heplearn.detector.occupancy.fault_codes import FAULT_SHAPES
from heplearn.errors import ConfigError
from heplearn.generate.dqm_ecal import EcalDqmSampleConfig, simulate_ecal_dqm_shard

from conftest import CliResult

CONFIGS = Path(__file__).parents[2] / "configs" / "dqm"


def config(**settings: Any) -> EcalDqmSampleConfig:
    base = {"events": 60, "shard_events": 60, "lumisections_per_run": 60}
    return parse_config(EcalDqmSampleConfig, {**base, **settings}, "test")


@pytest.fixture(scope="module")
def faulty() -> dict[str, Any]:
    return simulate_ecal_dqm_shard(config(good_fraction=0.3), 0)


def test_columns_and_shapes(faulty: dict[str, Any]) -> None:
    assert faulty["maps/occupancy"].shape == (60, 170, 360, 1)
    assert faulty["maps/occupancy"].dtype == np.float32
    assert faulty["labels/channels"].shape == (60, 170, 360, 1)
    assert np.array_equal(faulty["geometry/tower"][7, ..., 0], tower_map())
    assert np.array_equal(faulty["geometry/supermodule"][0, ..., 0], supermodule_map())
    assert "event/n_events" not in faulty  # real maps carry no event count
    assert (faulty["event/lumisection"] == np.arange(1, 61)).all()
    assert len(np.unique(faulty["event/run"])) == 1
    for name in ("labels/map_class", "labels/tower", "labels/noisy_tower", "truth/lumi"):
        assert faulty[name].shape == (60,)
    with_count = simulate_ecal_dqm_shard(config(store_event_count=True, events=4), 0)
    assert np.array_equal(with_count["event/n_events"], with_count["truth/n_events"])


def test_same_seed_same_shard() -> None:
    a = simulate_ecal_dqm_shard(config(events=8), 0)
    b = simulate_ecal_dqm_shard(config(events=8), 0)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_luminosity_decays_and_the_occupancy_with_it() -> None:
    columns = simulate_ecal_dqm_shard(config(good_fraction=1.0, lumi_lifetime_h=2.0), 0)
    lumi = columns["truth/lumi"]
    assert (np.diff(lumi) < 0).all() and lumi[-1] < 0.9 * lumi[0]
    totals = columns["maps/occupancy"].sum(axis=(1, 2, 3))
    ls = columns["event/lumisection"]
    assert np.corrcoef(ls, totals)[0, 1] < -0.5
    assert totals[-10:].mean() < 0.9 * totals[:10].mean()


def test_each_fault_appears_where_its_truth_says(faulty: dict[str, Any]) -> None:
    counts = faulty["maps/occupancy"][..., 0]
    good = faulty["labels/map_class"] == 0
    # Each crystal's typical count over the good maps, scaled to every map's total.
    scale = counts.sum(axis=(1, 2)) / counts[good].sum(axis=(1, 2)).mean()
    expected = counts[good].mean(axis=0)[None] * scale[:, None, None]
    seen = set()
    for i in np.flatnonzero(~good):
        region = faulty["labels/channels"][i, ..., 0] > 0
        shape = FAULT_SHAPES[faulty["labels/fault_shape"][i]]
        kind = "dead" if faulty["labels/map_class"][i] == 1 else "hot"
        seen.add(f"{kind}_{shape}")
        assert region.sum() == {"1x1": 1, "tower": 25, "supermodule": 1700}[shape]
        assert (supermodule_map()[region] == faulty["labels/supermodule"][i]).all()
        if shape != "supermodule":
            assert (tower_map()[region] == faulty["labels/tower"][i]).all()
        if kind == "dead":
            assert (counts[i][region] == 0).all()
        else:
            assert counts[i][region].sum() > 2 * expected[i][region].sum()
    assert seen == {"dead_1x1", "hot_1x1", "dead_tower", "hot_tower", "dead_supermodule"}
    assert not faulty["labels/channels"][good].any()


def test_noisy_towers_leave_the_map_good() -> None:
    columns = simulate_ecal_dqm_shard(config(events=6, good_fraction=1.0, noisy_tower_rate=1.0), 0)
    assert (columns["labels/noisy_tower"] >= 0).all()
    assert (columns["labels/map_class"] == 0).all() and not columns["labels/channels"].any()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"fault_types": {"warm_tower": 1.0}}, "not one of dead_crystal"),
        ({"fault_types": {"dead_tower": 0.0}}, "all weights are 0"),
        ({"hot_factor": [5.0, 3.0]}, "is not \\[low, high\\]"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**settings).validate("test")


def test_shipped_config_and_cli(tmp_path: Path, cli: Any) -> None:
    shipped = load_config(EcalDqmSampleConfig, CONFIGS / "ecal-barrel.yaml")
    assert shipped.events >= 1000 and not shipped.store_event_count
    out = tmp_path / "ecal"
    result: CliResult = cli(
        "generate", "dqm", "-c", str(CONFIGS / "ecal-barrel.yaml"), "-o", str(out), "-n", "6"
    )
    assert result.code == 0, result.err
    store = open_store(out)
    assert store.provenance["geometry"] == "ecal-barrel"
    assert store.read(["maps/occupancy"])["maps/occupancy"].shape == (6, 170, 360, 1)
