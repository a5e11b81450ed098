"""``heplearn calib fit-mass``: fit a Z→ee or H→γγ mass peak in a column of any input file."""

from __future__ import annotations

import difflib
import json
import math
import re
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from heplearn.calib.massfit import DEFAULT_RANGES, MODELS, MassFit, fit_mass
from heplearn.calib.massfit_plot import plot_mass_fit
from heplearn.data.atomic import atomic_output, check_output
from heplearn.data.reader import open_store
from heplearn.data.sources import open_source
from heplearn.errors import ConfigError, DataError

__all__ = ["fit_mass_command", "read_column"]

_SHOWN_COLUMNS = 30  # a ROOT file may have hundreds of branches; the error line stays readable


def _missing_column(column: str, available: list[str], where: str) -> DataError:
    shown = ", ".join(available[:_SHOWN_COLUMNS]) or "none"
    if len(available) > _SHOWN_COLUMNS:
        shown += f", … ({len(available) - _SHOWN_COLUMNS} more)"
    close = difflib.get_close_matches(column, available, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "choose one of them with --column"
    return DataError(
        f"column '{column}' not found",
        where,
        f"the available columns are {shown}",
        hint,
    )


def _flat(chunk: object, column: str, where: str) -> np.ndarray:
    if not isinstance(chunk, np.ndarray) or chunk.ndim != 1 or chunk.dtype.kind not in "biuf":
        raise DataError(
            f"column '{column}'",
            where,
            "it is not one number per event (it is jagged, multi-dimensional or not numeric)",
            "choose a flat numeric column of masses in GeV",
        )
    return chunk.astype(np.float64, copy=False)


def read_column(
    path: Path, column: str, tree: str | None = None, step: int = 1_000_000
) -> np.ndarray:
    """One flat numeric column of a store (file or sharded folder), ROOT, CSV or HDF5 file.

    Read in chunks of ``step`` rows; a missing column raises a DataError listing the others.
    """
    if path.is_dir():  # a sharded store is a folder, which open_source does not take
        if tree is not None:
            raise DataError(
                "option --tree", str(path), "a heplearn store has no trees", "drop --tree"
            )
        store = open_store(path)
        if column not in store.schema:
            raise _missing_column(column, list(store.schema), str(path))
        batches = store.iter_batches(batch_size=step, fields=[column])
        chunks = [_flat(batch[column], column, str(path)) for batch in batches]
    else:
        source = open_source(path, tree)
        available = [c.name for c in source.columns()]
        if column not in available:
            raise _missing_column(column, available, source.location)
        batches = source.iter_chunks([column], step)
        chunks = [_flat(batch[column], column, source.location) for batch in batches]
    return np.concatenate(chunks) if chunks else np.empty(0)


def _default_out(column: str) -> Path:
    return Path(f"fit-mass-{re.sub(r'[^A-Za-z0-9_.-]+', '_', column)}")


def _print_table(fit: MassFit, column: str, plot: Path | None) -> None:
    lo, hi = fit.mass_range
    table = Table(title=f"{fit.model} fit of '{column}' in {lo:g}–{hi:g} GeV")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("events in range", str(fit.n_events))
    table.add_row("peak [GeV]", f"{fit.mean:.3f} ± {fit.mean_err:.3f}")
    table.add_row(
        "σ_CB [GeV]" if fit.model == "bw-cb" else "σ [GeV]",
        f"{fit.sigma:.3f} ± {fit.sigma_err:.3f}",
    )
    if fit.alpha is not None and fit.n is not None:
        table.add_row("α, n", f"{fit.alpha:.2f}, {fit.n:.1f}")
    if fit.fraction is not None:
        table.add_row("fraction f", f"{fit.fraction:.3f} ± {fit.fraction_err:.3f}")
    chi2 = "n/a" if not math.isfinite(fit.chi2_ndf) else f"{fit.chi2_ndf:.2f} (ndf {fit.ndf})"
    table.add_row("χ²/ndf", chi2)
    table.add_row("minimum valid", "yes" if fit.valid else "NO: do not trust the errors")
    console = Console()
    console.print(table)
    if plot is not None:
        console.print(f"plot: {plot}")


def fit_mass_command(
    source: Path = typer.Argument(..., help="Store, ROOT, CSV or HDF5 file with a mass column."),
    column: str = typer.Option(..., "--column", "-c", help="Column of masses in GeV."),
    model: str = typer.Option(
        "bw-cb", "--model", "-m", help="bw-cb (Z→ee, 80–100 GeV) or double-gauss (H→γγ)."
    ),
    mass_range: tuple[float, float] | None = typer.Option(
        None, "--range", help="Fit range LO HI in GeV (default: 80 100 or 110 140)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the plot and fit.json into this folder."
    ),
    plot: bool = typer.Option(
        False, "--plot", help="Write the plot and fit.json into ./fit-mass-COLUMN (without --out)."
    ),
    tree: str | None = typer.Option(None, "--tree", help="TTree name (ROOT; needed if several)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
) -> None:
    """Fit the mass peak of a column: BW ⊗ Crystal Ball (Z→ee) or double Gaussian (H→γγ).

    The Breit–Wigner has the PDG Z mass and width fixed; σ_CB is the detector resolution.

    Examples:

      heplearn calib fit-mass zee.root --column m_ee --tree events --json

      heplearn calib fit-mass hgg.csv --column m_gg --model double-gauss --range 115 135 --plot

    Nothing is written unless --out or --plot asks for the plot and fit.json.
    """
    if model not in MODELS:
        raise ConfigError(
            f"unknown model '{model}'",
            "option --model",
            f"the models are {', '.join(MODELS)}",
            "use bw-cb for Z→ee or double-gauss for H→γγ",
        )
    if mass_range is not None and not mass_range[0] < mass_range[1]:
        raise ConfigError(
            f"range {mass_range[0]:g} {mass_range[1]:g}",
            "option --range",
            "the low edge must be below the high edge",
            f"use e.g. --range {' '.join(f'{x:g}' for x in DEFAULT_RANGES[model])}",
        )
    # Files are written only where an option asks for them, never into the cwd unasked.
    folder = out if out is not None else (_default_out(column) if plot else None)
    if folder is not None:
        check_output(folder, overwrite)  # refuse before the (possibly long) read, not after
    values = read_column(source, column, tree)
    fit = fit_mass(values, model=model, mass_range=mass_range)
    summary = {**fit.as_dict(), "source": str(source), "column": column}
    figure = None
    if folder is not None:
        with atomic_output(folder, overwrite=overwrite) as tmp:
            tmp.mkdir()
            plot_mass_fit(values, fit, tmp, "mass_fit", label="", quantity=column)
            (tmp / "fit.json").write_text(json.dumps(summary, indent=2) + "\n")
        figure = folder / "mass_fit.png"
    if as_json:
        typer.echo(json.dumps({**summary, "plot": None if figure is None else str(figure)}))
        return
    _print_table(fit, column, figure)
