"""The reference: rates, mask of channels dead in every reference map, scale, pulls, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.dqm.maps import MapSet
from heplearn.dqm.reference import Reference, fit_reference
from heplearn.errors import DataError

SHAPE = (20, 24, 1)


def rates(seed: int = 0) -> np.ndarray:
    """Hits per event per channel: eta-like slope × per-channel spread; column 23 absent."""
    rng = np.random.default_rng(seed)
    eta = np.linspace(0.05, 0.2, SHAPE[0])[:, None, None]
    rate = eta * rng.lognormal(0.0, 0.2, SHAPE)
    rate[:, 23, :] = 0.0
    return rate


def poisson_maps(n: int, rate: np.ndarray, seed: int, events: float = 3000.0) -> MapSet:
    rng = np.random.default_rng(seed)
    n_events = rng.uniform(0.7, 1.3, n) * events
    counts = rng.poisson(rate[None] * n_events[:, None, None, None]).astype(np.float32)
    return MapSet(
        counts=counts,
        n_events=n_events.astype(np.float32),
        map_class=np.zeros(n, np.int8),
        channel_class=np.zeros(counts.shape, np.uint8),
        names=[str(i) for i in range(n)],
    )


def test_rate_and_mask_match_the_truth() -> None:
    rate = rates()
    ref = fit_reference(poisson_maps(50, rate, seed=1))
    assert ref.shape == SHAPE
    # Channels empty in every reference map (column 23) are masked, the rest live.
    assert not ref.mask[:, 23].any() and ref.mask[:, :23].all()
    rel = ref.rate[ref.mask] / rate[ref.mask]
    assert abs(rel.mean() - 1.0) < 0.01 and rel.std() < 0.02


def test_normalised_and_pulls_are_nominal_on_good_maps() -> None:
    rate = rates()
    ref = fit_reference(poisson_maps(50, rate, seed=1))
    good = poisson_maps(30, rate, seed=2)
    norm = ref.normalised(good)
    live = np.broadcast_to(ref.mask, norm.shape)
    assert abs(norm[live].mean() - 1.0) < 0.01
    assert (norm[~live] == 0).all()
    pulls = ref.pulls(good)[live]
    # Beta-binomial pulls of good maps are standard normal (reference stats included).
    assert abs(pulls.mean()) < 0.05 and 0.9 < pulls.std() < 1.1
    assert (ref.pulls(good)[~live] == 0).all()


def test_scale_absorbs_occupancy_per_event_but_not_a_local_fault() -> None:
    rate = rates()
    ref = fit_reference(poisson_maps(50, rate, seed=1))
    # Twice the occupancy per event (pile-up): scale 2, normalised still ~1.
    busy = poisson_maps(5, 2.0 * rate, seed=3)
    assert np.allclose(ref.scale(busy), 2.0, rtol=0.02)
    # A third of the map dead: the scale (robust) stays 1, the dead region reads ~0.
    faulty = poisson_maps(5, rate, seed=4)
    faulty.counts[:, :7] = 0.0
    assert np.allclose(ref.scale(faulty), 1.0, rtol=0.02)
    norm = ref.normalised(faulty)
    assert norm[:, :7].max() == 0.0 and abs(norm[:, 8:, :23].mean() - 1.0) < 0.02
    pulls = ref.pulls(faulty)
    assert pulls[:, :7, :23].max() < -5.0


def test_empty_map_has_zero_expectation_and_is_empty() -> None:
    rate = rates()
    ref = fit_reference(poisson_maps(20, rate, seed=1))
    maps = poisson_maps(2, rate, seed=5)
    maps.counts[1] = 0.0
    maps.n_events[1] = 0.0
    assert maps.empty.tolist() == [False, True]
    assert (ref.normalised(maps)[1] == 0).all() and (ref.pulls(maps)[1] == 0).all()


def test_reference_skips_faulty_and_refuses_bad_input() -> None:
    rate = rates()
    maps = poisson_maps(10, rate, seed=1)
    assert maps.map_class is not None
    maps.map_class[:5] = 2
    maps.counts[:5] *= 100.0  # hot maps must not enter the reference
    ref = fit_reference(maps)
    assert abs(ref.rate[ref.mask].sum() / rate.sum() - 1.0) < 0.02
    maps.map_class[:] = 1
    with pytest.raises(DataError, match="no good maps"):
        fit_reference(maps)
    bad = poisson_maps(3, rate, seed=2)
    bad.counts[1, 0, 0, 0] = np.nan
    bad.counts[1, 1, 0, 0] = -1.0
    with pytest.raises(DataError, match=r"map '1' has 2 bad channels \(1 NaN/inf, 1 negative\)"):
        fit_reference(bad)


def test_save_load_round_trip(tmp_path: Path) -> None:
    rate = rates()
    ref = fit_reference(poisson_maps(20, rate, seed=1))
    ref.save(tmp_path / "ref")
    again = Reference.load(tmp_path / "ref")
    maps = poisson_maps(3, rate, seed=9)
    np.testing.assert_array_equal(ref.pulls(maps), again.pulls(maps))
    np.testing.assert_array_equal(ref.mask, again.mask)
    assert sorted(p.name for p in (tmp_path / "ref").iterdir()) == [
        "reference.json",
        "reference.safetensors",
    ]
    other = MapSet.from_counts(np.ones((1, 5, 5)))
    with pytest.raises(DataError, match="fitted on maps"):
        ref.pulls(other)


# ---- the vectorised scale against the straightforward implementation it replaced ----


def _old_scale(ref: Reference, maps: MapSet) -> np.ndarray:
    """Reference.scale as first written (one pass over all maps, np.median of padded rows)."""
    live = ref.mask.reshape(-1)
    rate = ref.rate.reshape(-1)[live].astype(np.float32)
    events = maps.n_events.astype(np.float32)
    nominal = events[:, None] * rate[None, :]
    counts = maps.counts.reshape(len(maps), -1)[:, live]
    exp_sum = events.astype(np.float64) * float(rate.sum(dtype=np.float64))
    cnt_sum = counts.sum(axis=1, dtype=np.float64)
    usable = (exp_sum > 0) & (cnt_sum > 0)
    total_ratio = np.where(usable, cnt_sum / np.where(usable, exp_sum, 1.0), 1.0)
    rich = nominal >= 10.0
    fill = np.where(np.arange(counts.shape[1]) % 2 == 0, -np.inf, np.inf).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = np.median(np.where(rich, counts / nominal, fill[None, :]), axis=1)
    s0 = np.where((rich.sum(axis=1) >= 20) & np.isfinite(s0) & (s0 > 0), s0, total_ratio)
    shifted = nominal * s0[:, None].astype(np.float32)
    near = np.abs(counts - shifted) <= 4.0 * np.sqrt(shifted + 1.0)
    near_exp = np.where(near, nominal, 0.0).sum(axis=1, dtype=np.float64)
    near_cnt = np.where(near, counts, 0.0).sum(axis=1, dtype=np.float64)
    refined = np.where(near_exp > 0, near_cnt / np.where(near_exp > 0, near_exp, 1.0), s0)
    return np.where(usable, refined, 1.0)


def _old_pulls(ref: Reference, maps: MapSet, scale: np.ndarray) -> np.ndarray:
    """Reference.pulls as first written (all maps at once)."""
    n_ref = float(ref.ref_counts[ref.mask].sum())
    n_data = scale * maps.n_events.astype(np.float64) * float(ref.rate[ref.mask].sum())
    n_data = n_data[:, None, None, None]
    p = (ref.ref_counts + 1.0) / (n_ref + 2.0)
    mean = n_data * p[np.newaxis]
    var = mean * (1.0 - p[np.newaxis]) * (n_data + n_ref + 2.0) / (n_ref + 3.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pull = np.where(var > 0, (maps.counts - mean) / np.sqrt(var), 0.0)
    return np.where(ref.mask[np.newaxis], pull, 0.0).astype(np.float32)


@pytest.mark.parametrize("shape", [(82, 72, 4), (34, 72, 1), (9, 7, 2)])
def test_scale_and_pulls_are_bit_for_bit_the_straightforward_ones(
    shape: tuple[int, int, int],
) -> None:
    rng = np.random.default_rng(sum(shape))
    rate = rng.uniform(0.0, 0.05, shape) * (rng.random(shape) > 0.2)
    ref = fit_reference(MapSet.from_counts(rng.poisson(rate * 2e4, (40, *shape)), np.full(40, 2e4)))
    n = 45  # several blocks and a partial one
    events = rng.uniform(20.0, 4000.0, n)
    events[:3] = [0.0, 5.0, 1e6]  # no events, too few for the median, far more than usual
    gain = rng.choice([0.5, 1.0, 2.0], n)[:, None, None, None]
    counts = rng.poisson(rate * gain * events[:, None, None, None]).astype(np.float32)
    counts[3] = 0.0  # an empty map
    counts[4, : shape[0] // 2] = 0.0  # half of the map dead
    counts[5, : shape[0] // 3] *= 50.0  # a third of it hot
    counts[6] += rng.normal(0.0, 3.0, shape).astype(np.float32).clip(0)  # not integer counts
    maps = MapSet.from_counts(counts, events)
    scale = ref.scale(maps)
    np.testing.assert_array_equal(scale, _old_scale(ref, maps))
    np.testing.assert_array_equal(ref.pulls(maps, scale), _old_pulls(ref, maps, scale))
    for rows in (slice(0, 1), slice(7, 24), slice(40, 45)):
        np.testing.assert_array_equal(ref.scale(maps.subset(rows)), _old_scale(ref, maps)[rows])


def test_row_median_is_numpy_median_also_off_the_window() -> None:
    from heplearn.dqm.reference import row_median

    rng = np.random.default_rng(3)
    for n in (9000, 17280, 20001):
        x = rng.normal(1.0, 0.1, (12, n)).astype(np.float32)
        x[1, ::3] = -np.inf  # unbalanced infinities move the middle far off the sample's
        x[2, :] = np.inf
        x[3, 5] = np.nan
        x[4] = np.round(x[4], 1)  # many ties
        x[5, : n // 2 + 3] = -np.inf  # the middle falls on -inf: median -inf
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(row_median(x), np.median(x, axis=1))
