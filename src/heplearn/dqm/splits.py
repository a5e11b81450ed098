"""Which maps train, validate and test a DQM model: a seeded hash of each map's key.

The key is the map's ``event/id`` in a generated store and otherwise a hash of
the map's content (counts and events per map, :func:`map_keys`), so a copied or
re-sharded store splits the same way (:mod:`heplearn.data.splits`).  The test
maps of a generated store are never seen in training; ``dqm evaluate`` on the
run's own store scores only them.  Validation maps (from the rest) pick the
thresholds, so the false-alarm rates quoted on the test maps are honest.  The
fractions hold up to binomial fluctuations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.event_keys import content_keys
from heplearn.data.reader import open_store
from heplearn.data.splits import split_rows
from heplearn.dqm.maps import MapSet

__all__ = ["TEST_FRACTION", "MapSplit", "map_keys", "split_keys", "split_maps"]

Array = np.ndarray[Any, Any]

#: Fraction of a generated store held out for ``dqm evaluate``.
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class MapSplit:
    """Row indices of the train, validation and test maps."""

    train: Array
    val: Array
    test: Array


def map_keys(maps: MapSet) -> Array:
    """Content key of each map: a hash of its counts and its number of events."""
    return content_keys({"counts": maps.counts, "n_events": maps.n_events})


def split_keys(data: Path, maps: MapSet, generated: bool) -> Array:
    """The key each map is split by: ``event/id`` where the store has it, else its content."""
    if generated:
        store = open_store(data)
        if "event/id" in store.schema:
            return np.asarray(store.read(["event/id"])["event/id"], dtype=np.int64)
    return map_keys(maps)


def split_maps(keys: Array, val_fraction: float, seed: int, *, hold_out_test: bool) -> MapSplit:
    """Test (when held out), validation and training rows by a seeded hash of each map's key."""
    test = TEST_FRACTION if hold_out_test else 0.0
    val = val_fraction * (1.0 - test)
    train, validation, held_out = split_rows(
        keys, (1.0 - test - val, val, test), seed, where="the DQM split (val_fraction)"
    )
    return MapSplit(train=train, val=validation, test=held_out)
