"""The output folder of ``calib compare``: metrics, transforms, weights, figures and report.

Figures are drawn on the measuring third, MC mapped by the transforms fitted on
the first third, so an agreement in the plots is not a memorised one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.compare import FILES, TRANSFORMS, Comparison
from heplearn.calib.quantile_mapping import is_discrete as _is_discrete
from heplearn.data.atomic import atomic_output
from heplearn.report.html import HtmlReport
from heplearn.report.metrics_json import json_safe

__all__ = ["LABELS", "write_comparison"]

Array = np.ndarray[Any, Any]

LABELS = {
    "before": "MC",
    "quantile_1d": "MC, 1-D quantile map",
    "quantile_conditional": "MC, conditional quantile map",
    "reweighted": "MC, reweighted by the odds",
}
BINS = 40


def _edges(values: Array, discrete: bool) -> Array:
    if discrete:
        lo, hi = np.floor(values.min()), np.ceil(values.max())
        if hi - lo <= BINS:
            return np.arange(lo - 0.5, hi + 1.5)
    lo, hi = np.quantile(values, [0.005, 0.995])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, BINS + 1)


def _density(values: Array, edges: Array, weights: Array | None) -> tuple[Array, Array]:
    w = np.ones(len(values)) if weights is None else weights
    inside = (values >= edges[0]) & (values <= edges[-1])
    counts, _ = np.histogram(values[inside], edges, weights=w[inside])
    squares, _ = np.histogram(values[inside], edges, weights=w[inside] ** 2)
    norm = max(w.sum(), 1e-12) * np.diff(edges)
    return counts / norm, np.sqrt(squares) / norm


def _plot_variable(comparison: Comparison, k: int, folder: Path) -> Path:
    from heplearn.report.figures import figure, save_figure

    name = comparison.mc.names[k]
    mc_rows, data_rows = comparison.test
    data = comparison.data.x[data_rows, k]
    discrete = _is_discrete(comparison.mc.x[:, k], comparison.data.x[:, k])
    edges = _edges(data, discrete)
    centres = 0.5 * (edges[1:] + edges[:-1])
    curves: dict[str, tuple[Array, Array | None]] = {
        "before": (comparison.mc.x[mc_rows, k], None),
        **{kind: (comparison.mapped_test[kind][:, k], None) for kind in TRANSFORMS},
    }
    if comparison.weights_test is not None:
        curves["reweighted"] = (comparison.mc.x[mc_rows, k], comparison.weights_test)
    d_density, d_error = _density(data, edges, None)
    grid = {"height_ratios": [3, 1]}
    with figure(nrows=2, sharex=True, figsize=(7, 6.5), gridspec_kw=grid) as (fig, axes):
        top, ratio = axes
        top.errorbar(centres, d_density, yerr=d_error, fmt="o", ms=3, color="k", label="data")
        for kind, (values, weights) in curves.items():
            density, _ = _density(values, edges, weights)
            auc = comparison.metrics["results"][kind]["single_variable_auc"][name]
            top.stairs(density, edges, label=f"{LABELS[kind]} (1-D AUC {auc:.3f})")
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio.stairs(np.where(d_density > 0, density / d_density, np.nan), edges)
        top.set_ylabel("clusters (normalised)")
        top.set_ylim(0, 1.45 * max(float(d_density.max()), 1e-12))
        top.legend(fontsize=8, loc="upper right")
        top.set_title(f"scalars/{name} (measuring third)", fontsize=11)
        ratio.axhline(1.0, color="grey", lw=1)
        ratio.set_ylim(0.5, 1.5)
        ratio.set_ylabel("MC / data", fontsize=10)
        ratio.set_xlabel(name)
        return save_figure(fig, folder, f"input_{name}")


def _plot_aucs(comparison: Comparison, folder: Path) -> Path:
    from heplearn.report.figures import figure, save_figure

    names = comparison.mc.names
    results = comparison.metrics["results"]
    x = np.arange(len(names))
    width = 0.8 / len(results)
    with figure(figsize=(9, 5)) as (fig, ax):
        for i, (kind, result) in enumerate(results.items()):
            values = [result["single_variable_auc"][n] for n in names]
            ax.bar(x + (i - (len(results) - 1) / 2) * width, values, width, label=LABELS[kind])
        ax.axhline(0.5, color="grey", lw=1)
        ax.set_xticks(x, names, rotation=60, ha="right", fontsize=9)
        ax.set_ylabel("one-variable AUC, MC vs data")
        ax.set_ylim(0.45, max(0.7, 1.1 * max(r["auc"] for r in results.values())))
        ax.legend(fontsize=8)
        return save_figure(fig, folder, "single_variable_auc", label="MC vs data")


def _report(comparison: Comparison, folder: Path, figures: list[Path]) -> None:
    m = comparison.metrics
    report = HtmlReport("heplearn calib compare: MC vs data inputs")
    report.paragraph(
        f"MC {m['mc']} ({m['n_mc']} clusters) against data {m['data']} ({m['n_data']} clusters); "
        f"{len(m['variables'])} scalars. {m['parts']['note']}."
    )
    report.heading("Classifier AUC (0.5: indistinguishable)")
    rows = [
        [
            LABELS[kind],
            f"{r['auc']:.4f} ± {r['auc_err']:.4f}",
            f"{r['auc_err_hanley_mcneil']:.4f}",
        ]
        for kind, r in m["results"].items()
    ]
    report.table(["sample", "AUC ± bootstrap", "Hanley–McNeil error"], rows)
    report.heading("Per variable")
    names = m["variables"]
    kinds = list(m["results"])
    header = ["variable", "gain share (before)"] + [f"1-D AUC: {LABELS[k]}" for k in kinds]
    before = m["results"]["before"]
    table = [
        [n, f"{before['gain_importance'][n]:.3f}"]
        + [f"{m['results'][k]['single_variable_auc'][n]:.3f}" for k in kinds]
        for n in names
    ]
    report.table(header, table)
    report.paragraph(
        "Transforms: "
        + ", ".join(f"{FILES[k]} ({k})" for k in TRANSFORMS)
        + "; use one as features.mc_to_data in a calib-train config."
        + (" Weights: mc_weights.csv (row, event_id, weight)." if "weights_file" in m else "")
    )
    for png in figures:
        report.figure(png, png.stem.replace("_", " "))
    report.write(folder / "report.html")


def write_comparison(comparison: Comparison, out: Path, *, overwrite: bool = False) -> Path:
    """metrics.json, the transforms, the weights, the figures and report.html in ``out``."""
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir()
        for kind, transform in comparison.transforms.items():
            transform.save(tmp / FILES[kind])
        if comparison.weights is not None:
            (tmp / "mc_weights.csv").write_text(comparison.weights_csv())
        text = json.dumps(json_safe(comparison.metrics), indent=2, allow_nan=False)
        (tmp / "metrics.json").write_text(text + "\n")
        figures = [_plot_aucs(comparison, tmp)]
        figures += [_plot_variable(comparison, k, tmp) for k in range(len(comparison.mc.names))]
        _report(comparison, tmp, figures)
    return out
