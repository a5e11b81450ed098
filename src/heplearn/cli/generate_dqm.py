"""``heplearn generate dqm``: HCAL occupancy maps (good and faulty) into a sharded store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from heplearn.config import config_to_dict, load_config, parse_config
from heplearn.generate.dqm import DqmSampleConfig, dqm_dataset

__all__ = ["dqm_command"]


def dqm_command(
    config: Path = typer.Option(..., "--config", "-c", help="dqm-sample YAML (see configs/dqm)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder of the sharded store to write."),
    events: int | None = typer.Option(
        None, "--events", "-n", help="Override the number of maps (lumisections)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Override the seed."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Address of a Dask scheduler."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace another run's output."),
) -> None:
    """Simulate per-lumisection HCAL occupancy maps with injected dead/hot/noisy/partial faults.

    One row per map with the per-channel truth.  A killed run resumes: rerun the same
    command.  The same seed gives the same store whatever the number of workers.

    Examples:

      heplearn generate dqm --config configs/dqm/hcal.yaml --out dqm-maps -j 2

      heplearn generate dqm --config configs/dqm/quick.yaml --out dqm-quick --events 200
    """
    settings = load_config(DqmSampleConfig, config)
    overrides = {k: v for k, v in {"events": events, "seed": seed}.items() if v is not None}
    if overrides:
        settings = parse_config(
            DqmSampleConfig, {**config_to_dict(settings), **overrides}, f"{config} + options"
        )
    store = dqm_dataset(
        settings,
        out,
        workers=workers,
        dask=dask,
        overwrite=overwrite,
        progress=True,
        where=str(config),
    )
    Console().print(f"wrote {settings.events} maps in {settings.n_shards} shards to {store}")
