"""ECAL-barrel-like DQM samples: per-lumisection 170 × 360 crystal occupancy maps with truth.

One row per lumisection map; real-like, so no event count among the observables:

- ``maps/occupancy`` float32 (170, 360, 1): events with a hit above threshold per crystal
  (rows iη −85…−1, +1…+85; columns iφ 1…360, see
  :mod:`heplearn.detector.occupancy.ecal_barrel`)
- ``event/run`` int32, ``event/lumisection`` int32, ``event/id`` int64 (the map index);
  ``event/n_events`` float32 only with ``store_event_count: true``
- ``geometry/tower`` int16 and ``geometry/supermodule`` int8 (170, 360, 1): each crystal's
  trigger tower (0…2447) and supermodule (0…35), the same in every row
- ``labels/map_class`` int8 (0 good, 1 dead, 2 hot), ``labels/fault_shape`` int8 (0 none,
  1 1x1, 5 tower, 6 supermodule), ``labels/channels`` uint8 (170, 360, 1) per-crystal class,
  ``labels/tower`` int16 and ``labels/supermodule`` int8 holding the fault (−1 if none;
  names from :func:`~heplearn.detector.occupancy.ecal_barrel.tower_name` and
  :func:`~heplearn.detector.occupancy.ecal_barrel.supermodule_name`),
  ``labels/noisy_tower`` int16 (a good-but-noisy tower of that LS, −1 if none)
- ``truth/lumi`` float32 [1e34 cm⁻²s⁻¹], ``truth/n_events`` float32, ``truth/severity``
  float32 (hot factor)

Physics in :mod:`heplearn.detector.occupancy.ecal_occupancy` and
:mod:`heplearn.detector.occupancy.ecal_faults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.config import register_config, setting
from heplearn.data.schema import Column
from heplearn.detector.occupancy.ecal_barrel import supermodule_map, tower_map
from heplearn.detector.occupancy.ecal_faults import (
    ECAL_FAULTS,
    EcalFaultPlan,
    apply_ecal_faults,
    draw_ecal_faults,
)
from heplearn.detector.occupancy.ecal_occupancy import EcalConditions, sample_counts
from heplearn.errors import ConfigError
from heplearn.generate.lumisection_sample import LumisectionSample
from heplearn.generate.runner import RunOptions, run_sharded

if TYPE_CHECKING:
    from typing import Unpack  # Python >= 3.11; only the annotations need it

__all__ = ["ECAL_SAMPLE_KIND", "EcalDqmSampleConfig", "ecal_dqm_dataset", "simulate_ecal_dqm_shard"]

Array = np.ndarray[Any, Any]

#: The config kind of ECAL barrel samples (HCAL samples are ``dqm-sample``).
ECAL_SAMPLE_KIND = "dqm-ecal-sample"
#: Maps simulated at once inside a shard (bounds the float64 working memory to ~60 MB).
_CHUNK = 32


@register_config(ECAL_SAMPLE_KIND)
@dataclass(frozen=True)
class EcalDqmSampleConfig(LumisectionSample):
    """An ECAL barrel DQM sample: lumisection maps, run conditions, real-data effects, faults."""

    events: int = setting(4_000, low=1, high=10_000_000, doc="number of maps (lumisections)")
    shard_events: int = setting(250, low=1, high=100_000, doc="maps per shard (~0.5 MB each)")
    seed: int = setting(1, low=0, high=2**32 - 1)
    detector_seed: int = setting(
        1, low=0, high=2**32 - 1, doc="fixes the crystal responses and their over-dispersion"
    )
    lumisections_per_run: int = setting(400, low=1, high=100_000)
    first_run: int = setting(273_000, low=1, high=10_000_000)
    events_per_ls: tuple[float, float] = setting(
        (1000.0, 3000.0), low=1.0, high=1e7, doc="events per LS at the start of a run"
    )
    peak_lumi: tuple[float, float] = setting(
        (0.8, 1.4), low=0.0, high=100.0, doc="peak luminosity of a run's fill [1e34 cm^-2 s^-1]"
    )
    lumi_lifetime_h: float = setting(15.0, low=0.1, high=1e6, doc="fill lifetime [h]")
    threshold_gev: float = setting(0.12, low=0.0, high=100.0, doc="hit threshold [GeV]")
    noise_gev: float = setting(0.045, low=0.001, high=10.0, doc="crystal noise σ at η = 0")
    response_spread: float = setting(0.05, low=0.0, high=0.5, doc="static per-crystal σ")
    tower_spread_run: float = setting(0.03, low=0.0, high=0.5, doc="tower gain σ per run")
    tower_spread_ls: float = setting(0.04, low=0.0, high=0.5, doc="tower gain σ per LS")
    supermodule_spread_ls: float = setting(0.02, low=0.0, high=0.5, doc="SM gain σ per LS")
    overdispersion: float = setting(
        0.06, low=0.0, high=2.0, doc="κ: per-crystal relative σ of the rate per LS (NB-like)"
    )
    noisy_tower_rate: float = setting(0.02, low=0.0, high=1.0, doc="noisy towers per map")
    noisy_tower_excess: tuple[float, float] = setting(
        (0.5, 2.0), low=0.0, high=100.0, doc="relative noise excess of a noisy tower"
    )
    good_fraction: float = setting(0.5, low=0.0, high=1.0)
    fault_types: dict[str, float] = setting(
        dict.fromkeys(ECAL_FAULTS, 1.0),
        low=0.0,
        doc="relative frequency of each fault type among faulty maps",
    )
    hot_factor: tuple[float, float] = setting((3.0, 10.0), low=1.0, high=1000.0)
    store_event_count: bool = setting(
        False, doc="also store event/n_events (real maps carry none; truth/n_events always)"
    )

    def validate(self, where: str) -> None:
        names = tuple(ECAL_FAULTS)
        unknown = sorted(set(self.fault_types) - set(names))
        if unknown:
            raise ConfigError(
                f"field 'fault_types.{unknown[0]}'",
                where,
                f"not one of {', '.join(names)}",
                f"use the names {', '.join(names)}",
            )
        if self.good_fraction < 1.0 and sum(self.fault_types.values()) <= 0:
            raise ConfigError(
                "field 'fault_types'", where, "all weights are 0", "give one a positive weight"
            )
        self.check_ranges(("events_per_ls", "peak_lumi", "noisy_tower_excess", "hot_factor"), where)

    def fault_plan(self) -> EcalFaultPlan:
        weights = tuple((name, float(self.fault_types.get(name, 0.0))) for name in ECAL_FAULTS)
        return EcalFaultPlan(self.good_fraction, weights, self.hot_factor)

    def conditions(self) -> EcalConditions:
        return EcalConditions(
            detector_seed=self.detector_seed,
            threshold_gev=self.threshold_gev,
            noise_gev=self.noise_gev,
            response_spread=self.response_spread,
            tower_spread_run=self.tower_spread_run,
            tower_spread_ls=self.tower_spread_ls,
            supermodule_spread_ls=self.supermodule_spread_ls,
            overdispersion=self.overdispersion,
            noisy_tower_rate=self.noisy_tower_rate,
            noisy_tower_excess=self.noisy_tower_excess,
        )


def _per_map(array: Array, n: int) -> Array:
    """A (170, 360) geometry array repeated for ``n`` maps as (n, 170, 360, 1)."""
    return np.broadcast_to(array[None, :, :, None], (n, *array.shape, 1)).copy()


def simulate_ecal_dqm_shard(config: EcalDqmSampleConfig, shard: int) -> dict[str, Column]:
    """The store columns of shard ``shard`` (deterministic in ``config.seed`` and ``shard``)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xEB, shard]))
    first = shard * config.shard_events
    stop = min(config.events, first + config.shard_events)
    n = stop - first
    lumi = config.run_plan().conditions(first, stop)
    detector = config.conditions()
    faults = draw_ecal_faults(rng, n, config.fault_plan())
    counts = np.empty((n, *tower_map().shape), dtype=np.float32)
    noisy = np.empty(n, dtype=np.int16)
    for start in range(0, n, _CHUNK):
        part = slice(start, min(start + _CHUNK, n))
        effects = detector.ls_effects(rng, part.stop - part.start)
        run_gains = np.stack([detector.run_gains(int(k)) for k in lumi.run_index[part]])
        intensity = detector.intensity(lumi.lumi[part], run_gains, effects)
        intensity = apply_ecal_faults(intensity, faults.select(part))
        counts[part] = sample_counts(rng, lumi.n_events[part], intensity)
        noisy[part] = effects.noisy_tower
    columns: dict[str, Column] = {
        "maps/occupancy": counts[..., np.newaxis],
        "event/run": lumi.run,
        "event/lumisection": lumi.lumisection,
        "event/id": np.arange(first, stop, dtype=np.int64),
        "geometry/tower": _per_map(tower_map(), n),
        "geometry/supermodule": _per_map(supermodule_map(), n),
        "labels/map_class": faults.map_class,
        "labels/fault_shape": faults.fault_shape,
        "labels/channels": faults.channels[..., np.newaxis],
        "labels/tower": faults.tower,
        "labels/supermodule": faults.supermodule,
        "labels/noisy_tower": noisy,
        "truth/lumi": lumi.lumi.astype(np.float32),
        "truth/n_events": lumi.n_events.astype(np.float32),
        "truth/severity": faults.severity.astype(np.float32),
    }
    if config.store_event_count:
        columns["event/n_events"] = lumi.n_events.astype(np.float32)
    return columns


def ecal_dqm_dataset(
    config: EcalDqmSampleConfig,
    out: str | Path,
    *,
    where: str = "the dqm-ecal-sample config",
    **options: Unpack[RunOptions],
) -> Path:
    """Generate the ECAL barrel DQM sample ``config`` as a sharded store in ``out`` (resumable).

    ``options`` (workers, dask, overwrite, progress) go to
    :func:`~heplearn.generate.runner.run_sharded`.
    """
    config.validate(where)
    return run_sharded(
        config,
        simulate_ecal_dqm_shard,
        out,
        n_shards=config.n_shards,
        **options,
        label="ecal maps",
        metadata={"geometry": "ecal-barrel"},
    )
