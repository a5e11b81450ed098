"""``heplearn calib compare``: MC-vs-data classifier, quantile maps and odds weights."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from heplearn.data.atomic import check_output
from heplearn.errors import ConfigError

__all__ = ["compare_command"]


def _numbers(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError as err:
        raise ConfigError(
            f"edges '{text}'",
            f"option {option}",
            "they are not comma-separated numbers",
            f"give e.g. {option} 30,45",
        ) from err
    if any(b <= a for a, b in itertools.pairwise(values)) or min(values) < 0:
        raise ConfigError(
            f"edges '{text}'",
            f"option {option}",
            "they must be increasing and ≥ 0",
            f"give e.g. {option} 30,45",
        )
    return values


def compare_command(
    mc: Path = typer.Option(..., "--mc", help="MC store (simulation)."),
    data: Path = typer.Option(..., "--data", "-d", help="Data store (no truth needed)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write."),
    variables: str | None = typer.Option(
        None, "--variables", help="Comma-separated scalars (default: the DeepCalo scalars)."
    ),
    reweight: bool = typer.Option(False, "--reweight", help="Also weight MC by the odds p/(1−p)."),
    max_weight: float = typer.Option(10.0, "--max-weight", help="Odds clipped to [1/w, w]."),
    pt_edges: str | None = typer.Option(
        None, "--pt-edges", help="Inner p_T edges [GeV] of the conditional map (default: terciles)."
    ),
    eta_edges: str = typer.Option("0.8,1.5", "--eta-edges", help="Inner |η| edges."),
    min_bin: int = typer.Option(100, "--min-bin", help="Clusters for a (p_T, |η|) bin's own map."),
    n_boot: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples of each AUC."),
    seed: int = typer.Option(0, "--seed", help="Seed of the halves and the classifier."),
    as_json: bool = typer.Option(False, "--json", help="Print the AUCs as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
) -> None:
    """Tell MC from data on the scalar inputs, and equalise MC to data.

    Writes metrics.json (classifier AUC ± bootstrap before and after each
    transform, per-variable contributions), mc_to_data_1d.json and
    mc_to_data_conditional.json (for features.mc_to_data), mc_weights.csv with
    --reweight, input plots with ratio panels and report.html.

    Examples:

      heplearn calib compare --mc mc --data data --out compare

      heplearn calib compare --mc mc --data data --out compare --reweight --max-weight 20
    """
    from heplearn.calib.compare import CompareSettings, compare_stores
    from heplearn.calib.compare_report import LABELS, write_comparison
    from heplearn.calib.mc_data_classifier import ClassifierSettings

    check_output(out, overwrite)
    if max_weight <= 1 or min_bin < 20 or n_boot < 0:
        raise ConfigError(
            "options --max-weight / --min-bin / --bootstrap",
            "the command line",
            "the weight clip must exceed 1, a bin's map needs ≥ 20 clusters, resamples ≥ 0",
            "e.g. --max-weight 10 --min-bin 100 --bootstrap 200",
        )
    chosen = None if variables is None else tuple(v.strip() for v in variables.split(",") if v)
    settings = CompareSettings(
        variables=chosen,
        reweight=reweight,
        max_weight=max_weight,
        pt_edges=_numbers(pt_edges, "--pt-edges"),
        abs_eta_edges=_numbers(eta_edges, "--eta-edges") or (),
        min_bin=min_bin,
        seed=seed,
        classifier=ClassifierSettings(seed=seed, n_boot=n_boot),
    )
    comparison = compare_stores(mc, data, settings)
    write_comparison(comparison, out, overwrite=overwrite)
    metrics = comparison.metrics
    if as_json:
        summary = {"auc": metrics["auc"], "auc_err": metrics["auc_err"], "out": str(out)}
        typer.echo(json.dumps(summary))
        return
    table = Table(title="MC-vs-data classifier (AUC 0.5: indistinguishable)")
    table.add_column("MC")
    table.add_column("AUC ± bootstrap", justify="right")
    for kind, auc in metrics["auc"].items():
        table.add_row(LABELS[kind], f"{auc:.4f} ± {metrics['auc_err'][kind]:.4f}")
    console = Console()
    console.print(table)
    console.print(f"report, transforms and metrics → {out}")
