"""Up-sampling onto the common 56×11 grid: each layer keeps its energy and its shower position."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from heplearn.calib.upsampling import (
    plan_for_store,
    plan_from_geometry,
    plan_from_shapes,
    upsample,
)
from heplearn.data.reader import open_store
from heplearn.detector.calorimeter.geometry import load_geometry
from heplearn.errors import ConfigError

ATLAS_SHAPES = {"presampler": (7, 3), "strips": (56, 3), "middle": (7, 11), "back": (4, 11)}


def test_plan_of_the_atlas_like_store_comes_from_its_geometry(gun_store: Path) -> None:
    plan = plan_for_store(open_store(gun_store))
    assert plan.grid == (56, 11)
    assert plan.factors == {
        "presampler": (8, 4),
        "strips": (1, 4),
        "middle": (8, 1),
        "back": (16, 1),
    }
    assert "atlas-lar" in plan.source


def test_every_channel_keeps_its_layer_energy(gun_store: Path) -> None:
    store = open_store(gun_store)
    plan = plan_for_store(store)
    cells = store.read([f"images/{name}" for name in plan.factors])
    for name in plan.factors:
        native = cells[f"images/{name}"]
        up = plan.upsample(name, native)
        assert up.shape == (store.rows, 56, 11)
        assert up.dtype == np.float32
        np.testing.assert_allclose(
            up.sum(axis=(1, 2), dtype=np.float64),
            native.sum(axis=(1, 2), dtype=np.float64),
            rtol=1e-6,
            atol=1e-6,  # 1 keV where a noisy layer sums to nearly 0
        )


def test_one_presampler_cell_becomes_32_sub_cells_of_a_32nd() -> None:
    cells = np.zeros((1, 7, 3), np.float32)
    cells[0, 2, 1] = 1.0
    up = upsample(cells, (8, 4), (56, 11))[0]
    np.testing.assert_array_equal(up[16:24, 4:8], np.full((8, 4), 1 / 32, np.float32))
    assert np.count_nonzero(up) == 32
    assert up.sum() == pytest.approx(1.0, rel=1e-7)


def test_sub_cells_beyond_the_grid_fold_onto_its_edge() -> None:
    # Last presampler φ cell: sub-columns 8..11, of which 11 lies beyond the 11 grid columns.
    cells = np.zeros((1, 7, 3), np.float32)
    cells[0, 6, 2] = 1.0
    up = upsample(cells, (8, 4), (56, 11))[0]
    np.testing.assert_allclose(up[48:56, 8:10], 1 / 32)
    np.testing.assert_allclose(up[48:56, 10], 2 / 32)
    # Last back cell in η: sub-rows 48..63 of 56, eight of them folded onto row 55.
    back = np.zeros((1, 4, 11), np.float32)
    back[0, 3, 5] = 1.6
    up = upsample(back, (16, 1), (56, 11))[0]
    np.testing.assert_allclose(up[48:55, 5], 0.1, rtol=1e-6)
    np.testing.assert_allclose(up[55, 5], 0.9, rtol=1e-6)
    assert up.sum(dtype=np.float64) == pytest.approx(1.6, rel=1e-6)


def test_times_are_repeated_not_divided() -> None:
    times = np.arange(21, dtype=np.float32).reshape(1, 7, 3)
    up = upsample(times, (8, 4), (56, 11), conserve=False)[0]
    assert up[0, 0] == 0.0 and up[7, 3] == 0.0
    assert up[8, 4] == times[0, 1, 1]
    assert up[55, 10] == times[0, 6, 2]  # the overflowing column is dropped, not added


def test_upsampled_layers_see_the_shower_in_the_same_place(gun_store: Path) -> None:
    store = open_store(gun_store)
    plan = plan_for_store(store)
    cells = store.read(["images/strips", "images/middle", "scalars/e_strips"])
    rows = np.arange(56) + 0.5

    def eta_barycentre(name: str) -> np.ndarray:
        profile = plan.upsample(name, cells[f"images/{name}"]).sum(axis=2, dtype=np.float64)
        barycentre: np.ndarray = (profile * rows).sum(axis=1) / profile.sum(axis=1)
        return barycentre

    middle, strips = eta_barycentre("middle"), eta_barycentre("strips")
    # The seed window is centred on the cluster: the shower sits in the middle of the grid.
    assert np.median(middle) == pytest.approx(28.0, abs=1.0)
    # Strips and middle windows line up to within half a middle cell (4 strip cells).
    enough = cells["scalars/e_strips"] > 5.0
    offset = (strips - middle)[enough]
    assert abs(np.median(offset)) < 0.5
    assert np.quantile(np.abs(offset), 0.9) < 4.0


def test_without_a_geometry_factors_come_from_the_shapes() -> None:
    plan = plan_from_shapes(ATLAS_SHAPES)
    assert plan.grid == (56, 11)
    assert plan.factors["presampler"] == (8, 4)
    assert plan.factors["back"] == (14, 1)  # ceil(56 / 4): the shapes cannot know Δη = 0.05


def test_a_cell_size_that_is_no_multiple_of_the_grid_is_refused() -> None:
    geometry = load_geometry("atlas-lar")
    odd = tuple(
        dataclasses.replace(layer, d_eta=0.03) if layer.name == "back" else layer
        for layer in geometry.layers
    )
    with pytest.raises(ConfigError, match=r"layer 'back' Δη / grid Δη.*not a whole number"):
        plan_from_geometry(dataclasses.replace(geometry, layers=odd), ATLAS_SHAPES, "test")
