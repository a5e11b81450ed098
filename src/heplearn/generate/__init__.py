"""Event generation: particle guns, Pythia 8 processes, premixed pileup, sharded parallel runs."""

from __future__ import annotations

from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.generate.dqm import DqmSampleConfig, dqm_dataset
from heplearn.generate.dqm_ecal import EcalDqmSampleConfig, ecal_dqm_dataset
from heplearn.generate.search import SearchSampleConfig, search_dataset

__all__ = [
    "CalibSampleConfig",
    "DqmSampleConfig",
    "EcalDqmSampleConfig",
    "SearchSampleConfig",
    "calib_dataset",
    "dqm_dataset",
    "ecal_dqm_dataset",
    "search_dataset",
]
