"""The inputs a run sees, MC against data: its scalars and a summary of each image layer.

Each image channel is summarised by its total energy per cluster (the up-sampling
conserves a layer's sum, so it is the layer energy) and by its fraction of the
cluster's image energy; the track count is added when the run feeds tracks.  Per
variable: the Kolmogorov–Smirnov distance and p-value, the means, and normalised
histograms on common bins (the central 99 % of the data) for the ratio-panel figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from heplearn.calib.features import FeatureArrays

__all__ = ["InputHistogram", "compare_inputs", "input_variables"]

Array = np.ndarray[Any, Any]

BINS = 30


def input_variables(f: FeatureArrays) -> dict[str, Array]:
    """The compared variables of ``f``: fed scalars, layer energies and fractions, tracks."""
    out = {
        f"scalar {name}": f.scalars[:, k].astype(np.float64)
        for k, name in enumerate(f.scalar_names)
    }
    energies = {
        name: f.images[:, c].sum(axis=(1, 2), dtype=np.float64)
        for c, name in enumerate(f.channel_names)
        if not name.startswith("time/")  # a time image's sum is no energy
    }
    total = np.sum(list(energies.values()), axis=0) if energies else np.zeros(len(f))
    for name, energy in energies.items():
        out[f"layer {name} energy"] = energy
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"layer {name} fraction"] = np.where(total > 0, energy / total, 0.0)
    if f.tracks.size:
        out["tracks count"] = f.track_count.astype(np.float64)
    return out


@dataclass(frozen=True)
class InputHistogram:
    """Normalised densities (and their errors) of data and MC on common edges."""

    name: str
    edges: Array
    data: tuple[Array, Array]
    mc: tuple[Array, Array]


def _edges(values: Array) -> Array:
    distinct = np.unique(values)
    if len(distinct) <= BINS:  # integers, flags: one bin per value
        if len(distinct) == 1:
            return np.array([distinct[0] - 0.5, distinct[0] + 0.5])
        middle = (distinct[1:] + distinct[:-1]) / 2
        return np.concatenate(
            [[2 * distinct[0] - middle[0]], middle, [2 * distinct[-1] - middle[-1]]]
        )
    lo, hi = np.quantile(values, [0.005, 0.995])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, BINS + 1)


def _density(values: Array, edges: Array) -> tuple[Array, Array]:
    counts, _ = np.histogram(values, edges)
    norm = max(len(values), 1) * np.diff(edges)
    return counts / norm, np.sqrt(counts) / norm


def compare_inputs(
    data: dict[str, Array], mc: dict[str, Array]
) -> tuple[dict[str, Any], list[InputHistogram]]:
    """Per common variable: KS distance and p-value, means; and the histograms to draw."""
    table: dict[str, Any] = {}
    histograms = []
    for name in (n for n in data if n in mc):
        d, m = data[name], mc[name]
        test = ks_2samp(d, m)
        table[name] = {
            "ks_distance": float(test.statistic),
            "ks_p_value": float(test.pvalue),
            "mean_data": float(np.mean(d)),
            "mean_mc": float(np.mean(m)),
        }
        edges = _edges(d)
        histograms.append(InputHistogram(name, edges, _density(d, edges), _density(m, edges)))
    return table, histograms
