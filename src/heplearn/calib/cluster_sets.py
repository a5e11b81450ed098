"""Which clusters a calibration run uses: the mislabel cut, the split, and content keys.

The split is a pure function of each cluster's event id (:mod:`heplearn.data.splits`), so
both clusters of a Z→ee event share a split and a copied or re-sharded store splits the same
way; content keys let evaluation recognise training clusters in any other store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from heplearn.calib.features import FeatureArrays
from heplearn.data.event_keys import content_keys
from heplearn.data.splits import split_rows

__all__ = ["apply_mislabel_cut", "cluster_keys", "mislabel_mask", "split_indices"]

Array = np.ndarray[Any, Any]


def mislabel_mask(features: FeatureArrays, cut: tuple[float, float] | None) -> Array:
    """True for clusters with lo < E_acc/E_truth < hi (thesis eq. 3.4); all True without a cut."""
    if cut is None:
        return np.ones(len(features), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = features.e_acc / features.e_truth
    keep: Array = (ratio > cut[0]) & (ratio < cut[1])
    return keep


def apply_mislabel_cut(
    features: FeatureArrays, cut: tuple[float, float] | None
) -> tuple[FeatureArrays, int]:
    """Keep clusters passing :func:`mislabel_mask`; (kept, number removed)."""
    if cut is None:
        return features, 0
    keep = mislabel_mask(features, cut)
    return features.take(keep), int((~keep).sum())


def split_indices(
    n: int,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    groups: Array | None = None,
) -> tuple[Array, ...]:
    """Row indices of each split, sorted; the split is a pure function of each row's group key.

    Pass ``groups=event_id`` so both clusters of a Z→ee event land in the same
    split (a model must not train on one electron and be tested on its partner)
    and a copied or re-sharded store splits the same way
    (:mod:`heplearn.data.splits`).  Without groups a row's index is its key.
    """
    keys = np.arange(n) if groups is None else np.asarray(groups)
    if len(keys) != n:
        raise ValueError(f"groups has {len(keys)} entries for {n} rows")
    return split_rows(keys, fractions, seed)


def cluster_keys(features: FeatureArrays) -> Array:
    """Content key of each cluster: a hash of every input and label array (see data.event_keys)."""
    arrays = {
        f.name: getattr(features, f.name)
        for f in dataclasses.fields(features)
        if isinstance(getattr(features, f.name), np.ndarray) and f.name != "et"
    }
    return content_keys(arrays)
