"""``heplearn dqm check``: verdicts for new maps with a trained run.

Each map gets a verdict (good / dead / hot / noisy / partial, or
"no-statistics" when it holds no events), the model's anomaly score and the
flagged channels as indices into the map as read (uproot ``values()`` order
for a TH2, the stored order for HDF5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from heplearn.dqm.maps import MapSet
from heplearn.dqm.models import MapModel, load_model
from heplearn.dqm.sources import load_maps
from heplearn.dqm.verdict import map_verdict
from heplearn.errors import DataError

__all__ = ["check_maps", "load_run_model", "verdicts"]


def load_run_model(run: Path) -> MapModel:
    """The model of the ``dqm train`` run folder ``run`` (refused if it has none)."""
    folder = run / "model"
    if not folder.is_dir():
        raise DataError(
            "not a DQM run",
            str(run),
            "it has no model/ folder",
            "give the --out folder of 'heplearn dqm train'",
        )
    return load_model(folder)


def verdicts(run: Path, maps: MapSet, *, two_d: bool | None = None) -> list[dict[str, Any]]:
    """One ``{"map", "verdict", "score", "flagged", "groups", "warnings"}`` record per map.

    ``warnings`` says what a verdict should be read with, e.g. (qtest) that the map's
    luminosity lies outside the reference maps' range, so the verdict extrapolates.

    ``reason`` says why a map is "no-statistics"; ``calibration`` (models with a
    leave-one-out false-alarm check) carries target, realised estimate and a note.
    """
    model = load_run_model(run)
    model.check_shape(maps)
    empty = maps.empty
    filled = np.flatnonzero(~empty)
    n = len(maps)
    classes = np.zeros(n, dtype=np.int64)
    scores = np.zeros(n, dtype=np.float32)
    flags = np.zeros(maps.counts.shape, dtype=bool)
    groups: list[list[str]] = [[] for _ in range(n)]
    notes: list[list[str]] = [[] for _ in range(n)]
    reasons: list[str | None] = [
        ("no events" if maps.n_events[i] <= 0 else "no hits") if empty[i] else None
        for i in range(n)
    ]
    if filled.size:
        scored = maps.subset(filled)
        classes[filled] = model.predict_class(scored)
        scores[filled] = model.anomaly_score(scored)
        flags[filled] = model.flag_channels(scored)
        for i, g, why in zip(
            filled, model.failing_groups(scored), model.no_statistics(scored), strict=True
        ):
            groups[i], reasons[i] = g, why
        for i, w in zip(filled, model.map_warnings(scored), strict=True):
            notes[i] = w
    low = np.array([r is not None for r in reasons], dtype=bool)
    records = map_verdict(maps.names, classes, scores, flags, empty | low, two_d=two_d)
    calibration = model.calibration()
    for record, g, why, w in zip(records, groups, reasons, notes, strict=True):
        record["groups"] = [] if why else g
        if why:
            record["reason"] = why
        record["warnings"] = [] if why else w
        if calibration is not None:
            record["calibration"] = calibration
    return records


def check_maps(run: str | Path, source: str | Path, dataset: str | None = None) -> list[Any]:
    """Read ``source`` (ROOT TH2s, HDF5 or a generated store) and return its verdicts."""
    return verdicts(Path(run), load_maps(source, dataset))
