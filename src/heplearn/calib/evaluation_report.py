"""Figures, ``metrics.json`` and ``report.html`` of a calibration evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from heplearn import __version__
from heplearn.calib.evaluate import Evaluation
from heplearn.calib.massfit_plot import plot_mass_fit
from heplearn.calib.uncertainty_report import uncertainty_section
from heplearn.data.atomic import atomic_output
from heplearn.report.figures import figure, save_figure
from heplearn.report.html import HtmlReport
from heplearn.report.learning_curve import plot_learning_curve
from heplearn.report.metrics_json import write_metrics_json

__all__ = ["write_evaluation"]

LABELS = {"e_acc": "$E_{acc}$", "bdt": "BDT", "network": "network", "truth": "truth"}
COLOURS = {"e_acc": "tab:grey", "bdt": "tab:blue", "network": "tab:red", "truth": "black"}


def _relative_energy(ev: Evaluation, folder: Path) -> Path:
    with figure() as (fig, ax):
        bins = np.linspace(0.8, 1.2, 81)
        for name, energy in ev.energies.methods().items():
            ax.hist(
                energy / ev.features.e_truth,
                bins,
                histtype="step",
                lw=1.5,
                color=COLOURS[name],
                label=LABELS[name],
            )
        ax.set_xlabel(r"$E_{calib}/E_{truth}$")
        ax.set_ylabel("Clusters / 0.005")
        ax.legend()
        return save_figure(fig, folder, "relative_energy")


def _binned_width(ev: Evaluation, variable: str, xlabel: str, folder: Path) -> Path | None:
    rows = ev.metrics["binned"].get(variable)
    if not rows:
        return None
    with figure() as (fig, ax):
        for name in ev.energies.methods():
            centres, widths, errors, half = [], [], [], []
            for row in rows:
                stats = row["models"][name]
                lo, hi = row["bin"][variable]
                hi = min(hi, 2 * lo + 50) if hi > 1000 else hi  # open last E_T bin drawn finite
                if stats["eiqr"] is None:
                    continue
                centres.append(0.5 * (lo + hi))
                half.append(0.5 * (hi - lo))
                widths.append(stats["eiqr"])
                errors.append(stats["eiqr_err"] or 0.0)
            ax.errorbar(
                centres,
                widths,
                yerr=errors,
                xerr=half,
                fmt="o",
                ms=4,
                color=COLOURS[name],
                label=LABELS[name],
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(r"eIQR of $E_{calib}/E_{truth}$")
        ax.legend()
        return save_figure(fig, folder, f"eiqr_vs_{variable}")


def _masses(ev: Evaluation, folder: Path) -> list[tuple[Path, str]]:
    out = []
    for name, fit in ev.mass_fits.items():
        png = plot_mass_fit(ev.masses[name], fit, folder, f"mass_{name}", quantity=r"$m_{ee}$")
        out.append((png, f"pair mass from {name} energies, {fit.model} fit"))
    return out


def _pulls(ev: Evaluation, folder: Path) -> Path | None:
    if ev.energies.sigma is None or ev.energies.network is None:
        return None
    pull, defined = ev.energies.pulls(ev.features.e_truth)
    pull = pull[defined]
    with figure() as (fig, ax):
        bins = np.linspace(-5, 5, 61)
        ax.hist(
            np.clip(pull, -5, 5),
            bins,
            histtype="step",
            lw=1.5,
            color="tab:red",
            label=f"width {ev.metrics['pull_width']:.2f}",
            density=True,
        )
        x = np.linspace(-5, 5, 200)
        ax.plot(x, np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi), "k--", label="unit Gaussian")
        ax.set_xlabel(r"pull $(E_{pred}-E_{truth})/\sigma_E$")
        ax.set_ylabel("Density")
        ax.legend()
        return save_figure(fig, folder, "pull")


def _importance(ev: Evaluation, folder: Path) -> list[tuple[Path, str]]:
    out = []
    for method, all_values in ev.metrics.get("importance", {}).items():
        # A collapsed model (zero eIQR) has no defined importance: its entries are null.
        values = {k: v for k, v in all_values.items() if v is not None and np.isfinite(v)}
        if not values:
            continue
        names = sorted(values, key=values.__getitem__)
        with figure(figsize=(8, max(4, 0.3 * len(names)))) as (fig, ax):
            ax.barh(range(len(names)), [values[n] for n in names], color=COLOURS.get(method))
            ax.set_yticks(range(len(names)), names, fontsize=9)
            ax.set_xlabel("eIQR(shuffled) / eIQR − 1")
            out.append(
                (
                    save_figure(fig, folder, f"importance_{method}"),
                    f"permutation importance, {method}",
                )
            )
    return out


def _fmt(value: Any, digits: int = 4) -> str:
    return (
        "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    )


def _summary_table(report: HtmlReport, metrics: dict[str, Any]) -> None:
    keys = [
        ("eiqr_e_acc", "eIQR E_acc"),
        ("eiqr_bdt", "eIQR BDT"),
        ("eiqr_model", "eIQR network"),
        ("eiqr95_e_acc", "eIQR95 E_acc"),
        ("eiqr95_bdt", "eIQR95 BDT"),
        ("eiqr95_model", "eIQR95 network"),
        ("reiqr75_vs_bdt", "reIQR75 network vs BDT"),
        ("reiqr95_vs_bdt", "reIQR95 network vs BDT"),
        ("reiqr75_vs_eacc", "reIQR75 network vs E_acc"),
        ("reiqr75_bdt_vs_eacc", "reIQR75 BDT vs E_acc"),
        ("sigma_cb_eacc", "σ_CB E_acc [GeV]"),
        ("sigma_cb_bdt", "σ_CB BDT [GeV]"),
        ("sigma_cb_model", "σ_CB network [GeV]"),
        ("pull_width", "pull width"),
        ("pull_mean", "pull median"),
    ]
    rows = [(label, _fmt(metrics[key])) for key, label in keys if key in metrics]
    report.table(["metric", "value"], rows)


def _binned_table(report: HtmlReport, metrics: dict[str, Any], variable: str) -> None:
    rows = metrics["binned"].get(variable) or []
    methods = list(rows[0]["models"]) if rows else []
    body = []
    for row in rows:
        label = ", ".join(f"{k} {lo:g}–{hi:g}" for k, (lo, hi) in row["bin"].items())
        cells: list[Any] = [label, row["n"]]
        for m in methods:
            s = row["models"][m]
            cells.append(f"{_fmt(s['eiqr'])} ± {_fmt(s['eiqr_err'])}")
        net = row["models"].get("network")
        if net is not None:
            cells.append(f"{_fmt(net['reiqr'], 3)} ± {_fmt(net['reiqr_err'], 3)}")
        body.append(cells)
    header = ["bin", "n", *[f"eIQR {m}" for m in methods]]
    if "network" in methods:
        header.append(f"reIQR75 network vs {metrics['binned']['baseline']}")
    report.table(header, body)


def _warnings(report: HtmlReport, metrics: dict[str, Any]) -> None:
    if metrics.get("warnings"):
        report.heading("Warnings")
        for warning in metrics["warnings"]:
            report.paragraph(f"warning: {warning}")


def _coverage_table(report: HtmlReport, metrics: dict[str, Any]) -> None:
    coverage = metrics.get("input_coverage") or {}
    report.heading("Input coverage of the training distribution")
    if not coverage.get("available"):
        report.paragraph(f"not checked: {coverage.get('reason', 'no input ranges')}")
        return
    report.paragraph(
        f"Fraction of clusters outside the training range and outside the training "
        f"0.1–99.9 % quantiles (≈ 0.2 % expected in distribution); flagged above "
        f"{100 * coverage['threshold']:g} % when significant "
        f"(p < {coverage['p_value_threshold']:g})."
    )
    rows = [
        (
            row["feature"],
            f"{100 * row['outside_range']:.2f} %",
            f"{100 * row['outside_quantiles']:.2f} %",
            "out of distribution" if row["flagged"] else "",
        )
        for row in coverage["features"]
    ]
    report.table(["feature", "outside range", "outside 0.1–99.9 %", ""], rows)


def _particle_table(report: HtmlReport, metrics: dict[str, Any]) -> None:
    split = metrics.get("by_particle") or {}
    if not split.get("available") or not split["particles"]:
        return
    report.heading(f"Resolution by particle type and charge (from {split['source']})")
    methods = list(next(iter(split["particles"].values()))["methods"])
    body = []
    for name, entry in split["particles"].items():
        cells: list[Any] = [name, entry["n"]]
        for m in methods:
            s = entry["methods"][m]
            cells += [f"{_fmt(s['eiqr'])} ± {_fmt(s['eiqr_err'])}", _fmt(s["median"])]
        body.append(cells)
    header = ["particle", "n"]
    for m in methods:
        header += [f"eIQR {m}", f"median {m}"]
    report.table(header, body)


def write_evaluation(ev: Evaluation, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the evaluation folder atomically (a temporary folder renamed when complete)."""
    final = Path(out)
    with atomic_output(final, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        figures: list[tuple[Path | None, str]] = [
            (_relative_energy(ev, tmp), "E_calib/E_truth of every method"),
            (_binned_width(ev, "abs_eta", r"$|\eta|$", tmp), "eIQR vs |η|"),
            (_binned_width(ev, "et", r"$E_T$ [GeV]", tmp), "eIQR vs E_T"),
            (_binned_width(ev, "mu", r"$\langle\mu\rangle$", tmp), "eIQR vs ⟨μ⟩"),
            (_pulls(ev, tmp), "pulls of the uncertainty head"),
            (plot_learning_curve(ev.metrics["training"]["history"], tmp), "learning curve"),
        ]
        figures += _masses(ev, tmp) + _importance(ev, tmp)
        write_metrics_json(tmp / "metrics.json", ev.metrics)
        report = HtmlReport("Calibration evaluation")
        report.paragraph(
            f"{ev.metrics['n_clusters']} clusters ({ev.metrics['selection']}) of "
            f"{ev.metrics['data']}; heplearn {__version__}."
        )
        _warnings(report, ev.metrics)
        report.heading("Summary")
        _summary_table(report, ev.metrics)
        _particle_table(report, ev.metrics)
        _coverage_table(report, ev.metrics)
        for variable, title in (
            ("abs_eta", "|η|"),
            ("et", "E_T [GeV]"),
            ("mu", "⟨μ⟩"),
            ("abs_eta_x_et", "|η| × E_T"),
        ):
            if ev.metrics["binned"].get(variable):
                report.heading(f"Resolution in bins of {title} (bootstrap errors)")
                _binned_table(report, ev.metrics, variable)
        figures.append((uncertainty_section(report, ev.metrics, tmp), "σ_CB in σ_M quintiles"))
        report.heading("Figures")
        for png, caption in figures:
            if png is not None:
                report.figure(png, caption)
        report.heading("Training")
        report.code(json.dumps(ev.metrics["training"]["info"], indent=2))
        report.write(tmp / "report.html")
    return final
