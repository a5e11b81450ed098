"""The reference occupancy: what a good map should look like, and deviations from it.

Fitted on good maps only.  Per channel c the reference holds the summed hits
``R_c`` over all reference maps and the summed events ``E_ref``; the rate is
``rate_c = R_c / E_ref`` hits per event.  Channels with zero hits in every
reference map (known dead or not existing) are *masked*: never normalised,
never pulled, never flagged.

Scale of a map.  Per-event occupancy varies with pile-up, and user maps carry
no event count (their ``n_events`` is the map total), so each map gets a robust
scale ``s`` = data/reference: the median of ``counts_c / (rate_c·n_events)``
over well-populated live channels, refined once as the summed-ratio over the
channels within 4 Poisson σ of that median.  ``s = 1`` for a nominal map; a
fault touching under half of the channels does not move it.

- ``expected = rate · n_events · s``   (hits);
- ``normalised = counts / expected``   (1.0 nominal, 0 where masked or empty);
- ``pulls``: the beta-binomial pull used in CMS DQM (AutoDQM).  With
  ``n_data = s · n_events · Σ_live rate`` (the map's nominal live total),
  ``n_ref = Σ_live R``, ``p_c = (R_c + 1)/(n_ref + 2)`` (posterior mean of the
  channel fraction, flat prior), the expected count is ``n_data · p_c`` and the
  beta-binomial variance ``n_data · p_c (1 − p_c) · (n_data + n_ref + 2)/(n_ref + 3)``
  (Poisson, inflated by the reference's own statistical uncertainty);
  ``pull = (counts − n_data·p_c) / sqrt(var)`` (Gaussian approximation), 0 where masked.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from heplearn.data.atomic import atomic_output
from heplearn.dqm.maps import MapSet, check_counts
from heplearn.errors import DataError

__all__ = ["Reference", "fit_reference", "row_median"]

Array = np.ndarray[Any, Any]

#: Channels expected to see at least this many hits enter the map-scale median.
MIN_EXPECTED_FOR_SCALE = 10.0
#: The scale refinement keeps channels within this many Poisson σ of the median scale.
SCALE_TRIM_SIGMA = 4.0
#: Maps per block in :meth:`Reference.scale` (the block's working arrays fit in the cache).
SCALE_BLOCK = 16
#: Channels of the fixed random subsample that brackets the median in :func:`row_median`.
MEDIAN_SAMPLE = 2048


@cache
def _sample_columns(n: int) -> Array:
    """A fixed random subset of ``MEDIAN_SAMPLE`` of ``n`` columns, sorted (read-only)."""
    columns = np.sort(np.random.default_rng(0).choice(n, MEDIAN_SAMPLE, replace=False))
    columns.flags.writeable = False
    return columns


def row_median(x: Array) -> Array:
    """``np.median(x, axis=1)`` of a 2-D float32 array, bit for bit, without a full partition.

    A random subsample of the columns brackets each row's middle order statistics in a
    window [lo, hi] (±3√m ranks around the middle, m = ``MEDIAN_SAMPLE``); counting the
    values below lo and sorting only the few inside the window gives them exactly.  Rows
    where the window misses (rare) or holding NaN fall back to ``np.median``.
    """
    rows, n = x.shape
    if n < 4 * MEDIAN_SAMPLE or rows == 0:
        return np.asarray(np.median(x, axis=1))
    x = np.ascontiguousarray(x)
    first, second = (n // 2 - 1, n // 2) if n % 2 == 0 else (n // 2, n // 2)
    sample = np.sort(x[:, _sample_columns(n)], axis=1)
    # The middle's rank in the sample has σ ≈ √m / 2: ±(2√m + 2) ranks is a 4σ window.
    margin = 2.0 * math.sqrt(MEDIAN_SAMPLE) + 2.0
    low = max(int(first * MEDIAN_SAMPLE / n - margin), 0)
    high = min(math.ceil(second * MEDIAN_SAMPLE / n + margin), MEDIAN_SAMPLE - 1)
    lo, hi = sample[:, low : low + 1], sample[:, high : high + 1]
    below = np.count_nonzero(x < lo, axis=1)
    inside = (x >= lo) & (x <= hi)
    width = np.count_nonzero(inside, axis=1)
    # NaN fails every comparison; a row holding one takes the exact fallback.
    ok = (below <= first) & (second < below + width) & ~np.isnan(x).any(axis=1)
    out = np.empty(rows, dtype=x.dtype)
    if ok.any():
        # The window's values, row by row, into a padded (rows, max width) array to sort.
        where = np.flatnonzero(inside)
        row = where // n
        slot = np.arange(where.size) - (np.cumsum(width) - width)[row]
        pad = np.full((rows, int(width.max())), np.inf, dtype=x.dtype)
        pad[row, slot] = x.reshape(-1)[where]
        pad.sort(axis=1)
        chosen = np.flatnonzero(ok)
        v1 = pad[chosen, first - below[chosen]]
        v2 = pad[chosen, second - below[chosen]]
        # np.median takes the mean of the two middle values: (v1 + v2) / 2 in float32.
        out[chosen] = v1 if first == second else (v1 + v2) / np.float32(2.0)
    rest = np.flatnonzero(~ok)
    if rest.size:
        out[rest] = np.median(x[rest], axis=1)
    return out


def _block_scale(counts: Array, events: Array, rate: Array, rate_sum: float, fill: Array) -> Array:
    """:meth:`Reference.scale` of a block of maps: ``counts`` (B, live), ``events`` (B,)."""
    nominal = events[:, None] * rate[None, :]
    exp_sum = events.astype(np.float64) * rate_sum
    cnt_sum = counts.sum(axis=1, dtype=np.float64)
    usable = (exp_sum > 0) & (cnt_sum > 0)
    total_ratio = np.where(usable, cnt_sum / np.where(usable, exp_sum, 1.0), 1.0)
    rich = nominal >= MIN_EXPECTED_FOR_SCALE
    # Median over the rich channels only, vectorised: the other entries become
    # alternately -inf and +inf, which leaves the median of the row about in place.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.divide(counts, nominal)
        np.copyto(ratio, fill[None, :], where=~rich)
        s0 = row_median(ratio)
    # Too few well-populated channels: fall back to the summed ratio.
    s0 = np.where((rich.sum(axis=1) >= 20) & np.isfinite(s0) & (s0 > 0), s0, total_ratio)
    # In place, in the dtypes of the one-line form |counts − n·s0| <= k·sqrt(n·s0 + 1).
    shifted = nominal * s0[:, None].astype(np.float32)
    deviation = np.subtract(counts, shifted)
    np.abs(deviation, out=deviation)
    np.add(shifted, 1.0, out=shifted)
    np.sqrt(shifted, out=shifted)
    np.multiply(shifted, SCALE_TRIM_SIGMA, out=shifted)
    near = deviation <= shifted
    kept = np.where(near, nominal, 0.0)
    near_exp = kept.sum(axis=1, dtype=np.float64)
    if kept.dtype != counts.dtype:
        kept = np.zeros_like(counts)
    kept[...] = 0.0
    np.copyto(kept, counts, where=near)
    near_cnt = kept.sum(axis=1, dtype=np.float64)
    refined = np.where(near_exp > 0, near_cnt / np.where(near_exp > 0, near_exp, 1.0), s0)
    return np.asarray(np.where(usable, refined, 1.0))


@dataclass(frozen=True)
class Reference:
    """Per-channel reference rate [hits/event] and live mask, fitted on good maps."""

    rate: Array  # float64 (H, W, D) hits per event
    mask: Array  # bool (H, W, D): live = non-empty in the reference
    ref_counts: Array  # float64 (H, W, D): summed reference hits R_c
    ref_events: float  # summed reference events E_ref

    @property
    def shape(self) -> tuple[int, int, int]:
        h, w, d = self.rate.shape
        return (int(h), int(w), int(d))

    def check(self, maps: MapSet) -> None:
        """Raise DataError when ``maps`` do not have the reference's shape."""
        if maps.shape != self.shape:
            raise DataError(
                f"maps of shape {maps.shape}",
                "the maps to check",
                f"the reference was fitted on maps {self.shape}",
                "check maps of the shape the model was trained on",
            )

    def nominal(self, maps: MapSet) -> Array:
        """(N, H, W, D) ``rate · n_events`` [hits] before the per-map scale."""
        self.check(maps)
        return self.rate[np.newaxis] * maps.n_events.astype(np.float64)[:, None, None, None]

    def scale(self, maps: MapSet) -> Array:
        """(N,) robust data/reference scale per map (1 nominal; 1 for empty maps).

        Computed in blocks of ``SCALE_BLOCK`` maps (float32 working arrays that stay in
        the CPU cache) with an exact windowed median (:func:`row_median`).
        """
        self.check(maps)
        live = np.flatnonzero(self.mask.reshape(-1))
        rate = self.rate.reshape(-1)[live].astype(np.float32)
        rate_sum = float(rate.sum(dtype=np.float64))
        # Channels outside the median get -inf / +inf alternately (see _block_scale).
        fill = np.where(np.arange(rate.size) % 2 == 0, -np.inf, np.inf).astype(np.float32)
        flat = maps.counts.reshape(len(maps), -1)
        out = np.ones(len(maps), dtype=np.float64)
        for start in range(0, len(maps), SCALE_BLOCK):
            block = slice(start, start + SCALE_BLOCK)
            events = maps.n_events[block].astype(np.float32)
            out[block] = _block_scale(
                np.take(flat[block], live, axis=1), events, rate, rate_sum, fill
            )
        return out

    def _scale(self, maps: MapSet, scale: Array | None) -> Array:
        return self.scale(maps) if scale is None else np.asarray(scale, dtype=np.float64)

    def expected(self, maps: MapSet, scale: Array | None = None) -> Array:
        """(N, H, W, D) expected hits ``rate · n_events · s`` (0 where masked).

        ``scale`` (from :meth:`scale`) may be passed to avoid computing it again.
        """
        nominal = self.nominal(maps) * self._scale(maps, scale)[:, None, None, None]
        return np.where(self.mask[np.newaxis], nominal, 0.0)

    def normalised(
        self, maps: MapSet, scale: Array | None = None
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """(N, H, W, D) float32 ``counts / expected`` (1 nominal; 0 where masked or empty)."""
        per_map = maps.n_events.astype(np.float64) * self._scale(maps, scale)
        with np.errstate(divide="ignore"):
            inverse_map = np.where(per_map > 0, 1.0 / per_map, 0.0).astype(np.float32)
            inverse_rate = np.where(self.mask, 1.0 / self.rate, 0.0).astype(np.float32)
        # float32 in one pass: models normalise every map they score.
        return maps.counts * inverse_rate[np.newaxis] * inverse_map[:, None, None, None]

    def pulls(
        self, maps: MapSet, scale: Array | None = None
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        """(N, H, W, D) float32 beta-binomial pulls (module docstring), 0 where masked/empty."""
        n_ref = float(self.ref_counts[self.mask].sum())
        live_rate = float(self.rate[self.mask].sum())
        n_data_all = self._scale(maps, scale) * maps.n_events.astype(np.float64) * live_rate
        p = (self.ref_counts + 1.0) / (n_ref + 2.0)
        out = np.empty(maps.counts.shape, dtype=np.float32)
        # In blocks of maps: the float64 temporaries stay in the CPU cache.
        for start in range(0, len(maps), SCALE_BLOCK):
            block = slice(start, start + SCALE_BLOCK)
            n_data = n_data_all[block][:, None, None, None]
            mean = n_data * p[np.newaxis]
            var = mean * (1.0 - p[np.newaxis]) * (n_data + n_ref + 2.0) / (n_ref + 3.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                pull = np.where(var > 0, (maps.counts[block] - mean) / np.sqrt(var), 0.0)
            out[block] = np.where(self.mask[np.newaxis], pull, 0.0)
        return out

    # ---- pickle-free persistence ----

    def to_arrays(self, prefix: str = "reference.") -> dict[str, Array]:
        """The arrays to embed in a model's safetensors file."""
        return {
            f"{prefix}rate": self.rate.astype(np.float64),
            f"{prefix}mask": self.mask.astype(np.uint8),
            f"{prefix}ref_counts": self.ref_counts.astype(np.float64),
            f"{prefix}ref_events": np.array([self.ref_events], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, Array], prefix: str = "reference.") -> Reference:
        """Rebuild from the arrays written by :meth:`to_arrays`."""
        return cls(
            rate=np.asarray(arrays[f"{prefix}rate"], dtype=np.float64),
            mask=np.asarray(arrays[f"{prefix}mask"]).astype(bool),
            ref_counts=np.asarray(arrays[f"{prefix}ref_counts"], dtype=np.float64),
            ref_events=float(arrays[f"{prefix}ref_events"][0]),
        )

    def save(self, folder: Path) -> None:
        """Write ``reference.json`` (summary) and ``reference.safetensors`` (arrays) atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(folder / "reference.safetensors", overwrite=True) as tmp:
            save_file(self.to_arrays(""), str(tmp))
        meta = {
            "shape": list(self.shape),
            "live_channels": int(self.mask.sum()),
            "masked_channels": int((~self.mask).sum()),
            "ref_events": self.ref_events,
            "ref_hits": float(self.ref_counts.sum()),
        }
        with atomic_output(folder / "reference.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Reference:
        """Read a reference written by :meth:`save`."""
        path = folder / "reference.safetensors"
        if not path.is_file():
            raise DataError(
                "no reference", str(folder), "reference.safetensors is missing", "refit it"
            )
        return cls.from_arrays(load_file(str(path)), "")


def fit_reference(good: MapSet, valid: Array | None = None) -> Reference:
    """Fit the reference on good maps (labelled non-good and empty maps are skipped).

    ``valid`` (bool ``(H, W, D)``) marks the channels that exist; channels outside it
    or with zero hits over every reference map are masked.
    """
    check_counts(good, "reference maps")
    use = ~good.empty
    if good.map_class is not None:
        use &= good.map_class == 0
    if not use.any():
        raise DataError(
            "no good maps with statistics",
            "reference maps",
            f"{len(good)} map(s) given, none good and non-empty",
            "give good maps with events to build the reference",
        )
    counts = good.counts[use].astype(np.float64).sum(axis=0)
    events = float(good.n_events[use].astype(np.float64).sum())
    mask = counts > 0
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool).reshape(mask.shape)
    counts = np.where(mask, counts, 0.0)
    return Reference(rate=counts / events, mask=mask, ref_counts=counts, ref_events=events)
