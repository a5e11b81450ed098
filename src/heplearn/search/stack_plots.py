"""Luminosity-scaled stacked histograms: backgrounds by process, the signal overlaid.

Per signal point, one figure with m_T and every classifier's score on the evaluated events:
each background sample stacked (events at the luminosity, its MC weights as they are,
negative bins drawn at 0), the signal point as a line, and the MC statistical uncertainty
√Σw² of the total background as a hatched band (the thesis' scaled validation plots,
Figs 5.3b / 5.7).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.report.figures import figure, save_figure
from heplearn.search.signal_points import point_events

if TYPE_CHECKING:
    from heplearn.search.evaluate import SearchEvaluation
    from heplearn.search.observables import EventTable

__all__ = ["stacked_figures"]

Array = np.ndarray[Any, Any]

_LABELS = {"xgboost": "XGBoost", "nn": "NN", "parameterised_nn": "parameterised NN"}


def _panel(ax: Any, events: EventTable, values: Array, bins: Array, xlabel: str) -> None:
    import mplhep

    signal = events.is_signal == 1
    names = events.sample_names
    stacks, labels = [], []
    total = np.zeros(len(bins) - 1)
    sumw2 = np.zeros(len(bins) - 1)
    for index in np.unique(events.sample[~signal]):
        mine = ~signal & (events.sample == index)
        counts, _ = np.histogram(values[mine], bins=bins, weights=events.weight[mine])
        squares, _ = np.histogram(values[mine], bins=bins, weights=events.weight[mine] ** 2)
        stacks.append(np.clip(counts, 0.0, None))
        labels.append(names[int(index)] if index < len(names) else f"sample {int(index)}")
        total += counts
        sumw2 += squares
    order = np.argsort([s.sum() for s in stacks])  # the largest background on top
    if stacks:
        mplhep.histplot(
            [stacks[i] for i in order], bins, stack=True, histtype="fill",
            label=[labels[i] for i in order], ax=ax,
        )  # fmt: skip
        error = np.sqrt(sumw2)
        low = np.clip(total - error, 1e-3, None)
        ax.stairs(total + error, bins, baseline=low, fill=False, hatch="///", linewidth=0,
                  color="grey", label="MC stat.")  # fmt: skip
    counts, _ = np.histogram(values[signal], bins=bins, weights=events.weight[signal])
    mplhep.histplot(np.clip(counts, 0.0, None), bins, histtype="step", color="red",
                    linewidth=2, label="signal", ax=ax)  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(1e-2, 0.5 * float(np.min(counts[counts > 0], initial=1.0))))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Events / bin")
    ax.legend(fontsize="xx-small", ncol=2)


def stacked_figures(evaluation: SearchEvaluation, folder: Path) -> list[tuple[Path, str]]:
    """One figure per signal point: m_T and the classifiers' scores, stacked by process."""
    out: list[tuple[Path, str]] = []
    if evaluation.table is None:
        return out
    for point in evaluation.metrics["points"]:
        events = point_events(evaluation.table, point)
        methods = list(evaluation.scores.get(point, {}))
        n = 1 + len(methods)
        with figure(ncols=n, figsize=(6 * n, 6), squeeze=False) as (fig, axes):
            mt = events.column("mt").astype(np.float64)
            top = max(float(np.quantile(mt, 0.999)) if len(mt) else 1.0, 100.0)
            _panel(axes[0][0], events, mt, np.linspace(0.0, top, 26), "$m_T$ [GeV]")
            axes[0][0].set_title(point, fontsize=12)
            for ax, method in zip(axes[0][1:], methods, strict=True):
                scores = evaluation.scores[point][method].scores
                _panel(
                    ax,
                    events,
                    scores,
                    np.linspace(0.0, 1.0, 21),
                    f"{_LABELS.get(method, method)} score",
                )
            out.append(
                (
                    save_figure(fig, folder, f"stacked_{point}"),
                    f"{point}: stacked, scaled to the luminosity",
                )
            )
    return out
