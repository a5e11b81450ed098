"""Z→ee peak fits of a sample without truth: per method, inclusive and in |η|, E_T and ⟨μ⟩ bins.

The pairs are selected once, on E_acc (:mod:`heplearn.calib.zee_pairs`), so every
method is fitted on the same pairs; each method's m_ee is recomputed from its own
energies.  A pair enters the bin of each of its clusters (once when both share
it): the peak of an |η| bin mixes that bin's scale with its partner's.  E_T is
E_acc/cosh η (the same for every method); ⟨μ⟩ is the event's.  A fit (inclusive
or in a bin) with fewer than ``min_pairs`` pairs in the fit range, or whose
Minuit fit did not converge, is skipped and named, never reported as a number.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from heplearn.calib.massfit import DEFAULT_RANGES, MassFit, fit_mass
from heplearn.calib.zee_pairs import PairCuts, ZeePairs
from heplearn.config import setting

__all__ = ["ABS_ETA_BINS", "MU_BINS", "PeakFitSettings", "SamplePeaks", "et_bins", "fit_peaks"]

Array = np.ndarray[Any, Any]

#: The bins of ``calib evaluate`` on MC (barrel, barrel end, crack, end-cap inner/outer).
ABS_ETA_BINS = (0.0, 0.6, 1.37, 1.52, 2.0, 2.5)
_ET_EDGES = (0.0, 20.0, 40.0, 60.0, 100.0, 1.0e4)
MU_BINS = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 300.0)


@dataclass(frozen=True)
class PeakFitSettings:
    """Pair cuts, fit range, the thesis' window and the fewest pairs a fit needs."""

    cuts: PairCuts = field(default_factory=PairCuts)
    mass_range: tuple[float, float] = setting(DEFAULT_RANGES["bw-cb"], low=0.0, high=1000.0)
    #: The thesis selects 86 ≤ m_ee ≤ 97 GeV (E_label): counted and its median given per method.
    window: tuple[float, float] = setting((86.0, 97.0), low=0.0, high=1000.0)
    min_pairs: int = setting(100, low=20, high=10_000_000, doc="pairs in range for a fit")


def et_bins(min_et: float) -> tuple[float, ...]:
    """The E_T edges of ``calib evaluate``, without the bins entirely below the pair cut."""
    kept = [hi for hi in _ET_EDGES[1:] if hi > min_et]
    return (max(min_et, 0.0), *kept)


@dataclass
class SamplePeaks:
    """One sample's fits: JSON-ready entries, the converged inclusive fits, what was skipped."""

    n_pairs: int
    methods: dict[str, dict[str, Any]]
    inclusive: dict[str, MassFit]
    skipped: list[str]


def _fit_or_skip(masses: Array, settings: PeakFitSettings, label: str, skipped: list[str]) -> Any:
    """(JSON entry, MassFit or None): too few pairs or no convergence is named in ``skipped``."""
    lo, hi = settings.mass_range
    n = int(((masses >= lo) & (masses <= hi)).sum())
    if n < settings.min_pairs:
        skipped.append(f"{label}: {n} pairs (< {settings.min_pairs})")
        return {"n_pairs": n, "skipped": f"{n} pairs in range (< {settings.min_pairs})"}, None
    fit = fit_mass(masses, "bw-cb", settings.mass_range)
    if not fit.valid:
        skipped.append(f"{label}: no converged fit")
        return {"n_pairs": n, "skipped": "the BW ⊗ CB fit did not converge"}, None
    return {"n_pairs": n, **fit.as_dict()}, fit


def _window(masses: Array, window: tuple[float, float]) -> dict[str, Any]:
    inside = masses[(masses >= window[0]) & (masses <= window[1])]
    return {
        "range": list(window),
        "n_pairs": len(inside),
        "median": float(np.median(inside)) if len(inside) else None,
    }


def _bin_members(values: tuple[Array, Array], edges: tuple[float, ...]) -> list[Array]:
    """Per bin, the pairs with at least one cluster in it (each pair once per bin)."""
    members = []
    for lo, hi in itertools.pairwise(edges):
        first = (values[0] >= lo) & (values[0] < hi)
        second = (values[1] >= lo) & (values[1] < hi)
        members.append(first | second)
    return members


def fit_peaks(
    pairs: ZeePairs,
    masses: dict[str, Array],
    cluster_values: dict[str, tuple[Array, tuple[float, ...]]],
    settings: PeakFitSettings,
    sample: str,
) -> SamplePeaks:
    """Inclusive and binned BW ⊗ CB fits of each method's ``masses`` (one per pair).

    ``cluster_values`` maps a bin variable to (its value per cluster row, its edges).
    """
    skipped: list[str] = []
    methods: dict[str, dict[str, Any]] = {}
    inclusive: dict[str, MassFit] = {}
    members = {
        name: _bin_members((values[pairs.first], values[pairs.second]), edges)
        for name, (values, edges) in cluster_values.items()
    }
    for method, m in masses.items():
        entry, fit = _fit_or_skip(m, settings, f"{sample} {method} inclusive", skipped)
        if fit is not None:
            inclusive[method] = fit
        binned: dict[str, list[dict[str, Any]]] = {}
        for name, (_, edges) in cluster_values.items():
            rows = []
            for (lo, hi), inside in zip(itertools.pairwise(edges), members[name], strict=True):
                label = f"{sample} {method} {name} {lo:g}–{hi:g}"
                fitted, _ = _fit_or_skip(m[inside], settings, label, skipped)
                rows.append({"bin": [lo, hi], **fitted})
            binned[name] = rows
        methods[method] = {
            "inclusive": entry,
            "window": _window(m, settings.window),
            "binned": binned,
        }
    return SamplePeaks(len(pairs.mass), methods, inclusive, skipped)
