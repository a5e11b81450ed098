"""New-physics search (dilepton + E_T^miss): observables, weights, splits and significance.

The analysis side of issue 7, following the ATLAS dark-matter dilepton + MET
thesis: preselected two-lepton events become an :class:`EventTable` of
observables (:func:`build_table`), split by event-id hash (:func:`split_table`),
weighted for training (:func:`training_weights`, with :func:`collapse_warning`
for the raw-MC-weight failure) and counted with the Asimov significance
(:func:`asimov_z`) after the thesis' or optimised cuts, or a score threshold.
The classifiers live in ``heplearn.search.models``.
"""

from heplearn.search.cuts import THESIS_CUTS, Cut, cut_and_count, optimise_cuts
from heplearn.search.normalisation import Normaliser
from heplearn.search.observables import FEATURE_NAMES, EventTable, build_table
from heplearn.search.padding import JetMeans
from heplearn.search.significance import (
    CountResult,
    asimov_z,
    best_threshold,
    binned_significance,
)
from heplearn.search.splits import Splits, split_table
from heplearn.search.weights import ClassifierCollapseWarning, collapse_warning, training_weights

__all__ = [
    "FEATURE_NAMES",
    "THESIS_CUTS",
    "ClassifierCollapseWarning",
    "CountResult",
    "Cut",
    "EventTable",
    "JetMeans",
    "Normaliser",
    "Splits",
    "asimov_z",
    "best_threshold",
    "binned_significance",
    "build_table",
    "collapse_warning",
    "cut_and_count",
    "optimise_cuts",
    "split_table",
    "training_weights",
]
