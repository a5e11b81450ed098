"""``heplearn dqm train | evaluate | check | watch | history | certify | serve``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from heplearn.cli.dqm_online import certify_command, history_command, watch_command
from heplearn.cli.dqm_serve import serve_command
from heplearn.config import load_config
from heplearn.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(help="Calorimeter data-quality monitoring.", no_args_is_help=True)


@app.command(name="train")
def train_command(
    data: Path = typer.Option(
        ..., "--data", "-d", help="Generated DQM store, or a ROOT file of TH2 / an HDF5 map file."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="dqm-model YAML (configs/dqm/models/<name>.yaml)."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="lr, mlp, cnn2, cnn3, cnn3bn, ae or qtest (overrides config)."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="HDF5 dataset of the maps when the file holds several."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Override trainer.epochs."),
    false_alarm: float | None = typer.Option(
        None, "--false-alarm", help="qtest: false-alarm probability per good map (default 0.01)."
    ),
    geometry: str | None = typer.Option(
        None,
        "--geometry",
        help="qtest: channel groups — ecal-barrel, hcal, blocks or a YAML/JSON grouping file.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run folder."),
) -> None:
    """Fit one DQM model; unsupervised models (qtest, ae) learn from good maps only.

    Examples:

      heplearn dqm train --config configs/dqm/models/ae.yaml --data hcal --out run-ae

      heplearn dqm train --model qtest --data ecal_run.root --out run-qtest   (real TH2 maps)
    """
    from heplearn.dqm.model_config import DqmModelConfig, default_model_config
    from heplearn.dqm.train import train_dqm

    if config is None and model is None:
        raise ConfigError(
            "no model chosen",
            "heplearn dqm train",
            "neither --config nor --model was given",
            "pass e.g. --model qtest, or --config configs/dqm/models/ae.yaml",
        )
    settings = load_config(DqmModelConfig, config) if config else default_model_config(model or "")
    if model is not None and config is not None:
        settings = dataclasses.replace(settings, model=model)  # type: ignore[arg-type]
        settings.validate("--model")
    if epochs is not None:
        trainer = dataclasses.replace(settings.trainer, epochs=epochs)
        settings = dataclasses.replace(settings, trainer=trainer)
    if false_alarm is not None and not 0.0 < false_alarm <= 0.5:
        raise ConfigError(
            f"--false-alarm {false_alarm:g}",
            "heplearn dqm train",
            "it is a probability per good map in (0, 0.5]",
            "pass e.g. --false-alarm 0.01",
        )
    if false_alarm is not None or geometry is not None:
        qtest = dataclasses.replace(
            settings.qtest,
            false_alarm=settings.qtest.false_alarm if false_alarm is None else false_alarm,
            geometry=settings.qtest.geometry if geometry is None else geometry,
        )
        settings = dataclasses.replace(settings, qtest=qtest)
        settings.validate("--false-alarm/--geometry")
    info = train_dqm(settings, data, out, dataset=dataset, overwrite=overwrite, progress=True)
    Console().print(
        f"trained {info['model']} on {info['train_maps']} maps {tuple(info['shape'])} "
        f"in {info['fit_seconds']:.1f} s → {out}"
    )
    calibration = info.get("calibration")
    if calibration is not None:
        style = None if calibration.get("agrees") in (True, None) else "yellow"
        Console(stderr=style is not None).print(
            calibration["note"], style=style, highlight=False, markup=False, soft_wrap=True
        )


@app.command(name="evaluate")
def evaluate_command(
    run: list[Path] = typer.Option(
        ..., "--run", "-r", help="Run folder(s); several are compared on the same maps."
    ),
    data: Path = typer.Option(..., "--data", "-d", help="Labelled (generated) DQM store."),
    out: Path = typer.Option(..., "--out", "-o", help="Evaluation folder to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Efficiency at fixed false-alarm rates, ROC/AUC, confusion, localisation, report.

    On the store a run was trained on only its held-out test maps are used.

    Example:

      heplearn dqm evaluate --run run-qtest --run run-ae --data hcal --out eval
    """
    from heplearn.data.atomic import check_output
    from heplearn.dqm.evaluate import evaluate_run, held_out_maps
    from heplearn.dqm.evaluation_report import write_dqm_evaluation
    from heplearn.dqm.metrics import rate_label, with_interval

    check_output(out, overwrite)
    held_out = held_out_maps(run[0], data)
    for warning in held_out.warnings:
        Console(stderr=True).print(
            f"warning: {warning}", style="yellow", highlight=False, markup=False, soft_wrap=True
        )
    evaluations = [evaluate_run(folder, held_out) for folder in run]
    write_dqm_evaluation(evaluations, held_out, data, out, overwrite=overwrite)
    table = Table(
        title=f"DQM evaluation on {len(held_out.maps)} maps ({held_out.selection}); "
        "[1σ binomial intervals]"
    )
    for column in ("run", "accuracy", "false alarm set", "dead 1×1", "hot 1×1", "recall"):
        table.add_column(column)
    errors = Console(stderr=True)
    for ev in evaluations:
        # The largest rate first: the 1 % table, or 1/N when even that is not resolved.
        eff = next(iter(ev.metrics["efficiency_at_false_alarm"].values()))
        cells = [
            with_interval(eff["efficiency"][k], eff["interval"][k])
            if k in eff["efficiency"]
            else "–"
            for k in ("dead_1x1", "hot_1x1")
        ]
        table.add_row(
            ev.name,
            with_interval(ev.metrics["accuracy"], ev.metrics.get("accuracy_interval")),
            rate_label(eff["rate"]),
            *cells,
            f"{ev.metrics['localisation']['recall']:.3f}",
        )
        for note in ev.metrics.get("notes", []):
            errors.print(f"note ({ev.name}): {note}", style="yellow", highlight=False)
    Console().print(table)
    Console().print(f"report: {out / 'report.html'}")


@app.command(name="check")
def check_command(
    maps: Path = typer.Argument(..., help="ROOT file of TH2 maps, HDF5 maps or a DQM store."),
    run: Path = typer.Option(..., "--run", "-r", help="Run folder of 'heplearn dqm train'."),
    dataset: str | None = typer.Option(None, "--dataset", help="HDF5 dataset of the maps."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON list of verdicts."),
) -> None:
    """Verdict per map (good/dead/hot/noisy/partial/no-statistics) and its flagged channels.

    Examples:

      heplearn dqm check --run run-qtest new_lumisections.root --json
    """
    from heplearn.dqm.check import check_maps

    records = check_maps(run, maps, dataset)
    warned = [r for r in records if r.get("warnings")]
    if warned:  # one line, whatever the number of maps; each map's is in --json
        more = f" (and {len(warned) - 1} more of {len(records)} maps)" if len(warned) > 1 else ""
        Console(stderr=True).print(
            f"warning: map {warned[0]['map']}{more}: {warned[0]['warnings'][0]}",
            style="yellow",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if as_json:
        typer.echo(json.dumps(records))
        return
    table = Table(title=f"{maps}: {len(records)} maps")
    for column in ("map", "verdict", "score", "flagged channels"):
        table.add_column(column)
    for record in records:
        flagged = record["flagged"]
        shown = ", ".join(str(tuple(f)) for f in flagged[:5]) + (" …" if len(flagged) > 5 else "")
        table.add_row(record["map"], record["verdict"], f"{record['score']:.3g}", shown)
    Console().print(table)


app.command(name="watch")(watch_command)
app.command(name="history")(history_command)
app.command(name="certify")(certify_command)
app.command(name="serve")(serve_command)
