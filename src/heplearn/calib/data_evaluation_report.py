"""``metrics.json``, figures and ``report.html`` of ``calib evaluate`` on data (no truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from heplearn import __version__
from heplearn.calib.data_evaluation import DataEvaluation
from heplearn.calib.data_evaluation_figures import (
    binned_peak_figures,
    input_figures,
    peak_figures,
)
from heplearn.calib.uncertainty_report import uncertainty_section
from heplearn.data.atomic import atomic_output
from heplearn.report.html import HtmlReport
from heplearn.report.metrics_json import write_metrics_json

__all__ = ["write_data_evaluation"]


def _num(value: Any, error: Any = None, digits: int = 3, scale: float = 1.0) -> str:
    if value is None:
        return "—"
    text = f"{scale * value:.{digits}f}"
    return text if error is None else f"{text} ± {scale * error:.{digits}f}"


def _peak_cells(fit: dict[str, Any]) -> list[str]:
    if fit.get("mean") is None:
        return [str(fit.get("n_pairs", "—")), f"skipped: {fit.get('skipped', '—')}", "—"]
    return [
        str(fit["n_pairs"]),
        _num(fit["mean"], fit["mean_err"]),
        _num(fit["sigma"], fit["sigma_err"]),
    ]


def _summary(report: HtmlReport, m: dict[str, Any]) -> None:
    peaks = m["peaks"]
    header = ["method", "data pairs", "data μ_CB [GeV]", "data σ_CB [GeV]"]
    if "mc" in peaks:
        header += ["MC pairs", "MC μ_CB [GeV]", "MC σ_CB [GeV]", "μ data/MC − 1 [%]", "σ data/MC"]
    rows = []
    for method, entry in peaks["data"].items():
        row = [method, *_peak_cells(entry["inclusive"])]
        if "mc" in peaks:
            row += _peak_cells(peaks["mc"][method]["inclusive"])
            c = m["data_vs_mc"][method]["inclusive"]
            row += [
                _num(c.get("mu_shift"), c.get("mu_shift_err"), 3, 100),
                _num(c.get("sigma_ratio"), c.get("sigma_ratio_err")),
            ]
        rows.append(row)
    report.table(header, rows)
    window = [
        [method, *(f"{s}: {peaks[s][method]['window']['n_pairs']}, median "
                   f"{_num(peaks[s][method]['window']['median'])}" for s in peaks)]
        for method in peaks["data"]
    ]  # fmt: skip
    lo, hi = m["pair_selection"]["window"]
    report.paragraph(f"Pairs in the thesis window {lo:g}–{hi:g} GeV and their median m_ee:")
    report.table(["method", *peaks], window)


def _binned(report: HtmlReport, m: dict[str, Any], variable: str) -> None:
    peaks = m["peaks"]
    header = ["method", "bin"] + [f"{s} {q}" for s in peaks for q in ("pairs", "μ_CB", "σ_CB")]
    if "mc" in peaks:
        header.append("μ data/MC − 1 [%]")
    rows = []
    for method, entry in peaks["data"].items():
        for k, row in enumerate(entry["binned"][variable]):
            cells = [method, f"{row['bin'][0]:g}–{row['bin'][1]:g}"]
            for sample in peaks:
                # MC with one ⟨μ⟩ has no ⟨μ⟩ bins where the data has them.
                other = peaks[sample][method]["binned"].get(variable)
                cells += _peak_cells(other[k]) if other else ["—", "—", "—"]
            if "mc" in peaks:
                compared = m["data_vs_mc"][method]["binned"][variable]
                c = compared[k] if k < len(compared) else {}
                cells.append(_num(c.get("mu_shift"), c.get("mu_shift_err"), 3, 100))
            rows.append(cells)
    report.table(header, rows)


def _inputs(report: HtmlReport, m: dict[str, Any]) -> None:
    rows = [
        [name, f"{v['ks_distance']:.3f}", f"{v['ks_p_value']:.2g}", _num(v["mean_data"], None, 4),
         _num(v["mean_mc"], None, 4)]
        for name, v in sorted(m["inputs"].items(), key=lambda kv: -kv[1]["ks_distance"])
    ]  # fmt: skip
    report.table(["variable", "KS distance", "KS p-value", "mean data", "mean MC"], rows)


def _report(ev: DataEvaluation, figures: list[tuple[Path, str]], path: Path) -> None:
    m = ev.metrics
    report = HtmlReport("Calibration evaluation on data (Z→ee, no truth)")
    mc = (  # without --mc there is no "mc" entry
        f"; MC {m['mc']['store']} ({m['mc']['n_clusters']} clusters, {m['mc']['selection']})"
        if "mc" in m
        else ""
    )
    report.paragraph(
        f"{m['n_clusters']} clusters ({m['selection']}) of {m['data']}"
        + mc
        + f"; {m['mass_pairs']} pairs; heplearn {__version__}. No truth field was read."
    )
    for warning in m["warnings"]:
        report.paragraph(f"warning: {warning}")
    report.heading("Z→ee peaks, BW ⊗ CB, inclusive")
    report.paragraph(f"Pair selection and fit: {json.dumps(m['pair_selection'])}")
    charge = m["pair_charge"]
    report.paragraph(
        f"Opposite charge from {charge['source']}; {charge['same_sign_removed']} same-sign "
        "pairs left out of the data."
    )
    _summary(report, m)
    names = {"abs_eta": "|η| (a pair in the bin of each cluster)", "et": "E_T = E_acc/cosh η [GeV]"}
    for variable in m["peaks"]["data"][next(iter(m["peaks"]["data"]))]["binned"]:
        report.heading(f"Peaks in bins of {names.get(variable, '⟨μ⟩')}")
        _binned(report, m, variable)
    if m["skipped"]:
        report.heading("Skipped (too few pairs or no converged fit)")
        report.table(["fit"], [[name] for name in m["skipped"]])
    if "inputs" in m:
        report.heading("Inputs, data vs MC")
        _inputs(report, m)
    quintiles = uncertainty_section(report, m, path.parent)  # σ_M quintiles (σ_E head)
    if quintiles is not None:
        figures = [*figures, (quintiles, "σ_CB in σ_M quintiles")]
    report.heading("Figures")
    for png, caption in figures:
        report.figure(png, caption)
    report.heading("Training")
    report.code(json.dumps(m["training"]["info"], indent=2))
    report.write(path)


def write_data_evaluation(ev: DataEvaluation, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the folder atomically: metrics.json, the figures (PNG/PDF) and report.html."""
    final = Path(out)
    with atomic_output(final, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        figures = peak_figures(ev, tmp) + binned_peak_figures(ev, tmp)
        if ev.inputs:
            figures += input_figures(ev, tmp)
        write_metrics_json(tmp / "metrics.json", ev.metrics)
        _report(ev, figures, tmp / "report.html")
    return final
