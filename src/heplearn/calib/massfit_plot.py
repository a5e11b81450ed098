"""The figure of a mass fit: histogram with errors and the fitted curve, PNG + PDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heplearn.calib.massfit import PLOT_BINS, MassFit, histogram, mass_fit_density

__all__ = ["plot_mass_fit"]


def plot_mass_fit(
    values: np.ndarray,
    fit: MassFit,
    folder: Path,
    name: str,
    label: str = "Simulation",
    *,
    weights: np.ndarray | None = None,
    quantity: str = "$m$",
) -> Path:
    """Histogram of ``values`` in the fit range with √(Σw²) errors and the fitted curve.

    Writes ``name.png`` and ``name.pdf`` into ``folder`` (``label`` is the
    experiment-label text, ``quantity`` the x-axis symbol) and returns the PNG path.
    """
    from heplearn.report.figures import figure, save_figure

    lo, hi = fit.mass_range
    values = np.asarray(values, dtype=np.float64)
    inside = np.isfinite(values) & (values >= lo) & (values <= hi)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)[inside]
    edges = np.linspace(lo, hi, PLOT_BINS + 1)
    counts, squares = histogram(values[inside], weights, edges)
    width = (hi - lo) / PLOT_BINS
    centres = (edges[1:] + edges[:-1]) / 2
    curve_x = np.linspace(lo, hi, 800)
    curve_y = mass_fit_density(fit, curve_x) * counts.sum() * width

    resolution = r"\sigma_{CB}" if fit.model == "bw-cb" else r"\sigma"
    fitted = [
        f"$m_{{peak}}$ = {fit.mean:.3f} ± {fit.mean_err:.3f} GeV",
        f"${resolution}$ = {fit.sigma:.3f} ± {fit.sigma_err:.3f} GeV",
    ]
    if fit.alpha is not None and fit.n is not None:
        fitted.append(rf"$\alpha$ = {fit.alpha:.2f}, $n$ = {fit.n:.1f}")
    if fit.fraction is not None:
        fitted.append(f"$f$ = {fit.fraction:.3f} ± {fit.fraction_err:.3f}")
    fitted.append(rf"$\chi^2$/ndf = {fit.chi2_ndf:.2f}")
    title = r"BW $\otimes$ CB fit" if fit.model == "bw-cb" else "double-Gaussian fit"

    with figure(figsize=(7.5, 5.5)) as (fig, ax):
        ax.errorbar(
            centres, counts, yerr=np.sqrt(squares), xerr=width / 2, fmt="o", color="black",
            markersize=3.5, label=f"data ({fit.n_events} events)",
        )  # fmt: skip
        ax.plot(curve_x, curve_y, color="tab:red", label=title + "\n" + "\n".join(fitted))
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, 1.35 * max(float(counts.max()), float(curve_y.max())))
        ax.set_xlabel(f"{quantity} [GeV]")
        ax.set_ylabel(f"Events / {width:.3g} GeV")
        ax.legend(fontsize=10, loc="upper left")
        return save_figure(fig, folder, name, label)
