"""``calib scale-fit``: α_i and c_i per |η| bin from Z→ee in data (optionally against MC).

Reads no ``truth/*`` or ``validation/*`` field: the energies of the method,
the cluster η, φ and event id (and a charge where the store has one).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.category_fits import CategoryPeak, PeakSettings, category_peaks
from heplearn.calib.corrections_file import corrections_json
from heplearn.calib.method_energies import check_same_geometry, method_energies
from heplearn.calib.scale_fit import (
    BinFit,
    constant_from_variances,
    scale_from_log_ratios,
    solve_resolution,
    solve_scale,
)
from heplearn.calib.template_fit import fit_template
from heplearn.calib.zee_pairs import PairCuts, select_pairs
from heplearn.data.reader import Store, open_store
from heplearn.errors import ConfigError

__all__ = ["DEFAULT_EDGES", "FITS", "ScaleFitResult", "SkippedCategoryWarning", "fit_scale"]

Array = np.ndarray[Any, Any]

#: |η| bins: barrel halves, the crack region, the end-cap (the thesis uses five in 0–2.5).
DEFAULT_EDGES = (0.0, 0.8, 1.5, 2.47)
#: peaks: BW ⊗ CB per category and the χ² of eqs. 5.13/5.14 (the thesis); template: the
#: MC pairs scaled and smeared to the data per category (needs MC; the more precise).
FITS = ("template", "peaks")


class SkippedCategoryWarning(UserWarning):
    """Some (i, j) categories had too few pairs (or no converged fit) and were not used."""


@dataclass(frozen=True)
class ScaleFitResult:
    """The fitted corrections and everything the note reports about the fit."""

    edges: Array
    scale: BinFit
    resolution: BinFit | None
    is_relative: bool
    data_peaks: list[CategoryPeak]
    mc_peaks: list[CategoryPeak] | None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        smearing = resolution = None
        if self.resolution is not None:
            pair = (self.resolution.values, self.resolution.errors)
            smearing, resolution = (pair, None) if self.is_relative else (None, pair)
        return corrections_json(
            self.edges, (self.scale.values, self.scale.errors), smearing, resolution, self.summary
        )


def _check_edges(edges: tuple[float, ...]) -> Array:
    array = np.asarray(edges, dtype=float)
    if len(array) < 2 or not np.all(np.diff(array) > 0) or array[0] < 0:
        raise ConfigError(
            f"|η| edges {list(edges)}",
            "option --eta-edges",
            "they must be at least two increasing values ≥ 0",
            "give e.g. --eta-edges 0,0.8,1.5,2.47",
        )
    return array


def _pairs_and_categories(
    store: Store, method: str, run: Path | None, cuts: PairCuts, edges: Array
) -> tuple[Array, Array, Array]:
    where = str(store.path)
    energy = method_energies(store, method, run, where)
    pairs, _, _ = select_pairs(store, energy, cuts, where)
    i, j = pairs.categories(edges)
    return pairs.mass, i, j


def _template_fits(
    samples: list[tuple[Array, Array, Array]], n_bins: int, settings: PeakSettings
) -> list[dict[str, Any]]:
    """Per-category template fits of the data to the MC (method "skipped" where none)."""
    (data, di, dj), (mc, mi, mj) = samples
    lo, hi = settings.mass_range
    rows = []
    for i in range(n_bins):
        for j in range(i, n_bins):
            d, m = data[(di == i) & (dj == j)], mc[(mi == i) & (mj == j)]
            d = d[(d >= lo) & (d <= hi)]
            row: dict[str, Any] = {"i": i, "j": j, "n_pairs": len(d), "method": "skipped"}
            rows.append(row)
            if min(len(d), int(((m >= lo) & (m <= hi)).sum())) < settings.min_pairs:
                continue
            fit = fit_template(d, m, settings.mass_range)
            if not fit.valid:
                continue
            row |= {
                "method": "template",
                "ln_scale": fit.ln_scale,
                "ln_scale_err": fit.ln_scale_err,
            }
            row |= {"variance": fit.variance, "variance_err": fit.variance_err, "n_mc": fit.n_mc}
    return rows


def _solve_templates(rows: list[dict[str, Any]], n_bins: int, where: str) -> tuple[BinFit, BinFit]:
    """α_i (eq. 5.13 on ln k_ij) and c_i (eq. 5.14 on v_ij) from the accepted categories."""
    used = [r for r in rows if r["method"] == "template"]
    pairs = [(r["i"], r["j"]) for r in used]

    def column(key: str) -> Array:
        return np.array([r[key] for r in used], dtype=float)

    scale = scale_from_log_ratios(pairs, column("ln_scale"), column("ln_scale_err"), n_bins, where)
    smear = constant_from_variances(
        pairs, column("variance"), column("variance_err"), n_bins, where
    )
    return scale, smear


def _peak_resolution(
    data: list[CategoryPeak], mc: list[CategoryPeak] | None, n_bins: int, where: str
) -> BinFit | None:
    """Eq. 5.14 from the BW ⊗ CB widths, or None (with a warning) if a bin has none."""
    covered = {k for p in data if p.has_width for k in (p.i, p.j)}
    if len(covered) < n_bins:
        missing = ", ".join(str(k) for k in range(n_bins) if k not in covered)
        warnings.warn(
            f"no resolution fitted: |η| bin {missing} has no category with a BW ⊗ CB fit "
            "(robust peaks give no width); lower --min-fit-pairs or use more pairs",
            SkippedCategoryWarning,
            stacklevel=3,
        )
        return None
    return solve_resolution(data, mc, n_bins, where)


def _summary(fit: BinFit, name: str) -> dict[str, Any]:
    return {f"{name}_chi2": fit.chi2, f"{name}_ndf": fit.ndf} | {
        f"{name}_categories": [list(c) for c in fit.categories]
    }


def fit_scale(
    data: Path,
    *,
    mc: Path | None = None,
    run: Path | None = None,
    method: str = "e_acc",
    edges: tuple[float, ...] = DEFAULT_EDGES,
    cuts: PairCuts | None = None,
    settings: PeakSettings | None = None,
    fit: str = "template",
) -> ScaleFitResult:
    """Fit α_i (eq. 5.13) and c_i or r_i (eq. 5.14) in the |η| bins ``edges``.

    ``fit`` is ``template`` (with ``mc`` only; without MC the peaks are used) or ``peaks``.
    """
    cuts, settings = cuts or PairCuts(), settings or PeakSettings()
    if fit not in FITS:
        raise ConfigError(
            f"unknown fit '{fit}'", "option --fit", f"the fits are {', '.join(FITS)}", "use one"
        )
    bins = _check_edges(edges)
    n_bins = len(bins) - 1
    data_store = open_store(data)
    mc_store = None if mc is None else open_store(mc)
    if mc_store is not None:
        check_same_geometry(data_store, mc_store)
    samples = [_pairs_and_categories(data_store, method, run, cuts, bins)]
    if mc_store is not None:
        samples.append(_pairs_and_categories(mc_store, method, run, cuts, bins))
    where = str(data)
    use_template = fit == "template" and mc_store is not None
    peaks = category_peaks(samples, n_bins, settings)
    data_peaks = peaks[0]
    mc_peaks = peaks[1] if mc_store is not None else None
    rows = [p.as_dict() for p in data_peaks]
    if use_template:
        rows = _template_fits(samples, n_bins, settings)
    skipped = [r for r in rows if r["method"] == "skipped"]
    if skipped:
        named = ", ".join(f"({r['i']},{r['j']}): {r['n_pairs']} pairs" for r in skipped)
        warnings.warn(
            f"{len(skipped)} |η| categories not used (too few pairs or no converged fit): {named}",
            SkippedCategoryWarning,
            stacklevel=2,
        )
    resolution: BinFit | None
    if use_template:
        scale, resolution = _solve_templates(rows, n_bins, where)
    else:
        scale = solve_scale(data_peaks, mc_peaks, n_bins, where)
        resolution = _peak_resolution(data_peaks, mc_peaks, n_bins, where)
    summary: dict[str, Any] = {
        "tool": "heplearn calib scale-fit",
        "method": method,
        "fit": "template" if use_template else "peaks",
        "reference": "mc" if mc is not None else "m_Z",
        "convention": "E_data = (1 + alpha) E_ref; corrected E = E / (1 + alpha)",
        "cuts": asdict(cuts),
        "n_pairs": len(samples[0][0]),
        "categories": rows,
        "data_peaks": [p.as_dict() for p in data_peaks],
        **_summary(scale, "scale"),
    }
    if mc_peaks is not None:
        summary["mc_peaks"] = [p.as_dict() for p in mc_peaks]
    if resolution is not None:
        summary |= _summary(resolution, "resolution")
    return ScaleFitResult(
        bins, scale, resolution, mc is not None, data_peaks, mc_peaks, summary=summary
    )
