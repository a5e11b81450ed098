"""Neighbourhood-pooled quality tests: faults spread over a few channels, each too mild alone.

A partially dead region at gain 0.8 lowers each channel by ~2–3 σ at typical
lumisection statistics — below any per-channel threshold that keeps false
alarms rare over ~17,000 channels — but a k×k window of such channels deviates
by √(k²) times more.  Two window statistics, per depth, with the iphi axis
(columns) wrapping around the ring and ieta (rows) not:

- mean pull  z = Σ pull / √n   (a shifted region: partial, dead, hot);
- spread     χ = (Σ pull² − n) / √(2n)   (a region of raised variance: noisy),

over the n live channels of the window.  A window above its threshold flags its
channels whose own |pull| exceeds ``member_pull`` on the window's side, so the
flags stay on the faulty channels rather than on the whole footprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter, uniform_filter

__all__ = ["RegionStatistics", "region_flags", "region_statistics"]

Array = np.ndarray[Any, Any]

#: Windows with fewer live channels than this share of k² are not tested (detector edges).
MIN_LIVE_SHARE = 0.5
_MODES = ("constant", "constant", "wrap", "constant")


def _window_sum(values: Array, size: int) -> Array:
    window = (1, size, size, 1)
    return np.asarray(uniform_filter(values, size=window, mode=_MODES)) * size * size


def _spread(mask: Array, size: int) -> Array:
    """Every channel covered by a window centred on a True entry (the windows' footprint)."""
    return (
        np.asarray(maximum_filter(mask.astype(np.uint8), size=(1, size, size, 1), mode=_MODES)) > 0
    )


@dataclass(frozen=True)
class RegionStatistics:
    """Window statistics of N maps, centred on each channel (0 where not tested)."""

    z_mean: Array  # float32 (N, H, W, D)
    z_spread: Array  # float32 (N, H, W, D)

    @property
    def max_mean(self) -> Array:
        """(N,) largest |z| of a window."""
        return np.asarray(np.abs(self.z_mean).reshape(len(self.z_mean), -1).max(axis=1, initial=0))

    @property
    def max_spread(self) -> Array:
        """(N,) largest spread statistic of a window."""
        return np.asarray(self.z_spread.reshape(len(self.z_spread), -1).max(axis=1, initial=0))


def region_statistics(pulls: Array, live: Array, size: int) -> RegionStatistics:
    """Pooled statistics of (N, H, W, D) ``pulls`` over size×size windows of ``live`` channels.

    ``live`` (broadcastable to the pulls) should leave out channels the per-channel
    tests already flag, so one strong channel does not make its neighbours' windows fail.
    """
    alive = np.broadcast_to(live, pulls.shape).astype(np.float32)
    values = pulls.astype(np.float32) * alive
    n = _window_sum(alive, size)
    tested = n >= MIN_LIVE_SHARE * size * size
    safe = np.where(tested, n, 1.0)
    z_mean = np.where(tested, _window_sum(values, size) / np.sqrt(safe), 0.0)
    z_spread = np.where(tested, (_window_sum(values**2, size) - n) / np.sqrt(2.0 * safe), 0.0)
    return RegionStatistics(z_mean.astype(np.float32), z_spread.astype(np.float32))


def region_flags(
    pulls: Array,
    region: RegionStatistics,
    *,
    size: int,
    mean_threshold: float,
    spread_threshold: float,
    member_pull: float,
) -> Array:
    """Channels inside a failing window whose own pull points the window's way."""
    low = _spread(region.z_mean < -mean_threshold, size) & (pulls < -member_pull)
    high = _spread(region.z_mean > mean_threshold, size) & (pulls > member_pull)
    noisy = _spread(region.z_spread > spread_threshold, size) & (np.abs(pulls) > member_pull)
    return np.asarray(low | high | noisy)
