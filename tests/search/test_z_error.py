"""The MC-statistical error of a selection's Z matches the spread of Z over resampled samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heplearn.search.significance import count, z_statistical_error


def test_z_error_matches_the_spread_over_resampled_mc() -> None:
    rng = np.random.default_rng(3)
    n_signal, n_background = 200, 400
    is_signal = np.r_[np.ones(n_signal), np.zeros(n_background)].astype(bool)
    weights = np.where(is_signal, 0.05, rng.uniform(0.5, 1.5, n_signal + n_background))
    selected = np.ones(n_signal + n_background, bool)
    nominal = count(selected, weights, is_signal, 0.1).to_dict()
    error = z_statistical_error(nominal, 0.1)
    zs = []
    for _ in range(400):
        # Poisson-resampled MC events: what another simulated sample of this size would give.
        w = weights * rng.poisson(1.0, weights.size)
        zs.append(count(selected, w, is_signal, 0.1).z)
    assert error == pytest.approx(np.std(zs), rel=0.25)
    assert math.isnan(z_statistical_error({**nominal, "s": 0.0}, 0.1))
