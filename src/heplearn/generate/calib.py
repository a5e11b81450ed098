"""Calibration samples: e/γ from guns or Pythia, pileup, fast simulation → store columns.

One row per reconstructed e/γ candidate (a Z→ee event gives two rows with the
same ``event/id``).  Store fields (GeV, radians, mm):

- ``truth/``: ``energy``, ``pt``, ``eta``, ``phi``, ``pdgid``, ``converted``,
  ``conversion_radius``, ``brem_fraction``, ``origin`` (0 gun, 1 Z→ee, 2 H→γγ, 3 Z→μμγ),
  ``resonance_mass`` (generated Z/H mass of the event; 0 for guns)
- ``images/<layer>``: the native-granularity cell windows (``presampler``, ``strips``,
  ``middle``, ``back``; or ``crystals``)
- ``scalars/``: see :mod:`heplearn.detector.calorimeter.reconstruction`, plus ``pt_track``,
  ``delta_eta2``, ``delta_phi2`` (electrons; 0 for photons), ``n_tracks``, ``mu``, ``n_vertex``
- ``tracks/features`` (15, 10) sorted by isolation score, ``tracks/count``
- ``event/``: ``id``, ``mu``, ``n_vertex``, ``weight`` (σ·1 fb⁻¹/N for Pythia, 1 for guns),
  ``process`` (as ``truth/origin``)
- ``time/<layer>`` (with ``time_images: true``): cell times [ns]
  (:mod:`heplearn.detector.calorimeter.timing`)

With a ``detector_shift`` block the sample is pseudo-data from a detector that differs from
the nominal one (:mod:`heplearn.detector.calorimeter.shift`): the shift is in the store's
provenance (its resolved config), and the truth is stored as ``validation/*`` instead of
``truth/*``, so no data-driven method can read it by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from heplearn.config import register_config, setting
from heplearn.data.schema import Column
from heplearn.detector.calorimeter.cellgrid import wrap_phi
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, load_geometry
from heplearn.detector.calorimeter.response import ResponseSwitches
from heplearn.detector.calorimeter.shift import DetectorShift, shifted_geometry
from heplearn.detector.calorimeter.simulate import (
    SimulatedClusters,
    SimulationSwitches,
    simulate_clusters,
)
from heplearn.detector.calorimeter.timing import cell_times
from heplearn.detector.calorimeter.tracks import select_tracks, smear_tracks
from heplearn.detector.particles import Particles
from heplearn.detector.ranges import pair_by_event
from heplearn.errors import ConfigError
from heplearn.generate.guns import GunConfig, shoot
from heplearn.generate.pileup_pool import BEAM_SPOT_SIGMA_Z_MM, PileupOverlay, minbias_pool
from heplearn.generate.pythia import generate_events
from heplearn.generate.runner import RunOptions, run_sharded

if TYPE_CHECKING:
    from typing import Unpack  # Python >= 3.11; only the annotations need it

__all__ = [
    "ORIGINS",
    "VALIDATION_GROUP",
    "CalibSampleConfig",
    "calib_dataset",
    "simulate_calib_shard",
]

Array = np.ndarray[Any, Any]

ORIGINS = {"gun": 0, "zee": 1, "hgg": 2, "zmumugamma": 3}
#: Which final-state particles of each process become clusters.
_CANDIDATES = {"zee": (11,), "hgg": (22,), "zmumugamma": (22,)}
_PB_PER_MB = 1e9
#: Where a pseudo-data store keeps its truth: read by tests of data-driven methods only.
VALIDATION_GROUP = "validation/"


@register_config("calib-sample")
@dataclass(frozen=True)
class CalibSampleConfig:
    """A calibration sample: source, detector, pileup, size and seed."""

    geometry: str = setting("atlas-lar", doc="shipped geometry name or path of a geometry YAML")
    source: Literal["gun", "zee", "hgg", "zmumugamma"] = "gun"
    gun: GunConfig = setting(GunConfig())
    events: int = setting(10_000, low=1, high=100_000_000)
    shard_events: int = setting(2_000, low=1, high=1_000_000)
    seed: int = setting(1, low=0, high=2**32 - 1)
    mu: float = setting(0.0, low=0.0, high=300.0, doc="mean pileup ⟨μ⟩ (fixed)")
    mu_range: tuple[float, float] | None = setting(
        None, low=0.0, high=300.0, doc="⟨μ⟩ drawn uniformly per event instead of fixed"
    )
    pool_events: int = setting(400, low=10, high=100_000, doc="minimum-bias pool size")
    min_pt: float = setting(5.0, low=0.0, high=1000.0, doc="pT threshold of Pythia candidates")
    ecm_gev: float = setting(13_600.0, low=100.0, high=100_000.0)
    material: bool = True
    noise: bool = True
    time_images: bool = setting(False, doc="also store the cell times as time/<layer> [ns]")
    detector_shift: DetectorShift | None = setting(
        None, doc="pseudo-data: a detector differing from the nominal one; truth → validation/"
    )

    @property
    def n_shards(self) -> int:
        return -(-self.events // self.shard_events)

    @property
    def has_pileup(self) -> bool:
        return self.mu > 0 or (self.mu_range is not None and self.mu_range[1] > 0)

    def validate(self, where: str) -> None:
        if self.mu_range is not None and not self.mu_range[0] <= self.mu_range[1]:
            raise ConfigError(
                "field 'mu_range'", where, f"{self.mu_range} is not [low, high]", "give [low, high]"
            )

    def check_geometry(self, geometry: CalorimeterGeometry, where: str) -> None:
        """Refuse a gun η range outside the calorimeter acceptance."""
        if self.source == "gun" and max(abs(e) for e in self.gun.eta_range) > geometry.eta_max:
            raise ConfigError(
                "field 'gun.eta_range'",
                where,
                f"{list(self.gun.eta_range)} reaches beyond the {geometry.name} acceptance "
                f"|η| < {geometry.eta_max}",
                f"keep |η| ≤ {geometry.eta_max}",
            )


def _event_range(config: CalibSampleConfig, shard: int) -> tuple[int, int]:
    first = shard * config.shard_events
    return first, min(config.events, first + config.shard_events)


def _pythia_particles(
    config: CalibSampleConfig,
    shard: int,
    *,
    n: int,
    first: int,
    geometry: CalorimeterGeometry,
    rng: np.random.Generator,
) -> tuple[Particles, Particles, Array, Particles, float, Array]:
    """(candidates, companions, companion owner, charged hard particles, weight, Z/H mass)."""
    events = generate_events(config.source, n, config.seed, shard, ecm_gev=config.ecm_gev)
    vertex_z = BEAM_SPOT_SIGMA_Z_MM * rng.standard_normal(n)
    everything = Particles(
        events.pdgid,
        events.energy,
        events.eta,
        events.phi,
        vertex_z[events.event],
        events.event + first,
    )
    pt = everything.pt
    is_candidate = (
        np.isin(np.abs(events.pdgid), _CANDIDATES[config.source])
        & (pt > config.min_pt)
        & (np.abs(events.eta) < geometry.eta_max)
    )
    candidates = everything.take(np.flatnonzero(is_candidate))
    # Other e/γ of the event (final-state radiation) join the nearest candidate within ΔR < 0.1.
    others = np.flatnonzero(~is_candidate & np.isin(np.abs(events.pdgid), (11, 22)))
    other, candidate = pair_by_event(everything.event[others], candidates.event)
    d_r = np.hypot(
        candidates.eta[candidate] - everything.eta[others[other]],
        wrap_phi(candidates.phi[candidate] - everything.phi[others[other]]),
    )
    close = d_r < 0.1
    # Of several close candidates the nearest wins: sort by (particle, ΔR), keep each first.
    ranking = np.lexsort((d_r[close], other[close]))
    nearest_other, first_pair = np.unique(other[close][ranking], return_index=True)
    owner = np.full(len(others), -1)
    owner[nearest_other] = candidate[close][ranking][first_pair]
    joined = owner >= 0
    charged = everything.take(np.flatnonzero(np.abs(events.pdgid) == 13))
    weight = events.sigma_mb * _PB_PER_MB * 1e3 / n  # σ · 1 fb⁻¹ / N
    companions = everything.take(others[joined])
    return candidates, companions, owner[joined], charged, weight, events.resonance_mass


def _track_scalars(
    clusters: SimulatedClusters,
    primaries: Particles,
    geometry: CalorimeterGeometry,
    rng: np.random.Generator,
) -> dict[str, Array]:
    """pT of the electron track and the cluster–track matching in η and φ (0 for photons)."""
    charged = primaries.charge != 0
    # The track is fitted through the tracker where the electron radiated: its pT lies between
    # the momenta before and after bremsstrahlung.
    fitted_after = rng.uniform(0.0, 1.0, len(primaries))
    pt_track = primaries.pt * (1.0 - clusters.upstream.brem_fraction * fitted_after)
    pt_track *= 1.0 + np.hypot(0.00036 * primaries.pt, 0.013) * rng.standard_normal(len(primaries))
    e_acc = clusters.scalars["e_acc"].astype(np.float64)
    eta = clusters.scalars["eta"].astype(np.float64)
    pt_calo = np.maximum(e_acc / np.cosh(eta), 0.5)
    radius = geometry.front_radius(np.abs(eta)) * 1e-3
    turn = np.arcsin(np.clip(0.15 * geometry.magnetic_field_t * radius / pt_calo, -1.0, 1.0))
    phi_extrapolated = primaries.phi - primaries.charge * turn
    delta_phi = wrap_phi(clusters.scalars["phi"] - phi_extrapolated)
    return {
        "pt_track": np.where(charged, pt_track, 0.0),
        "delta_eta2": np.where(charged, eta - clusters.upstream.impact_eta, 0.0),
        "delta_phi2": np.where(charged, delta_phi, 0.0),
    }


def simulate_calib_shard(config: CalibSampleConfig, shard: int) -> dict[str, Column]:
    """The store columns of shard ``shard`` (deterministic in ``config.seed`` and ``shard``)."""
    geometry = load_geometry(config.geometry)
    if config.detector_shift is not None:
        geometry = shifted_geometry(geometry, config.detector_shift)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, shard]))
    first, stop = _event_range(config, shard)
    n = stop - first
    companions, owner = None, None
    charged_hard = Particles(*(np.zeros(0),) * 5, np.zeros(0, np.int64))
    if config.source == "gun":
        primaries = shoot(config.gun, n, rng, first_event=first)
        weight, resonance_mass = 1.0, np.zeros(n)
    else:
        primaries, companions, owner, charged_hard, weight, resonance_mass = _pythia_particles(
            config, shard, n=n, first=first, geometry=geometry, rng=rng
        )
    event_ids = np.arange(first, stop)
    fixed = np.full(n, config.mu)
    mu = rng.uniform(*config.mu_range, n) if config.mu_range is not None else fixed
    pileup, n_vertex = None, np.ones(n, np.int64)
    if config.has_pileup:
        pool = minbias_pool(config.pool_events, config.seed, config.ecm_gev)
        pileup = PileupOverlay.draw(pool, mu, event_ids, rng, out_of_time=geometry.bipolar_pulse)
        n_vertex = pileup.n_vertex
    switches = SimulationSwitches(
        material=config.material, response=ResponseSwitches(noise=config.noise)
    )
    clusters = simulate_clusters(
        primaries,
        geometry,
        rng,
        pileup=pileup,
        companions=companions,
        companion_owner=owner,
        switches=switches,
        shift=config.detector_shift,
    )
    # Tracks: the candidates' own (electrons), other charged hard particles, charged pileup.
    track_sources = [primaries, charged_hard]
    vertices = [np.zeros(len(primaries), np.int64), np.zeros(len(charged_hard), np.int64)]
    if pileup is not None:
        pileup_tracks, pileup_vertex = pileup.tracks()
        track_sources.append(pileup_tracks)
        vertices.append(pileup_vertex)
    all_charged = Particles(
        *(
            np.concatenate([getattr(p, f) for p in track_sources])
            for f in ("pdgid", "energy", "eta", "phi", "vertex_z", "event")
        )
    )
    tracks = smear_tracks(all_charged, np.concatenate(vertices), rng)
    features, counts = select_tracks(
        tracks, clusters.scalars["eta"], clusters.scalars["phi"], primaries.event
    )
    row_event = primaries.event - first
    scalars = dict(clusters.scalars)
    scalars.update(_track_scalars(clusters, primaries, geometry, rng))
    scalars["n_tracks"] = counts.astype(np.float64)
    scalars["mu"] = mu[row_event]
    scalars["n_vertex"] = n_vertex[row_event].astype(np.float64)
    columns: dict[str, Column] = {
        "truth/energy": primaries.energy.astype(np.float32),
        "truth/pt": primaries.pt.astype(np.float32),
        "truth/eta": primaries.eta.astype(np.float32),
        "truth/phi": primaries.phi.astype(np.float32),
        "truth/pdgid": primaries.pdgid.astype(np.int32),
        "truth/origin": np.full(len(primaries), ORIGINS[config.source], dtype=np.int8),
        "truth/converted": clusters.upstream.converted.astype(np.int8),
        "truth/conversion_radius": clusters.upstream.conversion_radius.astype(np.float32),
        "truth/brem_fraction": clusters.upstream.brem_fraction.astype(np.float32),
        "truth/resonance_mass": resonance_mass[row_event].astype(np.float32),
        "event/id": primaries.event.astype(np.int64),
        "event/mu": mu[row_event].astype(np.float32),
        "event/n_vertex": n_vertex[row_event].astype(np.int32),
        "event/weight": np.full(len(primaries), weight, dtype=np.float32),
        "event/process": np.full(len(primaries), ORIGINS[config.source], dtype=np.int8),
        "tracks/features": features,
        "tracks/count": counts,
    }
    columns.update({f"scalars/{k}": np.asarray(v, dtype=np.float32) for k, v in scalars.items()})
    columns.update({f"images/{k}": v for k, v in clusters.cells.items()})
    if config.time_images:
        columns.update({f"time/{k}": v for k, v in cell_times(clusters.cells, rng).items()})
    if config.detector_shift is not None:
        columns = {
            VALIDATION_GROUP + k.removeprefix("truth/") if k.startswith("truth/") else k: v
            for k, v in columns.items()
        }
    return columns


def calib_dataset(
    config: CalibSampleConfig,
    out: str | Path,
    *,
    where: str = "the calib-sample config",
    **options: Unpack[RunOptions],
) -> Path:
    """Generate the calibration sample ``config`` as a sharded store in ``out`` (resumable).

    ``where`` names the config's origin in error messages (e.g. its file); ``options``
    (workers, dask, overwrite, progress) go to :func:`~heplearn.generate.runner.run_sharded`.
    """
    config.check_geometry(load_geometry(config.geometry), where)
    return run_sharded(
        config,
        simulate_calib_shard,
        out,
        n_shards=config.n_shards,
        **options,
        label=f"calib {config.source}",
    )
