"""``heplearn calib train | tune | evaluate``: the calibration workflow from a store to a report."""

from __future__ import annotations

import dataclasses
import json
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
    if settings.data_training is not None:
        _print_labels(console, summary.folder)
    if summary.bdt_val_loss is not None:
        console.print(f"BDT validation loss {summary.bdt_val_loss:.4g}")
    if summary.network is not None:
        net = summary.network
        console.print(
            f"network: {net.epochs_run} epochs, best epoch {net.best_epoch}, "
            f"validation loss {net.best_val_loss:.4g}, {net.seconds:.0f} s"
        )


def _print_labels(console: Console, folder: Path) -> None:
    """What training on Z-mass labels kept, and E_label/E_truth where the store has truth."""
    labels = json.loads((folder / "run.json").read_text())["data_training"]
    console.print(
        f"Z-mass labels from {labels['reference']}: {labels['pairs']} pairs, "
        f"{labels['unpaired_dropped']} clusters without a selected pair dropped"
    )
    check = labels["label_over_truth"]
    if check is not None:
        console.print(
            f"E_label/E_truth (truth in the store): median {check['median']:.4f}, "
            f"eIQR {check['eiqr']:.4f}"
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
    mc: Path | None = typer.Option(
        None, "--mc", help="MC store to compare the data's Z peaks and inputs with."
    ),
    no_truth: bool = typer.Option(
        False, "--no-truth", help="Evaluate as data (Z peaks only) even if the store has truth."
    ),
    min_et: float = typer.Option(20.0, "--min-et", help="Data: E_T cut of each cluster [GeV]."),
    max_eta: float = typer.Option(2.47, "--max-eta", help="Data: |η| cut of each cluster."),
    mass_range: tuple[float, float] = typer.Option(
        (80.0, 100.0), "--range", help="Data: BW ⊗ CB fit range LO HI [GeV]."
    ),
    min_pairs: int = typer.Option(
        100, "--min-pairs", help="Data: pairs in range for a fit (fewer: skipped and named)."
    ),
) -> None:
    """Resolution (eIQR, reIQR vs BDT and E_acc, binned), mass fits, pulls, importance, report.

    On a store without truth/energy (or with --no-truth) the evaluation is on data: Z→ee
    pairs, BW ⊗ CB peaks of every method inclusive and in |η|, E_T and ⟨μ⟩ bins, and with
    --mc the same on MC, data/MC peak overlays and input distributions.

    Examples:

      heplearn calib evaluate --run run --data zee --out eval

      heplearn calib evaluate --run run --data data --mc mc --out eval-data
    """
    from heplearn.calib.evaluate import evaluate_run
    from heplearn.calib.evaluation_report import write_evaluation

    check_output(out, overwrite)
    if _is_data(data, no_truth, mc):
        _evaluate_data(run, data, out, mc, overwrite, (min_et, max_eta, mass_range, min_pairs))
        return
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


def _is_data(data: Path, no_truth: bool, mc: Path | None) -> bool:
    """Data path: asked for, or a store without truth/energy; --mc alone needs one of them."""
    from heplearn.data.reader import open_store
    from heplearn.errors import ConfigError

    if no_truth or "truth/energy" not in open_store(data).schema:
        return True
    if mc is not None:
        raise ConfigError(
            "option --mc",
            str(data),
            "--mc compares data to MC, and this store has truth/energy (it is evaluated as MC)",
            "add --no-truth to evaluate it as data, or drop --mc",
        )
    return False


def _evaluate_data(
    run: Path,
    data: Path,
    out: Path,
    mc: Path | None,
    overwrite: bool,
    options: tuple[float, float, tuple[float, float], int],
) -> None:
    from heplearn.calib.data_evaluation import evaluate_on_data
    from heplearn.calib.data_evaluation_report import write_data_evaluation
    from heplearn.calib.zee_pairs import PairCuts
    from heplearn.calib.zee_peak_bins import PeakFitSettings
    from heplearn.errors import ConfigError

    min_et, max_eta, mass_range, min_pairs = options
    if not mass_range[0] < mass_range[1] or min_pairs < 20 or min_et < 0 or max_eta <= 0:
        raise ConfigError(
            "options --range / --min-pairs / --min-et / --max-eta",
            "the command line",
            "the range needs LO < HI, a fit at least 20 pairs, the cuts positive values",
            "e.g. --range 80 100 --min-pairs 100 --min-et 20 --max-eta 2.47",
        )
    cuts = PairCuts(min_et=min_et, max_abs_eta=max_eta)
    settings = PeakFitSettings(cuts=cuts, mass_range=mass_range, min_pairs=min_pairs)
    evaluation = evaluate_on_data(run, data, mc=mc, settings=settings)
    write_data_evaluation(evaluation, out, overwrite=overwrite)
    m = evaluation.metrics
    console = Console()
    for warning in m["warnings"]:
        console.print(
            f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True
        )
    console.print(f"{m['mass_pairs']} Z→ee pairs in data (no truth read)")
    for method, entry in m["peaks"]["data"].items():
        fit = entry["inclusive"]
        line = f"{method:>8} μ_CB " + (
            f"{fit['mean']:.3f} ± {fit['mean_err']:.3f}  σ_CB {fit['sigma']:.3f} GeV"
            if fit.get("mean") is not None
            else f"skipped ({fit['skipped']})"
        )
        shift = m.get("data_vs_mc", {}).get(method, {}).get("inclusive", {})
        if shift.get("mu_shift") is not None:
            shift_pc = (100 * shift["mu_shift"], 100 * shift["mu_shift_err"])
            line += f"  data/MC − 1 {shift_pc[0]:+.3f} ± {shift_pc[1]:.3f} %"
        console.print(line, highlight=False)
    console.print(f"report: {out / 'report.html'}")
