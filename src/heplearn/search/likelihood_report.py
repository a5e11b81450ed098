"""The likelihood sections of the search report and the workspaces of the evaluation folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from heplearn.search.channels import CHANNEL_LABELS
from heplearn.search.likelihood_eval import workspace_path
from heplearn.search.method_labels import METHOD_LABELS, format_value

if TYPE_CHECKING:
    from heplearn.report.html import HtmlReport
    from heplearn.search.evaluate import SearchEvaluation

__all__ = ["likelihood_sections", "settings_line", "write_workspaces"]


def write_workspaces(evaluation: SearchEvaluation, folder: Path) -> None:
    """Every selection's pyhf workspace as ``workspaces/<point>/<method>.json``."""
    for point, by_method in evaluation.workspaces.items():
        for method, workspace in by_method.items():
            path = folder / workspace_path(point, method)
            path.parent.mkdir(parents=True, exist_ok=True)
            workspace.write(path)


def _band(entry: dict[str, Any], inner: bool) -> str:
    band = entry.get("limit_expected_band") or []
    if len(band) != 5:
        return "–"
    low, high = (band[1], band[3]) if inner else (band[0], band[4])
    return f"{low:.3g} – {high:.3g}"


def settings_line(metrics: dict[str, Any]) -> str:
    """The uncertainties of the likelihood in words."""
    settings = metrics["likelihood_settings"]
    parts = ["MC statistics of every background bin (Σw²)"] if settings["mc_stat"] else []
    parts.append(f"{float(settings['normalisation']):.0%} normalisation of each background")
    if settings.get("per_sample"):
        parts.append("own normalisation for " + ", ".join(settings["per_sample"]))
    if settings["luminosity"] > 0:
        parts.append(f"{float(settings['luminosity']):.1%} luminosity")
    return "; ".join(parts)


def likelihood_sections(report: HtmlReport, metrics: dict[str, Any]) -> None:
    """Headline table (Z and limits), ranking, ee / μμ / combined table, low-statistics bins."""
    results = metrics.get("likelihood") or {}
    if not results:
        return
    report.heading("Profile likelihood (pyhf): expected significance and 95 % CLs limit on μ")
    report.paragraph(
        "Each selection is one bin per lepton-flavour channel (ee, μμ), fitted together in a "
        f"HistFactory model with {settings_line(metrics)}. Z: √q₀ on the Asimov dataset "
        "(μ = 1, nuisance parameters nominal); limit: the expected 95 % CLs upper limit on the "
        "signal strength μ with its ±1σ / ±2σ band (a point is expected to be excluded where "
        "it is below 1). The Asimov Z with a flat σ_b is the quick figure beside it. Each "
        "workspace is in workspaces/POINT/METHOD.json: pyhf refits it as it is."
    )
    data = bool(metrics.get("observed"))
    if data:
        report.paragraph(
            f"Observed: the counts of {metrics['observed']} after each selection are the "
            "data of the fit (its weights as they are)."
        )
    report.table(
        [
            "point", "method", "Z likelihood", "Z Asimov", "μ95 expected", "±1σ", "±2σ",
            *(["Z observed", "μ95 observed"] if data else []), "note",
        ],
        [
            [
                point,
                METHOD_LABELS.get(method, method),
                format_value(entry["z_expected"]),
                format_value(entry["channels"]["combined"]["z_asimov"]),
                format_value(entry["limit_expected"]),
                _band(entry, True),
                _band(entry, False),
                *(
                    [format_value(entry["z_observed"]), format_value(entry["limit_observed"])]
                    if data
                    else []
                ),
                entry.get("note") or "",
            ]
            for point, by_method in results.items()
            for method, entry in by_method.items()
        ],
    )  # fmt: skip
    report.paragraph(
        "Ranking by the likelihood Z: "
        + "; ".join(
            f"{point}: " + " > ".join(METHOD_LABELS.get(m, m) for m in order)
            for point, order in metrics.get("likelihood_ranking", {}).items()
        )
    )
    for warning in metrics.get("likelihood_warnings") or []:
        report.paragraph(f"Warning: {warning}")
    report.heading("Yields and significance per channel (as thesis tables 5.4 / 5.5)")
    report.table(
        ["point", "method", "channel", "s", "b ± MC", "MC signal", "MC bkg", "Z Asimov", "Z lik."],
        [
            [
                point,
                METHOD_LABELS.get(method, method),
                CHANNEL_LABELS[channel],
                format_value(row["s"], 4),
                f"{format_value(row['b'], 4)} ± {format_value(row['b_mc_error'], 2)}",
                int(row["n_signal_events"]),
                int(row["n_background_events"]),
                format_value(row["z_asimov"]),
                format_value(row["z_expected"]),
            ]
            for point, by_method in results.items()
            for method, entry in by_method.items()
            for channel, row in entry["channels"].items()
        ],
    )
    limit = metrics["likelihood_settings"]["min_effective_events"]
    report.heading(f"Background bins with fewer than {limit:g} effective simulated events")
    report.paragraph(
        "Effective events (Σw)²/Σw²: how many equal-weight events would give the same relative "
        "MC uncertainty. A bin below the limit rests on a few heavy events; its b is uncertain "
        "and the likelihood's MC-statistics term discounts it."
    )
    for line in metrics.get("low_statistics") or ["none"]:
        report.paragraph(line)
