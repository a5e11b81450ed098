"""Which maps train, validate and test a DQM model: a fixed, seeded split by map.

The test maps of a generated store are never seen in training; ``dqm evaluate``
on the run's own store scores only them.  Validation maps (from the rest) pick
the thresholds, so the false-alarm rates quoted on the test maps are honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TEST_FRACTION", "MapSplit", "split_maps"]

Array = np.ndarray[Any, Any]

#: Fraction of a generated store held out for ``dqm evaluate``.
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class MapSplit:
    """Row indices of the train, validation and test maps."""

    train: Array
    val: Array
    test: Array


def split_maps(n_maps: int, val_fraction: float, seed: int, *, hold_out_test: bool) -> MapSplit:
    """A seeded permutation cut into test (when held out), validation and training rows."""
    order = np.random.default_rng([seed, 20]).permutation(n_maps)
    n_test = round(TEST_FRACTION * n_maps) if hold_out_test else 0
    rest = order[n_test:]
    n_val = max(1, round(val_fraction * len(rest)))
    return MapSplit(
        train=np.sort(rest[n_val:]), val=np.sort(rest[:n_val]), test=np.sort(order[:n_test])
    )
