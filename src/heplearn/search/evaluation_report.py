"""The search evaluation folder: ``metrics.json``, PNG/PDF figures and ``report.html``.

Headline: the profile-likelihood Z and expected limits per point and method, and the ee /
μμ / combined table (:mod:`heplearn.search.likelihood_report`), with every selection's pyhf
workspace under ``workspaces/``.  Figures: the ROC of every classifier per signal point
(cut-and-count working points as markers), train-vs-test score distributions per class
with their KS p-values, Z against the score threshold, the Z of every method per point
side by side, and the XGBoost gain importances.  Tables: significance, AUC, binned
significance, yields, KS, cuts, and the training warnings (the thesis' raw-MC-weight
collapse).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from heplearn import __version__
from heplearn.config import dump_config
from heplearn.data.atomic import atomic_output
from heplearn.report.figures import figure, save_figure
from heplearn.report.html import HtmlReport
from heplearn.report.metrics_json import write_metrics_json
from heplearn.search.evaluate import MethodScores, SearchEvaluation, z_curve
from heplearn.search.likelihood_report import likelihood_sections, write_workspaces
from heplearn.search.limit_plots import grid_figure, limit_figures
from heplearn.search.method_labels import METHOD_LABELS, format_value
from heplearn.search.significance import z_statistical_error
from heplearn.search.stack_plots import stacked_figures
from heplearn.stats import roc_curve
from heplearn.stats.auc_error import auc_error

__all__ = ["write_evaluation_files", "write_search_evaluation"]

Array = np.ndarray[Any, Any]

_MARKERS = {"thesis_cuts": "s", "optimised_cuts": "D", "xgboost": "o", "nn": "^"}


def _with_error(value: Any, error: float, digits: int = 3) -> str:
    """``1.23 ± 0.15``; the value alone when there is no error estimate (or it vanishes)."""
    if value is None:
        return "–"
    return format_value(value, digits) + (
        f" ± {error:.2g}" if np.isfinite(error) and error > 0 else ""
    )


def _z_cell(metrics: dict[str, Any], point: str, method: str) -> str:
    """Z of one selection with its MC-statistical error."""
    entry = metrics["yields"][point].get(method)
    error = z_statistical_error(entry, metrics["sigma_b"]) if entry else float("nan")
    return _with_error(metrics["significance"][point].get(method), error)


def _auc_cell(metrics: dict[str, Any], point: str, method: str) -> str:
    """AUC with its Hanley–McNeil error from the evaluated event counts."""
    auc = metrics["auc"][point][method]
    n_signal = int(metrics["events"]["signal"][point])
    error = auc_error(float(auc), n_signal, int(metrics["events"]["background"]))
    return _with_error(auc, error, 4)


def _roc(
    point: str, arrays: dict[str, MethodScores], metrics: dict[str, Any], folder: Path
) -> Path:
    yields = metrics["yields"][point]
    total = yields["before_cuts"]
    with figure() as (fig, ax):
        for method, entry in arrays.items():
            curve = roc_curve(entry.scores, entry.is_signal == 1, entry.weight)
            ax.plot(
                curve.false_positive_rate,
                curve.true_positive_rate,
                label=f"{METHOD_LABELS[method]} (AUC {metrics['auc'][point][method]:.3f})",
            )
        for method in ("thesis_cuts", "optimised_cuts"):
            if method in yields and total["b"] > 0 and total["s"] > 0:
                ax.plot(
                    yields[method]["b"] / total["b"],
                    yields[method]["s"] / total["s"],
                    _MARKERS[method],
                    color="black",
                    label=METHOD_LABELS[method],
                )
        ax.set_xscale("log")
        ax.set_xlim(1e-5, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Background efficiency (weighted)")
        ax.set_ylabel("Signal efficiency (weighted)")
        ax.legend(title=point, fontsize="small")
        return save_figure(fig, folder, f"roc_{point}")


def _density(values: Array, weights: Array, bins: Array) -> Array:
    w = np.clip(weights, 0.0, None)  # a shape comparison; negative weights have no density
    counts, _ = np.histogram(values, bins=bins, weights=w)
    total = counts.sum()
    out: Array = counts / (total * np.diff(bins)) if total > 0 else counts
    return out


def _scores(
    point: str, arrays: dict[str, MethodScores], metrics: dict[str, Any], folder: Path
) -> Path:
    bins = np.linspace(0.0, 1.0, 26)
    centres = 0.5 * (bins[1:] + bins[:-1])
    n = len(arrays)
    with figure(ncols=n, figsize=(6 * n, 5.5), squeeze=False) as (fig, axes):
        for ax, (method, entry) in zip(axes[0], arrays.items(), strict=True):
            ks = metrics["ks"][point][method]
            for label, value, colour in (("signal", 1, "tab:red"), ("background", 0, "tab:blue")):
                p_value = format_value(ks[label]["p_value"], 2)
                train = entry.train_is_signal == value
                ax.stairs(
                    _density(entry.train_scores[train], entry.train_weight[train], bins),
                    bins,
                    fill=True,
                    alpha=0.3,
                    color=colour,
                    label=f"{label}, train",
                )
                test = entry.is_signal == value
                ax.plot(
                    centres,
                    _density(entry.scores[test], entry.weight[test], bins),
                    "o",
                    color=colour,
                    label=f"{label}, test (KS p = {p_value})",
                )
            ax.axvline(entry.threshold, color="grey", linestyle="--")
            ax.set_yscale("log")
            ax.set_xlabel(f"{METHOD_LABELS[method]} score")
            ax.set_ylabel("Events (weighted, normalised)")
            ax.set_title(point, fontsize=12)
            ax.legend(fontsize="x-small")
        return save_figure(fig, folder, f"scores_{point}")


def _z_scan(
    point: str, arrays: dict[str, MethodScores], metrics: dict[str, Any], folder: Path
) -> Path:
    sigma_b = float(metrics["sigma_b"])
    with figure() as (fig, ax):
        for method, entry in arrays.items():
            thresholds, z = z_curve(entry.scores, entry.weight, entry.is_signal, sigma_b)
            (line,) = ax.plot(thresholds, z, label=METHOD_LABELS[method])
            ax.axvline(entry.threshold, color=line.get_color(), linestyle=":")
        for method in ("thesis_cuts", "optimised_cuts"):
            if method in metrics["significance"][point]:
                ax.axhline(
                    metrics["significance"][point][method],
                    color="black",
                    linestyle="--" if method == "thesis_cuts" else "-.",
                    label=METHOD_LABELS[method],
                )
        ax.set_xlabel("Score threshold (select score ≥ t)")
        ax.set_ylabel(f"Asimov Z, σ_b = {sigma_b:.0%} [σ]")
        ax.legend(title=point, fontsize="small")
        return save_figure(fig, folder, f"significance_vs_threshold_{point}")


def _side_by_side(metrics: dict[str, Any], folder: Path) -> Path:
    points = list(metrics["significance"])
    methods = list(metrics["methods"])
    offsets = np.linspace(-0.25, 0.25, len(methods))
    positive = any(
        (v := metrics["significance"][p].get(m)) is not None and v > 0
        for p in points
        for m in methods
    )
    with figure(figsize=(max(8, 0.8 * len(points) + 6), 7)) as (fig, ax):
        for offset, method in zip(offsets, methods, strict=True):
            z = [metrics["significance"][p].get(method) for p in points]
            z = [None if v is not None and v <= 0 else v for v in z]  # log axis
            ax.plot(
                np.arange(len(points)) + offset,
                [np.nan if v is None else v for v in z],
                _MARKERS.get(method, "v"),
                markersize=9,
                label=METHOD_LABELS[method],
            )
        ax.set_xticks(range(len(points)), points, rotation=35, ha="right", fontsize=11)
        ax.set_xlabel("Signal point")
        ax.set_ylabel(f"Asimov Z, σ_b = {float(metrics['sigma_b']):.0%} [σ]")
        if positive:  # a log axis needs a positive Z; with none every point sits at 0
            ax.set_yscale("log")  # Z spans orders of magnitude over the mass grid
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return save_figure(fig, folder, "significance_per_point")


def _importance(metrics: dict[str, Any], folder: Path) -> Path | None:
    shares = metrics["feature_importance"]
    if not shares:
        return None
    features = sorted(
        {f for s in shares.values() for f in s},
        key=lambda f: np.mean([s.get(f, 0.0) for s in shares.values()]),
    )
    height = 0.8 / len(shares)
    with figure(figsize=(8, max(5, 0.35 * len(features) + 1))) as (fig, ax):
        for i, (point, share) in enumerate(shares.items()):
            y = np.arange(len(features)) + (i - (len(shares) - 1) / 2) * height
            ax.barh(y, [share.get(f, 0.0) for f in features], height=height, label=point)
        ax.set_yticks(range(len(features)), features, fontsize=9)
        ax.set_xlabel("XGBoost gain (share of the total)")
        ax.legend(fontsize="small")
        return save_figure(fig, folder, "feature_importance")


def _tables(report: HtmlReport, metrics: dict[str, Any]) -> None:
    methods = list(metrics["methods"])
    points = list(metrics["significance"])
    ml = [m for m in methods if m in metrics["auc"].get(points[0], {})] if points else []
    report.heading(
        f"Quick figure: Asimov significance Z [σ] per signal point (σ_b = {metrics['sigma_b']:g})"
    )
    report.paragraph(
        "± : the 1σ error of Z from the finite simulated sample (s from its event count, b "
        "from √Σw²); a difference between methods within these errors does not rank them."
    )
    report.table(
        ["point", *(METHOD_LABELS[m] for m in methods), "best ML / thesis", "best ML / optimised"],
        [
            [
                p,
                *(_z_cell(metrics, p, m) for m in methods),
                format_value(metrics["ratio_best_ml_vs_thesis_cuts"][p]),
                format_value(metrics["ratio_best_ml_vs_optimised_cuts"][p]),
            ]
            for p in points
        ],
    )
    if "significance_with_mc_stat" in metrics:
        report.heading("The same selections, MC statistical uncertainty of b added to σ_b")
        report.paragraph(
            "Tight selections keep few simulated background events; their b is then uncertain "
            "by √Σw², which this table adds in quadrature (background yields with counts "
            "are in the yields table)."
        )
        report.table(
            ["point", *(METHOD_LABELS[m] for m in methods)],
            [
                [
                    p,
                    *(
                        format_value(metrics["significance_with_mc_stat"][p].get(m))
                        for m in methods
                    ),
                ]
                for p in points
            ],
        )
    if ml:
        report.heading("AUC (weighted) and binned significance over the score")
        report.table(
            [
                "point",
                *(f"AUC {METHOD_LABELS[m]}" for m in ml),
                *(f"binned Z {METHOD_LABELS[m]}" for m in ml),
            ],
            [
                [
                    p,
                    *(_auc_cell(metrics, p, m) for m in ml),
                    *(format_value(metrics["binned_significance"][p][m]) for m in ml),
                ]
                for p in points
            ],
        )
        report.heading("Overtraining check: KS p-value, training vs evaluated scores")
        report.table(
            ["point", "method", "signal", "background"],
            [
                [
                    p,
                    METHOD_LABELS[m],
                    format_value(ks["signal"]["p_value"], 2),
                    format_value(ks["background"]["p_value"], 2),
                ]
                for p in points
                for m, ks in metrics["ks"][p].items()
            ],
        )
    report.heading("Yields at the luminosity (s, b) and simulated events")
    report.table(
        ["point", "selection", "s", "b", "MC signal", "MC background", "score threshold"],
        [
            [
                p,
                key.replace("_", " "),
                format_value(y["s"], 4),
                format_value(y["b"], 4),
                int(y["n_signal_events"]),
                int(y["n_background_events"]),
                format_value(y.get("threshold"), 4),
            ]
            for p in points
            for key, y in metrics["yields"][p].items()
        ],
    )
    report.heading("Cuts")
    report.table(
        ["point", "method", "cuts"],
        [
            [p, METHOD_LABELS[m], "; ".join(cuts) or "none"]
            for p in points
            for m, cuts in metrics["cuts"][p].items()
        ],
    )


def write_evaluation_files(evaluation: SearchEvaluation, folder: Path) -> Path:
    """Write ``metrics.json``, the figures and ``report.html`` into the existing ``folder``."""
    metrics = evaluation.metrics
    write_metrics_json(folder / "metrics.json", metrics)
    write_workspaces(evaluation, folder)
    report = HtmlReport("New-physics search: significance per signal point and method")
    report.paragraph(
        f"{metrics['events']['evaluated']} preselected events ({metrics['selection']}) of "
        f"{metrics['data']}; run {metrics['run']}; heplearn {__version__}. Cut values and score "
        "thresholds were chosen on the training and validation splits."
    )
    report.heading("Training warnings")
    for warning in metrics["warnings"] or ["none"]:
        report.paragraph(warning)
    likelihood_sections(report, metrics)
    _tables(report, metrics)
    figures: list[tuple[Path | None, str]] = [
        *limit_figures(metrics, folder),
        grid_figure(metrics, folder) or (None, ""),
        *stacked_figures(evaluation, folder),
        (_side_by_side(metrics, folder), "Z per signal point, every method"),
        (_importance(metrics, folder), "XGBoost feature importance"),
    ]
    for point, arrays in evaluation.scores.items():
        if arrays:
            figures += [
                (_roc(point, arrays, metrics, folder), f"{point}: ROC"),
                (_z_scan(point, arrays, metrics, folder), f"{point}: Z vs score threshold"),
                (_scores(point, arrays, metrics, folder), f"{point}: scores, train vs test"),
            ]
    report.heading("Figures")
    for png, caption in figures:
        if png is not None:
            report.figure(png, caption)
    report.heading("Configuration of the run")
    report.code(dump_config(evaluation.config))
    report.write(folder / "report.html")
    return folder


def write_search_evaluation(
    evaluation: SearchEvaluation, out: Path, *, overwrite: bool = False
) -> Path:
    """Write the evaluation folder ``out`` atomically (an existing one needs ``overwrite``)."""
    with atomic_output(Path(out), overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        write_evaluation_files(evaluation, tmp)
    return Path(out)
