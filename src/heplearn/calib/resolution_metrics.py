"""The thesis' resolution metrics on simulation (section 4.2.2, eqs. 4.5–4.7).

- RE = E_calib / E_truth (eq. 4.5; 1 for a perfect calibration),
- eIQR = (P75 − P25) / 1.349 (eq. 4.6): the interquartile range scaled so
  that it equals σ for a Gaussian; ``coverage=0.95`` gives the analogue
  (P97.5 − P2.5) / (2 · 1.95996) that also sees the tails,
- reIQR = 1 − eIQR_model / eIQR_baseline (eq. 4.7; > 0 when the model is
  narrower),

with bootstrap errors, and a table of all of them in bins of |η|, E_T, ⟨μ⟩ ….
Bootstrap resamples draw the same events for every model, so the error of a
reIQR includes the correlation between model and baseline on those events.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heplearn.errors import ConfigError, DataError
from heplearn.stats.bootstrap import bootstrap, same_length
from heplearn.stats.spread import eiqr, gauss_width

__all__ = [
    "MIN_BIN_EVENTS",
    "binned_table",
    "bootstrap",
    "eiqr",
    "reiqr",
    "relative_energy",
]

#: Bins with fewer events get ``None`` statistics: ten events do not make a quartile.
MIN_BIN_EVENTS = 10

# Percentiles read in one pass: the 95 % interval, the quartiles and the median.
_PERCENTILES = (2.5, 25.0, 50.0, 75.0, 97.5)


def relative_energy(e_calib: np.ndarray, e_truth: np.ndarray) -> np.ndarray:
    """RE = E_calib / E_truth per event (energies in GeV, any common unit).

    Raises :class:`~heplearn.errors.DataError` for different shapes, non-finite
    energies or a true energy ≤ 0.
    """
    calib = np.asarray(e_calib, dtype=np.float64)
    truth = np.asarray(e_truth, dtype=np.float64)
    if calib.shape != truth.shape:
        raise DataError(
            "energies",
            "relative_energy()",
            f"calibrated {calib.shape} and true {truth.shape} energies differ in shape",
            "pass one calibrated and one true energy per object",
        )
    bad = ~np.isfinite(calib) | ~np.isfinite(truth) | ~(truth > 0)
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(
            "energies",
            f"relative_energy() at object {first}",
            f"{int(bad.sum())} objects have a non-finite energy or E_truth ≤ 0 "
            f"(E_calib = {calib[first]}, E_truth = {truth[first]})",
            "drop them before computing metrics",
        )
    return calib / truth


def _relative(model_width: float, baseline_width: float) -> float:
    return 1.0 - model_width / baseline_width if baseline_width > 0 else math.nan


def reiqr(model: np.ndarray, baseline: np.ndarray, coverage: float = 0.5) -> float:
    """Relative eIQR, eq. 4.7: 1 − eIQR(model RE)/eIQR(baseline RE); 0.5 = half as wide."""
    return _relative(eiqr(model, coverage), eiqr(baseline, coverage))


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value, −1 outside; bins are [low, high) except the last, which holds high."""
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = len(edges) - 2
    index[~((values >= edges[0]) & (values <= edges[-1]))] = -1  # also NaN
    return index


def _checked_edges(edges: Mapping[str, Sequence[float] | np.ndarray]) -> dict[str, np.ndarray]:
    if not edges:
        raise ConfigError(
            "bins", "binned_table(edges=...)", "no binning variable", "give e.g. {'abs_eta': [...]}"
        )
    out = {}
    for name, values in edges.items():
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1 or array.size < 2 or not np.all(np.diff(array) > 0):
            raise ConfigError(
                f"bin edges of '{name}'",
                "binned_table(edges=...)",
                f"{array.tolist()} is not an increasing list of at least two edges",
                "give increasing edges, e.g. [0, 0.8, 1.37, 2.47]",
            )
        out[name] = array
    return out


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _bin_statistics(re: np.ndarray) -> np.ndarray:
    """Per model (rows of ``re``): median, eIQR, eIQR95."""
    p = np.percentile(re, _PERCENTILES, axis=1)
    return np.stack(
        [p[2], (p[3] - p[1]) / gauss_width(0.5), (p[4] - p[0]) / gauss_width(0.95)], axis=1
    )


def _bin_entry(
    re: np.ndarray, models: list[str], base: int, n_boot: int, rng: np.random.Generator
) -> dict[str, dict[str, float | None]]:
    """Median, eIQR(50 %, 95 %) and reIQR of every model with paired bootstrap errors."""

    def with_reiqr(stats: np.ndarray) -> np.ndarray:
        # Columns: median, eIQR, eIQR95, reIQR, reIQR95 (widths relative to the baseline row).
        base_widths = stats[base, 1:3]
        ratio = np.divide(
            stats[:, 1:3], base_widths, out=np.full_like(stats[:, 1:3], np.nan),
            where=base_widths > 0,
        )  # fmt: skip
        return np.concatenate([stats, 1.0 - ratio], axis=1)

    size = re.shape[1]
    value = with_reiqr(_bin_statistics(re))
    draws = np.empty((n_boot, *value.shape))
    for i in range(n_boot):
        draws[i] = with_reiqr(_bin_statistics(re[:, rng.integers(0, size, size)]))
    error = np.std(draws, axis=0, ddof=1) if n_boot >= 2 else np.full_like(value, np.nan)
    keys = ("median", "eiqr", "eiqr95", "reiqr", "reiqr95")
    return {
        model: {
            name: _json_number(number)
            for k, key in enumerate(keys)
            for name, number in ((key, value[m, k]), (f"{key}_err", error[m, k]))
        }
        for m, model in enumerate(models)
    }


def binned_table(
    edges: Mapping[str, Sequence[float] | np.ndarray],
    variables: Mapping[str, np.ndarray],
    re: Mapping[str, np.ndarray],
    baseline: str | None = None,
    *,
    n_boot: int = 200,
    seed: int = 0,
    min_events: int = MIN_BIN_EVENTS,
) -> list[dict[str, Any]]:
    """Resolution metrics of every model in bins of one or more variables (their product).

    ``edges`` maps each binning variable to its bin edges, ``variables`` holds
    its per-event values, ``re`` the per-event RE of each model (same events);
    ``baseline`` (default: the first model) is the reference of reIQR.  Bins are
    [low, high) except the last, which includes its upper edge; events outside
    every bin are not counted.  One row per bin, in row-major order::

        {"bin": {"abs_eta": [0.0, 0.8], ...}, "n": 512,
         "models": {"bdt": {"median": ..., "median_err": ..., "eiqr": ..., "eiqr_err": ...,
                            "eiqr95": ..., "eiqr95_err": ..., "reiqr": ..., "reiqr_err": ...,
                            "reiqr95": ..., "reiqr95_err": ...}, ...}}

    Errors are bootstrap standard deviations (``n_boot`` resamples, the same
    events for all models).  With fewer than ``min_events`` events in a bin
    every statistic and error is ``None`` (never NaN, so the rows are valid JSON).
    """
    bins = _checked_edges(edges)
    missing = [name for name in bins if name not in variables]
    if missing:
        raise ConfigError(
            f"binning variable {', '.join(missing)}",
            "binned_table(variables=...)",
            "bin edges are given but no per-event values",
            f"pass values for {', '.join(missing)} or drop their edges",
        )
    models = list(re)
    if not models:
        raise ConfigError(
            "models", "binned_table(re=...)", "no model RE given", "pass {name: RE array}"
        )
    base_name = models[0] if baseline is None else baseline
    if base_name not in re:
        raise ConfigError(
            f"baseline '{base_name}'",
            "binned_table(baseline=...)",
            f"it is not one of the models {', '.join(models)}",
            "name one of them",
        )
    matrix = np.stack([np.asarray(re[m], dtype=np.float64) for m in models])
    values = {name: np.asarray(variables[name], dtype=np.float64) for name in bins}
    same_length([matrix[0], *values.values()], "binned_table()")
    for m, model in enumerate(models):
        if not np.isfinite(matrix[m]).all():
            raise DataError(
                f"RE of model '{model}'",
                "binned_table(re=...)",
                f"{int((~np.isfinite(matrix[m])).sum())} values are NaN or infinite",
                "drop those events for every model before making the table",
            )

    shape = tuple(len(e) - 1 for e in bins.values())
    indices = [_bin_index(values[name], e) for name, e in bins.items()]
    inside = np.all([i >= 0 for i in indices], axis=0)
    flat = np.full(matrix.shape[1], -1)
    flat[inside] = np.ravel_multi_index([i[inside] for i in indices], shape)
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(math.prod(shape) + 1))

    rows: list[dict[str, Any]] = []
    for cell, position in enumerate(itertools.product(*(range(s) for s in shape))):
        events = order[starts[cell] : starts[cell + 1]]
        row: dict[str, Any] = {
            "bin": {
                name: [float(e[k]), float(e[k + 1])]
                for (name, e), k in zip(bins.items(), position, strict=True)
            },
            "n": len(events),
        }
        if len(events) < min_events:
            empty = ("median", "eiqr", "eiqr95", "reiqr", "reiqr95")
            row["models"] = {
                m: {n: None for key in empty for n in (key, f"{key}_err")} for m in models
            }
        else:
            rng = np.random.default_rng([seed, cell])  # a bin's numbers do not depend on others
            row["models"] = _bin_entry(
                matrix[:, events], models, models.index(base_name), n_boot, rng
            )
        rows.append(row)
    return rows
