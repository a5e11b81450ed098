"""Input scalers fitted on the training split only, saved with the model as plain JSON.

Following the DeepCalo thesis (§3.4 and §9.6.3, scikit-learn's QuantileTransformer
and RobustScaler):

- **Scalars**: a quantile transform for heavy-tailed scalars and robust scaling
  (x − median) / IQR for the rest.  Heavy-tailed means, on the training split,
  ``|skewness| > skew_threshold`` (2: one long tail) or ``excess kurtosis >
  kurtosis_threshold`` (10: two long tails, which skewness misses), unless
  ``FeatureConfig.quantile_scalars`` lists them.  On the ATLAS-like gun sample the
  rule picks the energies (e_acc, e_<layer>, e_max, …), r12, f0, pt_track and
  delta_phi2 (bremsstrahlung tails on both sides: robust scaling left it at ±48).
  The quantile transform maps x through the training CDF (``n_quantiles``
  points, linear between them, averaging the two one-sided interpolations so that
  a spike of equal values maps to the middle of its quantile range) onto a
  uniform or a standard normal distribution.  Values beyond the training range
  are clipped to its ends (±5.2 σ for the normal output), so unseen test values
  stay finite.  An IQR of 0 (a constant, e.g. ⟨μ⟩ of a fixed-pileup sample)
  scales by 1.
- **Images**: DeepCalo feeds the up-sampled cells in GeV (times in ns) with no
  further pre-processing (thesis §3.4: "no further pre-processing will follow",
  only MeV → GeV), so ``image_scaling: none`` keeps a scale of 1 per channel.
  ``robust`` divides each channel by the median over training clusters of its
  largest |cell|.  Either way no offset is added, so empty cells stay 0 and the
  up-sampling's energy sums are only rescaled.
- **Tracks**: robust scaling per track feature over the real (non-padded)
  tracks; padding stays 0.

A scaler file is ``{"format": "heplearn-scalers", "version": 1, ...}`` with
numbers as plain lists; it is written under a temporary name and renamed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.special import ndtri

from heplearn.calib.features import FeatureArrays, FeatureConfig
from heplearn.data.atomic import read_saved_text, write_text_atomically
from heplearn.errors import DataError

__all__ = [
    "QuantileScaler",
    "RobustScaler",
    "ScalerSet",
    "excess_kurtosis",
    "heavy_tailed",
    "skewness",
]

Array = np.ndarray[Any, Any]

FORMAT = "heplearn-scalers"
VERSION = 1
#: Uniform values are kept this far from 0 and 1 before the normal quantile function.
_BOUND = 1e-7


def _moment(x: Array, order: int) -> float:
    """Standardised moment E[((x−μ)/σ)^order] (0 for a constant)."""
    values = np.asarray(x, dtype=np.float64)
    sigma = values.std()
    if not sigma > 0:
        return 0.0
    return float(np.mean(((values - values.mean()) / sigma) ** order))


def skewness(x: Array) -> float:
    """Sample skewness E[(x−μ)³]/σ³ (0 for a constant)."""
    return _moment(x, 3)


def excess_kurtosis(x: Array) -> float:
    """Sample excess kurtosis E[(x−μ)⁴]/σ⁴ − 3 (0 for a Gaussian and for a constant)."""
    return _moment(x, 4) - 3.0 if np.std(x) > 0 else 0.0


def heavy_tailed(x: Array, skew_threshold: float = 2.0, kurtosis_threshold: float = 10.0) -> bool:
    """The rule that picks the quantile transform: a long tail on one side or on both."""
    return abs(skewness(x)) > skew_threshold or excess_kurtosis(x) > kurtosis_threshold


@dataclass(frozen=True)
class RobustScaler:
    """(x − center) / scale with the training median and interquartile range."""

    center: float
    scale: float

    @classmethod
    def fit(cls, x: Array) -> RobustScaler:
        q25, median, q75 = np.percentile(np.asarray(x, dtype=np.float64), [25, 50, 75])
        iqr = float(q75 - q25)
        return cls(float(median), iqr if iqr > 0 else 1.0)

    def transform(self, x: Array) -> Array:
        out: Array = (np.asarray(x, dtype=np.float64) - self.center) / self.scale
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "robust", "center": self.center, "scale": self.scale}


@dataclass(frozen=True)
class QuantileScaler:
    """x → training CDF → uniform [0, 1] or standard normal (clipped at the training range)."""

    quantiles: tuple[float, ...]
    output: Literal["normal", "uniform"] = "normal"

    @classmethod
    def fit(
        cls, x: Array, n_quantiles: int = 1000, output: Literal["normal", "uniform"] = "normal"
    ) -> QuantileScaler:
        values = np.asarray(x, dtype=np.float64)
        levels = np.linspace(0.0, 1.0, max(2, min(n_quantiles, len(values))))
        # np.quantile is monotone up to rounding; the running maximum makes it exactly so.
        quantiles = np.maximum.accumulate(np.quantile(values, levels))
        return cls(tuple(float(q) for q in quantiles), output)

    def transform(self, x: Array) -> Array:
        values = np.asarray(x, dtype=np.float64)
        quantiles = np.asarray(self.quantiles)
        levels = np.linspace(0.0, 1.0, len(quantiles))
        # Interpolating up and down and averaging puts a run of equal quantiles at its middle.
        up = np.interp(values, quantiles, levels)
        down = -np.interp(-values, -quantiles[::-1], -levels[::-1])
        uniform = 0.5 * (up + down)
        if self.output == "uniform":
            return uniform
        out: Array = ndtri(np.clip(uniform, _BOUND, 1.0 - _BOUND))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "quantile", "output": self.output, "quantiles": list(self.quantiles)}


ScalarScaler = RobustScaler | QuantileScaler


def _scaler_from_dict(data: dict[str, Any]) -> ScalarScaler:
    if data["kind"] == "robust":
        return RobustScaler(float(data["center"]), float(data["scale"]))
    if data["kind"] == "quantile" and data["output"] in ("normal", "uniform"):
        return QuantileScaler(tuple(float(q) for q in data["quantiles"]), data["output"])
    raise ValueError(f"unknown scaler {data.get('kind')!r}")


def _track_mask(features: FeatureArrays) -> Array:
    """(N, T) True for real tracks, False for padding."""
    n_tracks = features.tracks.shape[1]
    mask: Array = np.arange(n_tracks)[None, :] < features.track_count[:, None]
    return mask


@dataclass(frozen=True)
class ScalerSet:
    """Scalers of every input of a calibration model."""

    scalar_names: tuple[str, ...]
    scalars: tuple[ScalarScaler, ...]
    channel_names: tuple[str, ...]
    image_scale: tuple[float, ...]
    track_center: tuple[float, ...]
    track_scale: tuple[float, ...]
    #: Energy channels divided by each cluster's E_acc (shapes, not scale; see FeatureConfig).
    image_per_event: bool = False

    @classmethod
    def fit(cls, train: FeatureArrays, config: FeatureConfig | None = None) -> ScalerSet:
        """Fit on the training split (never on validation or test clusters)."""
        config = config or FeatureConfig()
        if len(train) == 0:
            raise DataError(
                "empty training split",
                "the scaler fit",
                "there are no clusters to fit on",
                "use more events or a larger training fraction",
            )
        heavy = config.quantile_scalars
        scalers: list[ScalarScaler] = []
        for s, name in enumerate(train.scalar_names):
            column = train.scalars[:, s]
            tailed = (
                name in heavy
                if heavy is not None
                else heavy_tailed(column, config.skew_threshold, config.kurtosis_threshold)
            )
            if tailed:
                scalers.append(
                    QuantileScaler.fit(column, config.n_quantiles, config.quantile_output)
                )
            else:
                scalers.append(RobustScaler.fit(column))
        n_channels = train.images.shape[1]
        scale = np.ones(n_channels)
        if config.image_scaling == "robust" and n_channels:
            peak = np.abs(train.images).max(axis=(2, 3))
            typical = np.median(peak, axis=0)
            scale = np.where(typical > 0, typical, 1.0)
        center = np.zeros(train.tracks.shape[2])
        spread = np.ones(train.tracks.shape[2])
        real = train.tracks[_track_mask(train)]
        if len(real):
            for f in range(real.shape[1]):
                fitted = RobustScaler.fit(real[:, f])
                center[f], spread[f] = fitted.center, fitted.scale
        return cls(
            scalar_names=tuple(train.scalar_names),
            scalars=tuple(scalers),
            channel_names=tuple(train.channel_names),
            image_scale=tuple(float(v) for v in scale),
            track_center=tuple(float(v) for v in center),
            track_scale=tuple(float(v) for v in spread),
            image_per_event=config.image_scaling == "per-event",
        )

    def _check(self, features: FeatureArrays) -> None:
        theirs = (features.scalar_names, features.channel_names, features.tracks.shape[2])
        ours = (self.scalar_names, self.channel_names, len(self.track_center))
        if theirs != ours:
            raise DataError(
                "features do not match the scalers",
                "the scaler set",
                f"fitted on scalars {list(ours[0])}, channels {list(ours[1])}, {ours[2]} track "
                f"features; got {list(theirs[0])}, {list(theirs[1])}, {theirs[2]}",
                "load the features with the config the model was trained with",
            )

    def transform(self, features: FeatureArrays) -> FeatureArrays:
        """Scaled copies of the inputs (float32); labels are passed through unchanged."""
        self._check(features)
        scalars = np.empty(features.scalars.shape, dtype=np.float32)
        for s, scaler in enumerate(self.scalars):
            scalars[:, s] = scaler.transform(features.scalars[:, s])
        scale = np.asarray(self.image_scale, dtype=np.float32)[None, :, None, None]
        # float32 throughout: a float64 intermediate of 500k images would need 10 GB.
        images = np.divide(features.images, scale, dtype=np.float32)
        if self.image_per_event:
            energy = np.array([not name.startswith("time/") for name in self.channel_names])
            # E_acc ≥ 1 GeV guards the rare noise-dominated cluster with E_acc ≤ 0.
            per_cluster = np.maximum(features.e_acc, 1.0).astype(np.float32)[:, None, None]
            images[:, energy] /= per_cluster[:, None]
        mask = _track_mask(features)[:, :, None]
        center, spread = np.asarray(self.track_center), np.asarray(self.track_scale)
        tracks = np.where(mask, (features.tracks - center) / spread, 0.0).astype(np.float32)
        return dataclasses.replace(features, images=images, scalars=scalars, tracks=tracks)

    def to_json(self) -> str:
        """The scalers as JSON text: names and plain lists of numbers."""
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "scalar_names": list(self.scalar_names),
                "scalars": [scaler.to_dict() for scaler in self.scalars],
                "channel_names": list(self.channel_names),
                "image_scale": list(self.image_scale),
                "track_center": list(self.track_center),
                "track_scale": list(self.track_scale),
                "image_per_event": self.image_per_event,
            },
            allow_nan=False,  # strict JSON: any reader can parse it
        )

    @classmethod
    def from_json(cls, text: str, where: str = "the scaler JSON") -> ScalerSet:
        """Parse :meth:`to_json` output; anything else is a DataError."""

        def refuse(why: str) -> DataError:
            return DataError(
                "not a heplearn scaler file", where, why, "give the scalers.json saved with a model"
            )

        try:
            data = json.loads(text)
        except ValueError as err:
            raise refuse(f"it is not JSON ({err})") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise refuse(f'it has no "format": "{FORMAT}"')
        if not isinstance(data.get("version"), int) or data["version"] > VERSION:
            raise refuse(f"version {data.get('version')!r} is newer than this heplearn reads")
        try:
            return cls(
                scalar_names=tuple(str(n) for n in data["scalar_names"]),
                scalars=tuple(_scaler_from_dict(s) for s in data["scalars"]),
                channel_names=tuple(str(n) for n in data["channel_names"]),
                image_scale=tuple(float(v) for v in data["image_scale"]),
                track_center=tuple(float(v) for v in data["track_center"]),
                track_scale=tuple(float(v) for v in data["track_scale"]),
                image_per_event=bool(data.get("image_per_event", False)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise refuse(f"an entry is missing or malformed ({err!r})") from err

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the JSON atomically (temporary name, then rename)."""
        return write_text_atomically(path, self.to_json(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> ScalerSet:
        return cls.from_json(read_saved_text(path, "scaler"), str(path))
