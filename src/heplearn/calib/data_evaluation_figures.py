"""Figures of ``calib evaluate`` on data: Z peaks (data/MC with ratio), peaks per bin, inputs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.data_evaluation import DataEvaluation
from heplearn.calib.input_distributions import InputHistogram
from heplearn.calib.massfit import PLOT_BINS, histogram, mass_fit_density
from heplearn.calib.massfit_plot import plot_mass_fit

__all__ = ["METHOD_LABELS", "binned_peak_figures", "input_figures", "peak_figures"]

Array = np.ndarray[Any, Any]

METHOD_LABELS = {"e_acc": "$E_{acc}$", "bdt": "BDT", "network": "network"}
COLOURS = {"e_acc": "tab:grey", "bdt": "tab:blue", "network": "tab:red"}
PANELS_PER_FIGURE = 12
#: Mathtext, not Unicode: the style's font has no ⟨ ⟩ glyphs.
AXIS_LABELS = {
    "abs_eta": r"$|\eta|$ bin",
    "et": r"$E_T$ bin [GeV]",
    "mu": r"$\langle\mu\rangle$ bin",
}


def _overlay(ev: DataEvaluation, method: str, folder: Path) -> Path | None:
    """Data points over the MC histogram (scaled to the data count) with a data/MC panel."""
    from heplearn.report.figures import figure, save_figure

    data, mc = ev.samples["data"], ev.samples["mc"]
    fit = data.peaks.inclusive.get(method) or mc.peaks.inclusive.get(method)
    if fit is None:
        return None
    lo, hi = fit.mass_range
    edges = np.linspace(lo, hi, PLOT_BINS + 1)
    centres = (edges[1:] + edges[:-1]) / 2
    d, _ = histogram(data.masses[method], None, edges)
    m, _ = histogram(mc.masses[method], None, edges)
    scale = d.sum() / max(m.sum(), 1.0)
    grid = {"height_ratios": [3, 1]}
    with figure(nrows=2, sharex=True, figsize=(7, 6.5), gridspec_kw=grid) as (fig, axes):
        top, ratio = axes
        top.stairs(m * scale, edges, color=COLOURS[method], label="MC (scaled to data)", lw=1.5)
        top.errorbar(centres, d, yerr=np.sqrt(d), fmt="o", ms=3, color="k", label="data")
        curve = np.linspace(lo, hi, 400)
        for label, sample, style in (("data", data, "-"), ("MC", mc, "--")):
            peak = sample.peaks.inclusive.get(method)
            if peak is None:
                continue
            norm = (d.sum() if label == "data" else m.sum() * scale) * (hi - lo) / PLOT_BINS
            text = (
                rf"{label}: $\mu_{{CB}}$ = {peak.mean:.2f} ± {peak.mean_err:.2f}, "
                rf"$\sigma_{{CB}}$ = {peak.sigma:.2f} GeV"
            )
            top.plot(
                curve, mass_fit_density(peak, curve) * norm, style, color="k", lw=1, label=text
            )
        top.set_ylabel(f"pairs / {(hi - lo) / PLOT_BINS:.2g} GeV")
        top.set_ylim(0, 1.5 * max(float(d.max()), float((m * scale).max()), 1.0))
        top.legend(fontsize=8, loc="upper left")
        top.set_title(f"Z→ee, {METHOD_LABELS[method]} energies", fontsize=11)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = m * scale
            ratio.errorbar(
                centres, np.where(expected > 0, d / expected, np.nan),
                yerr=np.where(expected > 0, np.sqrt(d) / expected, np.nan), fmt="o", ms=3,
                color="k",
            )  # fmt: skip
        ratio.axhline(1.0, color="grey", lw=1)
        ratio.set_ylim(0.5, 1.5)
        ratio.set_ylabel("data / MC", fontsize=10)
        ratio.set_xlabel(r"$m_{ee}$ [GeV]")
        return save_figure(fig, folder, f"mass_data_mc_{method}")


def peak_figures(ev: DataEvaluation, folder: Path) -> list[tuple[Path, str]]:
    """Per method: the data/MC overlay with ratio panel, or the data fit alone without MC."""
    out = []
    data = ev.samples["data"]
    for method in data.masses:
        if "mc" in ev.samples:
            png = _overlay(ev, method, folder)
            if png is not None:
                out.append((png, f"m_ee from {method} energies: data and MC, data/MC"))
        elif method in data.peaks.inclusive:
            fit = data.peaks.inclusive[method]
            png = plot_mass_fit(
                data.masses[method], fit, folder, f"mass_{method}", "Data", quantity=r"$m_{ee}$"
            )
            out.append((png, f"m_ee from {method} energies, BW ⊗ CB fit"))
    return out


def _points(rows: list[dict[str, Any]], key: str) -> tuple[Array, Array, Array]:
    """Bin centres (log-safe for the open last bin), values and errors of fitted bins."""
    x, y, e = [], [], []
    for k, row in enumerate(rows):
        if row.get(key) is None:
            continue
        x.append(k)
        y.append(row[key])
        e.append(row.get(f"{key}_err") or 0.0)
    return np.array(x, float), np.array(y, float), np.array(e, float)


def binned_peak_figures(ev: DataEvaluation, folder: Path) -> list[tuple[Path, str]]:
    """μ_CB and σ_CB per bin of each variable: every method, data filled, MC open."""
    from heplearn.report.figures import figure, save_figure

    out = []
    peaks = ev.metrics["peaks"]
    variables = list(peaks["data"][next(iter(peaks["data"]))]["binned"])
    for variable in variables:
        with figure(nrows=2, sharex=True, figsize=(7.5, 6.5)) as (fig, axes):
            labels: list[str] = []
            for n_method, method in enumerate(peaks["data"]):
                offset = 0.08 * (n_method - 1)
                for sample, marker in (("data", "o"), ("mc", "s")):
                    if variable not in peaks.get(sample, {}).get(method, {}).get("binned", {}):
                        continue  # e.g. MC with one ⟨μ⟩ against data with several
                    rows = peaks[sample][method]["binned"][variable]
                    labels = [f"{r['bin'][0]:g}–{r['bin'][1]:g}" for r in rows]
                    for ax, key in zip(axes, ("mean", "sigma"), strict=True):
                        x, y, e = _points(rows, key)
                        ax.errorbar(
                            x + offset + (0.03 if sample == "mc" else 0), y, yerr=e, fmt=marker,
                            ms=4, color=COLOURS[method],
                            mfc=COLOURS[method] if sample == "data" else "none",
                            label=f"{METHOD_LABELS[method]} {'data' if sample == 'data' else 'MC'}",
                        )  # fmt: skip
            axes[0].axhline(91.1876, color="grey", lw=1, ls=":")
            axes[0].set_ylabel(r"$\mu_{CB}$ [GeV]")
            axes[1].set_ylabel(r"$\sigma_{CB}$ [GeV]")
            axes[1].set_xticks(range(len(labels)), labels, fontsize=9, rotation=30)
            axes[1].set_xlabel(AXIS_LABELS[variable])
            axes[0].legend(fontsize=7, ncol=2)
            png = save_figure(fig, folder, f"peaks_vs_{variable}")
        out.append((png, f"μ_CB and σ_CB per {variable} bin (skipped bins are absent)"))
    return out


def _input_panel(top: Any, ratio: Any, h: InputHistogram) -> None:
    # Stairs, not error bars: dozens of panels must draw in a second or two.
    d, d_err = h.data
    m, _ = h.mc
    top.stairs(m, h.edges, color="tab:blue", label="MC")
    top.stairs(d, h.edges, color="k", label="data")
    top.stairs(d + d_err, h.edges, baseline=d - d_err, fill=True, color="k", alpha=0.2, lw=0)
    top.set_title(h.name, fontsize=8)
    top.tick_params(labelsize=6)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio.stairs(np.where(m > 0, d / m, np.nan), h.edges, color="k")
    ratio.axhline(1.0, color="grey", lw=0.8)
    ratio.set_ylim(0.5, 1.5)
    ratio.tick_params(labelsize=6)
    for ax in (top, ratio):  # few ticks: axis drawing dominates a grid of small panels
        ax.minorticks_off()
        ax.locator_params(nbins=4)


def input_figures(ev: DataEvaluation, folder: Path) -> list[tuple[Path, str]]:
    """Grids of data vs MC input distributions (normalised), each with a data/MC panel."""
    from heplearn.report.figures import figure, save_figure

    out = []
    for start in range(0, len(ev.inputs), PANELS_PER_FIGURE):
        chunk = ev.inputs[start : start + PANELS_PER_FIGURE]
        columns = 4
        rows = math.ceil(len(chunk) / columns)
        heights = [3, 1] * rows
        grid = {"height_ratios": heights}
        size = (13, 3.3 * rows)
        with figure(nrows=2 * rows, ncols=columns, figsize=size, gridspec_kw=grid) as (
            fig,
            grid_axes,
        ):
            axes = np.asarray(grid_axes).reshape(2 * rows, columns)
            for k in range(rows * columns):
                top, ratio = (
                    axes[2 * (k // columns), k % columns],
                    axes[2 * (k // columns) + 1, k % columns],
                )
                if k < len(chunk):
                    _input_panel(top, ratio, chunk[k])
                else:
                    top.set_visible(False)
                    ratio.set_visible(False)
            axes[0, 0].legend(fontsize=7)
            part = start // PANELS_PER_FIGURE + 1
            png = save_figure(fig, folder, f"inputs_{part}")
        out.append((png, f"run inputs, data vs MC (normalised), data/MC panels: part {part}"))
    return out
