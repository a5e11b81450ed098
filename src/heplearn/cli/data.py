"""``heplearn data import|export|inspect``: move data between ROOT/CSV/HDF5 and the store."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from heplearn.config import load_config
from heplearn.data.atomic import atomic_output, check_output
from heplearn.data.importer import import_file
from heplearn.data.inspect import describe_store
from heplearn.data.mapping import ImportMapping
from heplearn.data.reader import open_store
from heplearn.data.root_export import export_root
from heplearn.errors import ConfigError
from heplearn.report import validate_calib_sample

__all__ = ["app"]

app = typer.Typer(help="Import, export and inspect data stores.", no_args_is_help=True)

OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output.")


@app.command(name="import")
def import_command(
    source: Path = typer.Argument(..., help="ROOT, CSV or HDF5 file to import."),
    out: Path = typer.Option(..., "--out", "-o", help="Store file to write (.h5)."),
    tree: str | None = typer.Option(None, "--tree", help="TTree name (ROOT; needed if several)."),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="YAML mapping of store fields to source columns."
    ),
    allow_nan: bool = typer.Option(False, "--allow-nan", help="Keep NaN/inf values."),
    overwrite: bool = OVERWRITE,
    step: int = typer.Option(100_000, "--step", min=1, help="Rows read per chunk."),
) -> None:
    """Import a ROOT ntuple, CSV or HDF5 file into a heplearn store.

    Examples:

      heplearn data import ntuple.root --out sample.h5 --tree CollectionTree

      heplearn data import events.csv --out sample.h5 --mapping configs/mappings/cms-scouting.yaml
    """
    resolved = load_config(ImportMapping, mapping) if mapping is not None else None
    summary = import_file(
        source,
        out,
        tree=tree,
        mapping=resolved,
        allow_nan=allow_nan,
        overwrite=overwrite,
        step_rows=step,
        progress=True,
    )
    console = Console()
    console.print(f"wrote {summary.rows} rows, {len(summary.fields)} fields to {summary.out}")
    if summary.skipped:
        console.print(f"left out (not numeric): {', '.join(summary.skipped)}")
    if summary.nonfinite:
        kept = ", ".join(f"{name} ({n})" for name, n in summary.nonfinite.items())
        console.print(f"kept NaN/inf (--allow-nan): {kept}")


@app.command(name="export")
def export_command(
    store: Path = typer.Argument(..., help="Store file or sharded folder."),
    out: Path = typer.Option(..., "--out", "-o", help="ROOT file to write."),
    tree: str = typer.Option("events", "--tree", help="Name of the TTree to write."),
    overwrite: bool = OVERWRITE,
) -> None:
    """Export a store to a ROOT TTree (flat and jagged branches).

    Example:

      heplearn data export sample.h5 --out sample.root
    """
    export_root(store, out, tree=tree, overwrite=overwrite, progress=True)
    Console().print(f"wrote TTree '{tree}' to {out}")


@app.command(name="inspect")
def inspect_command(
    store: Path = typer.Argument(..., help="Store file or sharded folder."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    check_finite: bool = typer.Option(False, "--check-finite", help="Count NaN/inf per field."),
) -> None:
    """Show a store's fields, shapes, dtypes, row count and provenance.

    Example:

      heplearn data inspect sample.h5 --json
    """
    summary = describe_store(store, check_finite=check_finite)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    table = Table(title=f"{summary['path']}: {summary['rows']} rows, {summary['shards']} file(s)")
    for column in ("field", "dtype", "shape"):
        table.add_column(column)
    for name, spec in summary["fields"].items():
        shape = "var" if spec["jagged"] else str(tuple(spec["shape"]))
        table.add_row(name, spec["dtype"], shape)
    console = Console()
    console.print(table)
    console.print(f"schema version {summary['schema_version']}")
    for key, value in summary["provenance"].items():
        if key != "config":
            console.print(f"  {key}: {value}")
    if "nonfinite" in summary:
        console.print(f"NaN/inf: {summary['nonfinite'] or 'none'}")


@app.command(name="validate")
def validate_command(
    store: Path = typer.Argument(..., help="Calibration store (file or sharded folder)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for the figures and report.html."
    ),
    integrity: bool = typer.Option(
        False, "--integrity", help="Read every value back and check the store's checksums."
    ),
    overwrite: bool = OVERWRITE,
) -> None:
    """Physics validation of a calibration sample: ΔE/E, resolution terms, images, masses.

    With --integrity, first check every shard against the checksums in its manifest (any
    store; --out is then optional).

    Examples:

      heplearn data validate zee --out zee-validation

      heplearn data validate zee --integrity
    """
    if out is None and not integrity:
        raise ConfigError(
            "option --out",
            "heplearn data validate",
            "the physics validation needs a folder for its report",
            "give --out FOLDER, or --integrity to check the checksums only",
        )
    console = Console()
    if integrity:
        checked = open_store(store, verify=True)
        console.print(
            f"integrity: {checked.rows} rows in {len(checked.segments)} file(s) of {store} "
            "read back; checksums match"
        )
    if out is None:
        return
    check_output(out, overwrite)  # refuse before the read, not after
    with atomic_output(out, overwrite=overwrite) as tmp:
        numbers = validate_calib_sample(store, tmp)
    for particle, terms in numbers["resolution_terms"].items():
        a, b, c = terms["stochastic"], terms["noise_gev"], terms["constant"]
        console.print(f"{particle}: a = {a:.4f} √GeV, b = {b:.3f} GeV, c = {c:.4f}")
    if "mass" in numbers:
        console.print(f"pair mass median {numbers['mass']['reconstructed median [GeV]']:.2f} GeV")
    console.print(f"wrote {Path(out) / 'report.html'}")
