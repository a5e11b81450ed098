"""The DQM evaluation folder: ``metrics.json``, PNG/PDF figures and ``report.html``.

With several runs the first is the primary one (its metrics are the top-level
keys of ``metrics.json``); every run is listed under ``models`` and compared in
one table on the same held-out maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from heplearn import __version__
from heplearn.data.atomic import atomic_output
from heplearn.dqm.evaluate import HeldOut, ModelEvaluation
from heplearn.dqm.labels import CLASS_NAMES
from heplearn.dqm.metrics import rate_label, with_interval
from heplearn.report.figures import figure, save_figure
from heplearn.report.html import HtmlReport
from heplearn.report.learning_curve import plot_learning_curve
from heplearn.report.metrics_json import write_metrics_json
from heplearn.stats import roc_curve

__all__ = ["write_dqm_evaluation"]

Array = np.ndarray[Any, Any]


def _roc(ev: ModelEvaluation, held_out: HeldOut, folder: Path) -> Path:
    map_class = held_out.maps.map_class
    assert map_class is not None
    with figure() as (fig, ax):
        for klass in np.unique(map_class[map_class > 0]):
            chosen = (map_class == 0) | (map_class == klass)
            curve = roc_curve(ev.scores[chosen], map_class[chosen] == klass)
            ax.plot(
                curve.false_positive_rate,
                curve.true_positive_rate,
                label=f"{CLASS_NAMES[int(klass)]} (AUC {curve.auc:.3f})",
            )
        ax.set_xscale("log")
        ax.set_xlim(1e-3, 1)
        ax.set_xlabel("False-alarm rate (good maps flagged)")
        ax.set_ylabel("Detection efficiency")
        ax.legend(title=ev.name, fontsize="small")
        return save_figure(fig, folder, f"roc_{ev.name}")


def _score_histograms(ev: ModelEvaluation, held_out: HeldOut, folder: Path) -> Path:
    map_class = held_out.maps.map_class
    assert map_class is not None
    positive = ev.scores[ev.scores > 0]
    low = float(positive.min()) if positive.size else 1e-6
    bins = np.geomspace(low, max(float(ev.scores.max()), low * 10), 50)
    with figure() as (fig, ax):
        for klass in np.unique(map_class):
            ax.hist(
                np.clip(ev.scores[map_class == klass], low, None),
                bins=bins,
                histtype="step",
                density=True,
                label=CLASS_NAMES[int(klass)],
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"Map anomaly score ({ev.name})")
        ax.set_ylabel("Maps (normalised)")
        ax.legend(fontsize="small")
        return save_figure(fig, folder, f"scores_{ev.name}")


def _confusion(ev: ModelEvaluation, folder: Path) -> Path:
    matrix = np.asarray(ev.metrics["confusion_matrix"], dtype=float)
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    with figure() as (fig, ax):
        ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
        for (i, j), count in np.ndenumerate(matrix):
            if matrix[i].sum():
                ax.text(j, i, f"{int(count)}", ha="center", va="center", fontsize=10)
        ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45)
        ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
        ax.set_xlabel("Predicted")
        ax.set_ylabel("True")
        return save_figure(fig, folder, f"confusion_{ev.name}")


def _channel_maps(ev: ModelEvaluation, folder: Path) -> Path:
    examples = ev.channel_scores_example
    with figure(nrows=2, ncols=len(examples), figsize=(4 * len(examples), 7)) as (fig, grid):
        axes = np.asarray(grid).reshape(2, len(examples))
        for column, (name, (counts, scores)) in enumerate(examples.items()):
            depth = int(np.argmax(scores.reshape(-1, scores.shape[-1]).max(axis=0)))
            top = axes[0, column].imshow(counts[..., depth], aspect="auto", origin="lower")
            fig.colorbar(top, ax=axes[0, column], label="Hits")
            bottom = axes[1, column].imshow(scores[..., depth], aspect="auto", origin="lower")
            fig.colorbar(bottom, ax=axes[1, column], label="Channel score")
            axes[0, column].set_title(f"{name} map, depth {depth + 1}", fontsize=11)
            for ax in axes[:, column]:
                ax.set_xlabel("Column (iphi)")
                ax.set_ylabel("Row (ieta)")
        return save_figure(fig, folder, f"channels_{ev.name}")


def _fault(table: dict[str, Any], fault: str) -> str:
    """Efficiency of one fault in one rate's table, with its interval ("–" when absent)."""
    value = table["efficiency"].get(fault)
    return "–" if value is None else with_interval(value, table["interval"][fault])


def _comparison_rows(evaluations: Sequence[ModelEvaluation]) -> list[list[str]]:
    rows = []
    for ev in evaluations:
        m = ev.metrics
        table = next(iter(m["efficiency_at_false_alarm"].values()))  # the largest rate
        worst = min(table["efficiency"], key=table["efficiency"].__getitem__, default=None)
        rows.append(
            [
                ev.name,
                m["model"],
                with_interval(m["accuracy"], m.get("accuracy_interval")),
                rate_label(table["rate"]),
                _fault(table, "dead_1x1"),
                _fault(table, "hot_1x1"),
                "–" if worst is None else f"{_fault(table, worst)} ({worst})",
                with_interval(table["false_alarm"], table["false_alarm_interval"]),
                f"{min(m['auc'].values(), default=float('nan')):.4f}",
                f"{m['localisation']['recall']:.3f}",
                f"{m['localisation']['precision']:.3f}",
            ]
        )
    return rows


def _efficiency_rows(ev: ModelEvaluation) -> tuple[list[str], list[list[str]]]:
    tables = list(ev.metrics["efficiency_at_false_alarm"].values())
    faults = sorted({fault for table in tables for fault in table["efficiency"]})
    aucs = ev.metrics["auc_by_fault"]
    header = [
        "fault",
        "maps",
        *(f"efficiency @{rate_label(t['rate'])} false alarm" for t in tables),
        "AUC vs good",
    ]
    rows = [
        [
            fault,
            str(tables[0]["maps"].get(fault, 0)),
            *(_fault(t, fault) for t in tables),
            f"{aucs[fault]:.4f}",
        ]
        for fault in faults
    ]
    return header, rows


def write_dqm_evaluation(
    evaluations: Sequence[ModelEvaluation],
    held_out: HeldOut,
    data: Path,
    out: Path,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the evaluation of every run on the same held-out maps into ``out`` (atomically)."""
    primary = evaluations[0]
    metrics: dict[str, Any] = {
        **primary.metrics,
        "data": str(data),
        "models": {ev.name: ev.metrics for ev in evaluations},
    }
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        write_metrics_json(tmp / "metrics.json", metrics)
        report = HtmlReport("Data-quality monitoring: evaluation")
        report.paragraph(
            f"{len(held_out.maps)} maps ({held_out.selection}) of {data}, shape "
            f"{held_out.maps.shape}; heplearn {__version__}. Thresholds at each false-alarm "
            "rate were set on the good validation maps of each run; N of them resolve no rate "
            "below 1/N, so a smaller requested rate is quoted at 1/N. Brackets: 1σ "
            "Clopper–Pearson intervals of each fraction."
        )
        for ev in evaluations:
            for note in ev.metrics.get("notes", []):
                report.paragraph(f"Note ({ev.name}): {note}.")
        report.heading("All models on the same held-out maps")
        report.table(
            [
                "run",
                "model",
                "accuracy",
                "false-alarm rate set",
                "dead 1×1 eff.",
                "hot 1×1 eff.",
                "worst fault eff.",
                "realised false alarm (test)",
                "worst class AUC",
                "localisation recall",
                "localisation precision",
            ],
            _comparison_rows(evaluations),
        )
        for ev in evaluations:
            report.heading(f"{ev.name} ({ev.metrics['model']})")
            report.table(*_efficiency_rows(ev))
            local = ev.metrics["localisation"]
            report.table(
                ["fault", "channels flagged (recall)", "flags truly faulty (precision)"],
                [
                    [k, f"{v['recall']:.3f}", f"{v['precision']:.3f}"]
                    for k, v in {**local["by_shape"], **local["by_fault"]}.items()
                ],
            )
            figures = [
                (_roc(ev, held_out, tmp), "ROC per fault class"),
                (_score_histograms(ev, held_out, tmp), "map scores per class"),
                (_confusion(ev, tmp), "confusion matrix"),
                (_channel_maps(ev, tmp), "one map per class and its channel scores"),
                (plot_learning_curve(ev.history, tmp, f"learning_curve_{ev.name}"), "learning"),
            ]
            for png, caption in figures:
                if png is not None:
                    report.figure(png, f"{ev.name}: {caption}")
        report.write(tmp / "report.html")
    return out
