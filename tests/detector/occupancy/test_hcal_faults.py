"""Fault injection: regions, truth labels, and the effect of each fault class on the counts."""

from __future__ import annotations

import numpy as np
import pytest

from heplearn.detector.occupancy.hcal import (
    HCAL_SHAPE,
    hcal_valid_mask,
    rbx_map,
    row_of_ieta,
    subdetector_map,
)
from heplearn.detector.occupancy.hcal_faults import (
    FaultPlan,
    InjectedFaults,
    apply_faults,
    draw_faults,
    fault_region,
)
from heplearn.detector.occupancy.hcal_occupancy import (
    DetectorConditions,
    hit_probability,
    sample_counts,
)
from heplearn.dqm.labels import (
    CLASS_NAMES,
    SHAPE_NAMES,
    class_index,
    class_name,
    fault_size_name,
    shape_index,
)
from heplearn.errors import ConfigError

VALID = hcal_valid_mask()


def test_label_names_follow_the_contract() -> None:
    assert CLASS_NAMES == ("good", "dead", "hot", "noisy", "partial")
    assert SHAPE_NAMES == ("none", "1x1", "5x5", "rbx", "depth", "tower", "supermodule")
    assert class_index("noisy") == 3 and class_name(4) == "partial"
    assert shape_index("rbx") == 3
    assert fault_size_name(1, 2) == "dead_5x5" and fault_size_name(0, 0) == "good"
    with pytest.raises(ConfigError, match="good, dead"):
        class_index("warm")
    with pytest.raises(ConfigError):
        class_name(5)


@pytest.fixture(scope="module")
def faults() -> InjectedFaults:
    return draw_faults(np.random.default_rng(5), 600, FaultPlan(good_fraction=0.4))


def test_labels_are_consistent(faults: InjectedFaults) -> None:
    faulty_channels = faults.channels.reshape(len(faults.map_class), -1)
    has_fault = faulty_channels.any(axis=1)
    np.testing.assert_array_equal(has_fault, faults.map_class != 0)
    np.testing.assert_array_equal(faults.fault_shape != 0, faults.map_class != 0)
    # One class per map: every faulty channel carries the map's class.
    per_map = np.where(faulty_channels > 0, faulty_channels, 0).max(axis=1)
    np.testing.assert_array_equal(per_map, faults.map_class)
    assert np.all(faults.channels[:, ~VALID] == 0)
    assert faults.channels.dtype == np.uint8 and faults.map_class.dtype == np.int8
    assert np.mean(faults.map_class == 0) == pytest.approx(0.4, abs=0.06)
    assert set(np.unique(faults.map_class)) == {0, 1, 2, 3, 4}


def test_region_shapes(faults: InjectedFaults) -> None:
    n_channels = (faults.channels > 0).sum(axis=(1, 2, 3))
    shape = faults.fault_shape
    assert np.all(n_channels[shape == 1] == 1)
    assert np.all((n_channels[shape == 2] >= 1) & (n_channels[shape == 2] <= 25))
    for i in np.flatnonzero(shape == 2):
        rows, cols, depths = np.nonzero(faults.channels[i])
        assert len(np.unique(depths)) == 1 and np.ptp(rows) <= 4
        assert min(np.ptp(cols), np.ptp((cols + 36) % 72)) <= 4  # iphi wraps
    for i in np.flatnonzero(shape == 3):
        boxes = np.unique(rbx_map()[faults.channels[i] > 0])
        assert len(boxes) == 1
        assert n_channels[i] == np.sum(rbx_map() == boxes[0])
    for i in np.flatnonzero(shape == 4):
        depths = np.unique(np.nonzero(faults.channels[i])[2])
        assert len(depths) == 1 and n_channels[i] == VALID[..., depths[0]].sum()


def test_five_by_five_is_clipped_to_existing_channels() -> None:
    corner = fault_region("5x5", (0, 0, 0))  # ieta −41, iphi 1: rows clip, iphi wraps
    # Rows ieta −41, −40 (20° towers: iphi 71, 3) and −39 (10°: iphi 71, 1, 3).
    assert corner.sum() == 2 + 2 + 3
    assert not corner[~VALID].any()
    central = fault_region("5x5", (int(row_of_ieta(3)), 10, 1))
    assert central.sum() == 25
    across_zero = fault_region("5x5", (int(row_of_ieta(-1)), 10, 0))
    assert across_zero[int(row_of_ieta(2))].any()  # ieta −1 and +1 are neighbours


def test_fixed_position_puts_every_fault_on_one_channel() -> None:
    plan = FaultPlan(good_fraction=0.0, fixed_position=True, fixed_channel=(-12, 50, 2))
    fixed = draw_faults(np.random.default_rng(1), 80, plan)
    channel = (int(row_of_ieta(-12)), 49, 1)
    assert np.all(fixed.channels[(slice(None), *channel)] > 0)
    ones = fixed.channels[fixed.fault_shape == 1]
    assert np.all(ones.reshape(len(ones), -1).sum(axis=1) == ones[(slice(None), *channel)])


def injected(klass: int, shape: int, severity: float, n: int, region: np.ndarray) -> InjectedFaults:
    channels = np.zeros((n, *HCAL_SHAPE), dtype=np.uint8)
    channels[:, region] = klass
    return InjectedFaults(
        np.full(n, klass, np.int8), np.full(n, shape, np.int8), np.full(n, severity), channels
    )


def nominal(n: int) -> np.ndarray:
    return hit_probability(np.full(n, 1.5), DetectorConditions().gains(0), 0.005)


def test_dead_channels_are_zero_exactly_where_the_truth_says() -> None:
    rng = np.random.default_rng(2)
    n = 20
    truth = draw_faults(rng, n, FaultPlan(good_fraction=0.0, class_weights=(1, 0, 0, 0)))
    counts = sample_counts(rng, np.full(n, 2000), apply_faults(nominal(n), truth, rng))
    dead = truth.channels == 1
    assert dead.any() and np.all(counts[dead] == 0)
    # Live channels expect ≥ 25 hits here, so none reads zero by chance.
    assert np.all(counts[~dead & np.broadcast_to(VALID, counts.shape)] > 0)


def test_partial_gain_scales_the_occupancy() -> None:
    rng = np.random.default_rng(3)
    plan = FaultPlan(good_fraction=0.0, class_weights=(0, 0, 0, 1), shape_weights=(0, 0, 0, 1))
    truth = draw_faults(rng, 40, plan)
    assert np.all((truth.severity >= 0.2) & (truth.severity <= 0.8))
    p = nominal(40)
    n_events = np.full(40, 3000)
    counts = sample_counts(rng, n_events, apply_faults(p, truth, rng))
    partial = truth.channels == 4
    ratio = counts.sum(axis=(1, 2, 3), where=partial) / (3000 * p).sum(
        axis=(1, 2, 3), where=partial
    )
    np.testing.assert_allclose(ratio, truth.severity, rtol=0.01)


def test_hot_channels_show_a_large_excess() -> None:
    rng = np.random.default_rng(4)
    n = 30
    region = fault_region("5x5", (int(row_of_ieta(5)), 20, 0))
    p = nominal(n)
    counts = sample_counts(
        rng, np.full(n, 2000), apply_faults(p, injected(2, 2, 3.0, n, region), rng)
    )
    ratio = counts[:, region] / (2000 * p[:, region])
    # Rate ×3 on channels with p ≈ 0.1: p_hot = 1 − 0.9³ ≈ 2.7 p.
    assert np.all(ratio > 2.0)


def test_noisy_channels_have_raised_variance_and_similar_mean() -> None:
    """Over many lumisections at fixed conditions: noisy variance ≫ binomial, mean kept."""
    rng = np.random.default_rng(6)
    n = 120
    region = fault_region("rbx", (int(row_of_ieta(7)), 30, 0))
    p = nominal(n)
    noisy = apply_faults(p, injected(3, 3, 0.5, n, region), rng)
    counts = sample_counts(rng, np.full(n, 2000), noisy)
    good = sample_counts(rng, np.full(n, 2000), p)
    mean_ratio = counts[:, region].mean(axis=0) / good[:, region].mean(axis=0)
    assert mean_ratio.mean() == pytest.approx(1.0, abs=0.02)
    var_ratio = counts[:, region].var(axis=0) / good[:, region].var(axis=0)
    assert np.median(var_ratio) > 10
    # Outside the region nothing changed.
    np.testing.assert_array_equal(noisy[:, ~region], p[:, ~region])


def hb_depth1() -> np.ndarray:
    """The HB depth-1 channels (the thesis' maps): |ieta| 1–16 × 72 iphi."""
    mask: np.ndarray = np.array(subdetector_map() == 1)
    mask[..., 1:] = False
    return mask


def test_allowed_channels_confine_every_fault_shape() -> None:
    allowed = hb_depth1()
    plan = FaultPlan(good_fraction=0.0, allowed=allowed)
    faults = draw_faults(np.random.default_rng(8), 300, plan)
    hit = faults.channels > 0
    assert not hit[:, ~allowed].any()
    n_channels = hit.sum(axis=(1, 2, 3))
    assert np.all(n_channels >= 1)  # a faulty map keeps a faulty channel inside the view
    shape = faults.fault_shape
    assert set(np.unique(shape)) == {1, 2, 3, 4}
    assert np.all(n_channels[shape == 1] == 1) and np.all(n_channels[shape == 2] <= 25)
    # A 5×5 box centred at the HB edge (|ieta| 16) loses the HE rows beyond it.
    edge = fault_region("5x5", (int(row_of_ieta(16)), 10, 0), allowed)
    assert (
        edge.sum() == 3 * 5
        and edge.sum() < fault_region("5x5", (int(row_of_ieta(16)), 10, 0)).sum()
    )
    for i in np.flatnonzero(shape == 3):
        boxes = np.unique(rbx_map()[hit[i]])
        # One HB box, clipped to depth 1: 16 ieta × 4 iphi.
        assert len(boxes) == 1 and n_channels[i] == 64
    # A whole-depth fault is the view's whole depth slice.
    assert np.all(n_channels[shape == 4] == allowed.sum())


def test_default_allowed_is_every_channel_and_draws_the_same() -> None:
    plan = FaultPlan(good_fraction=0.3)
    explicit = FaultPlan(good_fraction=0.3, allowed=VALID)
    one = draw_faults(np.random.default_rng(9), 120, plan)
    two = draw_faults(np.random.default_rng(9), 120, explicit)
    np.testing.assert_array_equal(one.channels, two.channels)
    np.testing.assert_array_equal(one.severity, two.severity)


def test_fixed_channel_outside_the_allowed_channels_is_refused() -> None:
    plan = FaultPlan(
        good_fraction=0.0, fixed_position=True, fixed_channel=(8, 36, 2), allowed=hb_depth1()
    )
    with pytest.raises(ValueError, match="not an allowed channel"):
        draw_faults(np.random.default_rng(1), 5, plan)
