"""Event generation: particle guns, Pythia 8 processes, pileup, sharded runs, the toy sample."""

from __future__ import annotations

from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.generate.toy import ToyConfig, generate_toy

__all__ = ["CalibSampleConfig", "ToyConfig", "calib_dataset", "generate_toy"]
