"""Expected 95 % CLs limits on μ against the mass: one brazil-band figure per signal family.

For each family (Z′ at one invisible mass, ZH → invisible) with at least two points that
have limits: the median expected limit of every method against the mediator mass (m_H for
ZH), the ±1σ / ±2σ band of the method with the lowest limits, and μ = 1 (a point below it
is expected to be excluded).  Over the Z′ grid (mediator × invisible mass), one panel per
method: the median expected limit at each point (colour) and its μ = 1 contour.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.report.figures import figure, save_figure
from heplearn.search.method_labels import METHOD_LABELS

__all__ = ["grid_figure", "limit_figures"]


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
                ax.plot(x, y[:, 2], style, label=f"{METHOD_LABELS.get(method, method)} (expected)")
            ax.axhline(1.0, color="red", linewidth=1)
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("95 % CLs upper limit on μ")
            ax.legend(
                title=f"{title}\nband: {METHOD_LABELS.get(best, best)}",
                fontsize="x-small",
                title_fontsize="x-small",
            )
            stem = f"limits_{family}" + ("" if family == "zh_inv" else f"_minv{invisible:g}")
            out.append((save_figure(fig, folder, stem), f"Expected limits on μ: {title}"))
    return out


def grid_figure(metrics: dict[str, Any], folder: Path) -> tuple[Path, str] | None:
    """Expected μ95 over the Z′ (mediator, invisible mass) grid, a panel per method."""
    from matplotlib.colors import LogNorm

    names = [n for n, p in metrics["points"].items() if p["family"] == "zp_dm"]
    panels = []
    for method in metrics["methods"]:
        rows = [
            (metrics["points"][n]["mediator_mass"], metrics["points"][n]["invisible_mass"],
             metrics["likelihood"].get(n, {}).get(method, {}).get("limit_expected"))
            for n in names
        ]  # fmt: skip
        xyz = np.array([r for r in rows if r[2]], dtype=np.float64).reshape(-1, 3)
        if len(np.unique(xyz[:, 0])) >= 2 and len(np.unique(xyz[:, 1])) >= 2:
            panels.append((method, xyz))
    if not panels:
        return None
    values = np.concatenate([xyz[:, 2] for _, xyz in panels])
    norm = LogNorm(vmin=float(values.min()), vmax=max(float(values.max()), 1.01 * values.min()))
    n = len(panels)
    with figure(ncols=n, figsize=(6 * n, 6), squeeze=False) as (fig, axes):
        for ax, (method, xyz) in zip(axes[0], panels, strict=True):
            dots = ax.scatter(xyz[:, 0], xyz[:, 1], c=xyz[:, 2], norm=norm, s=120, cmap="viridis")
            if len(xyz) >= 3 and xyz[:, 2].min() < 1 < xyz[:, 2].max():
                ax.tricontour(xyz[:, 0], xyz[:, 1], np.log(xyz[:, 2]), levels=[0.0], colors="red")
            ax.margins(0.1)
            ax.set_title(f"{METHOD_LABELS.get(method, method)}: red = μ95 of 1", fontsize=11)
            ax.set_xlabel("$m_{Z'}$ [GeV]")
            ax.set_ylabel("$m_{inv}$ [GeV]")
        fig.colorbar(dots, ax=axes[0][-1], label="expected 95 % CLs limit on μ")
        path = save_figure(fig, folder, "limits_zp_grid")
    return path, "Expected limits on μ over the Z' grid, per method (red: μ95 = 1)"
