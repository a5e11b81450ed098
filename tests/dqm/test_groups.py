"""Detector-aware channel groups: built-in ECAL barrel and HCAL, blocks, a user's file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.dqm.groups import block_grouping, check_coverage, resolve_geometry
from heplearn.errors import ConfigError, DataError


def _per_level(grouping, level: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    rows = [i for i, lv in enumerate(grouping.levels) if lv == level]
    return np.asarray(grouping.members[rows].sum(axis=0)).reshape(grouping.shape)


def test_ecal_barrel_has_towers_and_supermodules_covering_every_crystal_once() -> None:
    g = resolve_geometry("ecal-barrel", (170, 360, 1))
    assert g.levels.count("tower") == 34 * 72 and g.levels.count("supermodule") == 36
    assert (_per_level(g, "tower") == 1).all() and (_per_level(g, "supermodule") == 1).all()
    sizes = np.asarray(g.members.sum(axis=1)).reshape(-1)
    assert set(sizes[:2448]) == {25} and set(sizes[2448:]) == {1700}
    assert "SM+07" in g.names and "SM-18" in g.names and "TT 12,33" in g.names
    # Crystal (row 85 + 5·11, col 5·32) is in tower iη +12, iφ 33, supermodule EB+09.
    channel = np.ravel_multi_index((85 + 55, 160, 0), g.shape)
    named = {g.names[i] for i in g.members[:, channel].nonzero()[0]}
    assert named == {"TT 12,33", "SM+09"}


def test_hcal_groups_towers_and_readout_boxes_of_existing_channels() -> None:
    from heplearn.detector.occupancy.hcal import hcal_valid_mask

    g = resolve_geometry("hcal", (82, 72, 4))
    valid = hcal_valid_mask()
    assert (_per_level(g, "rbx")[valid] == 1).all() and (_per_level(g, "tower")[valid] == 1).all()
    assert (_per_level(g, "rbx")[~valid] == 0).all()
    assert g.levels.count("rbx") == 108 and "HBP02" in g.names


def test_blocks_default_and_shape_errors() -> None:
    g = resolve_geometry(None, (12, 11, 2))
    assert len(g) == 3 * 3 * 2 and "block 2,2,1" in g.names
    assert (_per_level(g, "block") == 1).all()
    with pytest.raises(DataError, match="is for maps"):
        resolve_geometry("ecal-barrel", (34, 72, 1))
    with pytest.raises(ConfigError, match="neither a built-in"):
        resolve_geometry("no-such-geometry", (34, 72, 1))
    assert len(block_grouping((10, 10, 1), size=2)) == 25


def test_user_grouping_file_lists_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text(
        "left: {rows: [0, 4], cols: [0, 3]}\nright: {rows: [0, 4], cols: [3, 6]}\n"
        "pair: [[0, 0], [3, 5]]\n"
    )
    g = resolve_geometry(str(path), (4, 6, 1))
    assert g.names == ["left", "right", "pair"] and g.members.sum() == 26
    check_coverage(g, np.ones((4, 6, 1), bool), str(path))
    (tmp_path / "g.json").write_text('{"a": [[0, 0], [1, 0]]}')
    partial = resolve_geometry(str(tmp_path / "g.json"), (4, 6, 1))
    with pytest.raises(DataError, match="does not cover the map"):
        check_coverage(partial, np.ones((4, 6, 1), bool), "g.json")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a: [[0, 0], [9, 0]]\n", "outside the maps"),
        ("a: {rows: [0, 9], cols: [0, 2]}\n", "outside the maps"),
        ("a: {rows: [0, 2]}\n", "needs cols"),
        ("a: [[0]]\n", "not \\[row, col\\]"),
        ("a: 3\n", "neither a list"),
        ("- 1\n", "not a mapping"),
    ],
)
def test_bad_grouping_files_are_refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text(text)
    with pytest.raises((ConfigError, DataError), match=match):
        resolve_geometry(str(path), (4, 6, 1))
