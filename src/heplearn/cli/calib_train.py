"""``heplearn calib train | tune | evaluate``: the calibration workflow from a store to a report."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from heplearn.config import config_to_dict, dump_config, load_config, parse_config
from heplearn.data.atomic import atomic_output, check_output

if TYPE_CHECKING:
    from heplearn.calib.train_config import CalibTrainConfig

__all__ = ["evaluate_command", "train_command", "tune_command"]


def _config(path: Path | None, overrides: dict[str, object]) -> tuple[CalibTrainConfig, str]:
    # torch, xgboost and optuna load only when a calib command runs (the CLI starts fast).
    from heplearn.calib.train_config import CalibTrainConfig

    config = load_config(CalibTrainConfig, path) if path else CalibTrainConfig()
    where = str(path) if path else "the default calib-train config"
    if overrides:
        merged = config_to_dict(config)
        for dotted, value in overrides.items():
            section, key = dotted.split(".") if "." in dotted else (None, dotted)
            target = merged.setdefault(section, {}) if section else merged
            target[key] = value
        config = parse_config(CalibTrainConfig, merged, f"{where} + options")
    return config, where


def train_command(
    data: Path = typer.Option(..., "--data", "-d", help="Calibration store to train on."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="calib-train YAML (see configs/calib/train)."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Override trainer.epochs."),
    max_events: int | None = typer.Option(None, "--max-events", help="Use the first N rows."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run (same config)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run folder."),
) -> None:
    """Train the BDT baseline and the network (DeepCalo or the scouting CNN) on a store.

    Examples:

      heplearn calib train --data gun --out run --config configs/calib/train/tiny.yaml

      torchrun --nproc_per_node 4 -m heplearn calib train --data gun --out run   (DDP)
    """
    overrides = {
        "trainer.epochs": epochs,
        "max_events": max_events,
        "trainer.device": device,
    }
    from heplearn.calib.train import train_calib

    settings, where = _config(config, {k: v for k, v in overrides.items() if v is not None})
    summary = train_calib(
        settings, data, out, resume=resume, overwrite=overwrite, progress=True, where=where
    )
    console = Console()
    console.print(
        f"trained on {summary.n_train} clusters (validation {summary.n_val}, "
        f"test {summary.n_test}) → {summary.folder}"
    )
    if summary.bdt_val_loss is not None:
        console.print(f"BDT validation loss {summary.bdt_val_loss:.4g}")
    if summary.network is not None:
        net = summary.network
        console.print(
            f"network: {net.epochs_run} epochs, best epoch {net.best_epoch}, "
            f"validation loss {net.best_val_loss:.4g}, {net.seconds:.0f} s"
        )


def tune_command(
    data: Path = typer.Option(..., "--data", "-d", help="Calibration store to tune on."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the study and best config."),
    config: Path | None = typer.Option(None, "--config", "-c", help="calib-train YAML."),
    trials: int = typer.Option(50, "--trials", "-n", min=1, help="Total trials of the study."),
    storage: str | None = typer.Option(
        None, "--storage", help="Optuna storage URL (default sqlite:///OUT/study.db)."
    ),
    study: str = typer.Option("bdt", "--study", help="Study name in the storage."),
    timeout: float | None = typer.Option(None, "--timeout", help="Stop after N seconds."),
) -> None:
    """Tune the BDT baseline with Optuna (TPE + median pruning); a killed study resumes.

    Writes OUT/best-bdt.yaml (a calib-train config with the best BDT settings), whole or not
    at all. OUT/study.db is written in place by design: Optuna commits each trial to it as
    it ends, so rerunning the command resumes the study (--trials is the total).
    """
    from heplearn.calib.bdt import BdtConfig
    from heplearn.calib.bdt_tuning import tune_bdt
    from heplearn.calib.targets import make_target
    from heplearn.calib.train import prepare_split

    settings, _where = _config(config, {})
    split = prepare_split(settings, data, str(data))  # before --out exists: bad input leaves none
    out.mkdir(parents=True, exist_ok=True)
    f = split.features
    y = make_target(f.e_truth, f.e_acc, settings.target)
    result = tune_bdt(
        settings.bdt or BdtConfig(),
        f.scalars[split.train],
        y[split.train],
        f.scalars[split.val],
        y[split.val],
        n_trials=trials,
        storage=storage or f"sqlite:///{(out / 'study.db').resolve()}",
        study_name=study,
        seed=settings.split_seed,
        timeout_s=timeout,
        progress=True,
        w_train=f.weights[split.train],
        w_val=f.weights[split.val],
        feature_names=f.scalar_names,
    )
    best = dataclasses.replace(settings, bdt=result.config)
    with atomic_output(out / "best-bdt.yaml", overwrite=True) as tmp:
        tmp.write_text(dump_config(best))
    Console().print(
        f"{result.n_trials} trials ({result.n_new_trials} new, {result.n_pruned} pruned); "
        f"best validation loss {result.best_value:.4g} → {out / 'best-bdt.yaml'}"
    )


def evaluate_command(
    run: Path = typer.Option(..., "--run", "-r", help="Run folder written by calib train."),
    data: Path = typer.Option(..., "--data", "-d", help="Calibration store to evaluate on."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for metrics.json and report."),
    bootstrap: int = typer.Option(200, "--bootstrap", min=10, help="Bootstrap resamples."),
    importance: bool = typer.Option(True, help="Permutation feature importance."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Resolution (eIQR, reIQR vs BDT and E_acc, binned), mass fits, pulls, importance, report."""
    from heplearn.calib.evaluate import evaluate_run
    from heplearn.calib.evaluation_report import write_evaluation

    check_output(out, overwrite)
    evaluation = evaluate_run(run, data, n_boot=bootstrap, importance=importance)
    write_evaluation(evaluation, out, overwrite=overwrite)
    m = evaluation.metrics
    console = Console()
    for warning in m.get("warnings", []):
        console.print(
            f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True
        )
    for key in ("eiqr_e_acc", "eiqr_bdt", "eiqr_model", "reiqr75_vs_bdt", "reiqr75_vs_eacc"):
        if m.get(key) is not None:
            console.print(f"{key:>18} {m[key]:.4f}")
    for key in ("sigma_cb_eacc", "sigma_cb_bdt", "sigma_cb_model", "pull_width"):
        if m.get(key) is not None:
            console.print(f"{key:>18} {m[key]:.3f}")
    console.print(f"report: {out / 'report.html'}")
