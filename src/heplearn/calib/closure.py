"""The closure check of ``calib correct``: inclusive Z peaks of data before/after vs MC.

Written as ``closure.png``/``.pdf`` and ``closure.json`` (μ_CB, σ_CB of each peak and
the relative difference of μ_CB, corrected data − MC).  Reads no truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.massfit import DEFAULT_RANGES, PLOT_BINS, MassFit, fit_mass, histogram
from heplearn.calib.zee_pairs import PairCuts, select_pairs
from heplearn.data.atomic import atomic_output
from heplearn.data.reader import Store, open_store

__all__ = ["closure_fits", "pair_masses", "plot_closure", "write_closure"]

Array = np.ndarray[Any, Any]


def closure_fits(masses: dict[str, Array]) -> dict[str, MassFit]:
    """The inclusive BW ⊗ CB fit of each named set of pair masses."""
    return {name: fit_mass(values, "bw-cb") for name, values in masses.items()}


def plot_closure(
    masses: dict[str, Array], fits: dict[str, MassFit], folder: Path, name: str = "closure"
) -> Path:
    """Normalised peaks of each set (e.g. data before, data after, MC) with μ_CB and σ_CB."""
    from heplearn.report.figures import figure, save_figure

    lo, hi = DEFAULT_RANGES["bw-cb"]
    edges = np.linspace(lo, hi, PLOT_BINS + 1)
    centres = (edges[1:] + edges[:-1]) / 2
    with figure(figsize=(7, 5.5)) as (fig, ax):
        highest = 0.0
        for label, values in masses.items():
            counts, squares = histogram(values[(values >= lo) & (values <= hi)], None, edges)
            total = max(counts.sum(), 1.0) * (hi - lo) / PLOT_BINS
            fit = fits[label]
            text = (
                f"{label}: $\\mu_{{CB}}$ = {fit.mean:.3f} ± {fit.mean_err:.3f}, "
                f"$\\sigma_{{CB}}$ = {fit.sigma:.2f} GeV"
            )
            ax.errorbar(
                centres, counts / total, yerr=np.sqrt(squares) / total, fmt="o", ms=3, label=text
            )
            highest = max(highest, float((counts / total).max()))
        ax.set_xlabel(r"$m_{ee}$ [GeV]")
        ax.set_ylabel("pairs / GeV (normalised)")
        ax.set_xlim(lo, hi)
        ax.set_ylim(0.0, 1.5 * highest)  # headroom: the legend sits above the peaks
        ax.legend(fontsize=9, loc="upper left")
        return save_figure(fig, folder, name, label="Pseudo-data")


def pair_masses(store: Store, field: str, cuts: PairCuts | None = None) -> Array:
    """Z→ee pair masses of ``store`` with the energies of ``field``."""
    energy = np.asarray(store.read([field])[field], dtype=np.float64)
    pairs, _, _ = select_pairs(store, energy, cuts or PairCuts(), str(store.path))
    return pairs.mass


def _energy_field(store: Store) -> str:
    return "corrected/energy" if "corrected/energy" in store.schema else "scalars/e_acc"


def write_closure(corrected: Path, mc: Path | None, folder: Path, *, overwrite: bool) -> Path:
    """Fit and draw the peaks; returns the PNG path in ``folder``."""
    store = open_store(corrected)
    masses = {
        "data before": pair_masses(store, "corrected/raw_energy"),
        "data after": pair_masses(store, "corrected/energy"),
    }
    if mc is not None:
        mc_store = open_store(mc)
        masses["MC"] = pair_masses(mc_store, _energy_field(mc_store))
    fits = closure_fits(masses)
    summary: dict[str, Any] = {name: fit.as_dict() for name, fit in fits.items()}
    if "MC" in fits:
        after, reference = fits["data after"], fits["MC"]
        summary["mu_after_minus_mc_percent"] = 100 * (after.mean / reference.mean - 1)
        summary["mu_after_minus_mc_err_percent"] = (
            100 * float(np.hypot(after.mean_err, reference.mean_err)) / reference.mean
        )
    with atomic_output(folder, overwrite=overwrite) as tmp:
        tmp.mkdir()
        plot_closure(masses, fits, tmp)
        (tmp / "closure.json").write_text(json.dumps(summary, indent=2) + "\n")
    return folder / "closure.png"
