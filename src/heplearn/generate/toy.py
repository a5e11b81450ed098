"""A toy calorimeter sample: the smallest realistic-looking input for the data layer.

This is *not* the detector simulation (that is ``heplearn.detector``); it is a
fast, closed-form stand-in used by ``heplearn demo`` and the data-layer tests:
e/γ with log-uniform energy, an EM shower split over four layers with a
Gaussian lateral profile, a 10 %/√E ⊕ 0.7 % energy smearing, and a jagged list
of track momenta.  Shards are seeded by ``(seed, shard index)``, so the store
is the same however the shards are scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from heplearn.config import dump_config, register_config, setting
from heplearn.data.provenance import provenance
from heplearn.data.schema import Column
from heplearn.data.shards import ShardedWriter, run_fingerprint
from heplearn.errors import ConfigError
from heplearn.progress import progress_bar

__all__ = ["LAYER_FRACTIONS", "LAYER_SHAPES", "ToyConfig", "generate_toy", "toy_events"]

#: Mean fraction of an EM shower's energy in presampler, strips, middle, back.
LAYER_FRACTIONS = (0.05, 0.30, 0.60, 0.05)
#: (η, φ) cells of the window stored per layer, at native-like granularity.
LAYER_SHAPES = ((7, 3), (56, 3), (7, 11), (4, 11))


@register_config("toy")
@dataclass(frozen=True)
class ToyConfig:
    """Size, seed and kinematic range of a toy calorimeter sample."""

    events: int = setting(2000, low=1, high=10_000_000, doc="number of particles")
    shard_events: int = setting(500, low=1, high=1_000_000, doc="particles per shard")
    seed: int = setting(1, low=0, high=2**32 - 1, doc="random seed")
    energy_range: tuple[float, float] = setting(
        (5.0, 300.0), low=0.1, high=14_000.0, doc="true energy range [GeV], log-uniform"
    )
    eta_max: float = setting(2.47, low=0.0, high=5.0, doc="|η| acceptance")
    stochastic: float = setting(0.10, low=0.0, high=1.0, doc="sampling term a in a/√E")
    constant: float = setting(0.007, low=0.0, high=0.5, doc="constant term c")

    def validate(self, where: str) -> None:
        low, high = self.energy_range
        if not low < high:
            raise ConfigError(
                "field 'energy_range'",
                where,
                f"low {low} is not below high {high}",
                "give [low, high] in GeV",
            )

    @property
    def n_shards(self) -> int:
        return -(-self.events // self.shard_events)


def _lateral_image(
    rng: np.random.Generator, energy: np.ndarray[Any, Any], shape: tuple[int, int]
) -> np.ndarray[Any, Any]:
    """Energy per cell of a Gaussian shower centred near the window centre; sums to ``energy``."""
    n_eta, n_phi = shape
    centre = rng.normal(0.0, 0.25, size=(len(energy), 2))
    eta = np.arange(n_eta) - (n_eta - 1) / 2
    phi = np.arange(n_phi) - (n_phi - 1) / 2
    width = max(n_eta, n_phi) / 8
    weight_eta = np.exp(-0.5 * ((eta[None, :] - centre[:, :1] * n_eta / 7) / width) ** 2)
    weight_phi = np.exp(-0.5 * ((phi[None, :] - centre[:, 1:]) / width) ** 2)
    image = weight_eta[:, :, None] * weight_phi[:, None, :]
    image /= image.sum(axis=(1, 2), keepdims=True)
    cells: np.ndarray[Any, Any] = (image * energy[:, None, None]).astype(np.float32)
    return cells


def toy_events(config: ToyConfig, shard: int) -> dict[str, Column]:
    """Columns of shard ``shard`` (deterministic in ``config.seed`` and ``shard``)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, shard]))
    n = min(config.shard_events, config.events - shard * config.shard_events)
    low, high = config.energy_range
    energy = np.exp(rng.uniform(np.log(low), np.log(high), n))
    eta = rng.uniform(-config.eta_max, config.eta_max, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    pdgid = rng.choice(np.array([11, -11, 22], dtype=np.int32), n)
    relative = np.hypot(config.stochastic / np.sqrt(energy), config.constant)
    measured = energy * (1.0 + relative * rng.standard_normal(n))
    fractions = rng.dirichlet(np.asarray(LAYER_FRACTIONS) * 40.0, n)
    images = {
        f"images/lr{layer}": _lateral_image(rng, measured * fractions[:, layer], shape)
        for layer, shape in enumerate(LAYER_SHAPES)
    }
    n_tracks = rng.poisson(2.0, n) + (pdgid != 22)
    track_pt = rng.exponential(3.0, int(n_tracks.sum())).astype(np.float32)
    e_acc = sum(img.sum(axis=(1, 2), dtype=np.float64) for img in images.values())
    return {
        "truth/energy": energy.astype(np.float32),
        "truth/pt": (energy / np.cosh(eta)).astype(np.float32),
        "truth/eta": eta.astype(np.float32),
        "truth/phi": phi.astype(np.float32),
        "truth/pdgid": pdgid,
        "scalars/e_acc": np.asarray(e_acc, dtype=np.float32),
        "scalars/eta": eta.astype(np.float32),
        **images,
        "tracks/pt": ak.unflatten(track_pt, n_tracks),
        "event/id": np.arange(shard * config.shard_events, shard * config.shard_events + n),
    }


def generate_toy(
    config: ToyConfig, out: str | Path, *, overwrite: bool = False, progress: bool = False
) -> Path:
    """Write the toy sample as a sharded store in ``out``; a rerun resumes a killed run."""
    writer = ShardedWriter(
        out,
        fingerprint=run_fingerprint(dump_config(config)),
        provenance=provenance(config=dump_config(config), seed=config.seed, generator="toy"),
        overwrite=overwrite,
    )
    with progress_bar("toy sample", config.n_shards, enabled=progress) as advance:
        for shard in range(config.n_shards):
            if not writer.is_done(shard):
                writer.write_shard(shard, toy_events(config, shard))
            advance(1)
    writer.finalize(config.n_shards)
    return Path(out)
