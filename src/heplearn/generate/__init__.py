"""Event generation: particle guns, Pythia 8 processes, pileup, and the toy sample."""

from __future__ import annotations

from heplearn.generate.toy import ToyConfig, generate_toy

__all__ = ["ToyConfig", "generate_toy"]
