"""Particle guns: single e±/γ per event, flat in η and φ, uniform or log-uniform in pT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from heplearn.config import setting
from heplearn.detector.particles import Particles
from heplearn.errors import ConfigError

__all__ = ["GUN_PARTICLES", "GunConfig", "shoot"]

#: Particles a calibration gun may shoot, by name, with their PDG ids.
GUN_PARTICLES = {"electron": 11, "positron": -11, "photon": 22}


@dataclass(frozen=True)
class GunConfig:
    """What the gun shoots and over which kinematic range."""

    particles: tuple[Literal["electron", "positron", "photon"], ...] = setting(
        ("electron", "positron", "photon"), doc="drawn with equal probability"
    )
    pt_range: tuple[float, float] = setting((5.0, 300.0), low=0.1, high=10_000.0, doc="pT [GeV]")
    pt_spectrum: Literal["uniform", "log-uniform"] = "log-uniform"
    eta_range: tuple[float, float] = setting((-2.47, 2.47), low=-5.0, high=5.0)
    vertex_sigma_z_mm: float = setting(0.0, low=0.0, high=500.0, doc="beam-spot length")

    def validate(self, where: str) -> None:
        for name, (low, high) in {"pt_range": self.pt_range, "eta_range": self.eta_range}.items():
            if not low < high:
                raise ConfigError(
                    f"field 'gun.{name}'",
                    where,
                    f"low {low} is not below high {high}",
                    "give [low, high]",
                )
        if not self.particles:
            raise ConfigError("field 'gun.particles'", where, "it is empty", "name at least one")


def shoot(config: GunConfig, n: int, rng: np.random.Generator, first_event: int = 0) -> Particles:
    """``n`` single-particle events (event ids from ``first_event``)."""
    ids = np.array([GUN_PARTICLES[name] for name in config.particles])
    low, high = config.pt_range
    if config.pt_spectrum == "uniform":
        pt = rng.uniform(low, high, n)
    else:
        pt = np.exp(rng.uniform(np.log(low), np.log(high), n))
    eta = rng.uniform(*config.eta_range, n)
    energy: np.ndarray[Any, Any] = pt * np.cosh(eta)
    return Particles(
        pdgid=rng.choice(ids, n).astype(np.int32),
        energy=energy,
        eta=eta,
        phi=rng.uniform(-np.pi, np.pi, n),
        vertex_z=config.vertex_sigma_z_mm * rng.standard_normal(n),
        event=np.arange(first_event, first_event + n),
    )
