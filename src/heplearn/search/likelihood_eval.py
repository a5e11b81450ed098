"""The likelihood part of ``search evaluate``: every selection of a point as an ee + μμ fit.

Each method's selection (the thesis or optimised cuts, a classifier above its validation
threshold) becomes one bin per lepton-flavour channel; the pyhf model of
:mod:`heplearn.search.likelihood` gives the expected discovery significance of the
combination and of each channel alone, and the expected 95 % CLs limit on μ with its
band.  Per point, ``metrics["likelihood"][point][method]`` holds::

    z_expected, limit_expected, limit_expected_band (−2σ … +2σ), z_observed, limit_observed,
    channels: {ee | mumu | combined: {s, b, b_mc_error, n_signal_events,
                                      n_background_events, z_asimov, z_expected}},
    workspace (path of the pyhf JSON in the evaluation folder), note

``note`` says why a selection has no fit (no signal or no simulated background kept);
what building a model changed (negative bins clipped, bins without background left out)
goes to ``likelihood_warnings``.
Background bins resting on few heavy events ((Σw)²/Σw² below the configured limit)
are listed in ``low_statistics`` with the sample that dominates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.errors import DataError
from heplearn.search.channels import (
    ChannelHists,
    low_statistics_warnings,
    selection_channels,
)
from heplearn.search.likelihood import (
    FitError,
    Uncertainties,
    Workspace,
    build_workspace,
    fit_workspace,
)
from heplearn.search.significance import asimov_z

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable
    from heplearn.search.train_config import LikelihoodSettings

__all__ = ["PointLikelihood", "check_signal", "point_likelihood", "uncertainties", "workspace_path"]

Array = np.ndarray[Any, Any]


def uncertainties(settings: LikelihoodSettings, sigma_b: float) -> Uncertainties:
    """The likelihood's uncertainties from the run's settings (normalisation default σ_b)."""
    norm = sigma_b if settings.normalisation is None else settings.normalisation
    return Uncertainties(settings.mc_stat, norm, dict(settings.per_sample), settings.luminosity)


def workspace_path(point: str, method: str) -> str:
    """Where the evaluation folder keeps a selection's pyhf workspace."""
    return f"workspaces/{point}/{method}.json"


def check_signal(events: EventTable, point: str, where: str) -> None:
    """DataError when the point's signal has zero (or negative) expected events in all."""
    signal = events.is_signal == 1
    total = float(events.weight[signal].sum())
    if not total > 0:
        raise DataError(
            "signal with zero expected events in every bin",
            where,
            f"'{point}': {int(signal.sum())} events with Σw = {total:.3g}",
            "check the signal sample's cross section and weights in this store",
        )


@dataclass
class PointLikelihood:
    """One point's likelihood results, workspaces and warnings."""

    metrics: dict[str, Any] = field(default_factory=dict)
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    low_statistics: list[str] = field(default_factory=list)


def _channel_rows(channels: list[ChannelHists], sigma_b: float) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for channel in channels:
        rows[channel.name] = channel.summary()
    combined = {
        key: sum(row[key] for row in rows.values())
        for key in ("s", "b", "n_signal_events", "n_background_events")
    }
    combined["b_mc_error"] = float(np.hypot.reduce([r["b_mc_error"] for r in rows.values()] or [0]))
    rows["combined"] = combined
    for row in rows.values():
        row["z_asimov"] = float(asimov_z(row["s"], row["b"], sigma_b))
        row["z_expected"] = None
    return rows


def _fits(
    channels: list[ChannelHists],
    rows: dict[str, dict[str, Any]],
    settings: LikelihoodSettings,
    model: Uncertainties,
    where: str,
    *,
    observed: Mapping[str, tuple[Array, Array]] | None = None,
) -> tuple[dict[str, Any], Workspace]:
    workspace = build_workspace(channels, model, observed, where=where)
    result = fit_workspace(workspace, limits=settings.limits)
    rows["combined"]["z_expected"] = result.z_expected
    for channel in channels:
        row = rows[channel.name]
        if row["s"] > 0 and row["b"] > 0:
            alone = build_workspace([channel], model, where=where)
            row["z_expected"] = fit_workspace(alone, limits=False).z_expected
        else:
            row["z_expected"] = 0.0
    return result.to_dict(), workspace


def point_likelihood(
    events: EventTable,
    selections: Mapping[str, Array],
    point: str,
    settings: LikelihoodSettings,
    sigma_b: float,
    *,
    observed: Mapping[str, Mapping[str, tuple[Array, Array]]] | None = None,
) -> PointLikelihood:
    """Fit every selection (method → event mask) of one point's ``events``.

    ``observed[method][channel] = (edges, counts)``: data for an observed Z and limit.
    """
    model = uncertainties(settings, sigma_b)
    out = PointLikelihood()
    for method, selected in selections.items():
        channels = selection_channels(events, selected)
        rows = _channel_rows(channels, sigma_b)
        s, b = rows["combined"]["s"], rows["combined"]["b"]
        entry: dict[str, Any] = {
            "z_expected": 0.0,
            "limit_expected": None,
            "limit_expected_band": [],
            "z_observed": None,
            "limit_observed": None,
            "note": None,
            "workspace": None,
        }
        if not s > 0:
            entry["note"] = "the selection keeps no signal"
        elif not b > 0:
            entry["z_expected"] = None
            entry["note"] = "no simulated background passes the selection: no likelihood"
        else:
            try:
                data = observed.get(method) if observed is not None else None
                where = f"{point}, {method}"
                fitted, workspace = _fits(channels, rows, settings, model, where, observed=data)
            except FitError as err:
                entry["z_expected"] = None
                entry["note"] = f"the fit did not converge ({err})"
                out.warnings.append(f"{point}, {method}: {entry['note']}")
                entry["channels"] = rows
                out.metrics[method] = entry
                continue
            entry.update(fitted)
            entry["note"] = entry.pop("limit_note")
            entry["workspace"] = workspace_path(point, method)
            out.workspaces[method] = workspace
            out.warnings += [f"{point}, {method}: {line}" for line in workspace.warnings]
        entry["channels"] = rows
        out.metrics[method] = entry
        out.low_statistics += low_statistics_warnings(
            channels, settings.min_effective_events, f"{point}, {method}: "
        )
    return out


def ranking(entries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Methods by expected likelihood Z, best first (those without a fit last)."""
    return sorted(entries, key=lambda m: -(entries[m]["z_expected"] or 0.0))
