"""``heplearn calib ...``: the e/γ energy-calibration commands."""

from __future__ import annotations

import typer

from heplearn.cli.calib_fit_mass import fit_mass_command

__all__ = ["app"]

app = typer.Typer(
    help="e/γ energy calibration: train, tune, evaluate, fit masses, export.",
    no_args_is_help=True,
)
app.command(name="fit-mass")(fit_mass_command)
