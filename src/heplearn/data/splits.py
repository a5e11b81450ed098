"""Train/validation/test splits as a pure function of a stable event key.

An event's split depends only on its key (and the seed), never on the order,
number or location of the rows read, so a copied, moved, re-sharded or
re-imported store puts every event in the same split, and the splits are
disjoint by construction.  The key is the event id where the store has one
(rows sharing an id, such as the two electrons of a Z→ee event, share a split)
and otherwise a hash of the row's content (:func:`heplearn.data.event_keys.content_keys`).

The hash is SplitMix64 (Steele, Lea, Flood 2014) of the key mixed with the seed
(and, optionally, a second key such as a sample index), mapped to a uniform
number u in [0, 1): u below the training fraction trains, the next band
validates, the rest tests.  Each split therefore holds its fraction of the
events up to binomial fluctuations (±√(f(1−f)/N)), not exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from heplearn.errors import ConfigError

__all__ = [
    "TEST",
    "TRAIN",
    "VALIDATION",
    "check_fractions",
    "hash_uniform",
    "split_labels",
    "split_rows",
    "splitmix64",
]

Array = np.ndarray[Any, Any]

TRAIN, VALIDATION, TEST = 0, 1, 2

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: Array) -> Array:
    """The SplitMix64 finaliser on uint64 arrays (wrapping arithmetic is intended)."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: Array = z ^ (z >> np.uint64(31))
    return out


def _as_uint64(key: Array) -> Array:
    """Keys as uint64 bit patterns: int64 ids are reinterpreted, uint64 hashes kept."""
    array = np.atleast_1d(np.asarray(key))
    if array.dtype == np.uint64:
        return array
    out: Array = array.astype(np.int64).view(np.uint64)
    return out


def hash_uniform(key: Array, second: Array | None = None, seed: int = 0) -> Array:
    """A uniform number in [0, 1) per event, a pure function of (key, second key, seed)."""
    keys = _as_uint64(key)
    mixed = splitmix64(keys ^ splitmix64(np.full(keys.shape, seed, dtype=np.uint64)))
    if second is not None:
        mixed = splitmix64(mixed ^ splitmix64(_as_uint64(second)))
    out: Array = (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return out


def check_fractions(
    fractions: Sequence[float], where: str = "the split settings"
) -> tuple[float, float, float]:
    """Validate train/validation/test fractions: three numbers in [0, 1] summing to 1."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or any(not 0.0 <= f <= 1.0 for f in values):
        raise ConfigError(
            f"split fractions {list(fractions)}",
            where,
            "three fractions (train, validation, test), each between 0 and 1, are needed",
            "give e.g. [0.8, 0.1, 0.1]",
        )
    if abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(
            f"split fractions {list(fractions)}",
            where,
            f"they sum to {sum(values):.6g}, not 1",
            "make train + validation + test = 1",
        )
    return values[0], values[1], values[2]


def split_labels(
    key: Array,
    fractions: Sequence[float],
    seed: int = 0,
    *,
    second: Array | None = None,
    where: str = "the split settings",
) -> Array:
    """TRAIN (0), VALIDATION (1) or TEST (2) per event, as int8."""
    train, val, _ = check_fractions(fractions, where)
    u = hash_uniform(key, second, seed)
    labels: Array = np.where(u < train, TRAIN, np.where(u < train + val, VALIDATION, TEST))
    return labels.astype(np.int8)


def split_rows(
    key: Array, fractions: Sequence[float], seed: int = 0, *, where: str = "the split settings"
) -> tuple[Array, Array, Array]:
    """Sorted row indices of the train, validation and test events."""
    labels = split_labels(key, fractions, seed, where=where)
    return (
        np.flatnonzero(labels == TRAIN),
        np.flatnonzero(labels == VALIDATION),
        np.flatnonzero(labels == TEST),
    )
