"""``heplearn demo``: the main job, end to end on this machine.

A small Z→ee calibration sample (Pythia 8, ⟨μ⟩ pileup, ATLAS-like fast
simulation) into a sharded store, exported to ROOT and read back (the values
must round-trip exactly); then the calibration workflow: a single-particle gun
sample with the same pileup, the BDT baseline and a tiny DeepCalo trained on
it, evaluated on the Z→ee sample (resolution, Z mass fits, report); the
data-quality part (HCAL occupancy maps with faults: quality tests, a CNN and
the autoencoder); and the search part (Pythia backgrounds and signals:
cut-and-count against XGBoost and neural networks in Asimov significance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from heplearn.calib.demo import calib_demo
from heplearn.calib.demo_data import data_driven_demo
from heplearn.config import dump_config, parse_config
from heplearn.data.atomic import atomic_output
from heplearn.data.reader import open_store
from heplearn.data.root_export import export_root
from heplearn.data.root_source import RootSource
from heplearn.detector.calorimeter.kinematics import cluster_pair_mass, pairs_of_events
from heplearn.dqm.demo import dqm_demo
from heplearn.dqm.demo_history import serve_command
from heplearn.errors import DataError, OutputExistsError
from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.report.summary import SIGNIFICANT, Figure
from heplearn.search.demo import search_demo
from heplearn.stats.spread import eiqr

__all__ = ["demo", "run_demo"]


def _round_trips(root_path: Path, data: dict[str, Any], rows: int, *, exported: bool) -> bool:
    """Whether the ROOT file holds the store's values; one this run did not write must."""
    try:
        back = next(
            RootSource(root_path, "events").iter_chunks(["truth_energy", "scalars_e_acc"], rows)
        )
        same = np.array_equal(data["truth/energy"], back["truth_energy"]) and np.array_equal(
            data["scalars/e_acc"], back["scalars_e_acc"]
        )
    except DataError:
        if exported:
            raise
        same = False
    if not same and not exported:
        raise OutputExistsError(
            "output exists",
            str(root_path),
            "it is not the ROOT export of this demo's sample (an earlier run wrote it)",
            "pass --overwrite or choose another --out",
        )
    return same


def run_demo(
    out: Path, *, quick: bool = False, seed: int = 1, overwrite: bool = False, progress: bool = True
) -> dict[str, Figure]:
    """Run the demo into ``out`` and return its headline figures (with errors where measured)."""
    config = parse_config(
        CalibSampleConfig,
        {
            "source": "zee",
            "geometry": "atlas-lar",
            "seed": seed,
            "mu": 20.0 if quick else 40.0,
            "events": 300 if quick else 4000,
            "shard_events": 150 if quick else 1000,
            "pool_events": 50 if quick else 200,
        },
    )
    out.mkdir(parents=True, exist_ok=True)
    store_path = calib_dataset(
        config,
        out / "zee-sample",
        workers=1 if quick else 2,
        overwrite=overwrite,
        progress=progress,
    )
    # Written after the store so that a refused rerun leaves the earlier run's config in place.
    with atomic_output(out / "config.yaml", overwrite=True) as tmp:
        tmp.write_text(dump_config(config))
    root_path = out / "zee-sample.root"
    # An existing ROOT file is replaced only with --overwrite; else it must hold this store.
    exported = overwrite or not root_path.exists()
    if exported:
        export_root(store_path, root_path, overwrite=overwrite, progress=progress)
    store = open_store(store_path, check_finite=True)
    fields = [
        "truth/energy",
        "scalars/e_acc",
        "scalars/eta",
        "scalars/phi",
        "event/id",
        "truth/resonance_mass",
    ]
    data = store.read(fields)
    if not _round_trips(root_path, data, store.rows, exported=exported):
        raise DataError(
            "ROOT round trip",
            str(root_path),
            "values read back differ from the store",
            "report this with --debug output",
        )
    ratio = np.asarray(data["scalars/e_acc"]) / np.asarray(data["truth/energy"])
    median_ratio = float(np.median(ratio))
    calibration = calib_demo(
        out,
        store_path,
        quick=quick,
        seed=seed,
        mu=config.mu,
        overwrite=overwrite,
        progress=progress,
    )
    on_data = data_driven_demo(out, quick=quick, seed=seed, overwrite=overwrite, progress=progress)
    monitoring = dqm_demo(out, quick=quick, seed=seed, overwrite=overwrite, progress=progress)
    search = search_demo(out, quick=quick, seed=seed, overwrite=overwrite, progress=progress)
    sample = {
        "Z→ee events": float(config.events),
        "electron clusters": float(store.rows),
        "shards": float(len(store.segments)),
        "median E_acc/E_true": median_ratio,
        "IQR/1.349 of E_acc/E_true": eiqr(ratio),
        "median truth m_Z [GeV]": float(np.median(data["truth/resonance_mass"])),
        "median m_ee from E_acc [GeV]": float(
            np.median(
                cluster_pair_mass(
                    data["scalars/e_acc"],
                    data["scalars/eta"],
                    data["scalars/phi"],
                    *pairs_of_events(data["event/id"]),
                )
            )
        ),
    }
    return {
        **{key: Figure(value) for key, value in sample.items()},
        **calibration,
        **on_data,
        **monitoring,
        **search,
    }


def demo(
    out: Path = typer.Option(Path("heplearn-demo"), "--out", "-o", help="Folder for all outputs."),
    quick: bool = typer.Option(False, "--quick", help="Small samples, few epochs (≈1 minute)."),
    seed: int = typer.Option(1, "--seed", min=0, help="Random seed."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace outputs of an earlier demo with other settings."
    ),
) -> None:
    """Run every workflow end to end on a small sample and summarise.

    Example:

      heplearn demo --out heplearn-demo
    """
    figures = run_demo(out, quick=quick, seed=seed, overwrite=overwrite)
    table = Table(title=f"heplearn demo: outputs in {out}", show_header=False)
    for key, figure in figures.items():
        table.add_row(key, figure.text(), figure.note)
    table.add_row("ROOT round trip", "exact", "")
    Console().print(table)
    Console().print(
        "± are 1σ statistical errors (bootstrap, binomial or MC statistics) of these small "
        f"samples; a comparison under {SIGNIFICANT:g}σ is marked NOT significant: it does not "
        "rank the methods.",
        highlight=False,
    )
    for name, folder in (
        ("calibration", "calib-report"),
        ("data-quality monitoring", "dqm-report"),
        ("search", "search-report"),
    ):
        Console().print(f"{name} report: {out / folder / 'report.html'}")
    Console().print(f"Z→ee scale closure on pseudo-data: {out / 'calib-closure' / 'closure.png'}")
    # One unwrapped line, to copy: the dashboard of the demo's DQM history.
    typer.echo(f"DQM dashboard of the demo's history: {serve_command(out)}")
