"""Classical CMS-style quality tests of occupancy maps against a reference.

The statistics (all computed on live channels of the :class:`Reference`):

- **pull test** (channel): the beta-binomial pull of each channel (see
  :mod:`heplearn.dqm.reference`); |pull| above a threshold flags the channel
  (hot above, dead/low below);
- **dead-channel test** (channel): a channel with 0 hits whose expected count
  exceeds ``dead_min_expected`` (Poisson P(0) = exp(−expected));
- **χ²/ndf** (map): mean of pull² over live channels (1 for a nominal map);
- **Kolmogorov–Smirnov** (map): the largest distance between the cumulative
  hit distributions of map and reference over the channels in array order
  (as ROOT's ``TH2::KolmogorovTest`` runs over bins), scaled by
  ``sqrt(n_data)`` so it is O(1) for a nominal map.

Each threshold is chosen on good validation maps so that at most
``false_flag_rate / 4`` of them fail that test (the four tests share the
budget: Bonferroni) — see :func:`heplearn.dqm.metrics.threshold_for_rate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.dqm.maps import MapSet
from heplearn.dqm.metrics import threshold_for_rate
from heplearn.dqm.reference import Reference

__all__ = [
    "N_TESTS",
    "MapStatistics",
    "map_statistics",
    "threshold_for_rate",  # re-exported: the one implementation lives in dqm.metrics
]

Array = np.ndarray[Any, Any]

#: Number of map-level tests sharing the false-flag budget.
N_TESTS = 4


@dataclass(frozen=True)
class MapStatistics:
    """Quality-test statistics of N maps."""

    pulls: Array  # float32 (N, H, W, D), 0 where masked
    expected: Array  # float64 (N, H, W, D) expected hits, 0 where masked
    normalised: Array  # float32 (N, H, W, D) counts / expected
    zero: Array  # bool (N, H, W, D): live channel with no hit
    max_pull: Array  # (N,) largest |pull|
    dead_stat: Array  # (N,) largest expected count among the live channels with no hit
    chi2_ndf: Array  # (N,) mean pull² over live channels
    ks: Array  # (N,) sqrt(n) · max |cdf_map − cdf_ref|


def _ks(counts: Array, reference: Reference) -> Array:
    live = reference.mask.reshape(-1)
    ref = reference.ref_counts.reshape(-1)[live]
    ref_cdf = np.cumsum(ref) / max(float(ref.sum()), 1.0)
    data = counts.reshape(counts.shape[0], -1)[:, live].astype(np.float64)
    totals = data.sum(axis=1)
    safe = np.maximum(totals, 1.0)
    distance = np.abs(np.cumsum(data, axis=1) / safe[:, None] - ref_cdf[None, :]).max(axis=1)
    # Effective size of the two-sample KS test with the reference's statistics.
    n_ref = float(ref.sum())
    n_eff = totals * n_ref / np.maximum(totals + n_ref, 1.0)
    return np.where(totals > 0, distance * np.sqrt(n_eff), 0.0)


def map_statistics(
    maps: MapSet, reference: Reference, pull_scale: Array | None = None
) -> MapStatistics:
    """Every quality-test statistic of ``maps`` against ``reference``.

    ``pull_scale`` (H, W, D), when given, divides the pulls: each channel's pull
    RMS over good maps, so slow response drifts the reference does not follow do
    not raise the threshold of every other channel.
    """
    scale = reference.scale(maps)
    pulls = reference.pulls(maps, scale)
    if pull_scale is not None:
        pulls = (pulls / pull_scale).astype(np.float32)
    expected = reference.expected(maps, scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = np.where(expected > 0, maps.counts / expected, 0.0).astype(np.float32)
    live = np.broadcast_to(reference.mask, maps.counts.shape)
    zero = live & (maps.counts <= 0)
    n = len(maps)
    n_live = max(int(reference.mask.sum()), 1)
    flat_pulls = pulls.reshape(n, -1)
    dead_stat = np.where(zero, expected, 0.0).reshape(n, -1).max(axis=1, initial=0.0)
    return MapStatistics(
        pulls=pulls,
        expected=expected,
        normalised=normalised,
        zero=zero,
        max_pull=np.abs(flat_pulls).max(axis=1, initial=0.0),
        dead_stat=dead_stat,
        chi2_ndf=(flat_pulls.astype(np.float64) ** 2).sum(axis=1) / n_live,
        ks=_ks(maps.counts, reference),
    )
