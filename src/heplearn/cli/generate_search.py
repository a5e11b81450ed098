"""``heplearn generate search``: signal and background samples of the dilepton + E_T^miss search.

Registered by ``cli/generate.py`` as ``app.command(name="search")(search_command)``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from heplearn.config import config_to_dict, load_config, parse_config
from heplearn.generate.search import SearchSampleConfig, scale_events, search_dataset

__all__ = ["search_command"]


def search_command(
    config: Path = typer.Option(
        ..., "--config", "-c", help="search-sample YAML (see configs/search)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder of the sharded store to write."),
    events: int | None = typer.Option(
        None,
        "--events",
        "-n",
        min=1,
        help="Total events, shared by the samples in their configured proportions.",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Override the seed."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Address of a Dask scheduler."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace another run's output."),
) -> None:
    """Generate search samples with Pythia 8 (signals, backgrounds, LHE files), reconstructed.

    Every event is weighted to the config's luminosity (σ·L/N).  --events N rescales all
    samples together so that they hold N events in total (each keeps its share, at least 1).
    A killed run resumes: rerun the same command.  The same seed gives the same store
    whatever the number of workers or the backend.

    Examples:

      heplearn generate search --config configs/search/quick.yaml --out search-quick

      heplearn generate search --config configs/search/dilepton-met.yaml --out dm -j 2

      heplearn generate search --config configs/search/dilepton-met.yaml --out dm --events 20000
    """
    settings = load_config(SearchSampleConfig, config)
    if seed is not None:
        settings = parse_config(
            SearchSampleConfig, {**config_to_dict(settings), "seed": seed}, f"{config} + options"
        )
    if events is not None:
        settings = scale_events(settings, events)
    store = search_dataset(
        settings,
        out,
        workers=workers,
        dask=dask,
        overwrite=overwrite,
        progress=True,
        where=str(config),
    )
    Console().print(
        f"wrote {settings.events} events of {len(settings.samples)} samples "
        f"in {settings.n_shards} shards to {store}"
    )
