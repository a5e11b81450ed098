"""``heplearn calib scale-fit | correct``: η scale and resolution from Z→ee, and applying them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from heplearn.data.atomic import check_output, write_text_atomically
from heplearn.errors import ConfigError

__all__ = ["correct_command", "scale_fit_command"]


def _edges(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError as err:
        raise ConfigError(
            f"|η| edges '{text}'",
            "option --eta-edges",
            "they are not comma-separated numbers",
            "give e.g. --eta-edges 0,0.8,1.5,2.47",
        ) from err


def _print(result: object, relative: bool) -> None:
    from heplearn.calib.data_scale_fit import ScaleFitResult

    assert isinstance(result, ScaleFitResult)
    reference = "MC" if relative else "m_Z"
    table = Table(title=f"|η| scale (vs {reference}) and resolution")
    for column in ("|η| bin", "α [%]", "c [%]" if relative else "r [%]"):
        table.add_column(column, justify="right")
    for k in range(len(result.edges) - 1):
        width = "–"
        if result.resolution is not None:
            value, error = result.resolution.values[k], result.resolution.errors[k]
            width = f"{100 * value:.3f} ± {100 * error:.3f}"
        alpha = f"{100 * result.scale.values[k]:+.3f} ± {100 * result.scale.errors[k]:.3f}"
        table.add_row(f"{result.edges[k]:g}–{result.edges[k + 1]:g}", alpha, width)
    console = Console()
    console.print(table)
    chi2 = result.scale.chi2_ndf
    shown = "n/a" if math.isnan(chi2) else f"{chi2:.2f} (ndf {result.scale.ndf})"
    console.print(f"scale χ²/ndf {shown}; {result.summary['n_pairs']} pairs")


def scale_fit_command(
    data: Path = typer.Option(..., "--data", "-d", help="Data store (no truth needed)."),
    out: Path = typer.Option(..., "--out", "-o", help="corrections.json (correctionlib)."),
    mc: Path | None = typer.Option(None, "--mc", help="MC store: fit data/MC scale and smearing."),
    run: Path | None = typer.Option(None, "--run", "-r", help="Run (for --method bdt|network)."),
    method: str = typer.Option("e_acc", "--method", "-m", help="e_acc, bdt or network."),
    fit: str = typer.Option(
        "template", "--fit", help="template (MC pairs fitted to data; with --mc) or peaks (χ²)."
    ),
    eta_edges: str = typer.Option("0,0.8,1.5,2.47", "--eta-edges", help="|η| bin edges."),
    min_et: float = typer.Option(20.0, "--min-et", help="E_T cut of each cluster [GeV]."),
    max_eta: float = typer.Option(2.47, "--max-eta", help="|η| cut of each cluster."),
    min_pairs: int = typer.Option(
        50, "--min-pairs", help="Pairs below which a category is skipped."
    ),
    min_fit_pairs: int = typer.Option(
        400, "--min-fit-pairs", help="Pairs for a BW ⊗ CB fit (fewer: a robust peak)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the fit summary as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
) -> None:
    """Fit the |η| energy scale α_i (eq. 5.13) and extra constant term c_i (eq. 5.14) on Z→ee.

    Data: E_data = (1 + α_i)·E_MC (with --mc) or the peak vs m_Z (without); `calib correct`
    divides data by (1 + α_i) and smears MC by c_i.

    Examples:

      heplearn calib scale-fit --data data --mc mc --method e_acc --out corrections.json

      heplearn calib scale-fit --data data --mc mc --run run --method network --out corr.json
    """
    from heplearn.calib.category_fits import PeakSettings
    from heplearn.calib.data_scale_fit import fit_scale
    from heplearn.calib.zee_pairs import PairCuts

    check_output(out, overwrite)  # refuse before the fits, not after
    if min_pairs < 5 or min_fit_pairs < 20:
        raise ConfigError(
            "options --min-pairs / --min-fit-pairs",
            "the command line",
            "a peak needs at least 5 pairs and a BW ⊗ CB fit 20",
            "raise them",
        )
    result = fit_scale(
        data,
        mc=mc,
        run=run,
        method=method,
        edges=_edges(eta_edges),
        cuts=PairCuts(min_et=min_et, max_abs_eta=max_eta),
        settings=PeakSettings(min_fit_pairs=min_fit_pairs, min_pairs=min_pairs),
        fit=fit,
    )
    write_text_atomically(out, result.to_json(), overwrite=overwrite)
    if as_json:
        typer.echo(json.dumps(result.summary | {"out": str(out)}))
        return
    _print(result, mc is not None)
    Console().print(f"corrections → {out}")


def correct_command(
    corrections: Path = typer.Option(..., "--corrections", help="corrections.json (scale-fit)."),
    out: Path = typer.Option(..., "--out", "-o", help="Store file to write (.h5)."),
    data: Path | None = typer.Option(None, "--data", "-d", help="Data store: apply the scale."),
    mc: Path | None = typer.Option(None, "--mc", help="MC store: apply the smearing instead."),
    run: Path | None = typer.Option(None, "--run", "-r", help="Run (corrections of bdt/network)."),
    smear_seed: int = typer.Option(1, "--smear-seed", help="Seed of the MC smearing."),
    closure: Path | None = typer.Option(
        None, "--closure", help="Folder for the closure plot (data: before/after, + --closure-mc)."
    ),
    closure_mc: Path | None = typer.Option(
        None, "--closure-mc", help="MC store (or corrected MC) drawn in the closure plot."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
) -> None:
    """Apply corrections: E/(1 + α_i) to data (--data), E·(1 + c_i·g) to MC (--mc, seeded).

    Writes a new store with every input field plus corrected/energy and
    corrected/raw_energy.

    Examples:

      heplearn calib correct --corrections corrections.json --data data --out data-corr.h5

      heplearn calib correct --corrections corrections.json --mc mc --out mc-corr.h5
    """
    if (data is None) == (mc is None):
        raise ConfigError(
            "options --data / --mc",
            "the command line",
            "give exactly one store: --data (scale applied) or --mc (smearing applied)",
            "e.g. --data DATA or --mc MC",
        )
    from heplearn.calib.apply_corrections import correct_store

    check_output(out, overwrite)
    if closure is not None:
        check_output(closure, overwrite)
    source = data if data is not None else mc
    assert source is not None
    written, _, corrected = correct_store(
        corrections, source, out, mc=mc is not None, run=run, seed=smear_seed, overwrite=overwrite
    )
    console = Console()
    console.print(f"corrected {len(corrected)} clusters → {written}")
    if closure is not None:
        from heplearn.calib.closure import write_closure

        figure = write_closure(written, closure_mc, closure, overwrite=overwrite)
        console.print(f"closure plot: {figure}")
