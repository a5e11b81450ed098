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
