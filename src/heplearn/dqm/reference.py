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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from heplearn.data.atomic import atomic_output
from heplearn.dqm.maps import MapSet, check_counts
from heplearn.errors import DataError

__all__ = ["Reference", "fit_reference"]

Array = np.ndarray[Any, Any]

#: Channels expected to see at least this many hits enter the map-scale median.
MIN_EXPECTED_FOR_SCALE = 10.0
#: The scale refinement keeps channels within this many Poisson σ of the median scale.
SCALE_TRIM_SIGMA = 4.0


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
        """(N,) robust data/reference scale per map (1 nominal; 1 for empty maps)."""
        self.check(maps)
        live = self.mask.reshape(-1)
        rate = self.rate.reshape(-1)[live].astype(np.float32)
        events = maps.n_events.astype(np.float32)
        # float32 and few temporaries: this runs before every model's scoring.
        nominal = events[:, None] * rate[None, :]
        counts = maps.counts.reshape(len(maps), -1)[:, live]
        exp_sum = events.astype(np.float64) * float(rate.sum(dtype=np.float64))
        cnt_sum = counts.sum(axis=1, dtype=np.float64)
        usable = (exp_sum > 0) & (cnt_sum > 0)
        total_ratio = np.where(usable, cnt_sum / np.where(usable, exp_sum, 1.0), 1.0)
        rich = nominal >= MIN_EXPECTED_FOR_SCALE
        # Median over the rich channels only, vectorised: the other entries become
        # alternately -inf and +inf, which leaves the median of the row in place.
        fill = np.where(np.arange(counts.shape[1]) % 2 == 0, -np.inf, np.inf).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            s0 = np.median(np.where(rich, counts / nominal, fill[None, :]), axis=1)
        # Too few well-populated channels: fall back to the summed ratio.
        s0 = np.where((rich.sum(axis=1) >= 20) & np.isfinite(s0) & (s0 > 0), s0, total_ratio)
        shifted = nominal * s0[:, None].astype(np.float32)
        near = np.abs(counts - shifted) <= SCALE_TRIM_SIGMA * np.sqrt(shifted + 1.0)
        near_exp = np.where(near, nominal, 0.0).sum(axis=1, dtype=np.float64)
        near_cnt = np.where(near, counts, 0.0).sum(axis=1, dtype=np.float64)
        refined = np.where(near_exp > 0, near_cnt / np.where(near_exp > 0, near_exp, 1.0), s0)
        return np.where(usable, refined, 1.0)

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
        n_data = self._scale(maps, scale) * maps.n_events.astype(np.float64) * live_rate
        n_data = n_data[:, None, None, None]
        p = (self.ref_counts + 1.0) / (n_ref + 2.0)
        mean = n_data * p[np.newaxis]
        var = mean * (1.0 - p[np.newaxis]) * (n_data + n_ref + 2.0) / (n_ref + 3.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            pull = np.where(var > 0, (maps.counts - mean) / np.sqrt(var), 0.0)
        pull = np.where(self.mask[np.newaxis], pull, 0.0)
        return pull.astype(np.float32)

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
