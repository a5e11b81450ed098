"""DQM samples end to end: store columns, truth, determinism across workers, config, CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from heplearn.cli.generate import dqm_command
from heplearn.config import load_config, parse_config
from heplearn.data import open_store
from heplearn.detector.occupancy.hcal import (
    HCAL_SHAPE,
    hcal_valid_mask,
    ieta_of_row,
    row_of_ieta,
    select_map,
    subdetector_map,
)
from heplearn.errors import ConfigError, OutputExistsError
from heplearn.generate.dqm import DqmSampleConfig, dqm_dataset, simulate_dqm_shard

from conftest import assert_columns_equal

CONFIGS = Path(__file__).parents[2] / "configs" / "dqm"
CONTRACT = {
    "maps/occupancy": ("float32", HCAL_SHAPE),
    "event/n_events": ("float32", ()),
    "event/lumi": ("float32", ()),
    "event/run": ("int32", ()),
    "event/lumisection": ("int32", ()),
    "event/id": ("int64", ()),
    "labels/map_class": ("int8", ()),
    "labels/fault_shape": ("int8", ()),
    "labels/channels": ("uint8", HCAL_SHAPE),
}


def config(**settings: Any) -> DqmSampleConfig:
    base = {"events": 40, "shard_events": 20, "lumisections_per_run": 15, "seed": 9}
    return parse_config(DqmSampleConfig, {**base, **settings}, "test")


def test_store_has_the_contract_columns_and_consistent_truth(tmp_path: Path) -> None:
    store = open_store(dqm_dataset(config(), tmp_path / "maps"))
    columns = store.read()
    assert set(columns) == set(CONTRACT)
    for name, (dtype, shape) in CONTRACT.items():
        assert columns[name].dtype == np.dtype(dtype), name
        assert columns[name].shape == (40, *shape), name
    counts, truth = columns["maps/occupancy"], columns["labels/channels"]
    map_class = columns["labels/map_class"]
    assert np.all(counts[:, ~hcal_valid_mask()] == 0) and np.all(counts >= 0)
    assert np.all(counts <= columns["event/n_events"][:, None, None, None])
    np.testing.assert_array_equal(truth.any(axis=(1, 2, 3)), map_class != 0)
    np.testing.assert_array_equal(columns["labels/fault_shape"] != 0, map_class != 0)
    np.testing.assert_array_equal(columns["event/id"], np.arange(40))
    # 15 lumisections per run: three runs, LS numbering restarts.
    assert len(np.unique(columns["event/run"])) == 3
    assert columns["event/lumisection"][15] == 1
    dead = truth == 1
    assert np.all(counts[dead] == 0)


def test_same_seed_same_store_whatever_the_workers(tmp_path: Path) -> None:
    one = open_store(dqm_dataset(config(), tmp_path / "one", workers=1)).read()
    two = open_store(dqm_dataset(config(), tmp_path / "two", workers=2)).read()
    assert_columns_equal(one, two)
    other = simulate_dqm_shard(config(seed=10), 0)
    assert not np.array_equal(other["maps/occupancy"], one["maps/occupancy"][:20])


def test_fixed_position_sample(tmp_path: Path) -> None:
    settings = config(fixed_position=True, fixed_channel=[20, 7, 2], good_fraction=0.2)
    columns = simulate_dqm_shard(settings, 1)
    faulty = columns["labels/map_class"] != 0
    assert faulty.sum() > 10
    channel = (int(row_of_ieta(20)), 6, 1)
    assert np.all(columns["labels/channels"][faulty][(slice(None), *channel)] > 0)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"fault_classes": {"dead": 1.0, "warm": 1.0}}, "fault_classes.warm"),
        ({"fault_shapes": {"1x1": -1.0}}, "negative weight"),
        ({"fixed_channel": [25, 2, 1]}, "not an HCAL channel"),
        ({"partial_gain": [0.8, 0.2]}, "not [low, high]"),
        ({"good_fraction": 1.5}, "outside the allowed range"),
        ({"fault_classes": {"dead": 0.0}}, "all weights are 0"),
        ({"view": {"subdetector": "HX"}}, "not one of the allowed values"),
        ({"view": {"depth": 5}}, "outside the allowed range"),
        ({"view": {"phi": 1}}, "unknown key 'view.phi'"),
        (
            {"view": {"subdetector": "HF"}, "fixed_position": True, "fixed_channel": [8, 36, 1]},
            "outside the view",
        ),
    ],
)
def test_bad_configs_are_refused(settings: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        config(**settings)


def test_shipped_configs_load() -> None:
    default = load_config(DqmSampleConfig, CONFIGS / "hcal.yaml")
    assert default.events == 6000 and default.shard_events == 500
    assert default.good_fraction == 0.5
    quick = load_config(DqmSampleConfig, CONFIGS / "quick.yaml")
    assert quick.events <= 500


def test_cli_command_writes_the_store_and_refuses_another_run(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command(name="dqm")(dqm_command)
    app.command(name="other")(lambda: None)  # two commands: "dqm" is a sub-command
    out = tmp_path / "cli"
    args = ["dqm", "--config", str(CONFIGS / "quick.yaml"), "--out", str(out), "--events", "30"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 30 maps" in result.output
    assert len(open_store(out).read(["labels/map_class"])["labels/map_class"]) == 30
    again = CliRunner().invoke(app, [*args[:-1], "31"])
    assert isinstance(again.exception, OutputExistsError)


ALL_SHAPES = {"1x1": 1.0, "5x5": 1.0, "rbx": 1.0, "depth": 1.0}
#: sha256 of (map_class, fault_shape, channels) of shards 0 and 1 of ``config()``, computed
#: with the generator as it was before map views existed: the default must not change them.
TRUTH_DIGESTS = (
    "644454fad5311044032d8bd27ddbb279aec7e9358c3ad67dc47091bee2975521",
    "306ea382bd1b774c8fefc3353b157c1740a70b10747cc43a6d56156652d2d2c2",
)


def truth_digest(columns: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for name in ("labels/map_class", "labels/fault_shape", "labels/channels"):
        digest.update(np.ascontiguousarray(columns[name]).tobytes())
    return digest.hexdigest()


def test_default_view_is_the_full_map_as_before() -> None:
    default = config()
    assert default.view.full and default.fault_plan().allowed is None
    for shard, expected in enumerate(TRUTH_DIGESTS):
        columns = simulate_dqm_shard(default, shard)
        assert truth_digest(columns) == expected
        explicit = simulate_dqm_shard(config(view={}), shard)
        assert_columns_equal(columns, explicit)


def test_hb_depth1_view_stores_its_slice_with_faults_inside() -> None:
    view = config(
        view={"subdetector": "HB", "depth": 1}, good_fraction=0.2, fault_shapes=ALL_SHAPES
    )
    columns = simulate_dqm_shard(view, 0)
    counts, truth = columns["maps/occupancy"], columns["labels/channels"]
    assert counts.shape == truth.shape == (20, 32, 72, 1)
    assert counts.dtype == np.float32 and truth.dtype == np.uint8
    # Rows are ieta −16…−1, +1…+16; every stored channel is a live HB channel (≈ 300 hits).
    hb_rows = np.flatnonzero(np.abs(ieta_of_row(np.arange(82))) <= 16)
    assert np.all(counts[truth != 1] > 0)
    map_class = columns["labels/map_class"]
    faulty = map_class != 0
    assert faulty.sum() >= 10
    # Map labels agree with the stored slice: every faulty map has a faulty channel in it.
    np.testing.assert_array_equal(truth.any(axis=(1, 2, 3)), faulty)
    per_map = truth.reshape(20, -1).max(axis=1)
    np.testing.assert_array_equal(per_map, map_class)
    whole = columns["labels/fault_shape"] == 4
    assert np.all((truth[whole] > 0).sum(axis=(1, 2, 3)) == 32 * 72)
    assert np.all(counts[truth == 1] == 0)
    # All-good maps draw no fault positions, so with and without the view they are the same
    # maps: the stored slice is the full map's HB rows at depth 1.
    sliced = simulate_dqm_shard(
        config(view={"subdetector": "HB", "depth": 1}, good_fraction=1.0), 0
    )
    full = simulate_dqm_shard(config(good_fraction=1.0), 0)["maps/occupancy"]
    np.testing.assert_array_equal(sliced["maps/occupancy"][..., 0], full[:, hb_rows][..., 0])


def test_hf_view_keeps_its_rows_and_zeroes_other_channels() -> None:
    columns = simulate_dqm_shard(config(view={"subdetector": "HF"}, good_fraction=0.2), 1)
    counts, truth = columns["maps/occupancy"], columns["labels/channels"]
    hf = select_map(subdetector_map() == 3, "HF")
    assert counts.shape == (20, 26, 72, 4) and hf.shape == (26, 72, 4)
    assert np.all(counts[:, ~hf] == 0) and np.all(truth[:, ~hf] == 0)
    np.testing.assert_array_equal(truth.any(axis=(1, 2, 3)), columns["labels/map_class"] != 0)


def test_thesis_configs_load_with_the_hb_depth1_view() -> None:
    for name in ("thesis-5x5", "thesis-1x1", "thesis-5x5-fixed"):
        thesis = load_config(DqmSampleConfig, CONFIGS / f"{name}.yaml")
        assert (thesis.view.subdetector, thesis.view.depth) == ("HB", 1)
        assert set(thesis.fault_classes) == {"dead", "hot"}
        assert thesis.good_fraction == pytest.approx(1 / 3, abs=0.01)
    fixed = load_config(DqmSampleConfig, CONFIGS / "thesis-5x5-fixed.yaml")
    assert fixed.fixed_position and fixed.fault_shapes == {"5x5": 1.0}
