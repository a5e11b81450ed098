"""Deterministic train/validation/test splits by a hash of the event id and sample.

An event's split depends only on its id (and sample index and a seed), never
on the order, number or location of the events read, so a copied, resumed or
re-sharded store puts every event in the same split and the three splits are
disjoint by construction.  The hash is the one of every workflow,
:mod:`heplearn.data.splits` (SplitMix64 of the id mixed with the sample index
and the seed); here each split must be non-empty, so fractions are strictly
between 0 and 1.

Evaluation weights: a split holding a fraction f of the events sees only f of
every yield, so its ``weight`` is multiplied by 1/f (the *nominal* fraction,
which keeps the expected yield unbiased) and s, b and Z computed on any split
are at the full luminosity.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from heplearn.data import splits as data_splits
from heplearn.data.event_keys import content_keys
from heplearn.errors import ConfigError

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = [
    "DEFAULT_FRACTIONS",
    "Splits",
    "check_fractions",
    "event_keys",
    "hash_uniform",
    "split_labels",
    "split_table",
]

Array = np.ndarray[Any, Any]

#: Train, validation and test fractions.
DEFAULT_FRACTIONS = (0.5, 0.2, 0.3)


def hash_uniform(event_id: Array, sample: Array | None = None, seed: int = 0) -> Array:
    """A uniform number in [0, 1) per event, a pure function of (id, sample, seed)."""
    return data_splits.hash_uniform(event_id, sample, seed)


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
    checked = check_fractions(fractions)
    return data_splits.split_labels(event_id, checked, seed, second=sample)


def event_keys(table: EventTable) -> Array:
    """Content key of each preselected event: its observables, labels, stored weight and id."""
    return content_keys(
        {
            "features": table.features,
            "weight": table.weight,
            "is_signal": table.is_signal,
            "sample": table.sample,
            "mediator_mass": table.mediator_mass,
            "invisible_mass": table.invisible_mass,
            "event_id": table.event_id,
        }
    )


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
