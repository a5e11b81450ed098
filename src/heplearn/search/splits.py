"""Deterministic train/validation/test splits by a hash of the event id.

An event's split depends only on its id (and sample index and a seed), never
on the order or number of events read, so a resumed or re-sharded store puts
every event in the same split and the three splits are disjoint by
construction.  The hash is SplitMix64 (Steele, Lea, Flood 2014) of the id
mixed with the sample index and the seed, mapped to a uniform number in
[0, 1) that is compared with the cumulative fractions.

Evaluation weights: a split holding a fraction f of the events sees only f of
every yield, so its ``weight`` is multiplied by 1/f (the *nominal* fraction,
which keeps the expected yield unbiased) and s, b and Z computed on any split
are at the full luminosity.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from heplearn.errors import ConfigError

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = [
    "DEFAULT_FRACTIONS",
    "Splits",
    "check_fractions",
    "hash_uniform",
    "split_labels",
    "split_table",
]

Array = np.ndarray[Any, Any]

#: Train, validation and test fractions.
DEFAULT_FRACTIONS = (0.5, 0.2, 0.3)
TRAIN, VALIDATION, TEST = 0, 1, 2

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: Array) -> Array:
    """The SplitMix64 finaliser on uint64 arrays (wrapping arithmetic is intended)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: Array = z ^ (z >> np.uint64(31))
    return out


def hash_uniform(event_id: Array, sample: Array | None = None, seed: int = 0) -> Array:
    """A uniform number in [0, 1) per event, a pure function of (id, sample, seed)."""
    ids = np.atleast_1d(np.asarray(event_id, dtype=np.int64)).view(np.uint64)
    key = _splitmix64(ids ^ _splitmix64(np.full(ids.shape, seed, dtype=np.uint64)))
    if sample is not None:
        samples = np.atleast_1d(np.asarray(sample, dtype=np.int64)).view(np.uint64)
        key = _splitmix64(key ^ _splitmix64(samples))
    out: Array = (key >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return out


def check_fractions(fractions: tuple[float, float, float]) -> tuple[float, float, float]:
    """Validate train/val/test fractions: each in (0, 1) and summing to 1."""
    if len(fractions) != 3 or any(not 0.0 < f < 1.0 for f in fractions):
        raise ConfigError(
            f"split fractions {list(fractions)}",
            "the search config",
            "three fractions (train, validation, test), each strictly between 0 and 1, are needed",
            "use e.g. [0.5, 0.2, 0.3]",
        )
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(
            f"split fractions {list(fractions)}",
            "the search config",
            f"they sum to {sum(fractions):.6g}, not 1",
            "make train + validation + test = 1",
        )
    return (float(fractions[0]), float(fractions[1]), float(fractions[2]))


def split_labels(
    event_id: Array,
    sample: Array | None = None,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Array:
    """0 (train), 1 (validation) or 2 (test) per event, as int8."""
    train, val, _ = check_fractions(fractions)
    u = hash_uniform(event_id, sample, seed)
    labels: Array = np.where(u < train, TRAIN, np.where(u < train + val, VALIDATION, TEST))
    return labels.astype(np.int8)


class Splits(NamedTuple):
    """The three disjoint parts of an event table, weights scaled to the full luminosity."""

    train: EventTable
    val: EventTable
    test: EventTable


def split_table(
    table: EventTable,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Splits:
    """Split by event-id hash; each split's ``weight`` is divided by its nominal fraction."""
    fractions = check_fractions(fractions)
    labels = split_labels(table.event_id, table.sample, fractions, seed)
    parts = []
    for which, fraction in enumerate(fractions):
        part = table.subset(np.flatnonzero(labels == which))
        parts.append(dataclasses.replace(part, weight=part.weight / fraction))
    return Splits(parts[0], parts[1], parts[2])
