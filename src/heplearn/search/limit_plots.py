"""Expected 95 % CLs limits on μ against the mass: one brazil-band figure per signal family.

For each family (Z′ at one invisible mass, ZH → invisible) with at least two points that
have limits: the median expected limit of every method against the mediator mass (m_H for
ZH), the ±1σ / ±2σ band of the method with the lowest limits, and μ = 1 (a point below it
is expected to be excluded).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.report.figures import figure, save_figure

__all__ = ["limit_figures"]

_LABELS = {
    "thesis_cuts": "thesis cuts",
    "optimised_cuts": "optimised cuts",
    "xgboost": "XGBoost",
    "nn": "NN",
    "parameterised_nn": "parameterised NN",
    "ensemble": "ensemble",
}


def _families(metrics: dict[str, Any]) -> dict[tuple[str, float], list[str]]:
    """(family, invisible mass) → its points with limits, ordered by mediator mass."""
    groups: dict[tuple[str, float], list[str]] = defaultdict(list)
    for name, point in metrics["points"].items():
        entries = metrics["likelihood"].get(name, {})
        if any(e.get("limit_expected") for e in entries.values()):
            invisible = float(point["invisible_mass"]) if point["family"] != "zh_inv" else 0.0
            groups[(str(point["family"]), invisible)].append(name)
    return {
        key: sorted(names, key=lambda n: float(metrics["points"][n]["mediator_mass"]))
        for key, names in groups.items()
        if len(names) >= 2
    }


def _series(metrics: dict[str, Any], names: list[str], method: str) -> tuple[Any, Any]:
    masses, bands = [], []
    for name in names:
        band = metrics["likelihood"][name].get(method, {}).get("limit_expected_band") or []
        if len(band) == 5:
            masses.append(float(metrics["points"][name]["mediator_mass"]))
            bands.append(band)
    return np.asarray(masses), np.asarray(bands).reshape(-1, 5)


def _title(family: str, invisible: float) -> tuple[str, str]:
    if family == "zh_inv":
        return "ZH, H → invisible", "$m_H$ [GeV]"
    return f"Z' → ℓℓ + invisible, $m_{{inv}}$ = {invisible:g} GeV", "$m_{{Z'}}$ [GeV]"


def limit_figures(metrics: dict[str, Any], folder: Path) -> list[tuple[Path, str]]:
    """The brazil-band figures (PNG paths and captions) of every family with ≥ 2 points."""
    out = []
    for (family, invisible), names in _families(metrics).items():
        methods = [m for m in metrics["methods"] if len(_series(metrics, names, m)[0]) >= 2]
        if not methods:
            continue
        best = min(
            methods, key=lambda m: float(np.mean(np.log(_series(metrics, names, m)[1][:, 2])))
        )
        title, xlabel = _title(family, invisible)
        with figure() as (fig, ax):
            masses, bands = _series(metrics, names, best)
            ax.fill_between(masses, bands[:, 0], bands[:, 4], color="#ffcc00", label="±2σ")
            ax.fill_between(masses, bands[:, 1], bands[:, 3], color="#00cc00", label="±1σ")
            for method in methods:
                x, y = _series(metrics, names, method)
                style = "k--" if method == best else "-o"
                ax.plot(x, y[:, 2], style, label=f"{_LABELS.get(method, method)} (expected)")
            ax.axhline(1.0, color="red", linewidth=1)
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("95 % CLs upper limit on μ")
            ax.legend(
                title=f"{title}\nband: {_LABELS.get(best, best)}",
                fontsize="x-small",
                title_fontsize="x-small",
            )
            stem = f"limits_{family}" + ("" if family == "zh_inv" else f"_minv{invisible:g}")
            out.append((save_figure(fig, folder, stem), f"Expected limits on μ: {title}"))
    return out
