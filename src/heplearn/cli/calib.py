"""``heplearn calib ...``: the e/γ energy-calibration commands."""

from __future__ import annotations

import typer

from heplearn.cli.calib_compare import compare_command
from heplearn.cli.calib_export import export_command
from heplearn.cli.calib_fit_mass import fit_mass_command
from heplearn.cli.calib_scale import correct_command, scale_fit_command
from heplearn.cli.calib_study import study_command
from heplearn.cli.calib_train import evaluate_command, train_command, tune_command

__all__ = ["app"]

app = typer.Typer(
    help=(
        "e/γ energy calibration: train, tune, study, evaluate, fit masses, scale-fit, "
        "correct, compare, export."
    ),
    no_args_is_help=True,
)
app.command(name="train")(train_command)
app.command(name="tune")(tune_command)
app.command(name="study")(study_command)
app.command(name="evaluate")(evaluate_command)
app.command(name="fit-mass")(fit_mass_command)
app.command(name="scale-fit")(scale_fit_command)
app.command(name="correct")(correct_command)
app.command(name="compare")(compare_command)
app.command(name="export")(export_command)
