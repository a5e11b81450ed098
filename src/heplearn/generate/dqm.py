"""DQM samples: per-lumisection HCAL occupancy maps, good and faulty, with their truth.

One row per lumisection map (DQM store contract, see ``heplearn.dqm``):

- ``maps/occupancy`` float32 (82, 72, 4): events with a hit per channel (0 where no channel),
  or the slice of the config's ``view`` (see :class:`MapView`), e.g. (32, 72, 1) for HB depth 1
- ``event/n_events`` float32, ``event/lumi`` float32 [1e34 cm⁻²s⁻¹], ``event/run`` int32,
  ``event/lumisection`` int32, ``event/id`` int64 (the map index)
- ``labels/map_class`` int8 (0 good, 1 dead, 2 hot, 3 noisy, 4 partial),
  ``labels/fault_shape`` int8 (0 none, 1 1x1, 2 5x5, 3 rbx, 4 depth),
  ``labels/channels`` uint8, shaped like the maps: per-channel truth class

Physics in :mod:`heplearn.detector.occupancy.hcal_occupancy` and
:mod:`heplearn.detector.occupancy.hcal_faults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from heplearn.config import register_config, setting
from heplearn.data.schema import Column
from heplearn.detector.occupancy.fault_codes import HCAL_SHAPES
from heplearn.detector.occupancy.hcal import (
    HCAL_SHAPE,
    SUBDETECTORS,
    hcal_valid_mask,
    row_of_ieta,
    select_map,
    subdetector_map,
    subdetector_of,
)
from heplearn.detector.occupancy.hcal_faults import (
    FAULT_CLASSES,
    FaultPlan,
    InjectedFaults,
    apply_faults,
    draw_faults,
)
from heplearn.detector.occupancy.hcal_occupancy import (
    DetectorConditions,
    hit_probability,
    sample_counts,
)
from heplearn.errors import ConfigError
from heplearn.generate.lumisection_sample import LumisectionSample
from heplearn.generate.runner import RunOptions, run_sharded

if TYPE_CHECKING:
    from typing import Unpack  # Python >= 3.11; only the annotations need it

__all__ = ["DqmSampleConfig", "MapView", "dqm_dataset", "simulate_dqm_shard"]

Array = np.ndarray[Any, Any]

#: Maps simulated at once inside a shard (bounds the float64 working memory to ~50 MB).
_CHUNK = 64


@dataclass(frozen=True)
class MapView:
    """Which part of the stacked HCAL map a sample holds (default: all of it).

    ``subdetector`` keeps the ieta rows of HB, HE or HF (other sub-detectors' channels in
    those rows read 0) and ``depth`` (1–4) one depth, kept as a trailing axis of length 1,
    so stored maps stay (N, H, W, D).  Faults are placed only on the view's channels.
    """

    subdetector: Literal["HB", "HE", "HF"] | None = setting(None, doc="HB, HE, HF or null = all")
    depth: int | None = setting(None, low=1, high=4, doc="depth 1–4 or null = all")

    @property
    def full(self) -> bool:
        return self.subdetector is None and self.depth is None

    def allowed(self) -> Array:
        """Bool (82, 72, 4): the existing channels inside the view."""
        mask = np.array(hcal_valid_mask())
        if self.subdetector is not None:
            mask &= subdetector_map() == SUBDETECTORS.index(self.subdetector) + 1
        if self.depth is not None:
            mask[..., np.arange(HCAL_SHAPE[2]) != self.depth - 1] = False
        return mask

    def select(self, maps: Array) -> Array:
        """The view's slice of stacked maps (N, 82, 72, 4) → (N, H', 72, D')."""
        if self.full:
            return maps
        out = select_map(maps, self.subdetector, self.depth)
        return out[..., np.newaxis] if self.depth is not None else out


@register_config("dqm-sample")
@dataclass(frozen=True)
class DqmSampleConfig(LumisectionSample):
    """A DQM sample: how many lumisection maps, their run conditions and their faults."""

    events: int = setting(6_000, low=1, high=10_000_000, doc="number of maps (lumisections)")
    shard_events: int = setting(500, low=1, high=100_000, doc="maps per shard (~47 MB each)")
    seed: int = setting(1, low=0, high=2**32 - 1)
    detector_seed: int = setting(
        1, low=0, high=2**32 - 1, doc="fixes the channel responses and their drifts"
    )
    lumisections_per_run: int = setting(300, low=1, high=100_000)
    first_run: int = setting(360_000, low=1, high=10_000_000)
    events_per_ls: tuple[float, float] = setting(
        (1000.0, 4000.0), low=1.0, high=1e7, doc="events per LS at the start of a run"
    )
    peak_lumi: tuple[float, float] = setting(
        (1.2, 2.1), low=0.0, high=100.0, doc="peak luminosity of a run's fill [1e34 cm^-2 s^-1]"
    )
    lumi_lifetime_h: float = setting(12.0, low=0.1, high=1000.0, doc="fill lifetime [h]")
    response_spread: float = setting(0.06, low=0.0, high=0.5, doc="per-channel response σ")
    drift_per_run: float = setting(0.002, low=0.0, high=0.1, doc="σ of response slope per run")
    darkening_per_run: float = setting(
        0.001, low=0.0, high=0.1, doc="forward HE response loss per run"
    )
    noise_occupancy: float = setting(0.005, low=0.0, high=0.5, doc="zero-suppression noise")
    good_fraction: float = setting(0.5, low=0.0, high=1.0)
    fault_classes: dict[str, float] = setting(
        {"dead": 1.0, "hot": 1.0, "noisy": 1.0, "partial": 1.0},
        low=0.0,
        doc="relative frequency of each fault class among faulty maps",
    )
    fault_shapes: dict[str, float] = setting(
        {"1x1": 1.0, "5x5": 1.0, "rbx": 1.0, "depth": 0.25},
        low=0.0,
        doc="relative frequency of each fault shape among faulty maps",
    )
    hot_factor: tuple[float, float] = setting((3.0, 10.0), low=1.0, high=1000.0)
    noisy_spread: tuple[float, float] = setting((0.3, 1.0), low=0.01, high=10.0)
    partial_gain: tuple[float, float] = setting((0.2, 0.8), low=0.0, high=1.0)
    fixed_position: bool = setting(False, doc="all faults at fixed_channel (the thesis' 'fixed')")
    fixed_channel: tuple[int, int, int] = setting((8, 36, 1), doc="(ieta, iphi, depth)")
    view: MapView = setting(MapView(), doc="sub-detector and/or depth stored; default all")

    def validate(self, where: str) -> None:
        for name, names in (
            ("fault_classes", FAULT_CLASSES[1:]),
            ("fault_shapes", HCAL_SHAPES),
        ):
            weights: dict[str, float] = getattr(self, name)
            unknown = sorted(set(weights) - set(names))
            if unknown:
                raise ConfigError(
                    f"field '{name}.{unknown[0]}'",
                    where,
                    f"not one of {', '.join(names)}",
                    f"use the names {', '.join(names)}",
                )
            if any(w < 0 for w in weights.values()):
                raise ConfigError(
                    f"field '{name}'", where, f"negative weight in {weights}", "use weights ≥ 0"
                )
            if self.good_fraction < 1.0 and sum(weights.values()) <= 0:
                raise ConfigError(
                    f"field '{name}'", where, "all weights are 0", "give one a positive weight"
                )
        ranges = ("events_per_ls", "peak_lumi", "hot_factor", "noisy_spread", "partial_gain")
        self.check_ranges(ranges, where)
        if int(subdetector_of(*self.fixed_channel)) == 0:
            raise ConfigError(
                "field 'fixed_channel'",
                where,
                f"(ieta, iphi, depth) = {list(self.fixed_channel)} is not an HCAL channel",
                "pick an existing channel, e.g. [8, 36, 1] (see heplearn.detector.occupancy.hcal)",
            )
        ieta, iphi, depth = self.fixed_channel
        if (
            self.fixed_position
            and not self.view.allowed()[int(row_of_ieta(ieta)), iphi - 1, depth - 1]
        ):
            raise ConfigError(
                "field 'fixed_channel'",
                where,
                f"(ieta, iphi, depth) = {list(self.fixed_channel)} is outside the view"
                f" (sub-detector {self.view.subdetector or 'any'},"
                f" depth {self.view.depth or 'any'})",
                "pick a channel inside the view, or change the view",
            )

    def fault_plan(self) -> FaultPlan:
        return FaultPlan(
            good_fraction=self.good_fraction,
            class_weights=_weights(self.fault_classes, FAULT_CLASSES[1:]),
            shape_weights=_weights(self.fault_shapes, HCAL_SHAPES),
            hot_factor=self.hot_factor,
            noisy_spread=self.noisy_spread,
            partial_gain=self.partial_gain,
            fixed_position=self.fixed_position,
            fixed_channel=self.fixed_channel,
            allowed=None if self.view.full else self.view.allowed(),
        )

    def detector(self) -> DetectorConditions:
        return DetectorConditions(
            detector_seed=self.detector_seed,
            response_spread=self.response_spread,
            drift_per_run=self.drift_per_run,
            darkening_per_run=self.darkening_per_run,
            noise_occupancy=self.noise_occupancy,
        )


def _weights(
    weights: dict[str, float], names: tuple[str, ...]
) -> tuple[float, float, float, float]:
    values = [float(weights.get(name, 0.0)) for name in names]
    if sum(values) <= 0:  # an all-good sample: any valid distribution, never used
        values = [1.0] * len(names)
    return values[0], values[1], values[2], values[3]


def simulate_dqm_shard(config: DqmSampleConfig, shard: int) -> dict[str, Column]:
    """The store columns of shard ``shard`` (deterministic in ``config.seed`` and ``shard``)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, shard]))
    first = shard * config.shard_events
    stop = min(config.events, first + config.shard_events)
    conditions = config.run_plan().conditions(first, stop)
    detector = config.detector()
    faults = draw_faults(rng, stop - first, config.fault_plan())
    gains = {int(k): detector.gains(int(k)) for k in np.unique(conditions.run_index)}
    counts = np.empty(faults.channels.shape, dtype=np.float32)
    for start in range(0, stop - first, _CHUNK):
        part = slice(start, min(start + _CHUNK, stop - first))
        gain = np.stack([gains[int(k)] for k in conditions.run_index[part]])
        p = hit_probability(conditions.lumi[part], gain, detector.noise_occupancy)
        chunk_faults = InjectedFaults(
            faults.map_class[part],
            faults.fault_shape[part],
            faults.severity[part],
            faults.channels[part],
        )
        p = apply_faults(p, chunk_faults, rng)
        counts[part] = sample_counts(rng, conditions.n_events[part], p)
    view = config.view
    return {
        "maps/occupancy": view.select(counts),
        "event/n_events": conditions.n_events.astype(np.float32),
        "event/lumi": conditions.lumi.astype(np.float32),
        "event/run": conditions.run,
        "event/lumisection": conditions.lumisection,
        "event/id": np.arange(first, stop, dtype=np.int64),
        "labels/map_class": faults.map_class,
        "labels/fault_shape": faults.fault_shape,
        "labels/channels": view.select(faults.channels),
    }


def dqm_dataset(
    config: DqmSampleConfig,
    out: str | Path,
    *,
    where: str = "the dqm-sample config",
    **options: Unpack[RunOptions],
) -> Path:
    """Generate the DQM sample ``config`` as a sharded store in ``out`` (resumable).

    ``where`` names the config's origin in error messages (e.g. its file); ``options``
    (workers, dask, overwrite, progress) go to :func:`~heplearn.generate.runner.run_sharded`.
    """
    config.validate(where)
    return run_sharded(
        config,
        simulate_dqm_shard,
        out,
        n_shards=config.n_shards,
        **options,
        label="dqm maps",
    )
