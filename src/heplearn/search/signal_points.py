"""The signal points of a search: which signal samples are studied, with their masses.

A point is one signal sample of the store (``zp_dm_m500_mx10``); models per point
see all background plus that sample's signal, and the parameterised network and
the ensemble are evaluated at the point's masses and family.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from heplearn.data.reader import open_store
from heplearn.errors import ConfigError, DataError
from heplearn.search.models import Classifier, signal_family
from heplearn.search.observables import EventTable

__all__ = [
    "SignalPoint",
    "StoreConfigWarning",
    "declared_signal",
    "point_events",
    "resolve_points",
    "score_events",
]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class SignalPoint:
    """One signal sample of the store: its name and masses [GeV]."""

    name: str
    mediator_mass: float
    invisible_mass: float

    @property
    def family(self) -> str:
        return signal_family(self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mediator_mass": self.mediator_mass,
            "invisible_mass": self.invisible_mass,
            "family": self.family,
        }


class StoreConfigWarning(UserWarning):
    """A store's own generation config could not be read; its event labels are used instead."""


def declared_signal(data: Path) -> set[str]:
    """Signal sample names from the store's resolved config (the table may lack some events).

    An imported store (no config, or one of another kind) falls back to the event labels
    silently; a ``search-sample`` config that fails to parse falls back with a
    :class:`StoreConfigWarning` naming the store and the reason.
    """
    from heplearn.generate.search import sample_table

    text = open_store(data).provenance.get("config")
    if not isinstance(text, str):
        return set()
    try:
        head = yaml.safe_load(text)
        if isinstance(head, dict) and head.get("kind") not in (None, "search-sample"):
            return set()  # e.g. an import mapping: the labels are all there is
        return {s["name"] for s in sample_table(text) if s["is_signal"]}
    except (yaml.YAMLError, ConfigError, ValueError, TypeError, KeyError) as err:
        reason = str(err).replace("\n", " ")
        warnings.warn(
            f"{data}: the store's own config cannot be read ({type(err).__name__}: {reason}); "
            "signal samples are taken from the event labels only",
            StoreConfigWarning,
            stacklevel=2,
        )
    return set()


def resolve_points(
    table: EventTable, requested: tuple[str, ...], declared_signal: set[str], where: str
) -> list[SignalPoint]:
    """The signal points to study (all signal samples if none requested), checked on ``table``."""
    names = table.sample_names
    if not names:
        raise DataError(
            "no sample names",
            where,
            "the store does not list its samples (provenance 'samples')",
            "set 'sample_names' in the search config (names of event/sample 0, 1, …)",
        )
    labelled = {names[int(i)] for i in np.unique(table.sample[table.is_signal == 1])}
    signal = sorted(labelled | (declared_signal & set(names)), key=names.index)
    chosen = list(requested) or signal
    if not chosen:
        raise DataError("no signal samples", where, f"its samples are {list(names)}", "add one")
    points = []
    for name in chosen:
        if name not in signal:
            kind = "a background sample" if name in names else "not a sample of the store"
            raise ConfigError(
                f"signal point '{name}'",
                where,
                f"it is {kind}; the signal samples are {', '.join(signal) or 'none'}",
                "list signal sample names in 'signal_points' (or leave it empty for all)",
            )
        mine = (table.sample == names.index(name)) & (table.is_signal == 1)
        total = float(table.weight[mine].sum())
        if not np.any(mine) or not total > 0:
            raise DataError(
                f"signal point '{name}' with zero weight sum",
                where,
                f"{int(mine.sum())} preselected events with Σw = {total:.3g}",
                "check the sample's cross section and generator weights, or generate more events",
            )
        first = int(np.flatnonzero(mine)[0])
        points.append(
            SignalPoint(name, float(table.mediator_mass[first]), float(table.invisible_mass[first]))
        )
    return points


def point_events(table: EventTable, *points: str) -> EventTable:
    """All background events plus the signal events of the samples ``points``."""
    indices = [table.sample_names.index(point) for point in points]
    keep = (table.is_signal == 0) | np.isin(table.sample, indices)
    return table.subset(np.flatnonzero(keep))


def score_events(model: Classifier, table: EventTable, point: SignalPoint) -> Array:
    """Scores in [0, 1] of ``table`` (already reduced to the model's inputs) for ``point``."""
    return model.predict(
        table,
        mediator_mass=point.mediator_mass,
        invisible_mass=point.invisible_mass,
        family=point.family,
    )
