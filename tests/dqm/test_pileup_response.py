"""Maps with an event count: the occupancy's non-linearity follows pile-up, not the map total.

A channel fires in an event with p = 1 − exp(−(a + b μ)): noise-dominated channels barely
change with the pile-up μ, busy ones saturate.  How many events a lumisection holds is a
separate matter.  A reference from one fill, whose events per lumisection fall with μ, must judge a
lumisection of four times the events at the same pile-up as ordinary; a response fitted
against the map total (events × occupancy) would extrapolate it as four times the pile-up.
"""

from __future__ import annotations

import numpy as np

from heplearn.dqm.dispersion import fit_dispersion
from heplearn.dqm.groups import block_grouping
from heplearn.dqm.look_elsewhere import max_significance, sidak_z
from heplearn.dqm.maps import MapSet

SHAPE = (20, 30, 1)


def _maps(
    n: int, seed: int, events: tuple[float, float], mu: tuple[float, float], *, follow: bool = False
) -> MapSet:
    """``follow``: the events per map follow μ (a fill: both fall together)."""
    rng = np.random.default_rng(seed)
    static = np.random.default_rng(0)
    noise = static.uniform(0.002, 0.02, SHAPE)  # per-event noise occupancy
    per_mu = static.uniform(0.0, 0.6, SHAPE)  # pile-up intensity per unit μ (saturates)
    mu_values = rng.uniform(*mu, n)
    n_events = (events[0] * mu_values if follow else rng.uniform(*events, n)).round()
    pileup = mu_values[:, None, None, None]
    p = -np.expm1(-(noise + per_mu * pileup))
    counts = rng.binomial(n_events.astype(np.int64)[:, None, None, None], p)
    return MapSet.from_counts(counts.astype(np.float32), n_events)


def _rate(model, maps: MapSet) -> float:  # type: ignore[no-untyped-def]
    worst, _, _ = max_significance(model, maps)
    return float((worst > sidak_z(0.01, model.n_tests())).mean())


def test_many_events_at_ordinary_pileup_pass_and_a_dead_channel_is_found() -> None:
    # Reference: one fill, events ∝ μ; new maps: four times the events at the same μ.
    reference = _maps(30, 1, events=(2000, 2000), mu=(0.6, 1.4), follow=True)
    model = fit_dispersion(reference, block_grouping(SHAPE))
    assert model.response_per_event
    ordinary = _maps(200, 2, events=(8000, 9000), mu=(0.7, 1.3))
    assert _rate(model, ordinary) <= 0.03
    dead = ordinary.counts.copy()
    dead[:, 10, 15, 0] = 0.0
    assert _rate(model, MapSet.from_counts(dead, ordinary.n_events)) == 1.0


def test_without_an_event_count_the_pileup_is_read_off_the_pattern() -> None:
    reference = _maps(30, 1, events=(1000, 3000), mu=(0.6, 1.4))
    model = fit_dispersion(reference, block_grouping(SHAPE))
    new = _maps(40, 3, events=(1000, 3000), mu=(0.7, 1.3))
    counted = model.level(new, model.luminosity(new))
    bare = MapSet.from_counts(new.counts)  # n_events = each map's total
    read = model.level(bare, model.luminosity(bare))
    assert np.corrcoef(np.log(counted), np.log(read))[0, 1] > 0.95
    assert np.median(np.abs(read / counted - 1.0)) < 0.05
    assert _rate(model, bare) <= 0.05
