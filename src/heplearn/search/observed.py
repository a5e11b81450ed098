"""Observed counts for the likelihood: a store of real or pseudo events through each selection.

``search evaluate --observed STORE`` reads every preselected event of ``STORE`` (real data,
or pseudo-data such as a store generated with another seed; its weights are used as they
are, 1 for data), applies each method's selection of each signal point (the cuts, or the
classifier's score above its validation threshold) and counts Σw per lepton-flavour channel.
Those counts are the observations of the point's workspace: the fit then gives an observed
Z and limit beside the expected ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from heplearn.search.channels import CHANNELS
from heplearn.search.cuts import Cut, apply_cuts
from heplearn.search.models import Classifier
from heplearn.search.observables import EventTable
from heplearn.search.padding import JetMeans
from heplearn.search.signal_points import SignalPoint, score_events
from heplearn.search.train import JET_MEANS, load_events
from heplearn.search.train_config import SearchTrainConfig

__all__ = ["ObservedCounts", "load_observed", "observed_counts"]

Array = np.ndarray[Any, Any]
#: method → channel → (bin edges, counts): the observations of one point's workspaces.
ObservedCounts = dict[str, dict[str, tuple[Array, Array]]]
_ONE_BIN = np.array([-0.5, 0.5])


def load_observed(path: Path, run: Path, config: SearchTrainConfig) -> EventTable:
    """The preselected events of the observed store, padded as the run's training was."""
    table = load_events(path, config)
    if (run / JET_MEANS).is_file():
        table = JetMeans.load(run / JET_MEANS).apply(table)
    return table


def observed_counts(
    table: EventTable,
    point: SignalPoint,
    info: dict[str, Any],
    models: dict[str, dict[str, Classifier]],
    features: tuple[str, ...],
    *,
    warnings: list[str],
) -> ObservedCounts:
    """Σw per channel of the observed events passing each method's selection of ``point``."""
    masks: dict[str, Array] = {}
    for method, saved in info["cuts"][point.name].items():
        if method in info["methods"] and isinstance(saved, list):
            cuts = [Cut(c["variable"], c["op"], float(c["value"])) for c in saved]
            masks[method] = apply_cuts(table, cuts)
    if models and len(table):
        x = table.select(features)
        for method, by_point in models.items():
            threshold = float(info["thresholds"][point.name][method]["threshold"])
            masks[method] = np.asarray(score_events(by_point[point.name], x, point)) >= threshold
    flavour = np.rint(table.column("flavour")).astype(int)
    out: ObservedCounts = {}
    for method, mask in masks.items():
        out[method] = {}
        for channel, pdg in CHANNELS.items():
            count = float(table.weight[mask & (flavour == pdg)].sum())
            if count < 0:
                warnings.append(
                    f"{point.name}, {method}: observed channel {channel} has Σw = {count:.3g} "
                    "(negative weights); clipped to 0"
                )
            out[method][channel] = (_ONE_BIN, np.array([max(count, 0.0)]))
    return out
