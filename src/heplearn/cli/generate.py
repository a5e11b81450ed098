"""``heplearn generate calib``: simulated samples into a sharded store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from heplearn.cli.generate_dqm import dqm_command
from heplearn.cli.generate_search import search_command
from heplearn.config import config_to_dict, load_config, parse_config
from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.report import validate_calib_sample

__all__ = ["app"]

app = typer.Typer(help="Generate simulated samples.", no_args_is_help=True)


@app.command(name="calib")
def calib_command(
    config: Path = typer.Option(
        ..., "--config", "-c", help="calib-sample YAML (see configs/calib)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder of the sharded store to write."),
    events: int | None = typer.Option(
        None, "--events", "-n", help="Override the number of events."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Override the seed."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Address of a Dask scheduler."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace another run's output."),
    validate: bool = typer.Option(
        False, "--validate", help="Also write the validation report into OUT-validation/."
    ),
) -> None:
    """Simulate an e/γ calibration sample (guns or Pythia, pileup, ATLAS-/CMS-like calorimeter).

    A killed run resumes: rerun the same command.  The same seed gives the same store whatever
    the number of workers or the backend.

    Examples:

      heplearn generate calib --config configs/calib/atlas-gun.yaml --out gun --events 20000 -j 2

      heplearn generate calib --config configs/calib/atlas-zee.yaml --out zee --dask tcp://host:8786
    """
    settings = load_config(CalibSampleConfig, config)
    overrides = {k: v for k, v in {"events": events, "seed": seed}.items() if v is not None}
    if overrides:
        settings = parse_config(
            CalibSampleConfig, {**config_to_dict(settings), **overrides}, f"{config} + options"
        )
    store = calib_dataset(
        settings,
        out,
        workers=workers,
        dask=dask,
        overwrite=overwrite,
        progress=True,
        where=str(config),
    )
    Console().print(f"wrote {settings.events} events in {settings.n_shards} shards to {store}")
    if validate:
        folder = store.parent / f"{store.name}-validation"
        validate_calib_sample(store, folder)
        Console().print(f"validation report: {folder / 'report.html'}")


app.command(name="dqm")(dqm_command)
app.command(name="search")(search_command)
