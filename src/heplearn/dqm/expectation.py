"""What a trained run expects a map to look like: expected counts, pulls and its reference.

For a map judged by a run, the dashboard shows the map beside the run's expectation:

- ``qtest`` with statistical thresholds (:mod:`heplearn.dqm.statistical_qtest`): the
  expected counts of the fitted model at the map's robust luminosity, and as pull the
  signed significance ``z`` of each channel, the statistic the test compares with z*;
- ``qtest`` with validation thresholds: the reference expectation and the
  beta-binomial pull divided by the channel's pull RMS (:func:`map_statistics`), the
  pull the channel test thresholds;
- ``ae`` (the autoencoder normalises by a :class:`Reference`): the reference
  expectation and the beta-binomial pull;
- supervised classifiers (lr, mlp, cnn*): no expectation (``None``): the map only.

``reference`` is the reference maps' summed counts scaled to the map's live total
(how AutoDQM overlays a reference histogram); masked channels (never hit in the
reference) are 0 everywhere and ``live`` is False there.  Everything here is read-only
on the model: one loaded model may serve several threads at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.dqm.maps import MapSet
from heplearn.dqm.models import MapModel
from heplearn.dqm.qtests import map_statistics
from heplearn.dqm.reference import Reference

__all__ = ["Expectation", "expectation", "group_channels"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Expectation:
    """Per-channel expectation of N maps, each array (N, H, W, D) except ``live``."""

    kind: str  # "statistical", "reference-pull" or "reference"
    expected: Array  # float32 expected counts, 0 where masked
    pull: Array  # float32 signed pull / significance, 0 where masked
    reference: Array  # float32 reference counts scaled to each map's live total
    live: Array  # bool (H, W, D)
    note: str


def _reference_of(model: MapModel) -> Reference | None:
    statistical = getattr(model, "statistical", None)
    if statistical is not None:
        return statistical.reference  # type: ignore[no-any-return]
    reference = getattr(model, "reference", None)
    return reference if isinstance(reference, Reference) else None


def _scaled_reference(reference: Reference, maps: MapSet) -> Array:
    """The reference's summed counts normalised to each map's live total."""
    live = reference.mask
    totals = (maps.counts * live[np.newaxis]).reshape(len(maps), -1).sum(axis=1, dtype=np.float64)
    ref_total = float(reference.ref_counts[live].sum())
    factor = totals / ref_total if ref_total > 0 else np.zeros(len(maps))
    scaled = reference.ref_counts[np.newaxis] * factor[:, None, None, None]
    return np.asarray(np.where(live[np.newaxis], scaled, 0.0), dtype=np.float32)


def expectation(model: MapModel, maps: MapSet) -> Expectation | None:
    """The run's expectation for ``maps`` (module docstring), or None when it has none."""
    reference = _reference_of(model)
    if reference is None:
        return None
    reference.check(maps)
    statistical = getattr(model, "statistical", None)
    scaled = _scaled_reference(reference, maps)
    shape = maps.counts.shape
    if statistical is not None:
        dispersion = statistical.model
        lumi = dispersion.luminosity(maps)
        z, mean = dispersion.channel_z(maps, lumi)
        live = dispersion.live[None, :]
        return Expectation(
            "statistical",
            np.where(live, mean, 0.0).reshape(shape).astype(np.float32),
            np.asarray(z, dtype=np.float32).reshape(shape),
            scaled,
            reference.mask.copy(),
            f"expected counts of the statistical model at the map's luminosity; pull = signed "
            f"significance z (a channel fails beyond z* = {statistical.z_star:.2f})",
        )
    if model.name == "qtest":
        stats = map_statistics(maps, reference, getattr(model, "pull_scale", None))
        threshold = getattr(model, "thresholds", {}).get("pull")
        where = f" (threshold {threshold:.2f})" if threshold else ""
        return Expectation(
            "reference-pull",
            stats.expected.astype(np.float32),
            stats.pulls,
            scaled,
            reference.mask.copy(),
            f"reference expectation at the map's robust scale; pull = beta-binomial pull "
            f"over the channel's pull RMS{where}",
        )
    scale = reference.scale(maps)
    return Expectation(
        "reference",
        reference.expected(maps, scale).astype(np.float32),
        reference.pulls(maps, scale),
        scaled,
        reference.mask.copy(),
        f"reference expectation of the {model.name} run at the map's robust scale; "
        "pull = beta-binomial pull (not the model's own score)",
    )


def group_channels(model: MapModel, names: list[str]) -> dict[str, Array]:
    """Name → (K, 3) [row, col, depth] of the channels of each named group the model knows."""
    statistical = getattr(model, "statistical", None)
    if statistical is None or not names:
        return {}
    grouping = statistical.model.grouping
    index = {name: i for i, name in enumerate(grouping.names)}
    members = grouping.members
    out: dict[str, Array] = {}
    for name in names:
        g = index.get(name)
        if g is None:
            continue
        flat = members.indices[members.indptr[g] : members.indptr[g + 1]]
        out[name] = np.stack(np.unravel_index(flat, grouping.shape), axis=1).astype(np.int64)
    return out
