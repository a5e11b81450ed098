"""Validation report of a calibration sample: is the simulated physics right?

From a calibration store it makes: ΔE/E = (E_acc − E_true)/E_true per particle
type and |η| region; the resolution versus energy with the fitted stochastic
and constant terms; the mean shower image per layer; the longitudinal profile
(mean layer fractions); the photon conversion fraction versus |η|; the effect of
pileup; and, for Z→ee, the generated and reconstructed e+e− mass.  Figures are
PNG + PDF; ``report.html`` embeds them with the numbers, config and versions.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.reader import open_store
from heplearn.detector.calorimeter.kinematics import cluster_pair_mass, pairs_of_events
from heplearn.detector.calorimeter.resolution import fit_resolution_with_noise, relative_width
from heplearn.report.figures import figure, save_figure
from heplearn.report.html import HtmlReport
from heplearn.report.metrics_json import write_metrics_json
from heplearn.stats.spread import eiqr

__all__ = ["validate_calib_sample"]

Array = np.ndarray[Any, Any]

REGIONS = {
    "|η|<0.8": (0.0, 0.8),
    "0.8–1.37": (0.8, 1.37),
    "crack 1.37–1.52": (1.37, 1.52),
    "1.52–2.47": (1.52, 2.47),
}
PARTICLES = {"e±": (11,), "γ": (22,)}
MIN_ENTRIES = 30


def _delta_plot(data: dict[str, Array], folder: Path) -> Path:
    delta = data["scalars/e_acc"] / data["truth/energy"] - 1.0
    abs_eta = np.abs(data["truth/eta"])
    bins = np.linspace(-0.5, 0.3, 81)
    with figure(ncols=2, figsize=(13, 5.5)) as (fig, axes):
        for ax, (name, ids) in zip(axes, PARTICLES.items(), strict=True):
            chosen = np.isin(np.abs(data["truth/pdgid"]), ids)
            for region, (low, high) in REGIONS.items():
                mask = chosen & (abs_eta >= low) & (abs_eta < high)
                if mask.sum() >= MIN_ENTRIES:
                    ax.hist(delta[mask], bins=bins, histtype="step", density=True, label=region)
            ax.set_xlabel(r"$(E_{acc}-E_{true})/E_{true}$")
            ax.set_ylabel("normalised entries")
            ax.set_title(name, loc="right")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=11)
        return save_figure(fig, folder, "delta_e_over_e")


def _resolution(
    data: dict[str, Array], folder: Path
) -> tuple[Path, dict[str, tuple[float, float, float]]]:
    energy = data["truth/energy"].astype(np.float64)
    response = data["scalars/e_acc"] / energy
    edges = np.geomspace(max(energy.min(), 1.0), energy.max() * 1.0001, 9)
    terms: dict[str, tuple[float, float, float]] = {}
    with figure(figsize=(7.5, 5.5)) as (fig, ax):
        for name, ids in PARTICLES.items():
            chosen = np.isin(np.abs(data["truth/pdgid"]), ids) & (np.abs(data["truth/eta"]) < 0.8)
            centres, widths = [], []
            for low, high in itertools.pairwise(edges):
                mask = chosen & (energy >= low) & (energy < high) & (response > 0)
                if mask.sum() >= MIN_ENTRIES:
                    centres.append(np.sqrt(low * high))
                    widths.append(relative_width(response[mask]))
            if len(centres) < 3:
                continue
            a, b, c = fit_resolution_with_noise(np.asarray(centres), np.asarray(widths))
            terms[name] = (a, b, c)
            grid = np.geomspace(min(centres), max(centres), 50)
            label = f"{name}: a={a:.3f} √GeV, b={b:.2f} GeV, c={c:.4f}"
            line = ax.plot(centres, widths, "o", label=label)
            model = np.sqrt(a**2 / grid + b**2 / grid**2 + c**2)
            ax.plot(grid, model, "-", color=line[0].get_color())
        ax.set_xscale("log")
        ax.set_xlabel(r"$E_{true}$ [GeV]")
        ax.set_title("fit: a/√E, b/E, c in quadrature", loc="right", fontsize=12)
        ax.set_ylabel(r"$\sigma_{IQR}(E_{acc}/E_{true})$, $|\eta|<0.8$")
        ax.legend(fontsize=11)
        return save_figure(fig, folder, "resolution_vs_energy"), terms


def _images(store_fields: list[str], data: dict[str, Array], folder: Path) -> Path:
    front_to_back = ["presampler", "strips", "middle", "back", "crystals"]
    layers = sorted(
        (name for name in store_fields if name.startswith("images/")),
        key=lambda name: front_to_back.index(name[7:]) if name[7:] in front_to_back else 99,
    )
    with figure(ncols=len(layers), figsize=(4.2 * len(layers), 4.5), squeeze=False) as (fig, axes):
        for ax, name in zip(axes[0], layers, strict=True):
            mean = data[name].mean(axis=0)
            shown = ax.imshow(mean.T, origin="lower", aspect="auto", cmap="viridis")
            fig.colorbar(shown, ax=ax, label="mean energy [GeV]")
            ax.set_title(name.removeprefix("images/"), loc="right")
            ax.set_xlabel(r"cell in $\eta$")
            ax.set_ylabel(r"cell in $\phi$")
        return save_figure(fig, folder, "mean_images")


def _longitudinal(data: dict[str, Array], layers: list[str], folder: Path) -> Path:
    energies = np.stack([data[f"scalars/e_{name}"] for name in layers], axis=1)
    fractions = energies / np.maximum(energies.sum(axis=1, keepdims=True), 1e-9)
    with figure(figsize=(7.5, 5.5)) as (fig, ax):
        for name, ids in PARTICLES.items():
            chosen = np.isin(np.abs(data["truth/pdgid"]), ids)
            if chosen.sum() >= MIN_ENTRIES:
                ax.plot(layers, fractions[chosen].mean(axis=0), "o-", label=name)
        ax.set_xlabel("layer (front to back)")
        ax.set_ylabel("mean fraction of the cluster energy")
        ax.legend()
        return save_figure(fig, folder, "longitudinal_profile")


def _conversions(data: dict[str, Array], folder: Path) -> Path:
    photons = data["truth/pdgid"] == 22
    edges = np.linspace(0.0, 2.5, 11)
    abs_eta = np.abs(data["truth/eta"])
    with figure(figsize=(7.5, 5.5)) as (fig, ax):
        index = np.digitize(abs_eta[photons], edges) - 1
        converted = data["truth/converted"][photons]
        fraction = [
            converted[index == b].mean() if (index == b).sum() else np.nan for b in range(10)
        ]
        ax.stairs(fraction, edges)
        ax.set_xlabel(r"$|\eta_{true}|$")
        ax.set_ylabel("photon conversion fraction")
        return save_figure(fig, folder, "conversion_fraction")


def _pileup(data: dict[str, Array], folder: Path) -> Path:
    difference = data["scalars/e_acc"] - data["truth/energy"]
    mu = data["event/mu"]
    with figure(figsize=(7.5, 5.5)) as (fig, ax):
        values = np.unique(np.round(mu, 0))
        if len(values) <= 4:
            groups = [(rf"$\langle\mu\rangle$ = {v:g}", np.round(mu, 0) == v) for v in values]
        else:
            edges = np.quantile(mu, [0.0, 0.33, 0.67, 1.0])
            groups = [
                (rf"$\langle\mu\rangle$ in [{lo:.0f}, {hi:.0f}]", (mu >= lo) & (mu <= hi))
                for lo, hi in itertools.pairwise(edges)
            ]
        for label, mask in groups:
            if mask.sum() >= MIN_ENTRIES:
                spread = eiqr(difference[mask])
                ax.hist(
                    difference[mask],
                    bins=np.linspace(-10, 10, 81),
                    histtype="step",
                    density=True,
                    label=f"{label}: " + r"$\sigma_{IQR}$" + f" = {spread:.2f} GeV",
                )
        ax.set_xlabel(r"$E_{acc}-E_{true}$ [GeV]")
        ax.set_ylabel("normalised entries")
        ax.legend(fontsize=10)
        return save_figure(fig, folder, "pileup")


def _pair_masses(data: dict[str, Array]) -> tuple[Array, Array]:
    """(generated Z/H mass, mass from E_acc and cluster directions) of 2-cluster events."""
    i, j = pairs_of_events(data["event/id"])
    mass = cluster_pair_mass(data["scalars/e_acc"], data["scalars/eta"], data["scalars/phi"], i, j)
    return data["truth/resonance_mass"][i], mass


def _mass_plot(data: dict[str, Array], folder: Path) -> tuple[Path, dict[str, float]]:
    truth, reco = _pair_masses(data)
    centre = float(np.median(truth))
    bins = np.linspace(centre - 25, centre + 25, 101)
    with figure(figsize=(7.5, 5.5)) as (fig, ax):
        ax.hist(truth, bins=bins, histtype="step", label="generated")
        ax.hist(reco, bins=bins, histtype="step", label=r"from $E_{acc}$ and cluster directions")
        ax.set_xlabel(r"$m$ [GeV]")
        ax.set_ylabel(f"pairs / {bins[1] - bins[0]:.1f} GeV")
        ax.legend(fontsize=11)
        counts, edges = np.histogram(reco, bins=bins)
        peak = 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])
        numbers = {
            "pairs": float(len(truth)),
            "generated median [GeV]": float(np.median(truth)),
            "reconstructed median [GeV]": float(np.median(reco)),
            "reconstructed mode [GeV]": float(peak),
            "reconstructed σ_IQR [GeV]": eiqr(reco),
        }
        return save_figure(fig, folder, "mass"), numbers


def validate_calib_sample(store_path: str | Path, out: str | Path) -> dict[str, Any]:
    """Write the validation figures and ``report.html`` for a calibration store into ``out``."""
    store = open_store(
        store_path,
        required=dict.fromkeys(
            ("truth/energy", "truth/eta", "truth/pdgid", "scalars/e_acc", "event/mu", "event/id")
        ),
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    data = store.read()
    fields = list(store.schema)
    layers = [name.removeprefix("images/") for name in fields if name.startswith("images/")]
    report = HtmlReport(f"Validation of {store.path.name}")
    report.paragraph(f"{store.rows} candidates from {len(np.unique(data['event/id']))} events.")
    numbers: dict[str, Any] = {"rows": store.rows}
    figures = [(_delta_plot(data, folder), "ΔE/E per particle type and |η| region")]
    png, terms = _resolution(data, folder)
    figures.append((png, "resolution vs energy, fit a/√E ⊕ c (|η| < 0.8)"))
    numbers["resolution_terms"] = {
        k: {"stochastic": a, "noise_gev": b, "constant": c} for k, (a, b, c) in terms.items()
    }
    figures.append((_images(fields, data, folder), "mean cell window per layer"))
    figures.append((_longitudinal(data, layers, folder), "longitudinal profile"))
    if (data["truth/pdgid"] == 22).sum() >= MIN_ENTRIES:
        figures.append((_conversions(data, folder), "photon conversion fraction vs |η|"))
    figures.append((_pileup(data, folder), "E_acc − E_true for different pileup"))
    if "truth/resonance_mass" in data and np.any(data["truth/resonance_mass"] > 0):
        png, masses = _mass_plot(data, folder)
        figures.append((png, "generated and reconstructed pair mass"))
        numbers["mass"] = masses
    report.heading("Fitted resolution terms σ/E = a/√E ⊕ b/E ⊕ c (|η| < 0.8)")
    report.table(
        ["particle", "a [√GeV]", "b [GeV]", "c"],
        [(k, f"{a:.4f}", f"{b:.3f}", f"{c:.4f}") for k, (a, b, c) in terms.items()],
    )
    if "mass" in numbers:
        report.heading("Pair mass")
        report.table(["quantity", "value"], [(k, f"{v:.3f}") for k, v in numbers["mass"].items()])
    report.heading("Figures")
    for png, caption in figures:
        report.figure(png, caption)
    report.heading("Provenance")
    report.code(json.dumps(store.provenance, indent=2, sort_keys=True))
    report.write(folder / "report.html")
    write_metrics_json(folder / "numbers.json", numbers, overwrite=True)  # strict: NaN → null
    return numbers
