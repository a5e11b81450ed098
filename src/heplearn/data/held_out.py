"""Which events of a store a trained run may be evaluated on, decided by identity, not by path.

At train time a run records its training store's fingerprint
(:func:`heplearn.data.fingerprint.store_fingerprint`) and the content keys of
every event it trained or validated on (``training_keys.npy``,
:mod:`heplearn.data.event_keys`).  At evaluation:

- a store with the recorded fingerprint *is* the training store, wherever it
  lies (a copy, a move, another mount): only the run's held-out test split is
  evaluated, exactly as the run split it;
- any other store is checked event by event against the training keys: events
  the run trained or validated on are left out, with a warning naming how many,
  and the rest are evaluated; when every event overlaps there is nothing
  honest to evaluate and a DataError is raised.  Leaving them out (rather than
  warning only) keeps every reported number a held-out number; refusing only
  on total overlap keeps a re-sharded or extended training store usable;
- a run written before fingerprints were recorded falls back to comparing
  resolved paths, with a warning that a copy would then be evaluated whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.event_keys import load_keys, save_keys, training_overlap
from heplearn.data.fingerprint import store_fingerprint
from heplearn.errors import DataError

__all__ = ["TRAINING_KEYS", "Overlap", "TrainingStore", "exclude_training", "record_training"]

Array = np.ndarray[Any, Any]

#: File in a run folder with the sorted uint64 keys of the training and validation events.
TRAINING_KEYS = "training_keys.npy"


def record_training(data: Path, keys: Array, folder: Path) -> dict[str, Any]:
    """Save the training events' keys in ``folder``; the run-info entries naming the data."""
    save_keys(folder / TRAINING_KEYS, keys)
    return {
        "data": str(data.resolve()),
        "data_fingerprint": store_fingerprint(data),
        "training_keys": TRAINING_KEYS,
    }


@dataclass(frozen=True)
class TrainingStore:
    """Whether an evaluated store is the run's training store, and how that was decided."""

    same: bool
    basis: str  # "fingerprint" or "path"
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def identify(cls, info: Mapping[str, Any], data: Path) -> TrainingStore:
        recorded = info.get("data_fingerprint")
        if recorded is not None:
            return cls(store_fingerprint(data) == recorded, "fingerprint")
        same = str(data.resolve()) == info.get("data")
        note = (
            "the run records no fingerprint of its training store (an older heplearn trained "
            f"it), so {data} is {'' if same else 'not '}taken for the training store by its path "
            "alone; a copy of the training store would be evaluated whole: retrain to record one"
        )
        return cls(same, "path", [note])


@dataclass(frozen=True)
class Overlap:
    """Rows of a non-training store to evaluate, and how many were left out as training events."""

    keep: Array  # bool per row
    left_out: int
    checked: bool  # False: the run has no training keys, nothing could be checked
    warnings: list[str] = field(default_factory=list)

    def as_dict(self, unit: str) -> dict[str, Any]:
        return {
            "checked": self.checked,
            f"{unit}_in_store": len(self.keep),
            f"{unit}_left_out_as_training": self.left_out,
            f"{unit}_evaluated": int(self.keep.sum()),
        }


def exclude_training(
    run: Path,
    info: Mapping[str, Any],
    keys: Array,
    data: Path,
    *,
    groups: Array | None = None,
    unit: str = "events",
) -> Overlap:
    """Mark the rows of ``data`` (content ``keys``) that the run did not train or validate on.

    ``groups`` (the event id of each row) leaves out every row of an event one
    of whose rows was a training row.  Raises DataError when nothing is left.
    """
    name = info.get("training_keys")
    path = run / str(name) if name is not None else None
    if path is None or not path.is_file():
        note = (
            f"the run has no {TRAINING_KEYS}, so {data} cannot be checked for its training "
            f"{unit}: every one is evaluated; retrain the run to record them"
        )
        return Overlap(np.ones(len(keys), bool), 0, False, [note])
    drop = training_overlap(keys, load_keys(path), groups)
    left_out = int(drop.sum())
    if left_out and left_out == len(keys):
        raise DataError(
            "no held-out events",
            str(data),
            f"all {left_out} {unit} were used to train or validate the run {run}",
            "evaluate on the training store itself (its test split is used) or on an "
            "independent sample",
        )
    warnings = []
    if left_out:
        warnings.append(
            f"{left_out} of the {len(keys)} {unit} of {data} were used to train or validate "
            f"the run; they are left out and the other {len(keys) - left_out} evaluated"
        )
    return Overlap(~drop, left_out, True, warnings)
