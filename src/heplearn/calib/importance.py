"""Permutation feature importance: how much wider the resolution gets when one input is shuffled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from heplearn.calib.features import FeatureArrays
from heplearn.calib.resolution_metrics import eiqr

__all__ = ["permutation_importance"]

Array = np.ndarray[Any, Any]


def _shuffled(
    features: FeatureArrays, kind: str, index: int, rng: np.random.Generator
) -> FeatureArrays:
    order = rng.permutation(len(features))
    if kind == "scalar":
        scalars = features.scalars.copy()
        scalars[:, index] = scalars[order, index]
        return replace(features, scalars=scalars)
    if kind == "channel":
        images = features.images.copy()
        images[:, index] = images[order, index]
        return replace(features, images=images)
    return replace(features, tracks=features.tracks[order], track_count=features.track_count[order])


def permutation_importance(
    energies: Callable[[FeatureArrays], Array],
    features: FeatureArrays,
    *,
    scalars: bool = True,
    images: bool = True,
    seed: int = 0,
) -> dict[str, float]:
    """eIQR(shuffled)/eIQR − 1 per scalar, image layer and the track block (> 0: it matters)."""
    rng = np.random.default_rng(seed)
    reference = eiqr(energies(features) / features.e_truth)
    inputs: list[tuple[str, str, int]] = []
    if scalars:
        inputs += [(f"scalar:{n}", "scalar", i) for i, n in enumerate(features.scalar_names)]
    if images:
        inputs += [(f"layer:{n}", "channel", i) for i, n in enumerate(features.channel_names)]
        if features.tracks.size:
            inputs.append(("tracks", "tracks", 0))
    result: dict[str, float] = {}
    if not reference > 0:
        # A collapsed model (constant output) has no width to compare with: nothing to rank.
        return dict.fromkeys((name for name, _, _ in inputs), float("nan"))
    for name, kind, index in inputs:
        width = eiqr(energies(_shuffled(features, kind, index, rng)) / features.e_truth)
        result[name] = float(width / reference - 1.0)
    return result
