"""The uncertainty part of the evaluation report: σ_CB in σ_M quintiles, pulls before/after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heplearn.report.figures import figure, save_figure
from heplearn.report.html import HtmlReport

__all__ = ["uncertainty_section"]


def _number(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _quantile_figure(section: dict[str, Any], folder: Path) -> Path | None:
    rows = [row for row in section["bins"] if "sigma_cb" in row]
    if not rows:
        return None
    with figure() as (fig, ax):
        ax.errorbar(
            [row["median_sigma_m"] for row in rows],
            [row["sigma_cb"] for row in rows],
            yerr=[row["sigma_cb_err"] or 0.0 for row in rows],
            fmt="o",
            color="tab:red",
        )
        ax.set_xlabel(r"median $\sigma_M$ of the quintile [GeV]")
        ax.set_ylabel(r"$\sigma_{CB}$ [GeV]")
        return save_figure(fig, folder, "sigma_cb_vs_sigma_m")


def _quantile_table(report: HtmlReport, section: dict[str, Any]) -> None:
    body = []
    for row in section["bins"]:
        lo, hi = row["sigma_m"]
        body.append(
            [
                f"{lo:.2f}–{hi:.2f}",
                row["n"],
                f"{_number(row.get('sigma_cb'))} ± {_number(row.get('sigma_cb_err'))}"
                if "sigma_cb" in row
                else row.get("error", ""),
                f"{_number(row.get('pull_width'))} ± {_number(row.get('pull_width_err'))}"
                if "pull_width" in row
                else "—",
            ]
        )
    report.table(["σ_M [GeV]", "pairs", "σ_CB [GeV]", "mass pull width"], body)


def _pull_table(report: HtmlReport, pulls: dict[str, Any]) -> None:
    after = {str(row["bin"]): row for row in pulls.get("after", {}).get("binned", [])}
    body = []
    for row in pulls["before"]["binned"]:
        eta, et = row["bin"]["abs_eta"], row["bin"]["et"]
        cells = [
            f"|η| {eta[0]:g}–{eta[1]:g}, E_T {et[0]:g}–{et[1]:g}",
            row["n"],
            f"{_number(row['width'])} ± {_number(row['width_err'])}",
        ]
        if after:
            late = after[str(row["bin"])]
            cells.append(f"{_number(late['width'])} ± {_number(late['width_err'])}")
        body.append(cells)
    header = ["bin (E_T from E_acc)", "clusters", "pull width before"]
    report.table(header + (["after σ rescaling"] if after else []), body)


def uncertainty_section(report: HtmlReport, metrics: dict[str, Any], folder: Path) -> Path | None:
    """Tables of the ``uncertainty`` metrics in ``report``; the σ_CB-vs-σ_M figure's path."""
    section = metrics.get("uncertainty")
    if not section:
        return None
    report.heading("Uncertainty of the network (σ_E head)")
    scale = section["sigma_scale"]
    if scale.get("available"):
        fitted_on = scale["fitted_on"]
        report.paragraph(f"σ_E rescaled per |η| × E_T bin by factors fitted on {fitted_on}.")
    else:
        report.paragraph(f"σ_E as predicted: {scale['reason']}.")
    pulls = section.get("pulls")
    if pulls:
        widths = f"inclusive pull width {_number(pulls['before']['width'])}"
        if "after" in pulls:
            widths += f" before, {_number(pulls['after']['width'])} after the rescaling"
        report.paragraph(widths + ".")
        _pull_table(report, pulls)
    quantiles = section.get("mass_quantiles")
    if quantiles and quantiles.get("available"):
        report.paragraph(f"Z→ee mass fits in σ_M quintiles (σ_E {quantiles['sigma']}).")
        _quantile_table(report, quantiles)
        return _quantile_figure(quantiles, folder)
    return None
