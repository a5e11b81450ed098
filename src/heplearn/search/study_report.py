"""The comparison of a ``search study``: ``comparison.json``, figures and ``report.html``.

Per variant, signal point and method, from the variant's test-split evaluation
(``runs/<variant>/metrics.json``): the weighted AUC (classifiers), the Asimov Z at the
chosen selection, and the profile-likelihood expected Z and 95 % CLs limit on μ (when the
config computes limits).  The figure shows the AUC and the likelihood Z of every classifier
against the variant, one marker per signal point; the tables carry every number, and the
training warnings of each variant (the raw-MC-weight collapse) are listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heplearn import __version__
from heplearn.data.saved_json import read_saved_json
from heplearn.report.figures import figure, save_figure
from heplearn.report.html import HtmlReport
from heplearn.report.metrics_json import write_metrics_json
from heplearn.search.study_variants import Variant
from heplearn.search.train_config import ML_METHODS

__all__ = ["COMPARISON", "comparison_metrics", "write_study_report"]

COMPARISON = "comparison.json"
#: Numbers compared per variant, point and method.
QUANTITIES = ("auc", "z_asimov", "z_likelihood", "limit_expected")


def _entry(metrics: Mapping[str, Any], point: str, method: str) -> dict[str, Any]:
    fitted = metrics.get("likelihood", {}).get(point, {}).get(method) or {}
    return {
        "auc": metrics["auc"].get(point, {}).get(method),
        "z_asimov": metrics["significance"][point].get(method),
        "z_likelihood": fitted.get("z_expected"),
        "limit_expected": fitted.get("limit_expected"),
    }


def comparison_metrics(
    variants: list[Variant],
    runs: Path,
    *,
    vary: list[tuple[str, list[Any]]],
    data: Path,
    seconds: Mapping[str, float | None],
) -> dict[str, Any]:
    """What ``comparison.json`` holds, read from the variants' ``metrics.json``."""
    results: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    points: list[str] = []
    methods: list[str] = []
    for variant in variants:
        metrics = read_saved_json(runs / variant.name / "metrics.json", "search evaluation")
        for point in metrics["significance"]:
            points += [] if point in points else [point]
        for method in metrics["methods"]:
            methods += [] if method in methods else [method]
        results[variant.name] = {
            point: {m: _entry(metrics, point, m) for m in metrics["methods"]}
            for point in metrics["significance"]
        }
        entries.append(
            {
                "name": variant.name,
                "settings": variant.settings,
                "folder": f"runs/{variant.name}",
                "seconds": seconds.get(variant.name),
                "warnings": metrics["warnings"],
                "events_evaluated": metrics["events"]["evaluated"],
            }
        )
    return {
        "heplearn": __version__,
        "data": str(data.resolve()),
        "vary": dict(vary),
        "variants": entries,
        "points": points,
        "methods": methods,
        "quantities": list(QUANTITIES),
        "results": results,
    }


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{float(value):.3g}"


def _figure(comparison: dict[str, Any], folder: Path) -> Path | None:
    classifiers = [m for m in comparison["methods"] if m in ML_METHODS]
    if not classifiers:
        return None
    names = [v["name"] for v in comparison["variants"]]
    x = np.arange(len(names))
    with figure(ncols=2, figsize=(12, 5)) as (fig, axes):
        for ax, quantity, label in (
            (axes[0], "auc", "AUC (test split)"),
            (axes[1], "z_likelihood", "likelihood expected Z"),
        ):
            for k, method in enumerate(classifiers):
                offset = (k - (len(classifiers) - 1) / 2) * 0.12
                for j, point in enumerate(comparison["points"]):
                    values = [
                        comparison["results"][n].get(point, {}).get(method, {}).get(quantity)
                        for n in names
                    ]
                    y = np.array([np.nan if v is None else v for v in values], float)
                    ax.plot(
                        x + offset + 0.03 * j,  # points side by side, not on top of each other
                        y,
                        "os^Dv<>"[j % 7],
                        color=f"C{k}",
                        label=method if j == 0 else None,
                    )
            for j, point in enumerate(comparison["points"]):  # marker shape → signal point
                ax.plot([], [], "os^Dv<>"[j % 7], color="grey", label=point)
            ax.set_xticks(x, names, rotation=20, ha="right", fontsize=9)
            ax.set_ylabel(label)
            ax.legend(fontsize=9)
        axes[0].axhline(0.5, color="grey", lw=1, ls="--")
        return save_figure(fig, folder, "study")


def _report(comparison: dict[str, Any], folder: Path) -> None:
    report = HtmlReport("Search study: one run per varied setting, same split")
    varied = "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in comparison["vary"].items())
    report.paragraph(
        f"Varied: {varied}. Store {comparison['data']}; every number on the test split of each "
        f"variant's run (runs/<variant>); heplearn {comparison['heplearn']}."
    )
    header = ["variant", "signal point", "method", "AUC", "Asimov Z", "likelihood Z", "μ95 exp."]
    rows = []
    for variant in comparison["variants"]:
        for point, by_method in comparison["results"][variant["name"]].items():
            for method, entry in by_method.items():
                rows.append([variant["name"], point, method, *(_fmt(entry[q]) for q in QUANTITIES)])
    report.heading("AUC, Z and expected limits per variant, signal point and method")
    report.table(header, rows)
    report.heading("Training warnings")
    for variant in comparison["variants"]:
        for warning in variant["warnings"] or ["none"]:
            report.paragraph(f"{variant['name']}: {warning}")
    png = _figure(comparison, folder)
    if png is not None:
        report.heading("Figures")
        report.figure(png, "AUC and likelihood Z per variant; one marker shape per signal point")
    report.heading("Run time")
    report.table(
        ["variant", "seconds"],
        [
            [v["name"], "finished before" if v["seconds"] is None else f"{v['seconds']:.1f}"]
            for v in comparison["variants"]
        ],
    )
    report.write(folder / "report.html")


def write_study_report(
    variants: list[Variant],
    runs: Path,
    folder: Path,
    *,
    vary: list[tuple[str, list[Any]]],
    data: Path,
    seconds: Mapping[str, float | None],
) -> dict[str, Any]:
    """Write ``comparison.json``, the figure and ``report.html`` into ``folder``; the comparison."""
    comparison = comparison_metrics(variants, runs, vary=vary, data=data, seconds=seconds)
    write_metrics_json(folder / COMPARISON, comparison, overwrite=True)
    _report(comparison, folder)
    return comparison
