"""``heplearn generate calib|dqm|search``: simulated samples into a sharded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml
from rich.console import Console

from heplearn.config import config_to_dict, load_config, parse_config
from heplearn.data.atomic import atomic_output
from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.generate.dqm import DqmSampleConfig, dqm_dataset
from heplearn.generate.dqm_ecal import ECAL_SAMPLE_KIND, EcalDqmSampleConfig, ecal_dqm_dataset
from heplearn.generate.runner import RunOptions
from heplearn.generate.search import SearchSampleConfig, scale_events, search_dataset
from heplearn.report import validate_calib_sample

__all__ = ["app", "calib_command", "dqm_command", "search_command"]

S = TypeVar("S")

app = typer.Typer(help="Generate simulated samples.", no_args_is_help=True)


def _sample_config(kind: type[S], config: Path, **overrides: Any) -> S:
    """The sample config in the file ``config`` with the given (not None) options replacing keys."""
    settings = load_config(kind, config)
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        settings = parse_config(kind, {**config_to_dict(settings), **given}, f"{config} + options")
    return settings


def _kind_of(config: Path) -> str | None:
    """The ``kind`` a YAML file declares, or None (an unreadable file fails later, clearly)."""
    try:
        data = yaml.safe_load(config.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _run_options(workers: int, dask: str | None, overwrite: bool) -> RunOptions:
    """The command's run options, with a progress bar."""
    return RunOptions(workers=workers, dask=dask, overwrite=overwrite, progress=True)


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
    settings = _sample_config(CalibSampleConfig, config, events=events, seed=seed)
    store = calib_dataset(
        settings, out, where=str(config), **_run_options(workers, dask, overwrite)
    )
    Console().print(f"wrote {settings.events} events in {settings.n_shards} shards to {store}")
    if validate:
        folder = store.parent / f"{store.name}-validation"
        # The report is derived from this very store, so a rerun may replace it.
        with atomic_output(folder, overwrite=True) as tmp:
            validate_calib_sample(store, tmp)
        Console().print(f"validation report: {folder / 'report.html'}")


@app.command(name="dqm")
def dqm_command(
    config: Path = typer.Option(
        ..., "--config", "-c", help="dqm-sample or dqm-ecal-sample YAML (see configs/dqm)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder of the sharded store to write."),
    events: int | None = typer.Option(
        None, "--events", "-n", help="Override the number of maps (lumisections)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Override the seed."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Address of a Dask scheduler."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace another run's output."),
) -> None:
    """Simulate per-lumisection occupancy maps (HCAL or ECAL barrel) with injected faults.

    The config's kind picks the detector: ``dqm-sample`` for the CMS-like HCAL (dead, hot,
    noisy, partial faults), ``dqm-ecal-sample`` for the ECAL barrel (missing supermodule,
    dead/hot trigger tower, dead/hot crystal).  One row per map with the per-channel truth.
    A killed run resumes: rerun the same command.  The same seed gives the same store
    whatever the number of workers.

    Examples:

      heplearn generate dqm --config configs/dqm/hcal.yaml --out dqm-maps -j 2

      heplearn generate dqm --config configs/dqm/quick.yaml --out dqm-quick --events 200

      heplearn generate dqm --config configs/dqm/ecal-barrel.yaml --out ecal-maps -j 2
    """
    options = _run_options(workers, dask, overwrite)
    if _kind_of(config) == ECAL_SAMPLE_KIND:
        ecal = _sample_config(EcalDqmSampleConfig, config, events=events, seed=seed)
        store = ecal_dqm_dataset(ecal, out, where=str(config), **options)
        shards, maps = ecal.n_shards, ecal.events
    else:
        settings = _sample_config(DqmSampleConfig, config, events=events, seed=seed)
        store = dqm_dataset(settings, out, where=str(config), **options)
        shards, maps = settings.n_shards, settings.events
    Console().print(f"wrote {maps} maps in {shards} shards to {store}")


@app.command(name="search")
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
    settings = _sample_config(SearchSampleConfig, config, seed=seed)
    if events is not None:
        settings = scale_events(settings, events)
    store = search_dataset(
        settings, out, where=str(config), **_run_options(workers, dask, overwrite)
    )
    Console().print(
        f"wrote {settings.events} events of {len(settings.samples)} samples "
        f"in {settings.n_shards} shards to {store}"
    )
