"""Per-bin rescaling of the network's σ_E so that the pulls have unit width.

The pull (E_pred − E_truth)/σ_E of a calibrated uncertainty is a unit Gaussian in
every region of the detector.  A network's σ_E is often too wide or too narrow (the
DeepCalo thesis found its σ 4.5 times too large and divided it by 4.5, section 5.7);
here the factor is measured per |η| × E_T bin as the core width of the pulls (eIQR,
(P75 − P25)/1.349, with a bootstrap error) on the run's validation split, saved as
``sigma_scale.json`` in the run, and σ_E · factor is what evaluation applies.

The bins use E_T = E_acc/cosh η, not the true E_T: the factor must be found the same
way on data, which has no truth.  A bin with fewer than ``MIN_FIT_CLUSTERS``
validation clusters takes the factorised estimate width(|η| slice) × width(E_T
column) / width(all), or the slice's or the column's alone where the other is
sparse too, or the inclusive one (``sources`` records which).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.saved_json import read_saved_json
from heplearn.errors import DataError
from heplearn.stats.bootstrap import bootstrap
from heplearn.stats.spread import eiqr

__all__ = [
    "ABS_ETA_EDGES",
    "ET_EDGES",
    "MIN_FIT_CLUSTERS",
    "SigmaScale",
    "pull_width_table",
    "reco_et",
]

Array = np.ndarray[Any, Any]

#: The |η| × E_T bins of the evaluation tables (barrel, barrel end, crack, end-caps).
ABS_ETA_EDGES = (0.0, 0.6, 1.37, 1.52, 2.0, 2.5)
ET_EDGES = (0.0, 20.0, 40.0, 60.0, 100.0, 1.0e4)
#: Fewer validation clusters than this do not fix a bin's own factor (±7 % at 100).
MIN_FIT_CLUSTERS = 100
#: A table row needs this many clusters for a width.
MIN_TABLE_CLUSTERS = 20


def reco_et(e_acc: Array, eta: Array) -> Array:
    """E_T [GeV] from the uncalibrated energy: known alike on simulation and data."""
    return np.asarray(e_acc, np.float64) / np.cosh(np.asarray(eta, np.float64))


def _bin_of(values: Array, edges: tuple[float, ...]) -> Array:
    """Bin index of each value; values beyond the outer edges go to the first or last bin."""
    return np.searchsorted(np.asarray(edges[1:-1]), values, side="right")


def _width(pull: Array, n_boot: int, seed: int) -> tuple[float, float]:
    width, error = bootstrap(eiqr, pull, n=n_boot, seed=seed)
    return width, error


def _margins(
    pull: Array, index: Array, n_bins: int, *, min_clusters: int, n_boot: int, seed: int
) -> list[tuple[float, float] | None]:
    """Width of each |η| slice (or E_T column) over the other variable; None when sparse."""
    out: list[tuple[float, float] | None] = []
    for k in range(n_bins):
        inside = index == k
        enough = int(inside.sum()) >= min_clusters
        out.append(_width(pull[inside], n_boot, seed=seed + k) if enough else None)
    return out


def _factorised(
    eta_slice: tuple[float, float] | None,
    et_column: tuple[float, float] | None,
    inclusive: tuple[float, float],
) -> tuple[tuple[float, float], str]:
    """A sparse bin's factor: slice × column / inclusive (η and E_T trends both kept)."""
    if eta_slice is not None and et_column is not None:
        value = eta_slice[0] * et_column[0] / inclusive[0]
        error = value * math.hypot(eta_slice[1] / eta_slice[0], et_column[1] / et_column[0])
        return (value, error), "abs_eta slice x E_T column"
    if eta_slice is not None:
        return eta_slice, "abs_eta slice"
    if et_column is not None:
        return et_column, "E_T column"
    return inclusive, "inclusive"


@dataclass(frozen=True)
class SigmaScale:
    """σ_E factors per |η| × E_T bin (rows |η|, columns E_T), their errors and origin."""

    abs_eta_edges: tuple[float, ...]
    et_edges: tuple[float, ...]
    factors: Array
    errors: Array
    counts: Array  # validation clusters per bin
    sources: tuple[tuple[str, ...], ...]  # "bin", or the fallback of a sparse bin
    fitted_on: str

    @classmethod
    def fit(
        cls,
        pull: Array,
        abs_eta: Array,
        et: Array,
        fitted_on: str,
        *,
        n_boot: int = 100,
        min_clusters: int = MIN_FIT_CLUSTERS,
        abs_eta_edges: tuple[float, ...] = ABS_ETA_EDGES,
        et_edges: tuple[float, ...] = ET_EDGES,
    ) -> SigmaScale:
        """Factors that give the pulls (of the unscaled σ_E) unit core width in every bin."""
        pull = np.asarray(pull, np.float64)
        if len(pull) < min_clusters:
            raise DataError(
                "too few clusters for the σ rescaling",
                fitted_on,
                f"{len(pull)} clusters with a σ_E, at least {min_clusters} are needed",
                "use a larger validation split or training store",
            )
        i, j = _bin_of(abs_eta, abs_eta_edges), _bin_of(et, et_edges)
        shape = (len(abs_eta_edges) - 1, len(et_edges) - 1)
        inclusive = _width(pull, n_boot, seed=0)
        slices = _margins(pull, i, shape[0], min_clusters=min_clusters, n_boot=n_boot, seed=1)
        columns = _margins(pull, j, shape[1], min_clusters=min_clusters, n_boot=n_boot, seed=20)
        factors, errors = np.empty(shape), np.empty(shape)
        counts = np.zeros(shape, dtype=np.int64)
        sources: list[list[str]] = [[""] * shape[1] for _ in range(shape[0])]
        for a, b in itertools.product(range(shape[0]), range(shape[1])):
            inside = (i == a) & (j == b)
            counts[a, b] = int(inside.sum())
            if counts[a, b] >= min_clusters:
                found, source = _width(pull[inside], n_boot, seed=100 + a * 10 + b), "bin"
            else:
                found, source = _factorised(slices[a], columns[b], inclusive)
            factors[a, b], errors[a, b] = found
            sources[a][b] = source
        return cls(
            tuple(abs_eta_edges),
            tuple(et_edges),
            factors,
            errors,
            counts,
            tuple(tuple(row) for row in sources),
            fitted_on,
        )

    def factor_of(self, abs_eta: Array, et: Array) -> Array:
        """The factor of each cluster's bin."""
        return np.asarray(
            self.factors[_bin_of(abs_eta, self.abs_eta_edges), _bin_of(et, self.et_edges)]
        )

    def apply(self, sigma: Array, abs_eta: Array, et: Array) -> Array:
        """σ_E rescaled by its bin's factor."""
        return np.asarray(sigma, np.float64) * self.factor_of(abs_eta, et)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "sigma-scale",
            "description": "sigma_E -> sigma_E * factor[abs_eta bin][E_T bin]; "
            "E_T = E_acc/cosh(eta); factor = eIQR of the pulls on the validation split",
            "fitted_on": self.fitted_on,
            "abs_eta_edges": list(self.abs_eta_edges),
            "et_edges": list(self.et_edges),
            "factors": self.factors.tolist(),
            "errors": [[e if math.isfinite(e) else None for e in row] for row in self.errors],
            "counts": self.counts.tolist(),
            "sources": [list(row) for row in self.sources],
        }

    @classmethod
    def load(cls, path: Path) -> SigmaScale | None:
        """The saved rescaling, or None when the run has none."""
        if not path.is_file():
            return None
        data = read_saved_json(path, "sigma-scale")
        try:
            eta_edges = tuple(float(e) for e in data["abs_eta_edges"])
            et_edges = tuple(float(e) for e in data["et_edges"])
            shape = (len(eta_edges) - 1, len(et_edges) - 1)
            factors = np.asarray(data["factors"], np.float64).reshape(shape)
            errors = np.asarray(data["errors"], np.float64).reshape(shape)
            counts = np.asarray(data["counts"], np.int64).reshape(shape)
            sources = tuple(tuple(str(s) for s in row) for row in data["sources"])
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(
                "not a sigma-scale file", str(path), f"{type(err).__name__}: {err}",
                "retrain the run, or delete the file to evaluate without the rescaling",
            ) from err  # fmt: skip
        if not (np.all(np.isfinite(factors)) and np.all(factors > 0)):
            raise DataError(
                "bad sigma-scale file",
                str(path),
                "a factor is not a finite positive number",
                "retrain the run, or delete the file to evaluate without the rescaling",
            )
        return cls(eta_edges, et_edges, factors, errors, counts, sources, str(data["fitted_on"]))


def pull_width_table(
    pull: Array,
    abs_eta: Array,
    et: Array,
    *,
    n_boot: int = 100,
    abs_eta_edges: tuple[float, ...] = ABS_ETA_EDGES,
    et_edges: tuple[float, ...] = ET_EDGES,
) -> list[dict[str, Any]]:
    """Pull core width (eIQR, bootstrap error) and median per |η| × E_T bin with data."""
    i, j = _bin_of(abs_eta, abs_eta_edges), _bin_of(et, et_edges)
    rows = []
    for (a, eta_bin), (b, et_bin) in itertools.product(
        enumerate(itertools.pairwise(abs_eta_edges)), enumerate(itertools.pairwise(et_edges))
    ):
        inside = (i == a) & (j == b)
        n = int(inside.sum())
        if n < MIN_TABLE_CLUSTERS:
            continue
        width, error = _width(pull[inside], n_boot, seed=100 + a * 10 + b)
        rows.append(
            {
                "bin": {"abs_eta": list(eta_bin), "et": list(et_bin)},
                "n": n,
                "width": width,
                "width_err": error,
                "median": float(np.median(pull[inside])),
            }
        )
    return rows
