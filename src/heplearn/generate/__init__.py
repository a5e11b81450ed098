"""Event generation: particle guns, Pythia 8 processes, premixed pileup, sharded parallel runs."""

from __future__ import annotations

from heplearn.generate.calib import CalibSampleConfig, calib_dataset

__all__ = ["CalibSampleConfig", "calib_dataset"]
